#!/usr/bin/env bash
# trainer features end to end: real photos, Keras-layout weights written by make-weights,
# and every bad input giving a one-line error that names the file, with no output left.
set -u
T=${TRAINER:?TRAINER must point to the trainer binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

photos=""
for d in "${TL_PHOTOS:-}" /usr/share/darknet/data /var/cache/sweep-testdata/darknet/usr/share/darknet/data; do
  [ -n "$d" ] && [ -f "$d/dog.jpg" ] && { photos=$d; break; }
done
[ -n "$photos" ] || { echo "no darknet photos: run scripts/install-deps"; exit 77; }

# Expects failure: exit code != 0, one stderr line containing every given word, no output file.
expect_error() {
  local out=$1; shift; local words=("$@")
  local err; err=$("$T" features "${args[@]}" 2>&1 >/dev/null); local rc=$?
  [ $rc -ne 0 ] || { bad "expected failure: ${args[*]}"; return; }
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { bad "expected one line, got: $err"; return; }
  for w in "${words[@]}"; do [[ "$err" == *"$w"* ]] || { bad "message lacks '$w': $err"; return; }; done
  [ ! -e "$out" ] && ! ls "$out".tmp.* >/dev/null 2>&1 || { bad "output left behind: $out"; return; }
  ok
}

"$T" make-weights --random 3 --bn-stats --out "$tmp/w.h5" || bad "make-weights"
args=(--weights "$tmp/w.h5" --image-size 64 --batch 2 --threads 2 --out "$tmp/f.bin" "$photos/dog.jpg" "$photos/eagle.jpg" "$photos/horses.jpg")
"$T" features "${args[@]}" && ok || bad "features on real photos"
[ "$(stat -c %s "$tmp/f.bin")" -eq $((3 * 2048 * 4)) ] && ok || bad "f.bin size"
# The same image twice in one run gives the same row; order follows the arguments.
args=(--weights "$tmp/w.h5" --image-size 64 --batch 3 --out "$tmp/g.bin" "$photos/horses.jpg" "$photos/dog.jpg")
"$T" features "${args[@]}" && ok || bad "features second run"
cmp <(dd if="$tmp/f.bin" bs=8192 skip=2 count=1 2>/dev/null) <(dd if="$tmp/g.bin" bs=8192 count=1 2>/dev/null) && ok || bad "row order / batch independence"
# random:SEED is explicit and deterministic.
args=(--weights random:5 --image-size 32 --out "$tmp/r1.bin" "$photos/dog.jpg"); "$T" features "${args[@]}" && ok || bad "random weights"
args=(--weights random:5 --image-size 32 --out "$tmp/r2.bin" "$photos/dog.jpg"); "$T" features "${args[@]}"
cmp -s "$tmp/r1.bin" "$tmp/r2.bin" && ok || bad "random:5 not deterministic"

# Bad input.
args=(--image-size 32 --out "$tmp/x.bin" "$photos/dog.jpg"); expect_error "$tmp/x.bin" "--weights"
args=(--weights "$tmp/nope.h5" --image-size 32 --out "$tmp/x.bin" "$photos/dog.jpg"); expect_error "$tmp/x.bin" "nope.h5"
printf 'not hdf5' > "$tmp/text.h5"
args=(--weights "$tmp/text.h5" --image-size 32 --out "$tmp/x.bin" "$photos/dog.jpg"); expect_error "$tmp/x.bin" "text.h5" "not an HDF5"
head -c 3000 "$photos/dog.jpg" > "$tmp/trunc.jpg"
args=(--weights random:1 --image-size 32 --out "$tmp/x.bin" "$photos/dog.jpg" "$tmp/trunc.jpg"); expect_error "$tmp/x.bin" "trunc.jpg"
printf '\x89PNG\r\n\x1a\n0000000000000' > "$tmp/fake.jpg"
args=(--weights random:1 --image-size 32 --out "$tmp/x.bin" "$tmp/fake.jpg"); expect_error "$tmp/x.bin" "fake.jpg" "not a JPEG"
args=(--weights random:1 --image-size 32 --out "$tmp/x.bin" "$tmp/missing.jpg"); expect_error "$tmp/x.bin" "missing.jpg"

checks_end
