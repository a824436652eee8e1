#!/usr/bin/env bash
# model.precision bf16 on the CPU end to end.
# 1. On a CPU without AMX or AVX-512 BF16 it is a one-line error naming the key and what the
#    CPU lacks, before any work: at config validation (train.device cpu: file:line), when
#    `auto` resolves to the CPU, and for `trainer features --precision bf16`. The test runs
#    these with ONEDNN_MAX_CPU_ISA=AVX512_CORE: oneDNN's own cap, which makes any CPU report
#    no bf16 units (and keeps oneDNN from using them), so this part runs everywhere.
# 2. Where the CPU has them: a bf16 trial trains above chance, says in trainer.log which
#    precision, instruction set and kernels ran, and keeps feature caches of its own (as does
#    data.fast_decode), apart from fp32's. Skipped with a message elsewhere.
set -u
T=${TRAINER:?TRAINER must point to the trainer binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

# expect_error WORDS... -- CMD...: CMD fails with one stderr line holding every word.
expect_error() {
  local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done; shift
  local err; err=$("$@" 2>&1 >/dev/null); local rc=$?
  [ $rc -ne 0 ] || { bad "expected failure: $*"; return; }
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { bad "expected one line, got: $err"; return; }
  for w in "${words[@]}"; do [[ "$err" == *"$w"* ]] || { bad "message lacks '$w': $err"; return; }; done
  ok
}

config() {  # config FILE DEVICE PRECISION [EXTRA_DATA_KEYS]
  cat > "$1" <<YAML
data: {root: $tmp/fm, image_size: 32${4:+, $4}}
model: {weights: "random:1", precision: $3, head: {hidden: 64, dropout: 0.3}}
train: {epochs: 6, batch_size: 16, seed: 42, threads: 2, device: $2}
augment: {strength: 0}
feature_cache: {dir: $tmp/cache}
YAML
}

[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: run scripts/install-deps"; exit 77; }
"$T" demo-data "$tmp/fm" --train 40 --val 15 --test 15 >/dev/null || { bad "demo-data"; checks_end; exit 1; }

# 1. No bf16 units (capped): clear errors, nothing written.
config "$tmp/cpu.yaml" cpu bf16
config "$tmp/auto.yaml" auto bf16
capped=(env ONEDNN_MAX_CPU_ISA=AVX512_CORE)
expect_error "cpu.yaml:" "model.precision" "AVX-512 BF16" "avx512_core" -- "${capped[@]}" "$T" train "$tmp/cpu.yaml" --out "$tmp/runs/x" --quiet
[ ! -e "$tmp/runs/x/result.csv" ] && ok || bad "a refused trial left a result"
if ! ls /dev/nvidia[0-9]* >/dev/null 2>&1; then   # no GPU: auto resolves to the CPU
  expect_error "model.precision" "AVX-512 BF16" -- "${capped[@]}" "$T" train "$tmp/auto.yaml" --out "$tmp/runs/y" --quiet
fi
photo=$(ls /usr/share/darknet/data/dog.jpg /var/cache/sweep-testdata/darknet/usr/share/darknet/data/dog.jpg 2>/dev/null | head -1)
if [ -n "$photo" ]; then
  expect_error "model.precision" "AVX-512 BF16" -- "${capped[@]}" "$T" features --weights random:1 --device cpu --precision bf16 \
    --image-size 32 --out "$tmp/f.bin" "$photo"
  [ ! -e "$tmp/f.bin" ] && ok || bad "features output left behind"
fi

# 2. With bf16 units: a real trial.
if ! "$T" features --weights random:1 --device cpu --precision bf16 --image-size 32 --out "$tmp/probe.bin" ${photo:-/nonexistent} \
     2>"$tmp/probe.err" && grep -q "neither AMX nor AVX-512 BF16" "$tmp/probe.err"; then
  echo "bf16 trials: skipped ($(cat "$tmp/probe.err"))"
  checks_end; exit $?
fi
config "$tmp/fp32.yaml" cpu fp32
config "$tmp/fast.yaml" cpu fp32 "fast_decode: true"
for run in cpu fp32 fast; do
  "$T" train "$tmp/$run.yaml" --out "$tmp/runs/$run" --quiet && ok || bad "$run trial failed: $(tail -2 "$tmp/runs/$run/trainer.log")"
done
grep -q "precision bf16, oneDNN instruction set avx512_core_\(bf16\|amx\)" "$tmp/runs/cpu/trainer.log" && ok || bad "trainer.log: no bf16 line"
grep -q "backbone kernels: .*bf16" "$tmp/runs/cpu/trainer.log" && ok || bad "trainer.log: no bf16 kernels"
grep -q "precision fp32, oneDNN" "$tmp/runs/fp32/trainer.log" && ok || bad "trainer.log: no fp32 line"
field() { awk -F, -v col="$2" 'NR==1 {for (i=1;i<=NF;i++) if ($i==col) c=i} NR==2 {print $c}' "$1"; }
va=$(field "$tmp/runs/cpu/result.csv" val_accuracy)
awk -v v="$va" 'BEGIN {exit !(v > 0.3)}' && ok || bad "bf16 trial not above chance: val $va"
# Three setups, three sets of cache entries (validation, test, train each): none shared.
[ "$(ls "$tmp/cache" | wc -l)" -eq 9 ] && ok || bad "expected 9 cache entries (3 setups x 3 tables), got $(ls "$tmp/cache" | wc -l)"
checks_end
