#!/usr/bin/env bash
# `trainer import-cars` end to end. The devkit .mat files are written by a small MAT5 writer
# below (not by matio, so the reader is checked against a second writer): 16-bit chars as
# MATLAB writes them, the test labels zlib-compressed as MATLAB's -v7 default. Images are
# made with PIL; the --crop-bbox output is compared with PIL's own crop of the same box.
set -u
: "${TRAINER:?TRAINER not set}"
"$TRAINER" import-cars --help >/dev/null 2>&1 || {
  echo "FAIL: '$TRAINER import-cars' is not a command: register cmd_import_cars in trainer/cli/main.c"; echo "0 passed, 1 failed"; exit 1; }
PY=/usr/bin/python3
$PY -c "import PIL" 2>/dev/null || { echo "python3 with PIL is needed; skipping"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
run() { out=$("$TRAINER" import-cars "$@" 2>&1); rc=$?; }
contains() { grep -qF -- "$2" <<<"$1"; }
nfiles() { find "$1" -type f -o -type l 2>/dev/null | wc -l | tr -d ' '; }

$PY - "$tmp/src" <<'PYEOF'
import os, struct, sys, zlib, random
from PIL import Image
src = sys.argv[1]
random.seed(5)

def element(mtype, data):
    pad = (-len(data)) % 8
    return struct.pack('<II', mtype, len(data)) + data + b'\0' * pad

def matrix(cls, dims, name, body, is_char=False):
    flags = element(6, struct.pack('<II', cls, 0))
    dims_el = element(5, struct.pack('<%di' % len(dims), *dims))
    return element(14, flags + dims_el + element(1, name.encode()) + body)

def mat_char(s, name=''):
    return matrix(4, [1, len(s)], name, element(4, struct.pack('<%dH' % len(s), *map(ord, s))))

def mat_num(v, cls=6, name=''):
    code = {6: (9, 'd'), 9: (2, 'B'), 11: (4, 'H')}[cls]
    return matrix(cls, [1, 1], name, element(code[0], struct.pack('<' + code[1], v)))

def mat_cell(items, name):
    return matrix(1, [1, len(items)], name, b''.join(items))

def mat_struct(records, fields, name):
    namelen = 32
    names = b''.join(f.encode().ljust(namelen, b'\0') for f in fields)
    # The field-name length as a small data element (type and size share one tag word), as MATLAB writes it.
    body = struct.pack('<HHi', 5, 4, namelen) + element(1, names)
    for r in records:
        body += b''.join(r[f] for f in fields)
    return matrix(2, [1, len(records)], name, body)

def write_mat(path, var, compress=False):
    header = b'MATLAB 5.0 MAT-file, written by tests/e2e/import_cars.sh'.ljust(116) + b'\0' * 8 + struct.pack('<H', 0x0100) + b'IM'
    if compress:
        z = zlib.compress(var)
        var = struct.pack('<II', 15, len(z)) + z
    open(path, 'wb').write(header + var)

classes = ['AM General Hummer SUV 2000', 'Ram C/V Cargo Van Minivan 2012', 'Tesla Model S Sedan 2012']
os.makedirs(src + '/devkit'); os.makedirs(src + '/cars_train'); os.makedirs(src + '/cars_test')
write_mat(src + '/devkit/cars_meta.mat', mat_cell([mat_char(c) for c in classes], 'class_names'))
fields = ['bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'fname']
def annos(folder, per_class, start):
    recs, n = [], start
    for k in range(len(classes)):
        for i in range(per_class[k]):
            n += 1
            w, h = random.randint(40, 90), random.randint(30, 70)
            img = Image.new('RGB', (w, h))
            img.putdata([(random.randrange(256), random.randrange(256), random.randrange(256)) for _ in range(w * h)])
            fname = '%05d.jpg' % n
            img.save('%s/%s/%s' % (src, folder, fname), quality=92)
            box = [random.randint(1, 10), random.randint(1, 8), w - random.randint(0, 10), h - random.randint(0, 8)]
            recs.append({'bbox_x1': mat_num(box[0], 11), 'bbox_y1': mat_num(box[1], 9), 'bbox_x2': mat_num(box[2], 11),
                         'bbox_y2': mat_num(box[3], 6), 'class': mat_num(k + 1, 9), 'fname': mat_char(fname)})
    return recs
write_mat(src + '/devkit/cars_train_annos.mat', mat_struct(annos('cars_train', [8, 12, 4], 0), fields, 'annotations'))
write_mat(src + '/cars_test_annos_withlabels.mat', mat_struct(annos('cars_test', [3, 3, 3], 0), fields, 'annotations'), compress=True)
PYEOF
check "fixture written" test -f "$tmp/src/cars_test_annos_withlabels.mat"

# Default import: hard links, 10% split -> per class int(0.1 n) but at least 1: 8->1, 12->1, 4->1.
run "$tmp/src" "$tmp/out/cars"
check "import exit 0 ($out)" test "$rc" = 0
check "layout reported" contains "$out" "(devkit layout)"
check "counts: train 21" grep -qE "train +21 " <<<"$out"
check "counts: validation 3" grep -qE "validation +3 " <<<"$out"
check "counts: test 9" grep -qE "test +9 " <<<"$out"
check "slash in class name made safe" test -d "$tmp/out/cars/train/Ram C-V Cargo Van Minivan 2012"
check "train tree" test "$(nfiles "$tmp/out/cars/train")" = 21
check "test tree" test "$(nfiles "$tmp/out/cars/test")" = 9
check "hard link" test "$(stat -c %i "$tmp/out/cars/test/Tesla Model S Sedan 2012/00009.jpg")" = "$(stat -c %i "$tmp/src/cars_test/00009.jpg")"
check "no temp tree left" test -z "$(ls "$tmp/out" | grep -v '^cars$')"

# Refuse to overwrite; --force replaces; seeds are stable.
run "$tmp/src" "$tmp/out/cars"
check "existing DEST -> exit 1" test "$rc" = 1
check "existing DEST message" contains "$out" "already exists; pass --force"
run "$tmp/src" "$tmp/out/cars" --force --val-split 0.5 --seed 3
check "--force exit 0" test "$rc" = 0
check "--val-split 0.5: validation 12" test "$(nfiles "$tmp/out/cars/validation")" = 12
run "$tmp/src" "$tmp/out/cars2" --val-split=0.5 --seed=3
check "same seed, same split" diff -r <(cd "$tmp/out/cars/validation" && find . | sort) <(cd "$tmp/out/cars2/validation" && find . | sort)

# Link modes.
run "$tmp/src" "$tmp/out/sym" --link sym
check "--link sym" test -L "$tmp/out/sym/test/Tesla Model S Sedan 2012/00009.jpg"
run "$tmp/src" "$tmp/out/copy" --link copy --val-split 0
check "--link copy: regular file" test -f "$tmp/out/copy/test/Tesla Model S Sedan 2012/00009.jpg" -a ! -L "$tmp/out/copy/test/Tesla Model S Sedan 2012/00009.jpg"
check "--val-split 0: no validation folder" test ! -e "$tmp/out/copy/validation"

# --crop-bbox against PIL's crop of the same boxes (1-based inclusive -> PIL box (x1-1, y1-1, x2, y2)).
run "$tmp/src" "$tmp/out/crop" --crop-bbox
check "--crop-bbox exit 0 ($out)" test "$rc" = 0
check "crop count" contains "$out" "cropped to boxes: 33"
$PY - "$tmp/src" "$tmp/out/crop" <<'PYEOF' ; check "crops match PIL (size exact, pixels within JPEG error)" test $? = 0
import glob, os, struct, sys, zlib
from PIL import Image
src, out = sys.argv[1:]
# The boxes, read back from the .mat files written above.
def elements(b, off, end):
    while off < end:
        t, n = struct.unpack('<II', b[off:off + 8])
        if t >> 16:     # small data element: size in the tag's upper half, data in the next 4 bytes
            yield t & 0xFFFF, b[off + 4:off + 4 + (t >> 16)]
            off += 8
            continue
        yield t, b[off + 8:off + 8 + n]
        off += 8 + n + (-n) % 8
def load(path):
    b = open(path, 'rb').read()
    t, data = next(elements(b, 128, len(b)))
    if t == 15: data = zlib.decompress(data); t, data = next(elements(data, 0, len(data)))
    parts = list(elements(data, 0, len(data)))
    names = parts[4][1]; fields = [names[i:i + 32].rstrip(b'\0').decode() for i in range(0, len(names), 32)]
    mats, recs = parts[5:], []
    for i in range(0, len(mats), len(fields)):
        r = {}
        for f, (_, m) in zip(fields, mats[i:i + len(fields)]):
            sub = list(elements(m, 0, len(m)))
            cls = struct.unpack('<I', sub[0][1][:4])[0] & 0xFF
            t, d = sub[3]
            r[f] = d.decode('utf-16-le') if cls == 4 else struct.unpack({9: '<d', 2: '<B', 4: '<H'}[t], d)[0]
        recs.append(r)
    return recs
bad = 0
for folder, mat in (('cars_train', src + '/devkit/cars_train_annos.mat'), ('cars_test', src + '/cars_test_annos_withlabels.mat')):
    for r in load(mat):
        hits = glob.glob('%s/*/*/%s' % (out, r['fname']))
        if folder == 'cars_test': hits = [h for h in hits if '/test/' in h]
        else: hits = [h for h in hits if '/test/' not in h]
        if len(hits) != 1: print('missing', r['fname']); bad += 1; continue
        ref = Image.open('%s/%s/%s' % (src, folder, r['fname'])).convert('RGB')
        box = (int(r['bbox_x1']) - 1, int(r['bbox_y1']) - 1, int(r['bbox_x2']), int(r['bbox_y2']))
        ref = ref.crop(box)
        got = Image.open(hits[0]).convert('RGB')
        if got.size != ref.size: print('size', r['fname'], got.size, ref.size); bad += 1; continue
        diff = sum(abs(a - b) for p, q in zip(got.getdata(), ref.getdata()) for a, b in zip(p, q)) / (3 * got.size[0] * got.size[1])
        if diff > 12: print('pixels', r['fname'], diff); bad += 1
sys.exit(1 if bad else 0)
PYEOF

# The class-folder mirror.
mkdir -p "$tmp/mirror/train/Acura TL Sedan 2012" "$tmp/mirror/test/Acura TL Sedan 2012" "$tmp/mirror/train/BMW M3 Coupe 2012" "$tmp/mirror/test/BMW M3 Coupe 2012"
for i in 1 2 3 4 5; do
  cp "$tmp/src/cars_train/0000$i.jpg" "$tmp/mirror/train/Acura TL Sedan 2012/a$i.jpg"
  cp "$tmp/src/cars_train/0001$i.jpg" "$tmp/mirror/train/BMW M3 Coupe 2012/b$i.jpg"
done
cp "$tmp/src/cars_test/00001.jpg" "$tmp/mirror/test/Acura TL Sedan 2012/"
cp "$tmp/src/cars_test/00005.jpg" "$tmp/mirror/test/BMW M3 Coupe 2012/"
echo notes > "$tmp/mirror/train/README.txt"
run "$tmp/mirror" "$tmp/out/mirror" --val-split 0.2
check "mirror exit 0 ($out)" test "$rc" = 0
check "mirror layout reported" contains "$out" "(folders layout)"
check "mirror validation 2" test "$(nfiles "$tmp/out/mirror/validation")" = 2
check "mirror stray README counted" contains "$out" "1 stray"
run "$tmp/mirror" "$tmp/out/mirror_crop" --crop-bbox
check "mirror --crop-bbox refused" test "$rc" = 1 -a ! -e "$tmp/out/mirror_crop"

# Bad input: clear message naming the file, exit 1, nothing at DEST.
cp -r "$tmp/src" "$tmp/src_bad"
rm "$tmp/src_bad/devkit/cars_train_annos.mat"
run "$tmp/src_bad" "$tmp/out/bad"
check "missing .mat -> exit 1" test "$rc" = 1
check "missing .mat named" contains "$out" "cars_train_annos.mat: not found"
check "missing .mat: no DEST" test -z "$(ls "$tmp/out" | grep bad)"
rm -rf "$tmp/src_bad" && cp -r "$tmp/src" "$tmp/src_bad" && rm "$tmp/src_bad/cars_test/00004.jpg"
run "$tmp/src_bad" "$tmp/out/bad"
check "absent image named" contains "$out" "cars_test/00004.jpg: listed in"
check "absent image: no DEST" test -z "$(ls "$tmp/out" | grep bad)"
run "$tmp/src_bad" "$tmp/out/bad" --skip-bad
check "--skip-bad imports the rest" test "$rc" = 0 -a "$(nfiles "$tmp/out/bad/test")" = 8
head -c 300 "$tmp/src/cars_train/00002.jpg" > "$tmp/src_bad/cars_train/00002.jpg"
run "$tmp/src_bad" "$tmp/out/bad2" --crop-bbox --skip-bad
check "corrupt JPEG with --crop-bbox named" contains "$out" "cars_train/00002.jpg"
check "corrupt JPEG: no DEST" test "$rc" = 1 -a -z "$(ls "$tmp/out" | grep bad2)"

# Usage errors -> 2.
for args in "" "$tmp/src" "$tmp/src $tmp/out/u --val-split 1.5" "$tmp/src $tmp/out/u --link foo" "$tmp/src $tmp/out/u --bogus"; do
  # shellcheck disable=SC2086
  "$TRAINER" import-cars $args >/dev/null 2>&1
  check "usage error '$args' -> 2" test $? = 2
done

# What was imported passes check-data.
out=$("$TRAINER" check-data "$tmp/out/cars" 2>&1); rc=$?
check "imported tree passes check-data ($out)" test "$rc" = 0

checks_end
