#!/usr/bin/env bash
# `trainer predict` and `trainer evaluate` end to end on a finished trial: a small
# Fashion-MNIST class-folder tree (JPEGs written with PIL, class names with spaces), a
# 6-epoch trial with random backbone weights, then
#   predict: the text table, --csv (ranks, probabilities summing to 1), top-1 over the test
#            images = result.csv's test_accuracy, one image alone = the same image in a batch;
#   evaluate: test loss/accuracy/top-5 printed exactly as result.csv, confusion-test.csv and
#            errors-test.csv byte-identical to the trial's, validation = result.csv's best
#            epoch, per_class_test.csv consistent, the same numbers without the cache, --plots;
#   bad input: no run folder, no best.safetensors, no config.yaml, a truncated JPEG and a
#            PNG among good images (the good ones still classified), usage errors.
set -u
: "${TRAINER:?TRAINER not set}"
T=$TRAINER
PY=/usr/bin/python3
MNIST=/usr/share/datasets/fashion-mnist
for c in predict evaluate; do
  "$T" $c --help >/dev/null 2>&1 || { echo "FAIL: '$T $c' is not a command"; echo "0 passed, 1 failed"; exit 1; }
done
$PY -c "import PIL, numpy" 2>/dev/null || { echo "python3 with PIL and numpy is needed; skipping"; exit 77; }
[ -f $MNIST/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST under $MNIST; skipping"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
contains() { grep -qF -- "$2" <<<"$1"; }

# 7 classes x (16 train, 6 validation, 8 test) 28x28 images, saved as RGB JPEGs.
$PY - $MNIST "$tmp/data" <<'PYEOF' || { echo "cannot make the dataset; skipping"; exit 77; }
import gzip, os, sys
import numpy as np
from PIL import Image
src, root = sys.argv[1], sys.argv[2]
names = ['T-shirt top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt']
with gzip.open(src + '/t10k-images-idx3-ubyte.gz') as f: x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(src + '/t10k-labels-idx1-ubyte.gz') as f: y = np.frombuffer(f.read(), np.uint8, offset=8)
start = 0
for split, n in (('train', 16), ('validation', 6), ('test', 8)):
    for c, name in enumerate(names):
        d = '%s/%s/%s' % (root, split, name)
        os.makedirs(d)
        for i in np.nonzero(y == c)[0][start:start + n]:
            Image.fromarray(x[i]).convert('RGB').save('%s/%05d.jpg' % (d, i), quality=95)
    start += n
PYEOF
mkdir -p "$tmp/runs"
cat > "$tmp/trial.yaml" <<EOF
data: {root: "$tmp/data", image_size: 32}
model: {weights: "random:1"}
train: {epochs: 6, batch_size: 16, lr: 3.0e-3}
augment: {strength: 0}
feature_cache: {dir: cache, views: 1}
EOF
RUN=$tmp/runs/t1
"$T" train "$tmp/trial.yaml" --out "$RUN" --threads 2 --quiet
check "trainer train finishes" test -f "$RUN/result.csv" -a -f "$RUN/best.safetensors"
[ -f "$RUN/result.csv" ] || { checks_end; exit 1; }
result() { $PY -c "import csv,sys; print(next(csv.DictReader(open(sys.argv[1])))[sys.argv[2]])" "$RUN/result.csv" "$1"; }
mapfile -t TEST < <(find "$tmp/data/test" -name '*.jpg' | sort)

# ---- predict ----
out=$("$T" predict --run "$RUN" --top 3 --threads 2 "${TEST[0]}" "${TEST[9]}" "${TEST[20]}"); rc=$?
check "predict text: exit 0" test $rc = 0
check "predict text: 3 images x (name + 3 ranks)" test "$(wc -l <<<"$out")" = 12
check "predict text: names the image" contains "$out" "${TEST[9]}"
$PY - "$out" <<'PYEOF'; check "predict text: ranks 1-3, known classes, probabilities descending" test $? = 0
import sys
names = {'T-shirt top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt'}
lines = sys.argv[1].split('\n')
ok = True
for k in range(0, len(lines), 4):
    rows = [l.split() for l in lines[k + 1:k + 4]]
    ok &= [r[0] for r in rows] == ['1', '2', '3'] and all(' '.join(r[1:-1]) in names for r in rows)
    p = [float(r[-1]) for r in rows]
    ok &= p == sorted(p, reverse=True) and 0 < sum(p) <= 1.0001
sys.exit(0 if ok else 1)
PYEOF

"$T" predict --run "$RUN" --csv --top 7 --threads 2 "${TEST[@]}" > "$tmp/all.csv"; rc=$?
check "predict --csv: exit 0" test $rc = 0
check "predict --csv: header" test "$(head -1 "$tmp/all.csv")" = "image,rank,class,probability"
$PY - "$tmp/all.csv" "$(result test_accuracy)" "${#TEST[@]}" <<'PYEOF'; check "predict --csv: 7 ranks per image summing to 1; top-1 accuracy = result.csv test_accuracy" test $? = 0
import csv, sys
rows, acc, n = list(csv.DictReader(open(sys.argv[1]))), float(sys.argv[2]), int(sys.argv[3])
by = {}
for r in rows: by.setdefault(r['image'], []).append(r)
bad = []
if len(by) != n: bad.append('images %d != %d' % (len(by), n))
for img, rs in by.items():
    if [int(r['rank']) for r in rs] != list(range(1, 8)): bad.append('ranks of ' + img)
    if len({r['class'] for r in rs}) != 7: bad.append('classes of ' + img)
    p = [float(r['probability']) for r in rs]
    if abs(sum(p) - 1) > 1e-4 or p != sorted(p, reverse=True): bad.append('probabilities of ' + img)
top1 = sum(rs[0]['class'] == img.split('/')[-2] for img, rs in by.items()) / n
if abs(top1 - acc) > 1e-6: bad.append('top-1 %.6f != test_accuracy %.6f' % (top1, acc))
print('\n'.join(bad))
sys.exit(1 if bad else 0)
PYEOF
"$T" predict --run "$RUN" --csv --top 7 --threads 2 "${TEST[5]}" > "$tmp/one.csv"
$PY - "$tmp/one.csv" "$tmp/all.csv" "${TEST[5]}" <<'PYEOF'; check "predict: one image alone = the same image in a batch of 32" test $? = 0
import csv, sys
one = [(r['class'], float(r['probability'])) for r in csv.DictReader(open(sys.argv[1]))]
many = [(r['class'], float(r['probability'])) for r in csv.DictReader(open(sys.argv[2])) if r['image'] == sys.argv[3]]
sys.exit(0 if len(one) == 7 and [c for c, _ in one] == [c for c, _ in many] and
         all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(one, many)) else 1)
PYEOF

# ---- evaluate ----
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
out=$("$T" evaluate --run "$RUN" --threads 2 2>&1); rc=$?
check "evaluate: exit 0 ($out)" test $rc = 0
check "evaluate: test loss = result.csv test_loss" test "$(metric loss "$out")" = "$(result test_loss)"
check "evaluate: test accuracy = result.csv test_accuracy" test "$(metric accuracy "$out")" = "$(result test_accuracy)"
check "evaluate: test top5 = result.csv test_top5" test "$(metric top5 "$out")" = "$(result test_top5)"
check "evaluate: features read from the trial's cache" contains "$out" "from the feature cache"
check "evaluate: confusion-test.csv = confusion.csv" cmp -s "$RUN/confusion-test.csv" "$RUN/confusion.csv"
check "evaluate: errors-test.csv = errors.csv" cmp -s "$RUN/errors-test.csv" "$RUN/errors.csv"
$PY - "$RUN/per_class_test.csv" "$(result test_accuracy)" "${#TEST[@]}" <<'PYEOF'; check "evaluate: per_class_test.csv rows, totals and order" test $? = 0
import csv, sys
rows, acc, n = list(csv.DictReader(open(sys.argv[1]))), float(sys.argv[2]), int(sys.argv[3])
a = [float(r['accuracy']) for r in rows]
ok = len(rows) == 7 and sum(int(r['images']) for r in rows) == n and a == sorted(a)
ok &= abs(sum(int(r['correct']) for r in rows) / n - acc) < 1e-6
ok &= all(abs(int(r['correct']) / int(r['images']) - float(r['accuracy'])) < 1e-8 for r in rows)
sys.exit(0 if ok else 1)
PYEOF
out=$("$T" evaluate --run "$RUN" --split validation --threads 2 2>&1)
check "evaluate --split validation: loss = result.csv val_loss (best epoch)" test "$(metric loss "$out")" = "$(result val_loss)"
check "evaluate --split validation: accuracy = result.csv val_accuracy" test "$(metric accuracy "$out")" = "$(result val_accuracy)"
check "evaluate --split validation: its own files" test -f "$RUN/confusion-validation.csv" -a -f "$RUN/per_class_validation.csv"
# The same trial moved away from its cache: features computed again, same numbers.
mkdir -p "$tmp/moved" && cp -r "$RUN" "$tmp/moved/t1"
out=$("$T" evaluate --run "$tmp/moved/t1" --threads 2 2>&1)
check "evaluate without the cache: features computed" contains "$out" "computed"
check "evaluate without the cache: same test accuracy" test "$(metric accuracy "$out")" = "$(result test_accuracy)"
check "evaluate without the cache: nothing stored" test ! -e "$tmp/moved/cache"
if command -v gnuplot >/dev/null; then
  out=$(TL_PLOTS_DIR=${TL_SOURCE_DIR:-.}/plots "$T" evaluate --run "$RUN" --plots --threads 2 2>&1)
  png=$RUN/per_class_accuracy_test.png
  check "evaluate --plots: PNG written ($out)" test "$(head -c 4 "$png" 2>/dev/null | tail -c 3)" = "PNG"
else
  echo "gnuplot not found: --plots not checked"
fi

# ---- bad input ----
expect_fail() { # what, words..., then -- and the command
  local what=$1; shift; local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done; shift
  local err; err=$("$@" 2>&1 >/dev/null); local rc=$?
  local ok=1; [ $rc -ne 0 ] || ok=0
  for w in "${words[@]}"; do contains "$err" "$w" || ok=0; done
  check "$what (rc $rc: $err)" test $ok = 1
}
expect_fail "predict: missing run folder" "$tmp/nope" "no such run folder" -- "$T" predict --run "$tmp/nope" "${TEST[0]}"
expect_fail "evaluate: missing run folder" "$tmp/nope" -- "$T" evaluate --run "$tmp/nope"
mkdir -p "$tmp/runs/nobest" "$tmp/runs/noconfig"
cp "$RUN/config.yaml" "$tmp/runs/nobest/"; cp "$RUN/best.safetensors" "$tmp/runs/noconfig/"
expect_fail "predict: no best.safetensors" "nobest/best.safetensors" "missing" -- "$T" predict --run "$tmp/runs/nobest" "${TEST[0]}"
expect_fail "evaluate: no best.safetensors" "nobest/best.safetensors" -- "$T" evaluate --run "$tmp/runs/nobest"
expect_fail "predict: no config.yaml" "noconfig/config.yaml" -- "$T" predict --run "$tmp/runs/noconfig" "${TEST[0]}"
head -c 400 "${TEST[3]}" > "$tmp/truncated.jpg"
printf '\x89PNG\r\n\x1a\n0000000000000' > "$tmp/fake.jpg"
err=$("$T" predict --run "$RUN" --csv --top 7 --threads 2 "${TEST[0]}" "$tmp/truncated.jpg" "${TEST[1]}" "$tmp/fake.jpg" "${TEST[2]}" 2>&1 >"$tmp/mixed.csv"); rc=$?
check "predict: bad images -> exit 1 (rc $rc)" test $rc = 1
check "predict: names the truncated file ($err)" contains "$err" "truncated.jpg"
check "predict: names the non-JPEG ($err)" contains "$err" "fake.jpg"
check "predict: says how many failed" contains "$err" "2 of 5 images"
$PY - "$tmp/mixed.csv" "$tmp/all.csv" <<'PYEOF'; check "predict: the good images still classified, as in the clean run" test $? = 0
import csv, sys
mixed = list(csv.DictReader(open(sys.argv[1])))
clean = {(r['image'], r['rank']): r for r in csv.DictReader(open(sys.argv[2]))}
ok = len(mixed) == 3 * 7 and all('truncated' not in r['image'] and 'fake' not in r['image'] for r in mixed)
ok &= all(abs(float(r['probability']) - float(clean[(r['image'], r['rank'])]['probability'])) < 1e-5 and
          r['class'] == clean[(r['image'], r['rank'])]['class'] for r in mixed)
sys.exit(0 if ok else 1)
PYEOF
"$T" predict --run "$RUN" >/dev/null 2>&1; check "predict: no images -> exit 2" test $? = 2
"$T" evaluate --run "$RUN" --split dev >/dev/null 2>&1; check "evaluate: bad --split -> exit 2" test $? = 2
"$T" predict --run "$RUN" --top 0 "${TEST[0]}" >/dev/null 2>&1; check "predict: --top 0 -> exit 2" test $? = 2

checks_end
