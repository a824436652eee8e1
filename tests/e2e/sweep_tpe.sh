#!/usr/bin/env bash
# The sweep program with `method: tpe` and `early_stop`: --dry-run shows the random startup
# trials (random search's draws of the same seed) and how many TPE draws later; a trial
# drawn by an earlier run (study.csv) joins the table and --aggregate's summary; bad keys
# fail up front with file:line; what an adaptive run cannot do is refused before anything
# runs (--only with tpe; early_stop without train_log.csv). Running them: sweep_adaptive.sh.
set -uo pipefail
: "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
work=$(mktemp -d /tmp/e2e_sweep_tpe.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p data/train/a
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"

sweep_file() {  # METHOD EXTRA
    cat <<EOT
name: s
base:
  data: {root: data, image_size: 32}
  model: {weights: "random:1"}
  train: {epochs: 12}
sweep:
  method: $1
  trials: 9
  seed: 4
  axes:
    train.lr: {log_uniform: [1.0e-4, 1.0e-2]}
    model.head.dropout: [0.2, 0.5]
$2
EOT
}
sweep_file tpe "  tpe: {startup_trials: 3}
  early_stop: {method: asha, grace_epochs: 2, reduction_factor: 3}" > tpe.yaml
sweep_file random "" > random.yaml

out=$("$SWEEP_BIN" tpe.yaml --dry-run 2>&1); rc=$?
echo "$out"
check_eval "dry run exits 0" "[ $rc -eq 0 ]"
check_eval "says tpe, 9 trials, 3 at random" "grep -q 'tpe over train.lr (log-uniform 0.0001..0.01), model.head.dropout (choice of 2): 9 trials, the first 3 drawn at random' <<< \"\$out\""
check_eval "says early stop" "grep -q 'early stop: asha on val_loss (min), rungs at 2 \* 3^k epochs' <<< \"\$out\""
check_eval "then 6 more drawn adaptively" "grep -q 'then 6 more drawn adaptively by TPE' <<< \"\$out\""
rnd=$("$SWEEP_BIN" random.yaml --dry-run 2>&1)
ids() { awk '$1 ~ /^[0-9]+$/ && $3 == "pending" { print $2 }' <<< "$1" | head -n "$2"; }
tpe_ids=$(ids "$out" 9); rnd_ids=$(ids "$rnd" 3)
check_eval "startup trials are random search's first 3" '[ "$tpe_ids" = "$rnd_ids" ] && [ $(wc -l <<< "$tpe_ids") -eq 3 ]'

# A trial an earlier run drew (study.csv): it joins the table, and --aggregate's summary.
mkdir -p runs/s
{
    echo "event,trial,id,status,objective,epochs,train.lr,model.head.dropout"
    for t in 0 1 2; do
        id=$(ids "$out" 3 | sed -n "$((t + 1))p")
        lr=$(sed 's/^lr-\([^_]*\)_.*/\1/' <<< "$id"); d=$(sed 's/.*dropout-\([^_]*\).*/\1/' <<< "$id")
        printf 'ask,%d,%s,,,,%s,%d\n' "$t" "$id" "$(awk -v v="$lr" 'BEGIN { printf "%.4g", v }')" "$([ "$d" = 0.2 ] && echo 0 || echo 1)"
    done
    echo "ask,3,lr-0.0025_dropout-0.5,,,,0.0025,1"
} > runs/s/study.csv
out2=$("$SWEEP_BIN" tpe.yaml --dry-run 2>&1); rc=$?
echo "$out2" | tail -3
check_eval "dry run with study.csv exits 0" "[ $rc -eq 0 ]"
check_eval "the drawn trial is listed" "grep -q 'lr-0.0025_dropout-0.5' <<< \"\$out2\" && grep -q 'then 5 more drawn' <<< \"\$out2\""
cp tpe.yaml runs/s/sweep.yaml
"$SWEEP_BIN" --aggregate runs/s > /dev/null 2>&1
check_eval "aggregate: 4 rows" "[ \$(wc -l < runs/s/summary.csv) -eq 5 ] && grep -q '^lr-0.0025_dropout-0.5,0.0025,0.5,pending' runs/s/summary.csv"
sed -i 's/^ask,3,lr-0.0025_dropout-0.5/ask,3,lr-9e-3_dropout-0.5/' runs/s/study.csv
out3=$("$SWEEP_BIN" tpe.yaml --dry-run 2>&1); rc=$?
check_eval "a study.csv that does not match its values is an error" "[ $rc -eq 2 ] && grep -q \"trial 3 is 'lr-9e-3_dropout-0.5' but its values give 'lr-0.0025_dropout-0.5'\" <<< \"\$out3\""
rm -rf runs

out=$("$SWEEP_BIN" tpe.yaml --only 'lr-*' 2>&1); rc=$?
check_eval "--only with tpe is refused (exit 2), nothing started" "[ $rc -eq 2 ] && grep -q -- '--only cannot run part of a tpe study' <<< \"\$out\" && [ ! -e runs/s/logs ]"
sweep_file grid "  early_stop: {method: median}" | sed 's/  trials: 9//; s/  seed: 4//; s/{log_uniform: \[1.0e-4, 1.0e-2\]}/[1.0e-3]/; s/  train: {epochs: 12}/  train: {epochs: 12}\n  callbacks: {csv_log: false}/' > grid.yaml
out=$("$SWEEP_BIN" grid.yaml 2>&1); rc=$?
check_eval "early_stop without train_log.csv is refused (exit 2)" "[ $rc -eq 2 ] && grep -q 'grid.yaml:14: sweep.early_stop decides on train_log.csv rows, but trial lr-1e-3_dropout-0.2 sets callbacks.csv_log: false' <<< \"\$out\""
sweep_file tpe "  early_stop: {method: asha, grace_epochs: 12}" > bad.yaml
out=$("$SWEEP_BIN" bad.yaml --dry-run 2>&1); rc=$?
check_eval "grace_epochs = train.epochs: no rung (file:line)" "[ $rc -eq 2 ] && grep -q 'bad.yaml:13: early_stop: grace_epochs 12 leaves no rung' <<< \"\$out\""
sweep_file tpe "  tpe: {gamma: 0}" > bad.yaml
out=$("$SWEEP_BIN" bad.yaml --dry-run 2>&1); rc=$?
check_eval "gamma 0 (file:line)" "[ $rc -eq 2 ] && grep -q 'bad.yaml:13: sweep.tpe.gamma must be in (0, 1], got 0' <<< \"\$out\""
checks_end
