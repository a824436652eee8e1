#!/usr/bin/env bash
# The independent check of the fine-tuning gradients: a Keras-layout weight file with
# random weights and BN statistics (trainer make-weights --bn-stats), the suffix gradients
# of loss = sum(features * r) from our CPU backend (tests/tools/suffix_grads), and the same
# gradients from autograd in an independent PyTorch float64 implementation
# (tests/tools/keras_resnet_grads.py). Every trainable view within 1e-3 relative L2, for
# trainable conv5, conv4 (from conv4_block1) and all (conv1, max pool included). A gradient
# file with one view's sign flipped must fail the check.
# Skipped (77) where /usr/bin/python3 has no torch or h5py (scripts/install-deps installs them).
set -u
: "${TRAINER:?}" "${TL_BUILD_DIR:?}" "${TL_SOURCE_DIR:?}"
/usr/bin/python3 -c 'import torch, h5py' 2>/dev/null || { echo "no torch/h5py for /usr/bin/python3: skipped"; exit 77; }
tool=$TL_BUILD_DIR/tests/suffix_grads
check=$TL_SOURCE_DIR/tests/tools/keras_resnet_grads.py
work=$(mktemp -d /tmp/e2e_grads.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "${TL_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/e2e/lib/checks.sh"

"$TRAINER" make-weights --random 7 --bn-stats --out "$work/w.h5" >/dev/null || { echo "make-weights failed"; exit 1; }
for from in conv5 conv4 all; do
    if "$tool" "$work/w.h5" "$work/$from" --from "$from" --size 64 --batch 2; then ok; else bad "suffix_grads --from $from"; continue; fi
    out=$(/usr/bin/python3 "$check" "$work/w.h5" "$work/$from" --bar 1e-3 2>&1)
    rc=$?
    echo "--from $from: $(tail -n 1 <<< "$out")"
    [ $rc -eq 0 ] && ok || { bad "--from $from: gradients differ from PyTorch float64"; echo "$out"; }
done
# The check must be able to fail: flip the sign of conv5_block3_3_conv/kernel's gradient.
read -r off size < <(awk '$1 == "conv5_block3_3_conv/kernel" {print $2, $3}' "$work/conv5/views.txt")
/usr/bin/python3 - "$work/conv5/grads.bin" "$off" "$size" <<'PY'
import sys, numpy as np
g = np.fromfile(sys.argv[1], dtype="<f4"); o, n = int(sys.argv[2]), int(sys.argv[3])
g[o:o + n] *= -1; g.tofile(sys.argv[1])
PY
if /usr/bin/python3 "$check" "$work/w.h5" "$work/conv5" >/dev/null 2>&1; then bad "a flipped gradient passed"; else ok; fi
checks_end
