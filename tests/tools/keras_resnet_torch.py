#!/usr/bin/python3
"""Independent cross-check of `trainer features` (not run by ctest; needs Debian's
python3-torch, python3-h5py, python3-pil under /usr/bin/python3).

Builds Keras's ResNet50 (keras/applications/resnet.py) in PyTorch functional ops from a Keras-layout .h5
(unfolded BatchNorm, eps 1.001e-5, stride on the first 1x1, explicit conv1/pool1 padding),
loads images as Keras does (PIL open, convert RGB, resize NEAREST, caffe preprocess_input),
and compares the pooled features with a file written by `trainer features`.

usage: keras_resnet_torch.py WEIGHTS.h5 FEATURES.bin IMAGE... [--size 224]
prints one line per image with the relative L2 error, exits 1 if any is >= 1e-3."""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def load_weights(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                layer = name.split("/")[0]
                kind = name.split("/")[-1].split(":")[0]
                out[(layer, kind)] = np.array(obj, dtype=np.float32)
        f.visititems(visit)
    return out


def conv_bn(x, w, name, stride, pad, relu=True):
    k = torch.as_tensor(w[(name + "_conv", "kernel")]).permute(3, 2, 0, 1)  # HWIO -> OIHW
    b = torch.as_tensor(w[(name + "_conv", "bias")])
    x = F.conv2d(F.pad(x, (pad, pad, pad, pad)), k, b, stride=stride)
    g, be, m, v = (torch.as_tensor(w[(name + "_bn", t)]) for t in ("gamma", "beta", "moving_mean", "moving_variance"))
    x = (x - m[None, :, None, None]) / torch.sqrt(v[None, :, None, None] + 1.001e-5) * g[None, :, None, None] + be[None, :, None, None]
    return F.relu(x) if relu else x


def resnet50(x, w):
    x = conv_bn(x, w, "conv1", 2, 3)
    x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
    for stage, (filters, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for b in range(1, blocks + 1):
            n = "conv%d_block%d" % (stage + 2, b)
            stride = 2 if (b == 1 and stage > 0) else 1
            sc = conv_bn(x, w, n + "_0", stride, 0, relu=False) if b == 1 else x
            y = conv_bn(x, w, n + "_1", stride, 0)
            y = conv_bn(y, w, n + "_2", 1, 1)
            y = conv_bn(y, w, n + "_3", 1, 0, relu=False)
            x = F.relu(sc + y)
    return x.mean(dim=(2, 3))


def load_img(path, size):
    img = Image.open(path)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.NEAREST)
    x = np.asarray(img, dtype=np.float32)[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)


def main():
    args = sys.argv[1:]
    size = 224
    if "--size" in args:
        i = args.index("--size")
        size = int(args[i + 1])
        del args[i:i + 2]
    weights, feats, images = args[0], args[1], args[2:]
    w = load_weights(weights)
    ours = np.fromfile(feats, dtype="<f4").reshape(len(images), 2048)
    torch.set_num_threads(2)
    worst = 0.0
    with torch.no_grad():
        for i, p in enumerate(images):
            ref = resnet50(load_img(p, size)[None].double(), {k: v.astype(np.float64) for k, v in w.items()}).numpy()[0]
            err = np.linalg.norm(ours[i] - ref) / np.linalg.norm(ref)
            worst = max(worst, err)
            print("%s rel_l2 %.3e" % (p, err))
    print("worst rel_l2 %.3e (bar 1e-3)" % worst)
    sys.exit(0 if worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
