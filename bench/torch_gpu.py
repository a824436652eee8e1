#!/usr/bin/env python3
"""PyTorch baseline for bench/bench_gpu.c, printing the same RESULT lines.

  resnet50_fwd     torchvision ResNet50 without its top (fc = Identity: 2048 avg-pooled
                   features, like Keras include_top=False, pooling='avg'), eval, no_grad,
                   channels_last, cudnn.benchmark; fp32 (TF32 off), tf32 (TF32 on), fp16 and
                   bf16 through autocast. images/s, median of --iters timed batches.
  matmul_ceiling   the card's matrix ceiling per precision: an 8192^3 matrix product on
                   random data (TFLOP/s), against which the table puts the forward pass.
  head_train_epoch a full torch epoch of the Keras head: BatchNorm -> Dense 512 ReLU ->
                   Dropout 0.6 -> Dense 196, cross-entropy with label smoothing 0.1 plus L2
                   5e-4 on both kernels, Adam 1e-3, batch 32, 8144 features uniform in
                   [0, 1): the epoch bench_gpu times with the trainer's GPU head. float32
                   only (TF32 off), as the trainer's head is float32 in every precision.

Not identical networks: torchvision's ResNet50 is v1.5 (stride 2 on the 3x3 conv of a
block, 4.1 GMAC per image), Keras's is v1 (stride on the first 1x1, 3.9 GMAC); torch runs
BatchNorm as separate kernels, the C backbone has it folded into the conv bias.

  python3 bench/torch_gpu.py [--precision fp32,tf32,fp16,bf16] [--batch 32,256]
  python3 bench/torch_gpu.py --table C_OUTPUT TORCH_OUTPUT   # the comparison table
"""
import argparse
import contextlib
import statistics
import sys
import time

HEAD_SAMPLES, HEAD_BATCH, HEAD_D, HEAD_H, HEAD_C = 8144, 32, 2048, 512, 196


def set_precision(torch, precision):
    """TF32 switches for fp32/tf32; the autocast dtype for fp16/bf16 (None otherwise)."""
    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)


def median_seconds(torch, fn, iters, warmup):
    """Median wall time of fn() over iters runs after warmup runs, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def bench_resnet(torch, torchvision, precision, batch, iters, warmup):
    dtype = set_precision(torch, precision)
    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Identity()
    model = model.cuda().eval().to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)

    def forward():
        with torch.no_grad(), (torch.autocast("cuda", dtype=dtype) if dtype else contextlib.nullcontext()):
            return model(x)

    if not torch.isfinite(forward().float()).all():
        raise RuntimeError(f"resnet50 {precision} batch {batch}: non-finite features")
    t = median_seconds(torch, forward, iters, warmup)
    print(f"resnet50 forward  {precision:4s} batch {batch:3d}: {batch / t:8.1f} images/s  {1e3 * t:8.2f} ms/batch")
    print(f"RESULT resnet50_fwd {precision} {batch} {batch / t:.2f} images/s", flush=True)


def bench_matmul(torch, precision, iters):
    """The matrix units' measured rate in this precision: 8192^3 on random data."""
    dtype = set_precision(torch, precision) or torch.float32
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    t = median_seconds(torch, lambda: torch.mm(a, b), min(iters, 10), 2)
    print(f"matmul 8192^3     {precision:4s}: {2 * n ** 3 / t * 1e-12:8.1f} TFLOP/s")
    print(f"RESULT matmul_ceiling {precision} {n} {2 * n ** 3 / t * 1e-12:.2f} TFLOP/s", flush=True)


def bench_head_train(torch, precision, iters):
    set_precision(torch, precision)
    nn = torch.nn
    torch.manual_seed(42)
    head = nn.Sequential(nn.BatchNorm1d(HEAD_D, eps=1e-3, momentum=0.01), nn.Linear(HEAD_D, HEAD_H), nn.ReLU(),
                         nn.Dropout(0.6), nn.Linear(HEAD_H, HEAD_C)).cuda().train()
    opt = torch.optim.Adam(head.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    features = torch.rand(HEAD_SAMPLES, HEAD_D, device="cuda")
    labels = torch.randint(0, HEAD_C, (HEAD_SAMPLES,), device="cuda")

    def epoch():
        order = torch.randperm(HEAD_SAMPLES, device="cuda")
        for start in range(0, HEAD_SAMPLES, HEAD_BATCH):
            idx = order[start:start + HEAD_BATCH]
            loss = loss_fn(head(features[idx]), labels[idx])
            loss = loss + 5e-4 * (head[1].weight.square().sum() + head[4].weight.square().sum())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    t = median_seconds(torch, epoch, min(iters, 3), 1)
    print(f"head train epoch  {precision:4s} batch {HEAD_BATCH:3d}: {t:8.4f} s/epoch (torch only)")
    print(f"RESULT head_train_epoch {precision} {HEAD_BATCH} {t:.5f} s", flush=True)


def read_results(path):
    """{(name, precision, batch): (value, unit)} from the RESULT lines of a log."""
    results = {}
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 6 and parts[0] == "RESULT":
                results[(parts[1], parts[2], int(parts[3]))] = (float(parts[4]), parts[5])
    return results


def print_table(c_path, torch_path):
    """One table: C backend vs PyTorch; speedup > 1 means the C code is faster."""
    c, t = read_results(c_path), read_results(torch_path)
    print(f"{'measure':18s} {'prec':4s} {'batch':>5s} {'C backend':>12s} {'PyTorch':>12s} {'unit':9s} {'C speedup':>9s}")
    # Torch's row for each C measure: its forward time, whether the C number came from the
    # backend directly, through the Backbone (with transfers), or with timed algorithm choice.
    torch_row = {"resnet50_fwd_find": "resnet50_fwd", "resnet50_backbone": "resnet50_fwd",
                 "finetune_step_find": "finetune_step"}
    for key in sorted(k for k in set(c) | set(t) if not k[0].startswith(("resnet50_tflops", "matmul_ceiling"))):
        cv, tv = c.get(key), t.get((torch_row.get(key[0], key[0]),) + key[1:])
        unit = (cv or tv)[1]
        speedup = "-"
        if cv and tv and cv[0] > 0 and tv[0] > 0:
            speedup = f"{cv[0] / tv[0] if unit == 'images/s' else tv[0] / cv[0]:.2f}x"
        show = lambda v: f"{v[0]:12.4g}" if v else f"{'-':>12s}"
        print(f"{key[0]:18s} {key[1]:4s} {key[2]:5d} {show(cv)} {show(tv)} {unit:9s} {speedup:>9s}")
    ceiling = {k[1]: v[0] for k, v in t.items() if k[0] == "matmul_ceiling"}
    for key in sorted(k for k in c if k[0].startswith("resnet50_tflops") and k[1] in ceiling):
        print(f"{key[0]} {key[1]} batch {key[2]}: {c[key][0]:.1f} TFLOP/s = {c[key][0] / ceiling[key[1]]:.2f} "
              f"of the measured {key[1]} matmul ceiling ({ceiling[key[1]]:.0f} TFLOP/s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", default="fp32,tf32,fp16,bf16")
    ap.add_argument("--batch", default="32,256")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-head", action="store_true")
    ap.add_argument("--table", nargs=2, metavar=("C_OUTPUT", "TORCH_OUTPUT"))
    args = ap.parse_args()
    if args.table:
        print_table(*args.table)
        return 0
    import torch
    import torchvision
    if not torch.cuda.is_available():
        print("torch_gpu: no CUDA device visible", file=sys.stderr)
        return 77
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"{torch.cuda.get_device_name(0)}", flush=True)
    precisions = args.precision.split(",")
    failed = 0
    for p in precisions:
        bench_matmul(torch, p, args.iters)
    for p in precisions:
        for b in (int(s) for s in args.batch.split(",")):
            try:
                bench_resnet(torch, torchvision, p, b, args.iters, args.warmup)
            except RuntimeError as err:    # report and go on: one table row missing, not the whole run
                print(f"torch_gpu: resnet50 {p} batch {b}: {err}", file=sys.stderr)
                failed = 1
            torch.cuda.empty_cache()
    if not args.no_head and "fp32" in precisions:
        bench_head_train(torch, "fp32", args.iters)
    return failed


if __name__ == "__main__":
    start = time.time()
    rc = main()
    print(f"torch_gpu: {time.time() - start:.1f} s", file=sys.stderr)
    sys.exit(rc)
