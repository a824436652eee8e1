#!/usr/bin/env bash
# Kill a sweep mid-run, rerun the same command: the summary equals that of a sweep that
# was never interrupted (every column but the timings). Once under mpirun -n 2 (SIGTERM
# to mpirun: ranks forward it to their trainers, which save their epoch) and once as a
# plain run (SIGTERM to the sweep: exit 130, partial summary, then resume).
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_sweep_resume.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
export TRAINER OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

"$TRAINER" demo-data data/fashion --train 20 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
# Features recomputed every epoch (views 0): each epoch takes a while, so a kill lands mid-trial.
cat > k.yaml <<'YAML'
name: k
base:
  data: {root: data/fashion, image_size: 32}
  model: {weights: random:1, head: {hidden: 32}}
  train: {epochs: 5, batch_size: 32}
  feature_cache: {views: 0}
sweep:
  axes:
    model.head.dropout: [0.2, 0.5]
    train.seed: [1, 2]
YAML

# Waits (up to 120 s) until some trial of runs DIR has logged at least 2 epochs.
wait_for_epochs() {
    for _ in $(seq 1200); do
        for f in "$1"/k/*/train_log.csv; do [ -f "$f" ] && [ "$(grep -c . "$f")" -ge 3 ] && return 0; done
        sleep 0.1
    done
    return 1
}
unfinished() { local n=0; for d in "$1"/k/*/; do [ -f "$d/config.yaml" ] && [ ! -f "$d/result.csv" ] && n=$((n + 1)); done; echo $n; }

# --- reference: never interrupted
"$SWEEP_BIN" k.yaml --runs A --threads 1 > a.out 2>&1
check_eval "reference sweep exits 0" "[ $? -eq 0 ]"
check_eval "reference: 4 trials done" "[ \$(grep -c ',done,' A/k/summary.csv) -eq 4 ]"

# --- mpirun -n 2, SIGTERM to mpirun mid-run, then the same command again
mpirun -n 2 "$SWEEP_BIN" k.yaml --runs B --threads 1 > b1.out 2>&1 &
mp=$!
wait_for_epochs B; check_eval "mpirun sweep got going" "[ $? -eq 0 ]"
kill -TERM $mp
wait $mp; rc=$?
check_eval "killed mpirun exits non-zero" "[ $rc -ne 0 ]"
check_eval "trials were left unfinished" "[ \$(unfinished B) -ge 1 ]"
sleep 1   # trainers orphaned by mpirun's SIGKILL finish their epoch on their own (the rerun would wait for them)
check_eval "an interrupted trial kept its last epoch" "ls B/k/*/last.safetensors > /dev/null 2>&1"
mpirun -n 2 "$SWEEP_BIN" k.yaml --runs B --threads 1 > b2.out 2>&1; rc=$?
cat b2.out
check_eval "rerun under mpirun exits 0" "[ $rc -eq 0 ]"
check_eval "rerun continued the interrupted trials" "grep -q 'to run on 2 ranks' b2.out && ! grep -q '0 to run' b2.out"
check_eval "resumed summary equals the uninterrupted one" "diff <(untimed A/k/summary.csv) <(untimed B/k/summary.csv)"
check_eval "train logs equal too" "for t in A/k/*/train_log.csv; do cmp -s <(cut -d, -f1-6 \$t) <(cut -d, -f1-6 B/\${t#A/}) || exit 1; done"

# --- plain run, SIGTERM to the sweep mid-run
"$SWEEP_BIN" k.yaml --runs C --threads 1 > c1.out 2>&1 &
sp=$!
wait_for_epochs C; check_eval "plain sweep got going" "[ $? -eq 0 ]"
kill -TERM $sp
wait $sp; rc=$?
cat c1.out
check_eval "interrupted plain sweep exits 130" "[ $rc -eq 130 ]"
check_eval "it says how to resume" "grep -q 'rerun the same command to resume' c1.out"
check_eval "partial summary marks the interrupted trial" "grep -q ',interrupted,' C/k/summary.csv"
check_eval "the interrupted trial kept its last epoch" "ls C/k/*/last.safetensors > /dev/null 2>&1"
"$SWEEP_BIN" k.yaml --runs C --threads 1 > c2.out 2>&1; rc=$?
check_eval "plain rerun exits 0" "[ $rc -eq 0 ]"
check_eval "plain resumed summary equals the uninterrupted one" "diff <(untimed A/k/summary.csv) <(untimed C/k/summary.csv)"

checks_end
