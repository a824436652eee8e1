#!/usr/bin/env bash
# `trainer check-data` end to end on trees made with PIL: a clean tree (exit 0, valid JSON
# whose counts PIL agrees with), then faults: a truncated file, a PNG named .jpg, a class
# missing from a split (exit 1); grayscale and CMYK counted as PIL sees them; usage (exit 2).
set -u
: "${TRAINER:?TRAINER not set}"
"$TRAINER" check-data --help >/dev/null 2>&1 || {
  echo "FAIL: '$TRAINER check-data' is not a command: register cmd_check_data in trainer/cli/main.c"; echo "0 passed, 1 failed"; exit 1; }
PY=/usr/bin/python3
$PY -c "import PIL" 2>/dev/null || { echo "python3 with PIL is needed; skipping"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
contains() { grep -qF -- "$2" <<<"$1"; }
cd_run() { out=$("$TRAINER" check-data "$@" 2>&1); rc=$?; }

$PY - "$tmp/data" <<'PYEOF'
import os, random, sys
from PIL import Image
root = sys.argv[1]
random.seed(3)
for split, n in (('train', 6), ('validation', 2), ('test', 3)):
    for cls in ('Audi A5 Coupe 2012', 'Ford F-150 Regular Cab 2007', 'Volvo XC90 SUV 2007'):
        os.makedirs('%s/%s/%s' % (root, split, cls))
        for i in range(n):
            w, h = random.randint(30, 80), random.randint(20, 60)
            mode = 'L' if (split, i) == ('train', 0) and cls.startswith('Audi') else 'RGB'
            img = Image.new(mode, (w, h))
            img.putdata([random.randrange(256) if mode == 'L' else tuple(random.randrange(256) for _ in range(3)) for _ in range(w * h)])
            if (split, i) == ('train', 1) and cls.startswith('Volvo'): img = img.convert('CMYK')
            img.save('%s/%s/%s/%d.jpg' % (root, split, cls, i), quality=90)
PYEOF

# Clean: exit 0; the JSON parses and its numbers agree with PIL.
cd_run "$tmp/data"
check "clean tree exit 0 ($out)" test "$rc" = 0
check "table verdict" contains "$out" "result: OK"
check "table has the class rows" contains "$out" "Ford F-150 Regular Cab 2007"
cd_run "$tmp/data" --json --deep
check "clean --json --deep exit 0" test "$rc" = 0
echo "$out" > "$tmp/report.json"
$PY - "$tmp/data" "$tmp/report.json" <<'PYEOF'; check "JSON valid and agrees with PIL" test $? = 0
import glob, json, sys
from PIL import Image
root, rep = sys.argv[1], json.load(open(sys.argv[2]))
bad = []
for split in ('train', 'validation', 'test'):
    files = glob.glob('%s/%s/*/*.jpg' % (root, split))
    imgs = [Image.open(f) for f in files]
    s = rep['splits'][split]
    widths = sorted(i.size[0] for i in imgs)
    want = {'images': len(files), 'gray': sum(i.mode == 'L' for i in imgs), 'cmyk': sum(i.mode == 'CMYK' for i in imgs)}
    for k, v in want.items():
        if s[k] != v: bad.append('%s %s: %s != %s' % (split, k, s[k], v))
    if (s['width']['min'], s['width']['max']) != (widths[0], widths[-1]): bad.append('%s widths' % split)
if rep['ok'] is not True or rep['mode'] != 'deep' or len(rep['classes']) != 3: bad.append('header fields')
if bad: print('\n'.join(bad))
sys.exit(1 if bad else 0)
PYEOF

# Faults.
cp -r "$tmp/data" "$tmp/bad"
f="$tmp/bad/train/Audi A5 Coupe 2012/3.jpg"
head -c $(( $(wc -c < "$f") * 2 / 3 )) "$f" > "$tmp/cut" && mv "$tmp/cut" "$f"
$PY -c "from PIL import Image; Image.new('RGB', (20, 20)).save('$tmp/bad/test/Volvo XC90 SUV 2007/png.jpg', format='PNG')"
rm -r "$tmp/bad/validation/Ford F-150 Regular Cab 2007"
cd_run "$tmp/bad"
check "faulty tree exit 1" test "$rc" = 1
check "truncated file reported" contains "$out" "train/Audi A5 Coupe 2012/3.jpg"
check "PNG named .jpg reported" contains "$out" "test/Volvo XC90 SUV 2007/png.jpg"
check "missing class reported" contains "$out" "validation: class 'Ford F-150 Regular Cab 2007' is missing"
check "table marks MISSING" contains "$out" "MISSING"
check "verdict" contains "$out" "result: ERRORS"
cd_run "$tmp/bad" --json
check "faulty --json exit 1" test "$rc" = 1
check "faulty JSON valid, ok false" $PY -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r['ok'] is False and len(r['errors']) == 3 else 1)" "$out"

# Duplicates are warnings: exit stays 0.
cp -r "$tmp/data" "$tmp/dup"
cp "$tmp/dup/train/Audi A5 Coupe 2012/2.jpg" "$tmp/dup/test/Audi A5 Coupe 2012/copy.jpg"
cd_run "$tmp/dup"
check "duplicate across splits: exit 0" test "$rc" = 0
check "duplicate reported" contains "$out" "leak): train/Audi A5 Coupe 2012/2.jpg == test/Audi A5 Coupe 2012/copy.jpg"

# Usage.
"$TRAINER" check-data >/dev/null 2>&1; check "no ROOT -> 2" test $? = 2
"$TRAINER" check-data "$tmp/data" --bogus >/dev/null 2>&1; check "unknown option -> 2" test $? = 2
"$TRAINER" check-data "$tmp/nope" >/dev/null 2>&1; check "missing ROOT -> 2" test $? = 2

checks_end
