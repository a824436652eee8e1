#!/usr/bin/env bash
# Adaptive studies run end to end (demo-sized data, head only on cached features, 4 epochs):
#  1. tpe + ASHA on one rank, killed (SIGTERM) after TPE's first draws and run again: the
#     study continues as if never interrupted (study.csv, the early-stopping decisions and
#     the summary equal those of an uninterrupted run: with one rank the order of results
#     is fixed, so the draws are too). A study.csv lost afterwards is rebuilt as it was
#     from the trial folders, running nothing again.
#  2. A pruned trial's folder is complete (config, log, best and last checkpoints, result
#     with status pruned at its best epoch, confusion), and `--retry-pruned` continues it to
#     its whole budget (old result kept as result.pruned.csv), ending with the log of the
#     same trial run straight through.
#  3. ASHA under `mpirun -n 2` (grid of 6 trials): every decision in early_stop.csv equals
#     the one computed here by hand (awk) from the reports in the order rank 0 got them,
#     whose values are the trials' train_log.csv rows; pruned trials stopped where it says.
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_sweep_adaptive.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
export TRAINER OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

"$TRAINER" demo-data data --train 20 --val 10 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }

sweep_file() {  # NAME SWEEP-LINES
    cat <<EOT
name: $1
base:
  data: {root: data, image_size: 32}
  model: {weights: "random:1", head: {hidden: 32}}
  train: {epochs: 4, batch_size: 32, seed: 42}
  callbacks: {early_stopping: false}
  feature_cache: {views: 1}
sweep:
$2
EOT
}
sweep_file t "  method: tpe
  trials: 8
  seed: 5
  tpe: {startup_trials: 3}
  early_stop: {method: asha, grace_epochs: 1, reduction_factor: 2}
  axes:
    train.lr: {log_uniform: [1.0e-4, 1.0e-1]}
    model.head.dropout: {uniform: [0.0, 0.8]}" > t.yaml

# --- 1. tpe + ASHA, one rank: uninterrupted, then killed and run again
"$SWEEP_BIN" t.yaml --runs A --threads 1 > a.out 2>&1; rc=$?
check_eval "tpe sweep exits 0" "[ $rc -eq 0 ]"
check_eval "8 trials asked and told" "[ \$(grep -c '^ask,' A/t/study.csv) -eq 8 ] && [ \$(grep -c '^tell,' A/t/study.csv) -eq 8 ]"
check_eval "some trials pruned, some done" "grep -q ',pruned,' A/t/summary.csv && grep -q ',done,' A/t/summary.csv"
check_eval "pruned results are told as pruned" "grep -q '^tell,.*,pruned,' A/t/study.csv"

"$SWEEP_BIN" t.yaml --runs B --threads 1 > b1.out 2>&1 &
sp=$!
asks() { local n; n=$(grep -c '^ask,' "$1" 2>/dev/null); echo "${n:-0}"; }
for _ in $(seq 1200); do [ "$(asks B/t/study.csv)" -ge 5 ] && break; sleep 0.05; done
kill -TERM $sp
wait $sp; rc=$?
check_eval "killed tpe sweep exits 130" "[ $rc -eq 130 ]"
check_eval "the kill left draws to make" "[ \$(asks B/t/study.csv) -lt 8 ]"
"$SWEEP_BIN" t.yaml --runs B --threads 1 > b2.out 2>&1; rc=$?
cat b2.out
check_eval "rerun exits 0" "[ $rc -eq 0 ]"
check_eval "study.csv equals the uninterrupted one (same draws, same results, same order)" "cmp A/t/study.csv B/t/study.csv"
# A trial killed between its report and the answer asks again when it resumes: compare
# the last decision per (trial, epoch).
decisions() { awk -F, 'NR > 1 { last[$1 "," $3] = $0 } END { for (k in last) print last[k] }' "$1" | sort; }
check_eval "early-stopping decisions equal" "diff <(decisions A/t/early_stop.csv) <(decisions B/t/early_stop.csv)"
check_eval "summary equals the uninterrupted one" "diff <(untimed A/t/summary.csv) <(untimed B/t/summary.csv)"
starts=$(grep -c ': start (' B/t/logs/rank0.log)
mv B/t/study.csv B/t/study.lost.csv
"$SWEEP_BIN" t.yaml --runs B --threads 1 > b3.out 2>&1; rc=$?
check_eval "a lost study.csv is rebuilt from the trial folders (exit 0)" "[ $rc -eq 0 ] && cmp A/t/study.csv B/t/study.csv"
check_eval "... and no trial ran again" "[ \$(grep -c ': start (' B/t/logs/rank0.log) -eq $starts ]"

# --- 2. a pruned trial's folder, and --retry-pruned
p=$(awk -F, '$0 ~ /,pruned,/ && $4 == "pruned" { print $1; exit }' A/t/summary.csv)
d=A/t/$p
check_eval "a pruned trial: $p" "[ -n '$p' ]"
check_eval "its folder is complete" "for f in config.yaml train_log.csv best.safetensors last.safetensors result.csv confusion.csv errors.csv; do [ -s $d/\$f ] || exit 1; done"
epochs=$(awk -F, 'NR == 2 { print $3 }' "$d/result.csv")
check_eval "its log holds the epochs it ran ($epochs)" "[ \$(( \$(grep -c . $d/train_log.csv) - 1 )) -eq $epochs ] && [ $epochs -lt 4 ]"
check_eval "its result is at its best epoch" "awk -F, 'NR == 2 { exit !(\$4 >= 0 && \$4 < $epochs && \$6 != \"\") }' $d/result.csv"
check_eval "trainer evaluate reads it" "'$TRAINER' evaluate --run $d --threads 1 > eval.out 2>&1"
n_pruned=$(grep -c ',pruned,' A/t/summary.csv)
"$SWEEP_BIN" t.yaml --runs A --threads 1 --retry-pruned > r.out 2>&1; rc=$?
cat r.out
check_eval "--retry-pruned exits 0" "[ $rc -eq 0 ]"
check_eval "it ran the $n_pruned pruned trials" "grep -q '$n_pruned to run' r.out"
check_eval "now every trial is done, 4 epochs" "[ \$(awk -F, 'NR > 1 && \$4 == \"done\" && \$5 == 4' A/t/summary.csv | wc -l) -eq 8 ]"
check_eval "the pruned result is kept" "grep -q ',pruned,' $d/result.pruned.csv"
check_eval "retried reports are recorded, never stopped" "grep -q ',retried$' A/t/early_stop.csv && ! awk -F, '\$5 == \"retried\"' A/t/early_stop.csv | grep -q stop"
"$TRAINER" train "$d/config.yaml" --out straight --threads 1 --quiet > /dev/null 2>&1
check_eval "the continued log equals the trial run straight through" "cmp <(cut -d, -f1-6 $d/train_log.csv) <(cut -d, -f1-6 straight/train_log.csv)"

# --- 3. ASHA under mpirun -n 2, checked against a hand computation
sweep_file g "  axes:
    train.lr: [1.0e-4, 1.0e-3, 1.0e-2]
    model.head.dropout: [0.0, 0.5]
  early_stop: {method: asha, grace_epochs: 1, reduction_factor: 2}" > g.yaml
mpirun -n 2 "$SWEEP_BIN" g.yaml --runs C --threads 1 > c.out 2>&1; rc=$?
check_eval "grid + ASHA under mpirun -n 2 exits 0" "[ $rc -eq 0 ]"
j=C/g/early_stop.csv
check_eval "ranks 0 and 1 both ran trials" "grep -q 'trial .*: start' C/g/logs/rank0.log && grep -q 'trial .*: start' C/g/logs/rank1.log"
# Each journal value is the trial's train_log.csv val_loss at that epoch.
check_eval "reported values are the logged rows" "awk -F, 'NR > 1 { print \$2, \$3, \$4 }' $j | while read -r id ep v; do
    awk -F, -v e=\$ep -v v=\$v 'NR > 1 && \$1 == e { f = 1; if (\$6 + 0 != v + 0) exit 1 } END { exit !f }' C/g/\$id/train_log.csv || exit 1; done"
# ASHA by hand: rungs at 1 and 2 epochs trained (grace 1, rf 2, below 4); at a rung a trial
# stops when its -val_loss is below the 0.5 quantile (linear interpolation) of the values
# the trials before it recorded there; the first at a rung goes on.
expected=$(awk -F, 'NR > 1 {
    v = -$4; r = $3 + 1; d = "continue"
    if (r == 1 || r == 2) {
        n = cnt[r]
        for (i = 1; i <= n; i++) s[i] = val[r, i]
        for (i = 2; i <= n; i++) { x = s[i]; for (k = i - 1; k >= 1 && s[k] > x; k--) s[k + 1] = s[k]; s[k + 1] = x }
        if (n > 0) { pos = 0.5 * (n - 1); lo = int(pos); c = s[lo + 1] + (lo + 1 < n ? (pos - lo) * (s[lo + 2] - s[lo + 1]) : 0); if (v < c) d = "stop" }
        val[r, ++cnt[r]] = v
    }
    print $1 "," $3 "," d }' $j)
check_eval "every decision equals the hand computation" "diff <(awk -F, 'NR > 1 { print \$1 \",\" \$3 \",\" \$5 }' $j) <(echo \"\$expected\")"
check_eval "reports come in epoch order per trial" "awk -F, 'NR > 1 { if (\$3 != next_ep[\$1] + 0) exit 1; next_ep[\$1] = \$3 + 1 }' $j"
check_eval "the hand computation stops some trials and lets some pass a rung" "grep -q ',stop$' <<< \"\$expected\" && grep -q ',1,continue$' <<< \"\$expected\""
check_eval "a trial stopped after epoch e is pruned with e + 1 epochs; the others ran 4" "for id in \$(awk -F, 'NR > 1 { print \$1 }' C/g/summary.csv); do
    t=\$(awk -F, -v id=\$id 'NR > 1 && \$2 == id && \$5 == \"stop\" { print \$3 + 1 }' $j)
    want=\$([ -n \"\$t\" ] && echo pruned,\$t || echo done,4)
    [ \"\$(awk -F, 'NR == 2 { print \$2 \",\" \$3 }' C/g/\$id/result.csv)\" = \"\$want\" ] || exit 1; done"
checks_end
