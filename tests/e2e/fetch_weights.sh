#!/usr/bin/env bash
# scripts/fetch-weights without the network: --verify-only on fake files, the offline
# message (unreachable URL, curl and wget), and the whole download -> verify -> link path
# from a file:// URL with the expected MD5/size overridden to the fake file's.
set -u
SCRIPT="${TL_SOURCE_DIR:?TL_SOURCE_DIR not set}/scripts/fetch-weights"
NAME=resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"
run() { # run DIR ARGS... -> $out, $rc
  out=$("$SCRIPT" "$@" 2>&1); rc=$?
}
contains() { grep -qF -- "$2" <<<"$1"; }

# --verify-only: missing file, wrong size, wrong hash (right size).
run "$tmp/w1" --verify-only
check "missing file -> exit 1" test "$rc" = 1
check "missing file message" contains "$out" "not found"
mkdir -p "$tmp/w1"
head -c 1000 /dev/urandom > "$tmp/w1/$NAME"
run "$tmp/w1" --verify-only
check "wrong size -> exit 1" test "$rc" = 1
check "wrong size message names the file and sizes" contains "$out" "$tmp/w1/$NAME: FAILS verification: size 1000 bytes, expected 94765736"
FETCH_WEIGHTS_SIZE=1000 run "$tmp/w1" --verify-only
check "wrong hash -> exit 1" test "$rc" = 1
check "wrong hash message" contains "$out" "expected 4d473c1dd8becc155b73f8504c6f6626"
check "verify-only writes nothing" test ! -e "$tmp/w1/resnet50_notop.h5"
fake_md5=$(md5sum "$tmp/w1/$NAME" | cut -d' ' -f1)
FETCH_WEIGHTS_SIZE=1000 FETCH_WEIGHTS_MD5=$fake_md5 run "$tmp/w1" --verify-only
check "matching file -> exit 0" test "$rc" = 0
check "usage error -> exit 2" bash -c "\"$SCRIPT\" --bogus >/dev/null 2>&1; test \$? = 2"

# Offline: an unreachable URL gives the by-hand instructions, exit 3, nothing left behind.
for tool in curl wget; do
  command -v $tool >/dev/null || continue
  FETCH_WEIGHTS_TOOL=$tool FETCH_WEIGHTS_URL=http://127.0.0.1:9/$NAME run "$tmp/w2"
  check "$tool offline -> exit 3" test "$rc" = 3
  check "$tool offline says where to put the file" contains "$out" "$tmp/w2/$NAME"
  check "$tool offline says a rerun verifies" contains "$out" "rerun this script"
  check "$tool offline: no traceback" bash -c "! grep -q Traceback <<<\"\$1\"" _ "$out"
  check "$tool offline: nothing installed" test -z "$(ls -A "$tmp/w2" 2>/dev/null)"
done

# Download from file:// (curl), verify, link; a rerun verifies and does not download.
if command -v curl >/dev/null; then
  head -c 4096 /dev/urandom > "$tmp/mirror.h5"
  m=$(md5sum "$tmp/mirror.h5" | cut -d' ' -f1)
  FETCH_WEIGHTS_URL="file://$tmp/mirror.h5" FETCH_WEIGHTS_MD5=$m FETCH_WEIGHTS_SIZE=4096 run "$tmp/w3"
  check "download -> exit 0 ($out)" test "$rc" = 0
  check "downloaded bytes" cmp -s "$tmp/mirror.h5" "$tmp/w3/$NAME"
  check "config name links to it" test "$(readlink "$tmp/w3/resnet50_notop.h5")" = "$NAME"
  check "no partial files" test -z "$(ls "$tmp/w3" | grep part)"
  FETCH_WEIGHTS_URL=http://127.0.0.1:9/x FETCH_WEIGHTS_MD5=$m FETCH_WEIGHTS_SIZE=4096 run "$tmp/w3"
  check "rerun verifies without downloading" test "$rc" = 0
  check "rerun message" contains "$out" "already present and verified"
  FETCH_WEIGHTS_URL="file://$tmp/mirror.h5" FETCH_WEIGHTS_MD5=0123456789abcdef0123456789abcdef FETCH_WEIGHTS_SIZE=4096 run "$tmp/w4"
  check "corrupt download -> exit 1" test "$rc" = 1
  check "corrupt download not installed" test ! -e "$tmp/w4/$NAME"
fi

checks_end
