#!/usr/bin/python3
"""Independent check of the fine-tuning gradients, run by tests/e2e/independent_grads.sh;
needs Debian's python3-torch, python3-h5py under /usr/bin/python3.

Rebuilds Keras's ResNet50 in PyTorch float64 (tests/tools/keras_resnet_torch.py: unfolded
frozen BatchNorm, Keras strides and padding) from the same Keras-layout .h5, takes the images
and r = d(features) that tests/tools/suffix_grads wrote, and differentiates
loss = sum(features * r) with autograd w.r.t. every view suffix_grads marked trainable (conv
kernels and biases, BN gamma and beta). Compares the features and each view's gradient with
ours by relative L2 error.

With --bn-train (suffix_grads --bn train) the suffix's BN layers run in training mode
(keras_resnet_torch.BnTrain: batch statistics, gradient through them) and the moving
statistics ours stepped (params.bin, written after the forward) are compared too.

usage: keras_resnet_grads.py WEIGHTS.h5 DIR [--bar 1e-3] [--bn-train]
prints the worst views, exits 1 if any error is >= the bar."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_resnet_torch import BnTrain, load_weights, resnet50  # noqa: E402


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
    bn_train = "--bn-train" in args
    args = [a for a in args if a != "--bn-train"]
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
    train = BnTrain({layer for layer, kind, _, _, _ in views if kind == "moving_mean"}, w) if bn_train else None
    ref = resnet50(x, w, train)
    (ref * r).sum().backward()
    ours = np.fromfile(os.path.join(d, "grads.bin"), dtype="<f4").astype(np.float64)
    ref_np = ref.detach().numpy()
    worst = [(np.linalg.norm(feats - ref_np) / np.linalg.norm(ref_np), "features")]
    for layer, kind, off, size_, trainable in views:
        if not trainable:
            continue
        g = w[(layer, kind)].grad.numpy().ravel()   # Keras layout (kernels HWIO), as ours
        mine = ours[off:off + size_]
        # A conv bias before a training-mode BN has no effect (the batch mean takes it out):
        # its gradient is 0 up to rounding, measured against its kernel's gradient instead.
        scale = np.linalg.norm(w[(layer, "kernel")].grad.numpy()) if bn_train and kind == "bias" else np.linalg.norm(g)
        worst.append((np.linalg.norm(mine - g) / max(scale, 1e-30), layer + "/" + kind))
    if train is not None:
        params = np.fromfile(os.path.join(d, "params.bin"), dtype="<f4").astype(np.float64)
        for layer, kind, off, size_, _ in views:
            if kind in ("moving_mean", "moving_variance"):
                # The step, not the stepped value: 0.99 of the file's statistic would hide
                # a batch statistic off by any factor below the bar.
                start = w[(layer, kind)].detach().numpy().ravel()
                want = train.moving[layer][kind == "moving_variance"].numpy().ravel() - start
                mine = params[off:off + size_] - start
                worst.append((np.linalg.norm(mine - want) / np.linalg.norm(want), layer + "/" + kind + " step"))
    worst.sort(reverse=True)
    print("%d views checked (%s BN), %d images %dx%d" % (len(worst) - 1, "training-mode" if bn_train else "frozen", n, size,
                                                       size))
    for err, name in worst[:5]:
        print("  %-32s rel L2 %.3e" % (name, err))
    print("worst rel L2 %.3e (bar %.0e)" % (worst[0][0], bar))
    sys.exit(0 if worst[0][0] < bar else 1)


if __name__ == "__main__":
    main()
