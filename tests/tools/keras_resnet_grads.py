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

usage: keras_resnet_grads.py WEIGHTS.h5 DIR [--bar 1e-3] [--torch-bf16] [--bn-train]
prints the worst views, exits 1 if any error is >= the bar. --torch-bf16 also prints the
worst error of PyTorch's own bf16 mixed precision (float32 weights, torch.autocast("cpu",
bfloat16)) on the same data against the same float64 reference, for scale."""
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


def gradients(weights, views, x, r, dtype, autocast, bn_train=False):
    """Features and every trainable view's gradient of sum(features * r), in dtype; with
    autocast, under torch.autocast("cpu", bfloat16) (PyTorch's bf16 mixed precision). With
    bn_train the BN layers whose moving statistics are views run in training mode; also
    returns that BnTrain (its stepped moving statistics), else None."""
    w = {k: torch.from_numpy(v).to(dtype) for k, v in weights.items()}
    for layer, kind, _, _, trainable in views:
        if trainable:
            w[(layer, kind)].requires_grad_(True)
    train = BnTrain({layer for layer, kind, _, _, _ in views if kind == "moving_mean"}, w) if bn_train else None
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        feats = resnet50(x.to(dtype), w, train)
    (feats.to(dtype) * r.to(dtype)).sum().backward()
    grads = {(layer, kind): w[(layer, kind)].grad.double().numpy().ravel() for layer, kind, _, _, t in views if t}
    return feats.detach().double().numpy(), grads, train


def rel_errors(feats, grads, ref_feats, ref_grads, views, bn_train=False):
    """(error, name) of the features and each trainable view against the reference, worst first."""
    out = [(np.linalg.norm(feats - ref_feats) / np.linalg.norm(ref_feats), "features")]
    for layer, kind, _, _, trainable in views:
        if trainable:
            g = ref_grads[(layer, kind)]
            # A conv bias before a training-mode BN has no effect (the batch mean takes it out):
            # its gradient is 0 up to rounding, measured against its kernel's gradient instead.
            scale = np.linalg.norm(ref_grads[(layer, "kernel")]) if bn_train and kind == "bias" else np.linalg.norm(g)
            out.append((np.linalg.norm(grads[(layer, kind)] - g) / max(scale, 1e-30), layer + "/" + kind))
    return sorted(out, reverse=True)


def moving_step_errors(d, views, weights, train):
    """(error, name) of each moving statistic's step (params.bin minus the file's value)
    against the reference's. The step, not the stepped value: 0.99 of the file's statistic
    would hide a batch statistic off by any factor below the bar."""
    params = np.fromfile(os.path.join(d, "params.bin"), dtype="<f4").astype(np.float64)
    out = []
    for layer, kind, off, size_, _ in views:
        if kind in ("moving_mean", "moving_variance"):
            start = weights[(layer, kind)].astype(np.float64).ravel()
            want = train.moving[layer][kind == "moving_variance"].detach().numpy().ravel() - start
            mine = params[off:off + size_] - start
            out.append((np.linalg.norm(mine - want) / np.linalg.norm(want), layer + "/" + kind + " step"))
    return out


def main():
    args = sys.argv[1:]
    bar = 1e-3
    if "--bar" in args:
        i = args.index("--bar")
        bar = float(args[i + 1])
        del args[i:i + 2]
    torch_bf16 = "--torch-bf16" in args
    bn_train = "--bn-train" in args
    args = [a for a in args if a not in ("--torch-bf16", "--bn-train")]
    weights, d = args
    views = read_views(os.path.join(d, "views.txt"))
    wts = load_weights(weights)
    feats = np.fromfile(os.path.join(d, "features.bin"), dtype="<f4").reshape(-1, 2048)
    n = feats.shape[0]
    r = torch.from_numpy(np.fromfile(os.path.join(d, "dfeat.bin"), dtype="<f4").reshape(n, 2048).astype(np.float64))
    x = np.fromfile(os.path.join(d, "images.bin"), dtype="<f4").astype(np.float64)
    size = int(round((x.size / n / 3) ** 0.5))
    x = torch.from_numpy(x.reshape(n, size, size, 3)).permute(0, 3, 1, 2)
    torch.set_num_threads(2)
    ref_feats, ref_grads, train = gradients(wts, views, x, r, torch.float64, False, bn_train)
    ours = np.fromfile(os.path.join(d, "grads.bin"), dtype="<f4").astype(np.float64)
    mine = {(layer, kind): ours[off:off + size_] for layer, kind, off, size_, t in views if t}
    worst = rel_errors(feats, mine, ref_feats, ref_grads, views, bn_train)
    if train is not None:
        worst = sorted(worst + moving_step_errors(d, views, wts, train), reverse=True)
    print("%d views checked (%s BN), %d images %dx%d" % (len(worst) - 1, "training-mode" if bn_train else "frozen", n, size,
                                                       size))
    for err, name in worst[:5]:
        print("  %-32s rel L2 %.3e" % (name, err))
    if torch_bf16:  # what bf16 mixed precision costs in PyTorch on the same data, for scale
        tf, tg, _ = gradients(wts, views, x, r, torch.float32, True, bn_train)
        tw = rel_errors(tf, tg, ref_feats, ref_grads, views, bn_train)
        print("  PyTorch bf16 autocast: worst %s rel L2 %.3e, features %.3e" % (tw[0][1], tw[0][0],
                                                                               [e for e, k in tw if k == "features"][0]))
    print("worst rel L2 %.3e (bar %.0e)" % (worst[0][0], bar))
    sys.exit(0 if worst[0][0] < bar else 1)


if __name__ == "__main__":
    main()
