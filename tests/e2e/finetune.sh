#!/usr/bin/env bash
# trainer train with model.trainable conv5, two-phase (finetune.after_epochs 1): epoch 0
# trains the head on cached features, epochs 1-2 fine-tune conv5 + head on the images.
# Runs to done with every output file and the phases in train_phases.csv; last.safetensors
# holds the conv5 suffix by Keras name (no conv4 tensor: the prefix is not trained), whose
# kernels moved away from the initial weights while the BN moving statistics stayed put;
# a run killed in the head phase and one killed in the fine-tuning phase, each rerun, end
# with the same numbers as the uninterrupted run.
# --threads 1: on a shared 2-core machine OpenMP's spinning barriers make 2 threads slower.
set -u
T=${TRAINER:?TRAINER must point to the trainer binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: run scripts/install-deps"; exit 77; }
"$T" demo-data "$tmp/d" --train 30 --val 10 --test 10 >/dev/null || { bad "demo-data"; checks_end; exit 1; }

cat > "$tmp/cfg.yaml" <<YAML
data: {root: $tmp/d, image_size: 32}
model: {weights: "random:1", trainable: conv5}
train: {epochs: 3, batch_size: 8, seed: 42}
augment: {strength: 0.5}
feature_cache: {dir: cache, views: 0}
finetune: {after_epochs: 1}
YAML
run() { "$T" train "$tmp/cfg.yaml" --out "$tmp/runs/$1" --threads 1 --quiet; }

# 1. A full run.
run full && ok || bad "train exit code"
for f in config.yaml train_log.csv train_phases.csv best.safetensors last.safetensors result.csv confusion.csv errors.csv trainer.log; do
  [ -s "$tmp/runs/full/$f" ] && ok || bad "missing $f"
done
field() { awk -F, -v col="$2" 'NR==1 {for (i=1;i<=NF;i++) if ($i==col) c=i} NR==2 {print $c}' "$1"; }
[ "$(field "$tmp/runs/full/result.csv" status)" = done ] && ok || bad "status not done"
va=$(field "$tmp/runs/full/result.csv" val_accuracy)
awk -v v="$va" 'BEGIN {exit !(v == v + 0 && v >= 0 && v <= 1)}' && ok || bad "val_accuracy '$va'"
[ "$(tr -d '\r' < "$tmp/runs/full/train_phases.csv" | paste -sd' ')" = "epoch,phase 0,head 1,finetune 2,finetune" ] && ok || bad "train_phases.csv: $(cat "$tmp/runs/full/train_phases.csv")"
[ "$(head -1 "$tmp/runs/full/train_log.csv" | tr -d '\r')" = "epoch,accuracy,loss,lr,val_accuracy,val_loss,seconds" ] && ok || bad "train_log header"
grep -q "fine-tuning from conv5.*frozen prefix recomputed every step" "$tmp/runs/full/trainer.log" && ok || bad "no path line in trainer.log"
[ "$(grep -c "^epoch .*phase finetune$" "$tmp/runs/full/trainer.log")" -eq 2 ] && ok || bad "epoch lines lack the phase"

# 2. The checkpoint: conv5 trained, BN statistics and the prefix untouched.
"$T" make-weights --random 1 --out "$tmp/w.h5" >/dev/null || bad "make-weights"
/usr/bin/python3 - "$tmp/runs/full/last.safetensors" "$tmp/runs/full/best.safetensors" "$tmp/w.h5" <<'PY' && ok || bad "checkpoint contents"
import json, struct, sys
import h5py, numpy as np
def tensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    head = json.loads(raw[8:8 + n]); head.pop('__metadata__', None)
    out = {}
    for k, v in head.items():
        if v['dtype'] == 'F32':
            b, e = v['data_offsets']
            out[k] = np.frombuffer(raw[8 + n + b:8 + n + e], '<f4').reshape(v['shape'])
    return out
last, best, h5 = tensors(sys.argv[1]), tensors(sys.argv[2]), h5py.File(sys.argv[3], 'r')
names = [k for k in last if '/' in k]
assert names and all(k.startswith('conv5_') for k in names), names[:5]
assert all(k.startswith('conv5_') for k in best if '/' in k) and 'conv5_block3_3_conv/kernel' in best
assert 'suffix_opt.m' in last and 'head.params' in last
def initial(name):
    layer, what = name.split('/')
    for wn in h5[layer].attrs['weight_names']:
        wn = wn.decode() if isinstance(wn, bytes) else wn
        if wn.endswith('/' + what + ':0'): return np.asarray(h5[layer][wn])
    raise KeyError(name)
moved = 0
for k in names:
    same = np.array_equal(last[k], initial(k))
    if k.endswith('moving_mean') or k.endswith('moving_variance'):
        assert same, k + ' changed'
    elif k.endswith('/kernel'):
        moved += not same
assert moved == sum(k.endswith('/kernel') for k in names), 'a conv5 kernel did not train'
PY

# 3. Kill in the head phase (after epoch 0) and in the fine-tuning phase (after epoch 1).
for rows in 2 3; do
  "$T" train "$tmp/cfg.yaml" --out "$tmp/runs/killed$rows" --threads 1 --quiet & pid=$!
  for _ in $(seq 1 1200); do
    [ -f "$tmp/runs/killed$rows/train_log.csv" ] && [ "$(wc -l < "$tmp/runs/killed$rows/train_log.csv")" -ge $rows ] && break; sleep 0.05
  done
  kill -TERM $pid; wait $pid; rc=$?
  [ $rc -eq 130 ] && ok || bad "run killed after $((rows - 1)) epoch(s): exit $rc (want 130)"
  run "killed$rows" && ok || bad "resume after $((rows - 1)) epoch(s)"
  cmp -s <(cut -d, -f2-14 "$tmp/runs/full/result.csv") <(cut -d, -f2-14 "$tmp/runs/killed$rows/result.csv") && ok ||
    bad "resumed result differs (killed after $((rows - 1)) epoch(s))"
  cmp -s <(cut -d, -f1-6 "$tmp/runs/full/train_log.csv") <(cut -d, -f1-6 "$tmp/runs/killed$rows/train_log.csv") && ok ||
    bad "resumed log differs (killed after $((rows - 1)) epoch(s))"
  cmp -s "$tmp/runs/full/train_phases.csv" "$tmp/runs/killed$rows/train_phases.csv" && ok || bad "resumed phases differ"
done

# predict and evaluate use the fine-tuned backbone: evaluate reproduces result.csv's test
# metrics, and predict's top-1 over the test images gives the same accuracy.
ev=$("$T" evaluate --run "$tmp/runs/full" --split test --threads 1 2>/dev/null)
for m in loss:test_loss accuracy:test_accuracy top5:test_top5; do
  got=$(printf '%s\n' "$ev" | awk -v k="${m%%:*}" '$1 == k {print $2}')
  [ -n "$got" ] && [ "$got" = "$(field "$tmp/runs/full/result.csv" "${m#*:}")" ] && ok || bad "evaluate ${m%%:*} '$got' differs from result.csv"
done
printf '%s\n' "$ev" | grep -q "fine-tuned backbone" && ok || bad "evaluate did not use the fine-tuned backbone"
acc=$("$T" predict --run "$tmp/runs/full" --top 1 --csv --threads 1 "$tmp"/d/test/*/*.jpg 2>/dev/null |
      awk -F, 'NR > 1 {n++; k = split($1, p, "/"); if (p[k-1] == $3) c++} END {if (n) printf "%.6f", c / n}')
want=$(awk -v a="$(field "$tmp/runs/full/result.csv" test_accuracy)" 'BEGIN {printf "%.6f", a}')
[ "$acc" = "$want" ] && ok || bad "predict top-1 accuracy $acc, result.csv test_accuracy $want"

checks_end
