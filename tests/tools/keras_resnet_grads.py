#!/usr/bin/python3
"""Independent check of the fine-tuning gradients, run by tests/e2e/independent_grads.sh;
needs Debian's python3-torch, python3-h5py under /usr/bin/python3.

Rebuilds Keras's ResNet50 in PyTorch float64 (tests/tools/keras_resnet_torch.py: unfolded
frozen BatchNorm, Keras strides and padding) from the same Keras-layout .h5, takes the images
and r = d(features) that tests/tools/suffix_grads wrote, and differentiates
loss = sum(features * r) with autograd w.r.t. every view suffix_grads marked trainable (conv
kernels and biases, BN gamma and beta). Compares the features and each view's gradient with
ours by relative L2 error.

usage: keras_resnet_grads.py WEIGHTS.h5 DIR [--bar 1e-3]
prints the worst views, exits 1 if any error is >= the bar."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_resnet_torch import load_weights, resnet50  # noqa: E402


def read_views(path):
    views = []
    with open(path) as f:
        for line in f:
            name, off, size, trainable = line.split()
            layer, kind = name.split("/")
            views.append((layer, kind, int(off), int(size), trainable == "1"))
    return views


def main():
    args = sys.argv[1:]
    bar = 1e-3
    if "--bar" in args:
        i = args.index("--bar")
        bar = float(args[i + 1])
        del args[i:i + 2]
    weights, d = args
    views = read_views(os.path.join(d, "views.txt"))
    w = {k: torch.from_numpy(v.astype(np.float64)) for k, v in load_weights(weights).items()}
    for layer, kind, _, _, trainable in views:
        if trainable:
            w[(layer, kind)].requires_grad_(True)
    feats = np.fromfile(os.path.join(d, "features.bin"), dtype="<f4").reshape(-1, 2048)
    n = feats.shape[0]
    r = torch.from_numpy(np.fromfile(os.path.join(d, "dfeat.bin"), dtype="<f4").reshape(n, 2048).astype(np.float64))
    x = np.fromfile(os.path.join(d, "images.bin"), dtype="<f4").astype(np.float64)
    size = int(round((x.size / n / 3) ** 0.5))
    x = torch.from_numpy(x.reshape(n, size, size, 3)).permute(0, 3, 1, 2)
    torch.set_num_threads(2)
    ref = resnet50(x, w)
    (ref * r).sum().backward()
    ours = np.fromfile(os.path.join(d, "grads.bin"), dtype="<f4").astype(np.float64)
    ref_np = ref.detach().numpy()
    worst = [(np.linalg.norm(feats - ref_np) / np.linalg.norm(ref_np), "features")]
    for layer, kind, off, size_, trainable in views:
        if not trainable:
            continue
        g = w[(layer, kind)].grad.numpy().ravel()   # Keras layout (kernels HWIO), as ours
        mine = ours[off:off + size_]
        worst.append((np.linalg.norm(mine - g) / max(np.linalg.norm(g), 1e-30), layer + "/" + kind))
    worst.sort(reverse=True)
    print("%d trainable views, %d images %dx%d" % (len(worst) - 1, n, size, size))
    for err, name in worst[:5]:
        print("  %-32s rel L2 %.3e" % (name, err))
    print("worst rel L2 %.3e (bar %.0e)" % (worst[0][0], bar))
    sys.exit(0 if worst[0][0] < bar else 1)


if __name__ == "__main__":
    main()
