#!/usr/bin/env bash
# A damaged feature cache is detected, said and repaired, never used: every chunk carries its
# table's full key, its index and shape and a CRC-32 of its bytes, and a reader checks them
# and that every value is finite. For each kind of damage (flipped data bytes, a chunk of
# another view, validation and test swapped, NaN values with a correct checksum, a chunk of
# another cache (wrong key), a chunk of the older format, a truncated chunk) a trial:
#  - exits 0 with a line "feature cache: <file>: <what>; deleted, computing it again" in its
#    trainer.log, and ends with exactly the results of a trial on the undamaged cache;
#  - leaves a good chunk behind (a second trial logs nothing).
# In a sweep: data damage is found by the trial that reads it (phase 2: phase 1 checks only
# headers), a chunk of another table already by phase 1 (its cache-group log says so).
# A backbone that outputs Inf/NaN (a weight file with huge values) fails the trial with a
# message naming the image and the weight file, instead of a "diverged" or chance result.
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_cache_integrity.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
damage() { python3 "$TL_SOURCE_DIR/tests/e2e/lib/cache_damage.py" "$@"; }

# 100 train, 30 validation, 30 test images: one chunk per table, validation and test alike in size.
"$TRAINER" demo-data data --train 10 --val 3 --test 3 > /dev/null || { echo "demo-data failed"; exit 1; }

config() {  # NAME CACHE_DIR [WEIGHTS]
    cat > "$1.yaml" <<YAML
data: {root: $work/data, image_size: 32}
model: {weights: "${3:-random:1}", head: {hidden: 32}}
train: {epochs: 3, batch_size: 32, seed: 7}
feature_cache: {dir: $2, views: 2}
YAML
}
train() { "$TRAINER" train "$1.yaml" --out "runs/$1" --quiet --threads 2; }
# The results a rerun must repeat: result.csv and train_log.csv without trial name and timings.
results() { { untimed "runs/$1/result.csv" | cut -d, -f2-; untimed "runs/$1/train_log.csv"; }; }
# The chunk of the table with SPLIT (and VIEW) in cache DIR.
chunk() {  # DIR SPLIT [VIEW]
    local about
    for about in "$1"/*/about.txt; do
        grep -q "^split: $2\$" "$about" || continue
        [ -z "${3:-}" ] || grep -q "^view: $3\$" "$about" || continue
        echo "$(dirname "$about")/chunk-00000.f32"
        return
    done
}
replaced_line() { grep "^feature cache: .*; deleted, computing it again" "runs/$1/trainer.log"; }

config ref "$work/pristine"
check "reference trial" train ref
config other "$work/other" random:2
check "a trial on other weights (a cache with other keys)" train other
check_eval "4 tables of one chunk each" "[ \$(ls pristine/*/chunk-00000.f32 | wc -l) -eq 4 ]"
check_eval "no damage on a fresh cache" "! grep -q '^feature cache:' runs/ref/trainer.log"

# try KIND 'SHELL COMMANDS DAMAGING cache $c' 'EXPECTED REASON (grep -E)'
try() {
    local kind=$1 c=$work/cache-$1
    cp -a pristine "$c"
    (cd "$work" && c=$c && eval "$2") || { bad "$kind: could not damage"; return; }
    config "$kind" "$c"
    check "$kind: trial exits 0" train "$kind"
    check_eval "$kind: trainer.log says what and that it recomputed" "replaced_line $kind | grep -Eq '$3'"
    [ -n "$(replaced_line "$kind")" ] && echo "  $(replaced_line "$kind")"
    check_eval "$kind: the results of the undamaged cache" "cmp -s <(results ref) <(results $kind)"
    config "$kind-again" "$c"
    check "$kind: a second trial" train "$kind-again"
    check_eval "$kind: the chunk was repaired (nothing to report the second time)" "! grep -q '^feature cache:' runs/$kind-again/trainer.log"
}
# The exponent byte of a float in either format (header 64 or 32 bytes): a large change.
try flipped 'damage flip "$(chunk $c train 1)" 4067' 'checksum mismatch'
try swapped_views 'cp "$(chunk $c train 0)" "$(chunk $c train 1)"' 'holds chunk 0 of another table .*\(train view 1\)'
try swapped_val_test 'v=$(chunk $c validation); t=$(chunk $c test); cp "$v" x; cp "$t" "$v"; mv x "$t"' \
    'holds chunk 0 of another table .*\((validation|test) view 0\)'
try nan 'damage nan "$(chunk $c validation)" 4100' 'value nan at row 2 is not finite'
try wrong_key 'cp "$(chunk other train 0)" "$(chunk $c train 0)"' 'holds chunk 0 of another table .*\(train view 0\)'
try old_format 'damage v1 "$(chunk $c test)"' 'older format TLFEAT01'
try truncated 'truncate -s -100 "$(chunk $c train 0)"' 'bytes, expected'

# --- a sweep: phase 2 finds damaged data, phase 1 a chunk of another table
cat > s.yaml <<YAML
name: s
base:
  data: {root: $work/data, image_size: 32}
  model: {weights: "random:1", head: {hidden: 32}}
  train: {epochs: 3, batch_size: 32}
  feature_cache: {views: 2}
sweep:
  axes:
    model.head.dropout: [0.2, 0.6]
YAML
sweep() { "$SWEEP_BIN" s.yaml --runs sw --threads 2 > "sweep$1.out" 2>&1; }
check "sweep" sweep 1
cp sw/s/dropout-0.2/result.csv result.first
cp sw/s/dropout-0.2/train_log.csv log.first
damage flip "$(chunk sw/s/cache train 1)" 6067
rm -r sw/s/dropout-0.2
check "sweep rerun after flipping bytes" sweep 2
check_eval "phase 1 computes nothing (a header check)" "tail -1 sw/s/logs/cache-group1-rank0.log | grep -q ': 0 images through the backbone'"
check_eval "phase 2: the trial reports the damage" "grep -q '^feature cache: .*checksum mismatch (damaged data); deleted, computing it again' sw/s/dropout-0.2/trainer.log"
check_eval "phase 2: the trial's results are those of the undamaged cache" \
    "cmp -s <(untimed result.first) <(untimed sw/s/dropout-0.2/result.csv) && cmp -s <(untimed log.first) <(untimed sw/s/dropout-0.2/train_log.csv)"
cp "$(chunk sw/s/cache train 0)" "$(chunk sw/s/cache train 1)"
rm -r sw/s/dropout-0.2
check "sweep rerun after swapping two views" sweep 3
check_eval "phase 1 finds the chunk of another table, replaces it" \
    "grep -q '^feature cache: .*holds chunk 0 of another table .*(train view 1); deleted, computing it again' sw/s/logs/cache-group1-rank0.log"
check_eval "phase 2 then reads good chunks" "! grep -q '^feature cache:' sw/s/dropout-0.2/trainer.log"
check_eval "and the results are those of the undamaged cache" "cmp -s <(untimed result.first) <(untimed sw/s/dropout-0.2/result.csv)"

# --- a backbone that outputs Inf: the last two convs' kernels, each scaled by 1e30, overflow
# float32 (finite weights: only the output shows it).
if /usr/bin/python3 -c 'import h5py' 2> /dev/null; then
    "$TRAINER" make-weights --random 1 --out huge.h5 > /dev/null
    for conv in conv5_block3_2_conv conv5_block3_3_conv; do
        /usr/bin/python3 "$TL_SOURCE_DIR/tests/e2e/lib/cache_damage.py" scale huge.h5 "$conv/$conv/kernel:0" 1e30
    done
    config huge "$work/huge-cache" "$work/huge.h5"
    train huge; rc=$?
    check_eval "non-finite backbone output: the trial fails (exit 1)" "[ $rc -eq 1 ]"
    check_eval "result.csv: failed (not done, not diverged)" "grep -q ',failed,' runs/huge/result.csv"
    check_eval "the message says the output is not finite and names image and weight file" \
        "grep -q 'backbone output is not finite (.*) for image $work/data/.*\.jpg with model.weights $work/huge.h5' runs/huge/result.csv"
    check_eval "no chunk of it was stored" "[ -z \"\$(ls huge-cache/*/chunk-* 2> /dev/null)\" ]"
else
    echo "SKIP: non-finite backbone check needs h5py for /usr/bin/python3 (scripts/install-deps)"
fi

checks_end
