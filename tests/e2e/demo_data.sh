#!/usr/bin/env bash
# trainer demo-data: Fashion-MNIST IDX (gzip) -> JPEG class folders. Checks the layout,
# counts, that the JPEGs decode to the right 28x28 pixels (PIL when present), that a
# second run leaves the folder alone, and that bad input fails without a partial folder.
set -uo pipefail
: "${TRAINER:?}" "${TL_SOURCE_DIR:?}"
src=/usr/share/datasets/fashion-mnist
[ -f $src/train-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_demo_data.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

out=$("$TRAINER" demo-data fm --train 7 --val 3 --test 2 2>&1); rc=$?
echo "$out"
check_eval "exit 0" "[ $rc -eq 0 ]"
check_eval "says what it wrote" "grep -q 'wrote 120 JPEGs' <<< \"\$out\""
classes="ankle_boot bag coat dress pullover sandal shirt sneaker t-shirt_top trouser"
check_eval "10 filesystem-safe class folders per split" "[ \"\$(ls fm/train | tr '\n' ' ')\" = '$classes ' ] && [ \"\$(ls fm/test | tr '\n' ' ')\" = '$classes ' ]"
check_eval "7 train images per class" "for c in $classes; do [ \$(ls fm/train/\$c | wc -l) -eq 7 ] || exit 1; done"
check_eval "3 validation, 2 test per class" "for c in $classes; do [ \$(ls fm/validation/\$c | wc -l) -eq 3 ] && [ \$(ls fm/test/\$c | wc -l) -eq 2 ] || exit 1; done"
check_eval "validation images are not train images" "! comm -12 <(ls fm/train/bag) <(ls fm/validation/bag) | grep -q ."
check_eval "files are JPEGs" "[ \"\$(head -c 3 fm/train/bag/\$(ls fm/train/bag | head -1) | od -An -tx1 | tr -d ' ')\" = ffd8ff ]"
# t10k image 0 is an ankle boot (label 9): decode it (PIL) and compare with the IDX bytes.
if /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
    maxdiff=$(/usr/bin/python3 - "$src/t10k-images-idx3-ubyte.gz" fm/test/ankle_boot/t10k-00000.jpg <<'PY'
import gzip, sys
from PIL import Image
raw = gzip.open(sys.argv[1]).read()[16:16 + 784]
im = Image.open(sys.argv[2])
assert im.size == (28, 28) and im.mode == "L", (im.size, im.mode)
print(max(abs(a - b) for a, b in zip(im.tobytes(), raw)))
PY
)
    echo "max pixel difference after JPEG (quality 95): $maxdiff"
    check_eval "decodes to the IDX image's 28x28 pixels within JPEG error" "[ -n '$maxdiff' ] && [ '$maxdiff' -le 24 ]"
fi
out=$("$TRAINER" demo-data fm --train 7 --val 3 --test 2 2>&1); rc=$?
check_eval "second run: already there" "[ $rc -eq 0 ] && grep -q 'already there' <<< \"\$out\""
out=$("$TRAINER" demo-data fm --train 8 2>&1); rc=$?
check_eval "another size into the same folder is refused" "[ $rc -ne 0 ] && grep -q 'remove it first' <<< \"\$out\""
mkdir bad && printf 'not gzip' > bad/train-images-idx3-ubyte.gz
out=$("$TRAINER" demo-data fm2 --source bad 2>&1); rc=$?
check_eval "bad source fails naming the file" "[ $rc -ne 0 ] && grep -q 'bad/train' <<< \"\$out\""
check_eval "no partial folder left" "[ ! -e fm2 ] && ! ls fm2.tmp.* >/dev/null 2>&1"
out=$("$TRAINER" demo-data fm3 --train 5990 --val 20 2>&1); rc=$?
check_eval "more images than a class has: clear error" "[ $rc -ne 0 ] && grep -q 'has only' <<< \"\$out\" && [ ! -e fm3 ]"
out=$("$TRAINER" demo-data 2>&1); rc=$?
check_eval "no folder: usage, exit 2" "[ $rc -eq 2 ] && grep -q usage <<< \"\$out\""

checks_end
