#!/usr/bin/python3
"""Independent check of the fine-tuning gradients, run by tests/e2e/independent_grads.sh;
needs Debian's python3-torch, python3-h5py under /usr/bin/python3.

Rebuilds Keras's ResNet50 in PyTorch float64 (tests/tools/keras_resnet_torch.py: unfolded
frozen BatchNorm, Keras strides and padding) from the same Keras-layout .h5, takes the images
and r = d(features) that tests/tools/suffix_grads wrote, and differentiates
loss = sum(features * r) with autograd w.r.t. every view suffix_grads marked trainable (conv
kernels and biases, BN gamma and beta). Compares the features and each view's gradient with
ours by relative L2 error.

usage: keras_resnet_grads.py WEIGHTS.h5 DIR [--bar 1e-3] [--torch-bf16]
prints the worst views, exits 1 if any error is >= the bar. --torch-bf16 also prints the
worst error of PyTorch's own bf16 mixed precision (float32 weights, torch.autocast("cpu",
bfloat16)) on the same data against the same float64 reference, for scale."""
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


def gradients(weights, views, x, r, dtype, autocast):
    """Features and every trainable view's gradient of sum(features * r), in dtype; with
    autocast, under torch.autocast("cpu", bfloat16) (PyTorch's bf16 mixed precision)."""
    w = {k: torch.from_numpy(v).to(dtype) for k, v in weights.items()}
    for layer, kind, _, _, trainable in views:
        if trainable:
            w[(layer, kind)].requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        feats = resnet50(x.to(dtype), w)
    (feats.to(dtype) * r.to(dtype)).sum().backward()
    grads = {(layer, kind): w[(layer, kind)].grad.double().numpy().ravel() for layer, kind, _, _, t in views if t}
    return feats.detach().double().numpy(), grads


def rel_errors(feats, grads, ref_feats, ref_grads, views):
    """(error, name) of the features and each trainable view against the reference, worst first."""
    out = [(np.linalg.norm(feats - ref_feats) / np.linalg.norm(ref_feats), "features")]
    for layer, kind, _, _, trainable in views:
        if trainable:
            g = ref_grads[(layer, kind)]
            out.append((np.linalg.norm(grads[(layer, kind)] - g) / max(np.linalg.norm(g), 1e-30), layer + "/" + kind))
    return sorted(out, reverse=True)


def main():
    args = sys.argv[1:]
    bar = 1e-3
    if "--bar" in args:
        i = args.index("--bar")
        bar = float(args[i + 1])
        del args[i:i + 2]
    torch_bf16 = "--torch-bf16" in args
    if torch_bf16:
        args.remove("--torch-bf16")
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
    ref_feats, ref_grads = gradients(wts, views, x, r, torch.float64, False)
    ours = np.fromfile(os.path.join(d, "grads.bin"), dtype="<f4").astype(np.float64)
    mine = {(layer, kind): ours[off:off + size_] for layer, kind, off, size_, t in views if t}
    worst = rel_errors(feats, mine, ref_feats, ref_grads, views)
    print("%d trainable views, %d images %dx%d" % (len(worst) - 1, n, size, size))
    for err, name in worst[:5]:
        print("  %-32s rel L2 %.3e" % (name, err))
    if torch_bf16:  # what bf16 mixed precision costs in PyTorch on the same data, for scale
        tf, tg = gradients(wts, views, x, r, torch.float32, True)
        tw = rel_errors(tf, tg, ref_feats, ref_grads, views)
        print("  PyTorch bf16 autocast: worst %s rel L2 %.3e, features %.3e" % (tw[0][1], tw[0][0],
                                                                               [e for e, k in tw if k == "features"][0]))
    print("worst rel L2 %.3e (bar %.0e)" % (worst[0][0], bar))
    sys.exit(0 if worst[0][0] < bar else 1)


if __name__ == "__main__":
    main()
