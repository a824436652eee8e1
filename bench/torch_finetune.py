#!/usr/bin/python3
"""PyTorch's side of the fine-tuning benchmark: the same Keras-layout ResNet50 with only layer4
(Keras conv5) trainable, BatchNorm in inference mode (frozen statistics), channels_last,
batch 32, 224x224; one step = forward, backward of sum(features * r), SGD update.
Prints finetune_images_per_s (best step after a warm-up), as build/bench/bench_finetune, and
finetune_images_per_cpu_s (per CPU second of the process: steadier on a shared machine).
  --device cpu (default): --threads (2) threads, 2 timed steps by default; --precision bf16
    runs forward and backward under torch.autocast("cpu", dtype=torch.bfloat16) (float32
    master weights and SGD, as ours); anything else is float32.
  --device cuda: GPU --gpu (0), cudnn.benchmark on, --precision tf32 (default, TF32 allowed in
    cuDNN and matmuls, as our default) or fp32 (TF32 off); 10 timed steps by default. Like
    bench_finetune's step, the images start on the host (copied to the GPU inside the step)
    and the step ends synchronised.
usage: torch_finetune.py [--device cpu|cuda] [--precision tf32|fp32|bf16] [--batch 32] [--size 224]
                         [--threads 2] [--iters N] [--gpu 0]"""
import argparse
import contextlib
import time

import torch

from torch_backbone import keras_resnet50


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--precision", choices=("tf32", "fp32", "bf16"), default="tf32")
    ap.add_argument("--gpu", type=int, default=0)
    a = ap.parse_args()
    cuda = a.device == "cuda"
    iters = a.iters if a.iters is not None else (10 if cuda else 2)
    torch.set_num_threads(a.threads)
    dev = torch.device("cuda", a.gpu) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    model = keras_resnet50().to(dev)  # eval(): BN uses its moving statistics, as Keras fine-tuning
    for p in model.parameters():
        p.requires_grad = False
    for p in model.layer4.parameters():
        p.requires_grad = True
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x_host = torch.randn(a.batch, 3, a.size, a.size).to(memory_format=torch.channels_last) * 60
    r = (torch.randn(a.batch, 2048) * 1e-3).to(dev)
    bf16 = a.precision == "bf16" and not cuda
    best = best_cpu = 1e30
    for it in range(iters + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        x = x_host.to(dev)
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = (model(x).float() * r).sum()
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize(dev)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if it > 0:
            best, best_cpu = min(best, dt), min(best_cpu, dc)
    print("finetune_images_per_s %.2f" % (a.batch / best))
    print("finetune_images_per_cpu_s %.2f" % (a.batch / best_cpu))


if __name__ == "__main__":
    main()
