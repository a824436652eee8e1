#!/usr/bin/env bash
# Damaged checkpoints are detected and handled, never resumed into other numbers (issue 11,
# finding 4). A reference trial runs 4 epochs; copies of its folder, made to look interrupted
# (result.csv removed), get one kind of damage each, and are rerun:
#  - last.safetensors with flipped bits (in its history: before, resumed without a word into a
#    result with other numbers), truncated, or another trial's (wrong key):
#    the trainer says so in its log, resumes from last.prev.safetensors (one epoch earlier),
#    keeps the bad file as last.damaged.safetensors, and ends with the reference's numbers
#  - last.safetensors from before checksums (none in its header): not trusted, same fallback
#  - both last and last.prev damaged: exit 1, result.csv and the message name the files and
#    how to restart; a retry says the same (with the hint); --restart then recovers
#  - best.safetensors with flipped bytes: predict fails naming the file and --restart; a
#    resume fails the same way
#  - best.safetensors from before checksums: predict reads it with a warning
#  - every checkpoint's header is JSON whose metadata values are strings (safetensors readers),
#    with the checksum and the trial's config digest in it
set -uo pipefail
: "${TRAINER:?}" "${TL_SOURCE_DIR:?}"
[ -d /usr/share/datasets/fashion-mnist ] || { echo "no Fashion-MNIST: skipped"; exit 77; }
work=$(mktemp -d /tmp/e2e_checkpoint_damage.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$TL_SOURCE_DIR/tests/e2e/lib/checks.sh"
T=$TRAINER
PY=/usr/bin/python3
"$T" demo-data data --train 10 --val 5 --test 5 > /dev/null || { echo "demo-data failed"; exit 1; }
write_cfg() {  # write_cfg FILE SEED
    cat > "$1" <<YAML
data: {root: data, image_size: 32}
model: {weights: random:1, head: {hidden: 16}}
train: {epochs: 4, batch_size: 16, seed: $2}
callbacks: {early_stopping: false}
feature_cache: {dir: $work/cache, views: 1}
YAML
}
write_cfg a.yaml 1
write_cfg b.yaml 2
"$T" train a.yaml --out REF --threads 1 --quiet > /dev/null 2>&1
"$T" train b.yaml --out OTHER --threads 1 --quiet > /dev/null 2>&1
check_eval "reference trials done" "grep -q ',done,' REF/result.csv && grep -q ',done,' OTHER/result.csv"
check_eval "last.prev.safetensors kept beside last" "[ -s REF/last.prev.safetensors ] && ! cmp -s REF/last.safetensors REF/last.prev.safetensors"

# The header as JSON: metadata values strings, a checksum first, the config digest.
$PY - REF/last.safetensors REF/best.safetensors > header.out 2>&1 <<'PYEOF'
import json, struct, sys, zlib
for path in sys.argv[1:]:
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    meta = json.loads(raw[8:8 + n])['__metadata__']
    assert all(isinstance(v, str) for v in meta.values()), meta
    assert list(meta)[0] == 'checksum' and meta['checksum'].startswith('crc32:'), meta
    assert len(meta['config_digest']) == 32, meta
    # The checksum, as any Python verifies it: zlib.crc32 of the file with its 8 digits as zeros.
    at = raw.index(b'crc32:') + 6
    want = raw[at:at + 8].decode()
    assert '%08x' % zlib.crc32(raw[:at] + b'0' * 8 + raw[at + 8:]) == want, path
print('headers ok')
PYEOF
check_eval "headers: JSON, string metadata, checksum first (Python's zlib.crc32 agrees), config digest" "grep -q 'headers ok' header.out"

flip() { $PY -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek(int(sys.argv[2]), 2); b = f.read(1); f.seek(int(sys.argv[2]), 2); f.write(bytes([b[0] ^ 0x40])); f.close()" "$1" "$2"; }
flip_tensor() {  # flip_tensor FILE TENSOR: one bit in every float32 of the tensor
    $PY -c "
import json, struct, sys
f = open(sys.argv[1], 'r+b'); n = struct.unpack('<Q', f.read(8))[0]
b, e = json.loads(f.read(n))[sys.argv[2]]['data_offsets']
f.seek(8 + n + b); d = bytearray(f.read(e - b))
for i in range(2, len(d), 4): d[i] ^= 0x40
f.seek(8 + n + b); f.write(d); f.close()" "$1" "$2"
}
strip_checksum() {  # the same file as a writer before checksums made it
    $PY -c "
import json, struct, sys
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); del hdr['__metadata__']['checksum']
h = json.dumps(hdr, separators=(',', ':')).encode(); h += b' ' * ((8 - (8 + len(h)) % 8) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + raw[8 + n:])" "$1"
}
interrupted() { rm -rf "$1" && cp -r REF "$1" && rm "$1/result.csv"; }
same_as_ref() { diff <(untimed REF/result.csv | cut -d, -f2-) <(untimed "$1/result.csv" | cut -d, -f2-) > /dev/null &&
                diff <(cut -d, -f1-6 REF/train_log.csv) <(cut -d, -f1-6 "$1/train_log.csv") > /dev/null; }

# --- a damaged last.safetensors falls back to last.prev
fallback() {  # fallback NAME WHAT-THE-LOG-SAYS: damage done by the caller in NAME
    "$T" train "$1/config.yaml" --out "$1" --threads 1 --quiet > "$1.out" 2>&1; rc=$?
    check_eval "$1: exit 0" "[ $rc -eq 0 ]"
    check_eval "$1: the log says why and that it resumed from last.prev" \
        "grep -q \"$2\" $1/trainer.log && grep -q 'resuming from the backup $1/last.prev.safetensors' $1/trainer.log"
    check_eval "$1: the damaged file is kept aside" "[ -s $1/last.damaged.safetensors ]"
    check_eval "$1: ends with the reference's numbers" "same_as_ref $1"
}
interrupted FLIP; flip_tensor FLIP/last.safetensors hist.val_loss
fallback FLIP "FLIP/last.safetensors: checksum mismatch"
interrupted TRUNC; truncate -s 5000 TRUNC/last.safetensors
fallback TRUNC "TRUNC/last.safetensors"
interrupted KEY; cp OTHER/last.safetensors KEY/last.safetensors
fallback KEY "KEY/last.safetensors: belongs to another trial"
interrupted OLD; strip_checksum OLD/last.safetensors
fallback OLD "OLD/last.safetensors: has no checksum"

# --- both damaged: an error naming the files and how to restart, the same on a retry
interrupted BOTH; flip_tensor BOTH/last.safetensors head.params; truncate -s 100 BOTH/last.prev.safetensors
"$T" train BOTH/config.yaml --out BOTH --threads 1 --quiet > both.out 2>&1; rc=$?
cat both.out
check_eval "both damaged: exit 1" "[ $rc -eq 1 ]"
check_eval "both damaged: result.csv names both files and the restart" \
    "grep -q 'BOTH/last.safetensors: checksum mismatch' BOTH/result.csv && grep -q 'BOTH/last.prev.safetensors' BOTH/result.csv && grep -q -- '--restart' BOTH/result.csv"
"$T" train BOTH/config.yaml --out BOTH --threads 1 --quiet > both2.out 2>&1; rc=$?
check_eval "a retry fails with the same hint" "[ $rc -eq 1 ] && grep -q 'trainer train BOTH/config.yaml --out BOTH --restart' both2.out"
"$T" train BOTH/config.yaml --out BOTH --threads 1 --quiet --restart > both3.out 2>&1; rc=$?
check_eval "--restart recovers: the reference's numbers, the damaged run kept" "[ $rc -eq 0 ] && same_as_ref BOTH && [ -d BOTH.old-1 ]"

# --- a damaged best.safetensors
img=$(ls data/test/*/*.jpg | head -1)
cp -r REF BEST && flip_tensor BEST/best.safetensors dense1.kernel
"$T" predict --run BEST "$img" > best.out 2>&1; rc=$?
cat best.out
check_eval "predict on a damaged best: fails naming the file and --restart" \
    "[ $rc -ne 0 ] && grep -q 'BEST/best.safetensors: checksum mismatch' best.out && grep -q -- '--restart' best.out"
rm BEST/result.csv
"$T" train BEST/config.yaml --out BEST --threads 1 --quiet > best2.out 2>&1; rc=$?
check_eval "a resume with a damaged best: exit 1 naming it and --restart" \
    "[ $rc -eq 1 ] && grep -q 'BEST/best.safetensors: checksum mismatch' best2.out && grep -q -- '--restart' best2.out"
cp -r REF OLDBEST && strip_checksum OLDBEST/best.safetensors
"$T" predict --run OLDBEST "$img" > oldbest.out 2>&1; rc=$?
check_eval "predict on a best from before checksums: read, with a warning" \
    "[ $rc -eq 0 ] && grep -q 'warning: OLDBEST/best.safetensors has no checksum' oldbest.out"
"$T" predict --run REF "$img" > ref.out 2>/dev/null
check_eval "and the same prediction as the checksummed file" "diff <(grep -v warning oldbest.out) ref.out"

checks_end
