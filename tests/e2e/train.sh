#!/usr/bin/env bash
# trainer train end to end on a small real dataset (Fashion-MNIST as JPEG class folders,
# random:SEED backbone): trains above chance and writes every output file; a run killed
# mid-way and rerun ends with the same numbers as an uninterrupted run; config and
# dataset errors stop before any work with file:line:key (or the path) in the message.
set -u
T=${TRAINER:?TRAINER must point to the trainer binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: run scripts/install-deps"; exit 77; }
"$T" demo-data "$tmp/fm" --train 40 --val 15 --test 15 >/dev/null || { bad "demo-data"; checks_end; exit 1; }

cat > "$tmp/cfg.yaml" <<YAML
data: {root: $tmp/fm, image_size: 32}
model: {weights: "random:1", head: {hidden: 128, dropout: 0.3}}
train: {epochs: 8, batch_size: 16, seed: 42, threads: 2}
augment: {strength: 0.5}
feature_cache: {dir: cache, views: 2}
YAML

# 1. A full run: every output file, status done, accuracy clearly above chance (10 classes).
"$T" train "$tmp/cfg.yaml" --out "$tmp/runs/full" --quiet && ok || bad "train exit code"
for f in config.yaml train_log.csv best.safetensors last.safetensors result.csv confusion.csv errors.csv; do
  [ -s "$tmp/runs/full/$f" ] && ok || bad "missing $f"
done
field() { awk -F, -v col="$2" 'NR==1 {for (i=1;i<=NF;i++) if ($i==col) c=i} NR==2 {print $c}' "$1"; }
[ "$(field "$tmp/runs/full/result.csv" status)" = done ] && ok || bad "status not done"
va=$(field "$tmp/runs/full/result.csv" val_accuracy); ta=$(field "$tmp/runs/full/result.csv" test_accuracy)
awk -v v="$va" -v t="$ta" 'BEGIN {exit !(v > 0.3 && t > 0.3)}' && ok || bad "accuracy not above chance: val $va test $ta"
[ "$(head -1 "$tmp/runs/full/train_log.csv" | tr -d '\r')" = "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds" ] && ok || bad "train_log header"
[ "$(wc -l < "$tmp/runs/full/train_log.csv")" -eq 9 ] && ok || bad "train_log rows"
ls "$tmp/runs/cache" | grep -q . && ok || bad "no feature cache"
# The resolved config reruns exactly that trial.
"$T" train "$tmp/runs/full/config.yaml" --out "$tmp/runs/again" --quiet && ok || bad "rerun from config.yaml"
cmp -s <(cut -d, -f2-14 "$tmp/runs/full/result.csv") <(cut -d, -f2-14 "$tmp/runs/again/result.csv") && ok || bad "config.yaml rerun differs"
# Run from the trial folder's own config.yaml (as the sweep does): the file is read, not rewritten.
echo "# kept" >> "$tmp/runs/full/config.yaml"
"$T" train "$tmp/runs/full/config.yaml" --out "$tmp/runs/full" --quiet >/dev/null && ok || bad "rerun of a finished trial"
[ "$(tail -1 "$tmp/runs/full/config.yaml")" = "# kept" ] && ok || bad "the trial's own config.yaml was rewritten"
cmp -s "$tmp/runs/full/config.yaml" <(cat "$tmp/runs/again/config.yaml"; echo "# kept") && ok || bad "resolved config.yaml differs"

# 2. Kill after two epochs, rerun the same command: identical final numbers.
"$T" train "$tmp/cfg.yaml" --out "$tmp/runs/killed" --quiet & pid=$!
for _ in $(seq 1 600); do
  [ -f "$tmp/runs/killed/train_log.csv" ] && [ "$(wc -l < "$tmp/runs/killed/train_log.csv")" -ge 3 ] && break; sleep 0.05
done
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 130 ] && ok || bad "interrupted run exit $rc (want 130)"
[ ! -e "$tmp/runs/killed/result.csv" ] && ok || bad "result.csv written by an interrupted run"
"$T" train "$tmp/cfg.yaml" --out "$tmp/runs/killed" --quiet && ok || bad "resume"
cmp -s <(cut -d, -f2-14 "$tmp/runs/full/result.csv") <(cut -d, -f2-14 "$tmp/runs/killed/result.csv") && ok || bad "resumed result differs"
cmp -s <(cut -d, -f1-6 "$tmp/runs/full/train_log.csv") <(cut -d, -f1-6 "$tmp/runs/killed/train_log.csv") && ok || bad "resumed log differs"

# 3. Errors before any work.
expect() { # expect CODE WORD... -- runs trainer train on $tmp/bad.yaml
  local code=$1; shift
  local err; err=$("$T" train "$tmp/bad.yaml" --out "$tmp/runs/bad" 2>&1 >/dev/null); local rc=$?
  [ $rc -eq "$code" ] || { bad "exit $rc (want $code): $err"; return; }
  for w in "$@"; do [[ "$err" == *"$w"* ]] || { bad "message lacks '$w': $err"; return; }; done
  [ ! -e "$tmp/runs/bad/train_log.csv" ] || { bad "work started despite: $err"; return; }
  ok
}
printf 'data: {root: %s}\nmodel:\n  weights: "random:1"\n  head: {dropot: 0.5}\n' "$tmp/fm" > "$tmp/bad.yaml"; expect 2 bad.yaml:4 model.head.dropot
printf 'data: {root: %s}\nmodel: {weights: "random:1"}\ntrain:\n  epochs: many\n' "$tmp/fm" > "$tmp/bad.yaml"; expect 2 bad.yaml:4 train.epochs
printf 'data: {root: %s}\nmodel: {weights: "random:1"}\ntrain: {lr: -1}\n' "$tmp/fm" > "$tmp/bad.yaml"; expect 2 bad.yaml:3 train.lr
printf 'data: {root: %s/nope}\nmodel: {weights: "random:1"}\n' "$tmp" > "$tmp/bad.yaml"; expect 1 bad.yaml data.root nope
cp -r "$tmp/fm" "$tmp/fm2"; rm -f "$tmp"/fm2/train/bag/*.jpg
printf 'data: {root: %s/fm2}\nmodel: {weights: "random:1"}\n' "$tmp" > "$tmp/bad.yaml"; expect 1 bad.yaml bag
rm -rf "$tmp/fm2"; cp -r "$tmp/fm" "$tmp/fm2"; rm -rf "$tmp/fm2/validation/coat"
printf 'data: {root: %s/fm2}\nmodel: {weights: "random:1"}\n' "$tmp" > "$tmp/bad.yaml"; expect 1 bad.yaml coat validation

checks_end
