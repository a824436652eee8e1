#!/usr/bin/env bash
# The sweep end to end on tiny Fashion-MNIST data (32x32, 20 images per class):
#  - mpirun -n 2: every trial folder complete, summary.csv and report.md, phase 1 once per
#    cache group, charts render; a rerun skips finished trials; --aggregate rewrites the same summary
#  - a plain run (one rank) completes too
#  - a trial on a broken data set fails and is recorded while the others complete
#    (exit 1), and --retry-failed runs it again
#  - malformed sweep files fail before any trial starts, naming file:line
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_sweep_run.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
mpi2() { OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -n 2 "$@"; }
export TRAINER

"$TRAINER" demo-data data/fashion --train 20 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
cp -r data/fashion data/broken
echo "this is not a JPEG" > data/broken/train/bag/train-broken.jpg

write_sweep() {  # NAME AXES_YAML
    cat > "$1.yaml" <<YAML
name: $1
base:
  data: {root: data/fashion, image_size: 32}
  model: {weights: random:1, head: {hidden: 32}}
  train: {epochs: 3, batch_size: 32}
  feature_cache: {views: 1}
sweep:
  axes:
$2
YAML
}
write_sweep small "    model.head.dropout: [0.2, 0.6]
    augment.strength: [0, 1]"

# --- mpirun -n 2
out=$(mpi2 "$SWEEP_BIN" small.yaml --runs runs 2>&1); rc=$?
echo "$out"
check_eval "mpirun sweep exits 0" "[ $rc -eq 0 ]"
check_eval "status line reaches 4/4" "grep -q '\[small\] 4/4 done' <<< \"\$out\""
check_eval "phase 1 once per cache group (2)" "[ \$(grep -c 'phase 1: backbone features' <<< \"\$out\") -eq 2 ]"
check_eval "both ranks report their binding" "grep -q 'rank 1/2' <<< \"\$out\" && grep -q 'rank 0/2' <<< \"\$out\""
for t in dropout-0.2_strength-0 dropout-0.2_strength-1 dropout-0.6_strength-0 dropout-0.6_strength-1; do
    d=runs/small/$t
    for f in config.yaml result.csv train_log.csv trainer.log best.safetensors last.safetensors; do
        check_eval "$t/$f" "[ -s $d/$f ]"
    done
    check_eval "$t done" "grep -q ',done,' $d/result.csv"
    check_eval "$t has 3 epochs logged" "[ \$(grep -c . $d/train_log.csv) -eq 4 ]"
    check_eval "$t config.yaml uses the shared cache" "grep -q \"$work/runs/small/cache\" $d/config.yaml"
done
check_eval "trial detail stays out of the terminal" "! grep -q 'epoch ' <<< \"\$out\""
check_eval "summary.csv: header" "head -1 runs/small/summary.csv | grep -q '^trial,model.head.dropout,augment.strength,status,epochs,best_epoch,val_loss,val_accuracy'"
check_eval "summary.csv: 4 done rows" "[ \$(grep -c ',done,' runs/small/summary.csv) -eq 4 ]"
check_eval "report.md names the best trial" "grep -q '^Best: \*\*' runs/small/report.md"
check_eval "sweep.yaml is a copy" "cmp -s small.yaml runs/small/sweep.yaml"
check_eval "feature cache filled" "[ -n \"\$(ls runs/small/cache)\" ]"

# --- rerun: nothing left to do; same results
cp runs/small/summary.csv summary.first
out=$(mpi2 "$SWEEP_BIN" small.yaml --runs runs 2>&1); rc=$?
check_eval "rerun exits 0" "[ $rc -eq 0 ]"
check_eval "rerun skips finished trials" "grep -q '4 finished before, 0 to run' <<< \"\$out\""
check_eval "rerun leaves the summary as it was" "cmp -s summary.first runs/small/summary.csv"
rm runs/small/summary.csv runs/small/report.md
"$SWEEP_BIN" --aggregate runs/small > /dev/null
check_eval "--aggregate writes the same summary" "cmp -s summary.first runs/small/summary.csv && [ -s runs/small/report.md ]"

# --- charts
plots=$("$TL_SOURCE_DIR/scripts/render-plots" runs/small 2>&1); rc=$?
echo "$plots"
check_eval "render-plots exits 0" "[ $rc -eq 0 ]"
for f in learning_curves_accuracy learning_curves_loss lr gap_vs_val_accuracy gap_vs_model.head.dropout \
         val_accuracy_vs_augment.strength; do
    check_eval "chart $f.png" "[ -s runs/small/plots/$f.png ] && [ \"\$(head -c 4 runs/small/plots/$f.png | od -An -c | tr -d ' ')\" = '211PNG' ]"
done
check_eval "cross-sweep chart" "[ -s runs/plots/gap_vs_val_accuracy_all_sweeps.png ]"

# --- plain run (one rank, no mpirun)
out=$("$SWEEP_BIN" small.yaml --runs plain 2>&1); rc=$?
check_eval "plain sweep exits 0" "[ $rc -eq 0 ]"
check_eval "plain sweep runs 4 trials on 1 rank" "grep -q '4 to run on 1 rank' <<< \"\$out\" && [ \$(grep -c ',done,' plain/small/summary.csv) -eq 4 ]"

# --- a failing trial is recorded, the others complete
write_sweep mixed "    data.root: [data/fashion, data/broken]
    model.head.dropout: [0.2, 0.6]"
out=$(mpi2 "$SWEEP_BIN" mixed.yaml --runs runs 2>&1); rc=$?
echo "$out"
check_eval "sweep with a failed trial exits non-zero" "[ $rc -ne 0 ]"
check_eval "status line counts 2 failed" "grep -q '4/4 done, 2 failed' <<< \"\$out\""
check_eval "good trials done" "[ \$(grep -c ',done,' runs/mixed/summary.csv) -eq 2 ]"
check_eval "broken trials failed with a message naming the file" \
      "[ \$(grep ',failed,' runs/mixed/summary.csv | grep -c 'train-broken.jpg') -eq 2 ]"
check_eval "report lists the failures" "grep -q 'Failed and diverged trials' runs/mixed/report.md"
broken=runs/mixed/data.root-data-broken_dropout-0.2
out=$(mpi2 "$SWEEP_BIN" mixed.yaml --runs runs --retry-failed --only '*broken*' 2>&1); rc=$?
check_eval "--retry-failed reruns the failed trials (and they fail again)" "[ $rc -ne 0 ] && grep -q '2 to run' <<< \"\$out\""
check_eval "the earlier failure is kept" "[ -s $broken/result.failed.csv ] && [ \$(grep -c '^== ' $broken/console.log) -eq 2 ]"

# --- malformed sweep files fail before anything runs
cat > bad.yaml <<'YAML'
name: bad
base:
  data: {root: data/fashion, image_size: 32}
  model: {weights: random:1}
sweep:
  axes:
    model.head.dropout: [0.2, 1.5]
YAML
out=$(mpi2 "$SWEEP_BIN" bad.yaml --runs runs 2>&1); rc=$?
check_eval "out-of-range axis value: exit 2 with file:line" "[ $rc -eq 2 ] && grep -q 'trial dropout-1.5: bad.yaml:7: key .model.head.dropout.' <<< \"\$out\""
check_eval "nothing was created" "[ ! -e runs/bad ]"
sed -i 's/^sweep:/sweeep:/' bad.yaml
out=$("$SWEEP_BIN" bad.yaml --runs runs 2>&1); rc=$?
check_eval "unknown top-level key: exit 2" "[ $rc -eq 2 ] && grep -q 'bad.yaml:1: missing key .sweep.\|bad.yaml:5: unknown key' <<< \"\$out\""
printf 'name: bad\nbase: {data: {root: data/fashion}, model: {weights: random:1}\nsweep: {}\n' > bad.yaml
out=$("$SWEEP_BIN" bad.yaml --dry-run 2>&1); rc=$?
check_eval "YAML syntax error: exit 2 with file:line" "[ $rc -eq 2 ] && grep -q 'bad.yaml:3:' <<< \"\$out\""
check_eval "still nothing created" "[ ! -e runs/bad ]"

checks_end
