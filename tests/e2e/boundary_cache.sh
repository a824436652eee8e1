#!/usr/bin/env bash
# Fine-tuning conv5 without augmentation trains the suffix from the boundary cache
# (conv4_block6_out, fp16 on disk) when it fits feature_cache.boundary_mib, and recomputes
# the frozen prefix every step when it does not (boundary_mib: 0) or when augmentation is
# on; trainer.log says which. The two paths agree up to the fp16 rounding of the boundary
# activations: the first fine-tuning epoch's train loss and val_loss within 0.2%, the
# second's within 1%, val_accuracy within one image (two in the second epoch). The cache
# holds one row of 2x2x1024 halves per image after a 64-byte header, and a rerun finds it
# and repeats the numbers. Damaged tables are found, said and computed again (below).
set -u
T=${TRAINER:?TRAINER must point to the trainer binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: run scripts/install-deps"; exit 77; }
"$T" demo-data "$tmp/d" --train 4 --val 2 --test 1 >/dev/null || { bad "demo-data"; checks_end; exit 1; }

config() { # name boundary_mib augment_strength epochs
  cat > "$tmp/$1.yaml" <<YAML
data: {root: $tmp/d, image_size: 32}
model: {weights: "random:1", trainable: conv5}
train: {epochs: $4, batch_size: 8, seed: 42, backbone_lr: 1.0e-5}
augment: {strength: $3}
feature_cache: {dir: cache, views: 0, boundary_mib: $2}
finetune: {after_epochs: 1}
YAML
}
run() { "$T" train "$tmp/$1.yaml" --out "$tmp/runs/$1" --threads 1 --quiet; }
config cached 4096 0 3; config recomputed 0 0 3; config augmented 4096 0.5 2
for r in cached recomputed; do run $r && ok || bad "$r: train exit code"; done

log="$tmp/runs/cached/trainer.log"
grep -q "^fine-tuning from conv5.*frozen prefix read from the boundary cache" "$log" && ok || bad "cached: no path line"
grep -q "^boundary cache: conv4_block6_out (2x2x1024 fp16) of 40 train + 20 validation images, .* MiB within budget 4096 MiB, in .*: training the suffix from it$" "$log" &&
  ok || bad "cached: no boundary line: $(grep boundary "$log")"
grep -q "^boundary cache: train computed (40 images" "$log" && grep -q "^boundary cache: validation computed (20 images" "$log" &&
  ok || bad "cached: tables not computed"
log="$tmp/runs/recomputed/trainer.log"
grep -q "^fine-tuning from conv5.*frozen prefix recomputed every step" "$log" && ok || bad "recomputed: no path line"
grep -q "^boundary cache: 0.5 MiB over budget 0 MiB: recomputing the frozen prefix$" "$log" && ok || bad "recomputed: no budget line: $(grep boundary "$log")"
[ "$(find "$tmp/runs/cache" -name boundary.f16 | wc -l)" -eq 2 ] && ok || bad "want 2 boundary tables"
sizes=$(find "$tmp/runs/cache" -name boundary.f16 -exec stat -c %s {} + | sort -n | paste -sd' ')
[ "$sizes" = "$((64 + 20 * 4096 * 2)) $((64 + 40 * 4096 * 2))" ] && ok || bad "table sizes $sizes"

# The paths agree: epoch 0 (head phase, cached features) exactly, epochs 1-2 within fp16 noise.
agree() { # epoch column relative_tolerance
  awk -F, -v ep="$1" -v col="$2" -v tol="$3" 'FNR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i}
    FNR > 1 && $1 == ep {v[n++] = $c}
    END {d = v[0] - v[1]; if (d < 0) d = -d; s = v[1] < 0 ? -v[1] : v[1];
         if (n != 2 || d > tol * s) {printf "%s %s %s\n", col, v[0], v[1]; exit 1}}' \
    "$tmp/runs/cached/train_log.csv" "$tmp/runs/recomputed/train_log.csv"
}
for col in loss accuracy val_loss val_accuracy; do agree 0 $col 0 && ok || bad "head epoch differs"; done
for col in loss val_loss; do agree 1 $col 0.002 && ok || bad "epoch 1 $col beyond fp16 noise"; done
for col in loss val_loss; do agree 2 $col 0.01 && ok || bad "epoch 2 $col beyond fp16 noise"; done
within() { # epoch absolute_tolerance
  awk -F, -v ep="$1" -v tol="$2" 'FNR > 1 && $1 == ep {v[n++] = $5} END {d = v[0] - v[1]; if (d < 0) d = -d; exit !(n == 2 && d <= tol + 1e-6)}' \
    "$tmp/runs/cached/train_log.csv" "$tmp/runs/recomputed/train_log.csv"
}
within 1 0.05 && ok || bad "epoch 1 val_accuracy differs by more than one image"
within 2 0.10 && ok || bad "epoch 2 val_accuracy differs by more than two images"

# A rerun in a fresh run dir finds the tables and repeats the cached run's numbers.
cp "$tmp/cached.yaml" "$tmp/again.yaml"
run again && ok || bad "again: train exit code"
grep -q "^boundary cache: train found (40 images" "$tmp/runs/again/trainer.log" && ok || bad "again: table not found"
cmp -s <(cut -d, -f1-6 "$tmp/runs/cached/train_log.csv") <(cut -d, -f1-6 "$tmp/runs/again/train_log.csv") && ok ||
  bad "rerun from the cache differs"

# Damaged tables (each header holds the table's key and a CRC-32 of header and rows; every
# value is checked finite when a trial opens it): flipped bytes, the validation table in the
# train table's place, a NaN with a correct checksum, a table of other weights. Each is said
# in trainer.log, deleted and computed again, and the trial repeats the numbers of a trial
# on the undamaged tables (2 epochs: the head, then one fine-tuning epoch from the tables).
table() { # DIR SPLIT [WEIGHTS]: the boundary table of SPLIT in cache DIR
  local a
  for a in "$1"/*/about.txt; do
    grep -q "^boundary:" "$a" && grep -q "^split: $2\$" "$a" && echo "$(dirname "$a")/boundary.f16" && return
  done
}
damage() { python3 "${TL_SOURCE_DIR:?}/tests/e2e/lib/cache_damage.py" "$@"; }
short() { # name cache_dir weights
  sed -e "s#^train: {epochs: 3,#train: {epochs: 2,#" -e "s#dir: cache,#dir: $2,#" -e "s#random:1#$3#" "$tmp/cached.yaml" > "$tmp/$1.yaml"
}
short short "$tmp/pristine" random:1; short other "$tmp/other" random:2
for r in short other; do run $r && ok || bad "$r: train exit code"; done
try() { # kind 'damage commands on cache $c' 'expected reason (grep -E)'
  local c="$tmp/c-$1"
  cp -a "$tmp/pristine" "$c"
  eval "$2" || { bad "$1: could not damage"; return; }
  short "$1" "$c" random:1
  run "$1" && ok || bad "$1: train exit code"
  local line; line=$(grep "^boundary cache: .*; deleted, computing it again" "$tmp/runs/$1/trainer.log")
  echo "  $line"
  grep -Eq "$3" <<< "$line" && ok || bad "$1: trainer.log does not say it: $line"
  cmp -s <(cut -d, -f1-6 "$tmp/runs/short/train_log.csv") <(cut -d, -f1-6 "$tmp/runs/$1/train_log.csv") && ok ||
    bad "$1: results differ from the undamaged tables'"
}
try flipped 'damage flip "$(table $c train)" $((64 + 2 * 5000 + 1))' 'checksum mismatch'
try swapped 'cp "$(table $c validation)" "$(table $c train)"' 'holds another table .*, not train'
try nan 'damage nan "$(table $c validation)" 777' 'value at row 0 is not finite'
try wrong_key 'cp "$(table $tmp/other train)" "$(table $c train)"' 'holds another table .*, not train'

# With augmentation every epoch's images differ: recomputed, and the log says why.
run augmented && ok || bad "augmented: train exit code"
grep -q "^boundary cache: off: augmentation on (augment.strength 0.5), every epoch's images differ: recomputing the frozen prefix$" \
  "$tmp/runs/augmented/trainer.log" && ok || bad "augmented: no reason line"

checks_end
