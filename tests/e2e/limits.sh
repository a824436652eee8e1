#!/usr/bin/env bash
# Limits and validation (issue 11, finding 6), each failing clearly where it used to crash,
# run out of memory later, or say nothing:
#  - --threads abc, -1, 0, 100000: refused by trainer train, predict, cache-features and sweep
#  - model.head.hidden 2000000000, and batch 4096 x 1024^2 images: refused at validation with
#    the memory estimate, naming file:line
#  - a JPEG whose header claims 65500 x 65500 pixels: the trial fails at once naming the file
#    and data.max_pixels (nothing decoded); data.max_pixels below the images' size refuses them too
#  - a byte that is not UTF-8 in a YAML file: its real line and column
#  - temp files of dead writers (checkpoint, result, cache chunk) removed on the next run;
#    another host's recent one kept
#  - a weight file holding a NaN: refused naming the file and the layer
set -uo pipefail
: "${TRAINER:?}" "${SWEEP_BIN:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_limits.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
T=$TRAINER PY=/usr/bin/python3
export TRAINER
"$T" demo-data data --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
write_cfg() {  # write_cfg FILE [EXTRA YAML LINES]
    printf 'data: {root: %s, image_size: 32%s}\nmodel: {weights: %s, head: {hidden: %s}}\ntrain: {epochs: 2, batch_size: %s}\nfeature_cache: {views: 1}\n' \
        "${ROOT:-data}" "${DATA_EXTRA:-}" "${WEIGHTS:-random:1}" "${HIDDEN:-16}" "${BATCH:-16}" > "$1"
}
write_cfg ok.yaml

# --- --threads
for v in abc -1 0 100000; do
    "$T" train ok.yaml --out X --threads "$v" > th.out 2>&1; rc=$?
    check_eval "trainer train --threads $v: exit 2 with the range" "[ $rc -eq 2 ] && grep -q \"takes a count 1..1024, not '$v'\" th.out && [ ! -e X/result.csv ]"
    "$SWEEP_BIN" x.yaml --threads "$v" > th.out 2>&1; rc=$?
    check_eval "sweep --threads $v: exit 2" "[ $rc -eq 2 ] && grep -q \"1..1024, not '$v'\" th.out"
done
"$T" predict --run X --threads abc data/test/bag/*.jpg > th.out 2>&1; rc=$?
check_eval "trainer predict --threads abc: refused" "[ $rc -ne 0 ] && grep -q \"not 'abc'\" th.out"
"$T" cache-features ok.yaml --shard 0/1 --threads 100000 > th.out 2>&1; rc=$?
check_eval "trainer cache-features --threads 100000: exit 2" "[ $rc -eq 2 ] && grep -q \"not '100000'\" th.out"

# --- sizes that cannot fit in memory
HIDDEN=2000000000 write_cfg big.yaml
"$T" train big.yaml --out X > big.out 2>&1; rc=$?
cat big.out
check_eval "hidden 2000000000: exit 2, file:line, the estimate" \
    "[ $rc -eq 2 ] && grep -q \"big.yaml:2: key 'model.head.hidden' is 2000000000: the head alone needs about\" big.out && grep -q \"more than this machine's\" big.out"
mem_gib=$(awk '/^MemTotal/ { print int($2 / 1048576) }' /proc/meminfo)
if [ "$mem_gib" -lt 500 ]; then
    BATCH=4096 DATA_EXTRA=", image_size: 1024" write_cfg act.yaml
    sed -i 's/image_size: 32, image_size: 1024/image_size: 1024/' act.yaml
    "$T" train act.yaml --out X > act.out 2>&1; rc=$?
    check_eval "batch 4096 x 1024^2: exit 2 with the activations' estimate" \
        "[ $rc -eq 2 ] && grep -q 'train.batch_size 4096 x data.image_size 1024^2: the backbone.s activations need at least 512.0 GiB' act.out"
fi

# --- JPEG pixel limit
cp -r data big_img
src=$(ls data/train/bag/*.jpg | head -1)
$PY -c "
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(b'\xff\xc0')
b[i + 5:i + 9] = (65500).to_bytes(2, 'big') * 2
open(sys.argv[2], 'wb').write(b)" "$src" big_img/train/bag/huge.jpg
ROOT=big_img write_cfg huge.yaml
"$T" train huge.yaml --out H --threads 1 > huge.out 2>&1; rc=$?
check_eval "a 65500 x 65500 header: the trial fails naming the file and data.max_pixels" \
    "[ $rc -eq 1 ] && grep -q 'huge.jpg: 65500 x 65500 pixels is more than data.max_pixels (178956970)' H/result.csv"
DATA_EXTRA=", max_pixels: 500" write_cfg small_limit.yaml
"$T" train small_limit.yaml --out L --threads 1 > small.out 2>&1; rc=$?
check_eval "data.max_pixels 500 refuses the 28 x 28 images, naming one" "[ $rc -eq 1 ] && grep -q '.jpg: 28 x 28 pixels is more than data.max_pixels (500)' L/result.csv"

# --- not UTF-8
printf 'data:\n  root: data\n  interpolation: "bil\xe9near"\nmodel: {weights: random:1}\n' > latin1.yaml
"$T" train latin1.yaml --out X > u.out 2>&1; rc=$?
check_eval "a Latin-1 byte: exit 2 at its line and column" "[ $rc -eq 2 ] && grep -q 'latin1.yaml:3:22: not UTF-8 text: byte 0xe9' u.out"

# --- temp files of dead writers
(exit 0) & dead=$!; wait $dead
me=$(hostname)
"$T" train ok.yaml --out D --threads 1 > /dev/null 2>&1
rm D/result.csv
ckey=$(ls cache | head -1)
touch D/last.safetensors.tmp.$dead.$me D/result.csv.tmp.$dead "cache/$ckey/chunk-00000.f32.tmp.$dead.$me"
"$T" train ok.yaml --out D --threads 1 --quiet > d.out 2>&1; rc=$?
check_eval "trainer: a dead writer's temp files (its folder, its cache folder) removed, and said" \
    "[ $rc -eq 0 ] && [ -n '$ckey' ] && ! ls D/*.tmp.* cache/*/*.tmp.* 2>/dev/null && grep -q 'removed 3 temp files left by a writer that died' D/trainer.log"
printf 'name: tmp\nbase:\n  data: {root: data, image_size: 32}\n  model: {weights: random:1, head: {hidden: 16}}\n  train: {epochs: 1}\n  feature_cache: {views: 1}\nsweep:\n  axes: {model.head.dropout: [0.2]}\n' > tmp.yaml
"$SWEEP_BIN" tmp.yaml --threads 1 > /dev/null 2>&1
key=$(ls runs/tmp/cache | head -1)
touch "runs/tmp/cache/$key/chunk-00000.f32.tmp.$dead.$me" "runs/tmp/summary.csv.tmp.$dead.$me" "runs/tmp/cache/$key/chunk-00001.f32.tmp.77.node-elsewhere"
"$SWEEP_BIN" tmp.yaml --threads 1 > tmp.out 2>&1; rc=$?
check_eval "sweep: the dead writers' cache chunk and summary temp files removed, and said" \
    "[ $rc -eq 0 ] && grep -q 'removed 2 temp files left by writers that died' tmp.out && [ ! -e runs/tmp/cache/$key/chunk-00000.f32.tmp.$dead.$me ]"
check_eval "another host's recent temp file kept" "[ -e runs/tmp/cache/$key/chunk-00001.f32.tmp.77.node-elsewhere ]"

# --- NaN in a weight file
"$T" make-weights --random 3 --out w.h5 > /dev/null 2>&1
$PY -c "
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'r+') as f:
    d = f['conv3_block2_2_conv']['conv3_block2_2_conv']['kernel:0']
    a = d[...]; a.flat[7] = np.nan; d[...] = a" w.h5 2> py.err
check_eval "made a weight file with a NaN" "[ ! -s py.err ]"
WEIGHTS=w.h5 write_cfg nan.yaml
"$T" train nan.yaml --out W --threads 1 > nan.out 2>&1; rc=$?
check_eval "NaN weights: refused naming the file and the layer" \
    "[ $rc -ne 0 ] && grep -q \"w.h5: layer 'conv3_block2_2_conv' weight 'kernel' holds a non-finite value (NaN or Inf; the first at index 7\" W/result.csv"

checks_end
