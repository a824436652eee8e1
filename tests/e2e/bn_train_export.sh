#!/usr/bin/env bash
# model.backbone_bn: train and trainer export-weights, end to end.
# 1. conv5 fine-tuning with BN in training mode (augmentation on, so the prefix runs every
#    step; 300 images in batches of 8: the last batch is short): done, trainer.log says so,
#    every conv5 BN's moving statistics in last.safetensors moved from the weight file's.
# 2. Killed after its first epoch and rerun: the same result.csv and train_log.csv as the
#    uninterrupted run (the moving statistics travel in last.safetensors).
# 3. export-weights: the .h5 holds best.safetensors' conv5 tensors and the weight file's
#    prefix, bit for bit, in the Keras layout (layer_names, weight_names; a weightless
#    layer's weight_names an empty array, which Keras's load_weights iterates over).
# 4. Round trip: a head-only trial on the exported file, with the same head, evaluates the
#    test split to the same loss and accuracy and predicts the same probabilities as the
#    fine-tuned trial itself (its features through the folded backbone vs the trial's
#    unfolded suffix on its moving statistics); the features themselves, the exported file's
#    (trainer features) against the trial's own (trainer predict --features), within 1e-5.
# 5. The demo's source-training config (configs/demo_source.yaml: from scratch, every layer,
#    BN in training mode, from make-weights --scratch) runs an epoch of a few steps on small
#    data, and its export loads.
set -u
T=${TRAINER:?TRAINER must point to the trainer binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
src=${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}
source "$src/tests/e2e/lib/checks.sh"
/usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null || { echo "no h5py/numpy for /usr/bin/python3: skipped"; exit 77; }
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: run scripts/install-deps"; exit 77; }
"$T" demo-data "$tmp/d" --train 30 --val 10 --test 10 >/dev/null || { bad "demo-data"; checks_end; exit 1; }
"$T" make-weights --random 3 --bn-stats --out "$tmp/w.h5" >/dev/null || { bad "make-weights"; checks_end; exit 1; }

cat > "$tmp/cfg.yaml" <<YAML
data: {root: $tmp/d, image_size: 32}
model: {weights: $tmp/w.h5, trainable: conv5, backbone_bn: train}
train: {epochs: 3, batch_size: 8, seed: 42, backbone_lr: 1.0e-4}
augment: {strength: 0.5}
feature_cache: {dir: cache, views: 0}
YAML
run() { "$T" train "$tmp/cfg.yaml" --out "$tmp/runs/$1" --threads 1 --quiet; }
field() { awk -F, -v col="$2" 'NR==1 {for (i=1;i<=NF;i++) if ($i==col) c=i} NR==2 {print $c}' "$1"; }

# 1.
run full && ok || bad "train exit code"
[ "$(field "$tmp/runs/full/result.csv" status)" = done ] && ok || bad "status not done"
grep -q "^backbone BN: train" "$tmp/runs/full/trainer.log" && ok || bad "trainer.log does not say BN trains"
/usr/bin/python3 - "$tmp/runs/full/last.safetensors" "$tmp/w.h5" <<'PY' && ok || bad "moving statistics in last.safetensors"
import json, struct, sys
import h5py, numpy as np
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n]); head.pop('__metadata__', None)
t = {k: np.frombuffer(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], '<f4') for k, v in head.items() if v['dtype'] == 'F32'}
h5 = h5py.File(sys.argv[2], 'r')
stats = [k for k in t if k.endswith('/moving_mean') or k.endswith('/moving_variance')]
assert len(stats) == 20 and all(k.startswith('conv5_') for k in stats), stats
for k in stats:
    layer, what = k.split('/')
    init = np.asarray(h5[layer][layer + '/' + what + ':0']).ravel()
    assert (t[k] != init).mean() > 0.9, k + ' did not move'
PY

# 2.
"$T" train "$tmp/cfg.yaml" --out "$tmp/runs/killed" --threads 1 --quiet & pid=$!
for _ in $(seq 1 2400); do
  [ -f "$tmp/runs/killed/train_log.csv" ] && [ "$(wc -l < "$tmp/runs/killed/train_log.csv")" -ge 2 ] && break; sleep 0.05
done
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 130 ] && ok || bad "killed run: exit $rc (want 130)"
run killed && ok || bad "resume"
cmp -s <(cut -d, -f2-14 "$tmp/runs/full/result.csv") <(cut -d, -f2-14 "$tmp/runs/killed/result.csv") && ok || bad "resumed result differs"
cmp -s <(cut -d, -f1-6 "$tmp/runs/full/train_log.csv") <(cut -d, -f1-6 "$tmp/runs/killed/train_log.csv") && ok || bad "resumed log differs"

# 3.
"$T" export-weights --run "$tmp/runs/full" --out "$tmp/e.h5" > "$tmp/export.out" && ok || bad "export-weights: $(cat "$tmp/export.out")"
grep -q "trained from conv5_block1_1_conv on" "$tmp/export.out" && ok || bad "export summary: $(cat "$tmp/export.out")"
/usr/bin/python3 - "$tmp/e.h5" "$tmp/w.h5" "$tmp/runs/full/best.safetensors" <<'PY' && ok || bad "exported tensors"
import json, struct, sys
import h5py, numpy as np
e, w = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
raw = open(sys.argv[3], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n]); head.pop('__metadata__', None)
best = {k: np.frombuffer(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], '<f4').reshape(v['shape'])
        for k, v in head.items() if '/' in k}
names = [x.decode() if isinstance(x, bytes) else x for x in e.attrs['layer_names']]
assert len(names) == 176 and names[0] == 'input_1' and names[-1] == 'avg_pool', (len(names), names[:2])
seen = 0
for layer in names:
    wns = e[layer].attrs['weight_names']
    assert not isinstance(wns, h5py.Empty), layer + ': weight_names must be iterable (Keras iterates over it)'
    for wn in wns:
        wn = wn.decode() if isinstance(wn, bytes) else wn
        key = wn.split(':')[0]
        got = np.asarray(e[layer][wn])
        want = best[key] if layer.startswith('conv5_') else np.asarray(w[layer][wn])
        assert got.shape == want.shape and np.array_equal(got, want), key
        seen += 1
assert seen == 318 and len(best) == 60, (seen, len(best))
PY

# 4.
mkdir -p "$tmp/runs/head"
sed -e "s#^\(  weights:\).*#\1 $tmp/e.h5#" -e "s#^\(  trainable:\).*#\1 head#" "$tmp/runs/full/config.yaml" > "$tmp/runs/head/config.yaml"
grep -q "^  weights: $tmp/e.h5" "$tmp/runs/head/config.yaml" && grep -q "^  trainable: head" "$tmp/runs/head/config.yaml" && ok ||
  bad "head-only config: $(grep -E 'weights|trainable' "$tmp/runs/head/config.yaml")"
/usr/bin/python3 - "$tmp/runs/full/best.safetensors" "$tmp/runs/head/best.safetensors" <<'PY' && ok || bad "head-only checkpoint"
import json, struct, sys
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n]); meta = head.pop('__metadata__', {})
meta.pop('trainable', None)
meta.pop('checksum', None)   # the bytes change below; a file without a checksum is read unverified
out, blobs, at = {'__metadata__': meta}, [], 0
for k, v in head.items():
    if '/' in k: continue
    b, e = v['data_offsets']
    out[k] = dict(v, data_offsets=[at, at + e - b]); blobs.append(raw[8 + n + b:8 + n + e]); at += e - b
h = json.dumps(out, separators=(',', ':')).encode(); h += b' ' * (-len(h) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
PY
metrics() { "$T" evaluate --run "$1" --split test --threads 1 2>/dev/null | awk '$1 == "loss" || $1 == "accuracy" {print $1, $2}'; }
a=$(metrics "$tmp/runs/full"); b=$(metrics "$tmp/runs/head")
echo "fine-tuned trial: $(echo $a); head on the exported file: $(echo $b)"
[ -n "$a" ] && awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, /[ \n]/); split(b, y, /[ \n]/);
  exit !(x[2] > 0 && (x[2] - y[2]) ^ 2 <= (1e-5 * x[2]) ^ 2 && x[4] == y[4])}' && ok || bad "evaluate differs: [$a] vs [$b]"
imgs=("$tmp"/d/test/*/*.jpg)
"$T" predict --run "$tmp/runs/full" --top 10 --csv --threads 1 "${imgs[@]}" > "$tmp/p1.csv" 2>/dev/null
"$T" predict --run "$tmp/runs/head" --top 10 --csv --threads 1 "${imgs[@]}" > "$tmp/p2.csv" 2>/dev/null
worst=$(paste -d, "$tmp/p1.csv" "$tmp/p2.csv" | awk -F, 'NR > 1 {if ($3 != $7) bad = 1; d = $4 - $8; d = d < 0 ? -d : d; if (d > w) w = d}
  END {if (NR < 1000 || bad) print "mismatch"; else printf "%.3g", w}')
echo "predict, 100 images x 10 classes: worst probability difference $worst"
awk -v w="$worst" 'BEGIN {exit !(w != "mismatch" && w + 0 < 1e-5)}' && ok || bad "predicted probabilities differ: $worst"

# The features themselves: the exported file read back as model.weights (trainer features)
# against the trial's own (trainer predict --features: prefix, then its trained suffix on the
# moving statistics); the weight file it started from must give other features.
"$T" predict --run "$tmp/runs/full" --features "$tmp/f_trial.bin" --threads 1 "${imgs[@]}" >/dev/null 2>&1 && ok || bad "predict --features"
"$T" features --weights "$tmp/e.h5" --image-size 32 --threads 1 --out "$tmp/f_export.bin" "${imgs[@]}" >/dev/null 2>&1 &&
  "$T" features --weights "$tmp/w.h5" --image-size 32 --threads 1 --out "$tmp/f_start.bin" "${imgs[@]}" >/dev/null 2>&1 && ok ||
  bad "features of the exported and the starting file"
/usr/bin/python3 - "$tmp/f_trial.bin" "$tmp/f_export.bin" "$tmp/f_start.bin" <<'PY' && ok || bad "features of the exported file differ from the trial's"
import sys
import numpy as np
t, x, s = (np.fromfile(f, '<f4').reshape(-1, 2048).astype(np.float64) for f in sys.argv[1:4])
rel = lambda a, b: np.linalg.norm(a - b) / np.linalg.norm(b)
print("features, %d images: exported file vs the trial's own %.2g (relative L2, worst element %.2g); the starting file's %.2g"
      % (len(t), rel(x, t), np.abs(x - t).max(), rel(s, t)))
assert len(t) == 100 and np.linalg.norm(t) > 0 and rel(x, t) < 1e-5 and rel(s, t) > 1e-2
PY

# 5.
"$T" make-weights --random 1 --scratch --out "$tmp/scratch.h5" >/dev/null && ok || bad "make-weights --scratch"
/usr/bin/python3 -c 'import sys, h5py, numpy as np; f = h5py.File(sys.argv[1], "r")
assert all((np.asarray(f[l][l + "/gamma:0"]) == 1).all() for l in f.attrs["layer_names"].astype(str) if l.endswith("_bn"))' \
  "$tmp/scratch.h5" && ok || bad "make-weights --scratch: a BN gamma is not Keras initial 1"
sed -e "s#^\(  root:\).*#\1 $tmp/d#" -e "s#^\(  epochs:\).*#\1 1#" -e "s#^\(  weights:\).*#\1 $tmp/scratch.h5#" \
  "$src/configs/demo_source.yaml" > "$tmp/source.yaml"
grep -q "^  weights: $tmp/scratch.h5" "$tmp/source.yaml" && ok || bad "source config: weights not replaced"
"$T" train "$tmp/source.yaml" --out "$tmp/runs/source" --threads 1 --quiet && ok || bad "demo source config"
[ "$(field "$tmp/runs/source/result.csv" status)" = done ] && ok || bad "demo source status"
grep -q "fine-tuning from all (conv1_conv on): no frozen prefix" "$tmp/runs/source/trainer.log" && ok || bad "source: not the whole network"
"$T" export-weights --run "$tmp/runs/source" --out "$tmp/source.h5" >/dev/null && ok || bad "export of the source trial"
"$T" features --weights "$tmp/source.h5" --image-size 32 --out "$tmp/f.bin" "${imgs[@]:0:4}" >/dev/null 2>&1 &&
  [ "$(stat -c %s "$tmp/f.bin")" -eq $((4 * 2048 * 4)) ] && ok || bad "features of the exported source backbone"
checks_end
