#!/usr/bin/python3
"""PyTorch's side of the fine-tuning benchmark: the same Keras-layout ResNet50 with only layer4
(Keras conv5) trainable, BatchNorm in inference mode (frozen statistics), channels_last,
batch 32, 224x224, 2 threads; one step = forward, backward of sum(features * r), SGD update.
Prints finetune_images_per_s (best step after a warm-up), as build/bench/bench_finetune.
usage: torch_finetune.py [--batch 32] [--size 224] [--threads 2] [--iters 2]"""
import argparse
import time

import torch

from torch_backbone import keras_resnet50


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = keras_resnet50()  # eval(): BN uses its moving statistics, as Keras fine-tuning
    for p in model.parameters():
        p.requires_grad = False
    for p in model.layer4.parameters():
        p.requires_grad = True
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size).to(memory_format=torch.channels_last) * 60
    r = torch.randn(a.batch, 2048) * 1e-3
    best = 1e30
    for it in range(a.iters + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = (model(x) * r).sum()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if it > 0:
            best = min(best, dt)
    print("finetune_images_per_s %.2f" % (a.batch / best))


if __name__ == "__main__":
    main()
