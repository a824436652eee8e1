#!/usr/bin/env bash
# An edited sweep file never folds trials run with the old values into one report (issue 11,
# finding 1). After a sweep ran, rerunning an edited file (the base's epochs 3 -> 2):
#  - is refused before anything runs (exit 2), listing each trial and the key OLD -> NEW;
#    no trial folder, sweep.yaml, summary or report changes; --dry-run shows the same list
#  - also with --only naming a trial the edit leaves alone (the summary covers every trial)
#  - --rename NEW runs the file as a new sweep (its sweep.yaml names NEW), the old one untouched
#  - --rerun-changed runs exactly the changed trials again: their old folders are kept as
#    <trial>.old-1 with the old config.yaml and results, the old sweep.yaml as sweep.yaml.old-1,
#    and the new results equal those of a fresh sweep of the edited file
#  - trials that never ran take new values freely (a new axis value), and keys that never
#    change the numbers (train.threads) are no reason to refuse; a trial the file no longer
#    has keeps its folder, outside the summary, and the run says so
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_sweep_edited.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
export TRAINER

"$TRAINER" demo-data data --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
write_sweep() {  # write_sweep FILE EPOCHS DROPOUTS [THREADS]
    cat > "$1" <<YAML
name: ed
base:
  data: {root: data, image_size: 32}
  model: {weights: random:1, head: {hidden: 16}}
  train: {epochs: $2, batch_size: 32, threads: ${4:-0}}
  feature_cache: {views: 1}
sweep:
  axes:
    model.head.dropout: [$3]
YAML
}
snapshot() { (cd runs/ed && find . -type f ! -name '*.log' ! -name '.*lock' ! -name sweep_status -print0 | sort -z | xargs -0 md5sum); }

write_sweep ed.yaml 3 "0.2, 0.5"
"$SWEEP_BIN" ed.yaml --threads 1 > run1.out 2>&1
check_eval "first run exits 0" "[ $? -eq 0 ]"
snapshot > before.md5

# --- the edit of the base: refused, nothing touched
write_sweep ed2.yaml 2 "0.2, 0.5"
"$SWEEP_BIN" ed2.yaml --threads 1 > refused.out 2>&1; rc=$?
cat refused.out
check_eval "edited sweep: exit 2" "[ $rc -eq 2 ]"
check_eval "lists each trial with key OLD -> NEW" \
    "grep -q 'dropout-0.2 (done): train.epochs 3 -> 2' refused.out && grep -q 'dropout-0.5 (done): train.epochs 3 -> 2' refused.out"
check_eval "says what to do (--rename, --rerun-changed)" "grep -q -- '--rename NEW' refused.out && grep -q -- '--rerun-changed' refused.out"
check_eval "nothing changed in the sweep folder (sweep.yaml, configs, results, summary)" "diff before.md5 <(snapshot)"
check_eval "sweep.yaml is still the file that ran" "cmp -s ed.yaml runs/ed/sweep.yaml"
"$SWEEP_BIN" ed2.yaml --dry-run > dry.out 2>&1
check_eval "--dry-run lists the changed trials" "grep -q 'would change 2 trials' dry.out && grep -q 'train.epochs 3 -> 2' dry.out"
"$SWEEP_BIN" ed2.yaml --only 'dropout-0.5' --threads 1 > only.out 2>&1; rc=$?
check_eval "--only does not hide a changed trial from the summary: exit 2" "[ $rc -eq 2 ] && diff before.md5 <(snapshot)"

# --- --rename: a new sweep folder
"$SWEEP_BIN" ed2.yaml --rename ed_short --threads 1 > renamed.out 2>&1; rc=$?
check_eval "--rename runs the file as a new sweep" "[ $rc -eq 0 ] && [ \$(grep -c ',done,2,' runs/ed_short/summary.csv) -eq 2 ]"
check_eval "--rename: the copy names the new sweep" "grep -q '^name: ed_short' runs/ed_short/sweep.yaml"
check_eval "--rename: the old sweep is untouched" "diff before.md5 <(snapshot)"

# --- --rerun-changed: the changed trials again, old folders aside
"$SWEEP_BIN" ed2.yaml --rerun-changed --threads 1 > rerun.out 2>&1; rc=$?
cat rerun.out
check_eval "--rerun-changed exits 0" "[ $rc -eq 0 ]"
check_eval "--rerun-changed says which trials and where the old ones went" \
    "grep -q 'trial dropout-0.2 changed (train.epochs 3 -> 2): it runs again; its old folder is kept as dropout-0.2.old-1' rerun.out"
check_eval "old folders kept with their config and results" \
    "grep -q 'epochs: 3' runs/ed/dropout-0.2.old-1/config.yaml && grep -q ',done,3,' runs/ed/dropout-0.5.old-1/result.csv"
check_eval "new folders ran the new config" "grep -q '  epochs: 2' runs/ed/dropout-0.2/config.yaml && [ \$(grep -c ',done,2,' runs/ed/summary.csv) -eq 2 ]"
check_eval "the old sweep.yaml is kept as sweep.yaml.old-1" "cmp -s ed.yaml runs/ed/sweep.yaml.old-1 && cmp -s ed2.yaml runs/ed/sweep.yaml"
check_eval "the summary equals a fresh sweep of the edited file's" "diff <(untimed runs/ed_short/summary.csv) <(untimed runs/ed/summary.csv)"
check_eval "the old trials are not in the summary" "! grep -q 'old-1' runs/ed/summary.csv"

# --- free changes: a trial that never ran, and a key that never changes the numbers
write_sweep ed3.yaml 2 "0.2, 0.5, 0.7" 1
"$SWEEP_BIN" ed3.yaml --threads 1 > free.out 2>&1; rc=$?
cat free.out
check_eval "a new trial and train.threads: not refused" "[ $rc -eq 0 ] && grep -q '2 finished before, 1 to run' free.out"
check_eval "finished trials keep their results" "[ \$(grep -c ',done,2,' runs/ed/summary.csv) -eq 3 ]"
check_eval "the new trial ran with the new values" "grep -q '  threads: 1' runs/ed/dropout-0.7/config.yaml"
check_eval "a finished trial's config.yaml stays as it ran" "grep -q '  threads: 0' runs/ed/dropout-0.2/config.yaml"

write_sweep ed4.yaml 2 "0.2, 0.7" 1
"$SWEEP_BIN" ed4.yaml --threads 1 > stray.out 2>&1; rc=$?
check_eval "an axis value taken out: its folder is left, outside the summary, and said" \
    "[ $rc -eq 0 ] && grep -q 'note: 1 trial folder in .* is not in this sweep file' stray.out && [ -d runs/ed/dropout-0.5 ] && ! grep -q '^dropout-0.5,' runs/ed/summary.csv"

checks_end
