#!/usr/bin/env bash
# How a wrapper learns how a sweep ended, and two sweeps on one folder (issue 11, findings 3
# and 5). Open MPI's mpirun returns 1 on SIGINT/SIGTERM whatever its ranks do, so the sweep
# says it in runs/<name>/sweep_status:
#  - under mpirun -n 2, SIGINT and SIGTERM to (only this test's) mpirun: mpirun exits 1, the
#    file's first line is "interrupted 130" (sweep_resume.sh shows the rerun resumes); a
#    runs/<name>/STOP file: mpirun exits 130, the file says "interrupted 130"
#  - while a sweep runs it says "running" with its host and PID; a second sweep on the same
#    folder is refused (exit 2) naming that PID and host, before anything runs: phase 1 once,
#    no second binding in the rank logs, no trainer started twice
#  - a trainer started by hand in a trial's folder: the sweep waits for it, naming its PID and
#    host, then finishes; the trial's epochs are logged once
#  - a sweep killed with -9 leaves "running"; `sweep --status` reads it as interrupted
#  - a sweep with a failed trial ends "failed 1", and its plain rerun says how many failed and
#    suggests --retry-failed; a refused edit (exit 2) leaves the file as it was
#  Every status the README documents is checked from mpirun -n 2 itself: 0, 1 (failed
#  trials; and SIGINT/SIGTERM), 2 (a second sweep, an edit refused), 130 (STOP).
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_sweep_status.XXXXXX)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
export TRAINER OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

"$TRAINER" demo-data data --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
# views 0: every epoch runs the backbone, so a signal lands inside a trial.
cat > s.yaml <<'YAML'
name: s
base:
  data: {root: data, image_size: 32}
  model: {weights: random:1, head: {hidden: 16}}
  train: {epochs: 3, batch_size: 32}
  feature_cache: {views: 0}
sweep:
  axes:
    model.head.dropout: [0.2, 0.5]
YAML
first_line() { head -1 "$1/s/sweep_status" 2>/dev/null; }
wait_epoch() {  # a trial of runs $1 has logged an epoch
    for _ in $(seq 1200); do
        for f in "$1"/s/*/train_log.csv; do [ -f "$f" ] && [ "$(grep -c . "$f")" -ge 2 ] && return 0; done
        sleep 0.1
    done
    return 1
}

# SIGINT and SIGTERM, each to its own mpirun (only this test's), and a STOP file, all at once,
# on a sweep of 40 epochs per trial: the stop comes after the first, long before the end (with
# 3 epochs a quiet fast machine finished the sweep before the signals came).
sed 's/epochs: 3/epochs: 40/' s.yaml > long.yaml
declare -A mp
for sig in INT TERM STOP; do
    mpirun -n 2 "$SWEEP_BIN" long.yaml --runs R$sig --threads 1 > $sig.out 2>&1 &
    mp[$sig]=$!
done
for sig in INT TERM STOP; do
    wait_epoch R$sig; check_eval "SIG$sig: the sweep got going" "[ $? -eq 0 ]"
    check_eval "SIG$sig: sweep_status says running, with host and PID" \
        "[ \"\$(first_line R$sig)\" = 'running -' ] && grep -q \"^host $(hostname) pid [0-9]\" R$sig/s/sweep_status"
done
for sig in INT TERM; do kill -$sig ${mp[$sig]}; done
touch RSTOP/s/STOP
wait ${mp[STOP]}; rc=$?
check_eval "STOP: mpirun's status is 130" "[ $rc -eq 130 ]"
check_eval "STOP: sweep_status says interrupted 130" "[ \"\$(first_line RSTOP)\" = 'interrupted 130' ]"
for sig in INT TERM; do
    wait ${mp[$sig]}; rc=$?
    check_eval "SIG$sig: mpirun's own status is 1" "[ $rc -eq 1 ]"
    check_eval "SIG$sig: sweep_status says interrupted 130" "[ \"\$(first_line R$sig)\" = 'interrupted 130' ]"
    "$SWEEP_BIN" --status R$sig/s > st-$sig.out 2>&1
    check_eval "SIG$sig: --status says interrupted" "grep -q '^sweep run: interrupted (exit 130)' st-$sig.out"
done

# --- two sweeps on one folder
mpirun -n 2 "$SWEEP_BIN" s.yaml --runs TWO --threads 1 > two1.out 2>&1 &
mp=$!
wait_epoch TWO
owner=$(sed -n 's/^host \([^ ]*\) pid \([0-9]*\).*/PID \2 on host \1/p' TWO/s/sweep_status)
mpirun -n 2 "$SWEEP_BIN" s.yaml --runs TWO --threads 1 > two2.out 2>&1; rc=$?
cat two2.out
check_eval "a second sweep on the folder: mpirun's status is 2" "[ $rc -eq 2 ]"
check_eval "it names the first's PID and host ($owner)" "[ -n \"$owner\" ] && grep -q \"in use by sweep s (rank 0 of 2), $owner\" two2.out"
check_eval "it started nothing: no binding line, no phase 1" "! grep -q 'rank [01]/2\|phase 1' two2.out"
wait $mp; rc=$?
check_eval "the first sweep finishes (mpirun's status 0)" "[ $rc -eq 0 ] && [ \"\$(first_line TWO)\" = 'done 0' ]"
check_eval "its rank logs hold one run: one binding line per rank" "[ \$(grep -c 'trainer /' TWO/s/logs/rank0.log) -eq 1 ] && [ \$(grep -c 'trainer /' TWO/s/logs/rank1.log) -eq 1 ]"
check_eval "each trial ran once" "[ \$(cat TWO/s/logs/rank*.log | grep -c ': start (') -eq 2 ]"

# --- a trainer started by hand in a trial's folder: the sweep waits for it, naming its PID
# and host, then goes on (the trial's lock, adopted by the sweep's own trainers, never deadlocks)
mkdir -p W/s/dropout-0.2 && cp TWO/s/dropout-0.2/config.yaml W/s/dropout-0.2/
"$TRAINER" train W/s/dropout-0.2/config.yaml --out W/s/dropout-0.2 --threads 1 --quiet > hand.out 2>&1 &
hand=$!
for _ in $(seq 300); do [ -s W/s/dropout-0.2/.lock ] && break; sleep 0.1; done
mpirun -n 2 "$SWEEP_BIN" s.yaml --runs W --threads 1 > w.out 2>&1; rc=$?
wait $hand; hrc=$?
check_eval "a hand-started trainer holds a trial: the sweep waits naming its PID and host" \
    "grep -q \"trial dropout-0.2: waiting for its folder: .*trainer train, PID $hand on host $(hostname)\" w.out"
check_eval "both finish (trainer 0, mpirun 0), the trial's epochs logged once" \
    "[ $hrc -eq 0 ] && [ $rc -eq 0 ] && [ \$(grep -c . W/s/dropout-0.2/train_log.csv) -eq 4 ] && [ \"\$(first_line W)\" = 'done 0' ]"

# --- killed with -9: "running" left, read as interrupted
"$SWEEP_BIN" s.yaml --runs K9 --threads 1 > k9.out 2>&1 &
sp=$!
wait_epoch K9
kill -9 $sp; wait $sp 2>/dev/null
check_eval "kill -9: sweep_status still says running" "[ \"\$(first_line K9)\" = 'running -' ]"
"$SWEEP_BIN" --status K9/s > k9st.out 2>&1
cat k9st.out | tail -1
check_eval "--status reads it as interrupted (the sweep is gone)" "grep -q '^sweep run: interrupted (the sweep started .*is gone' k9st.out"

# --- a failed trial: failed 1; a rerun says how many failed and suggests --retry-failed
cp -r data broken && echo "not a JPEG" > broken/train/bag/broken.jpg
sed 's#root: data#root: broken#; s/epochs: 3/epochs: 1/' s.yaml > f.yaml
mpirun -n 2 "$SWEEP_BIN" f.yaml --runs F --threads 1 > f1.out 2>&1; rc=$?
check_eval "failed trials: mpirun's status 1, sweep_status failed 1" "[ $rc -eq 1 ] && [ \"\$(first_line F)\" = 'failed 1' ]"
"$SWEEP_BIN" f.yaml --runs F --threads 1 > f2.out 2>&1; rc=$?
cat f2.out
check_eval "the plain rerun says 2 failed and suggests --retry-failed" "[ $rc -eq 1 ] && grep -q '2 trials failed before .*--retry-failed' f2.out"
cp TWO/s/sweep_status status.before
sed 's/epochs: 3/epochs: 2/' s.yaml > s3.yaml
mpirun -n 2 "$SWEEP_BIN" s3.yaml --runs TWO --threads 1 > s3.out 2>&1; rc=$?
check_eval "a refused edit (mpirun's status 2) leaves sweep_status as it was" "[ $rc -eq 2 ] && cmp -s status.before TWO/s/sweep_status"

checks_end
