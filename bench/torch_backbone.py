#!/usr/bin/python3
"""PyTorch's side of the backbone benchmarks: the same ResNet50 the trainer runs, in PyTorch.

  torch_backbone.py forward [--batch 32] [--size 224] [--threads 2] [--iters 3] [--precision fp32|bf16]
      Frozen forward pass on random NHWC input; prints backbone_images_per_s,
      backbone_images_per_cpu_s, backbone_gflop_per_image, backbone_gflops, peak_rss_mib (as
      build/bench/bench_backbone).
  torch_backbone.py job [--batch 32] [--size 224] [--threads 2] [--runs 2] [--precision fp32|bf16] IMAGE...
      The whole job `trainer features` does: per image PIL decode -> RGB -> resize NEAREST to
      SIZE x SIZE if needed (Keras load_img) -> float32 caffe preprocess (BGR, minus mean), then
      forward in batches; prints job_images, job_seconds, job_images_per_s (best of --runs).
      Model construction and JIT warm-up are not timed (the trainer's numbers include its setup).

Model: torchvision resnet50 with random weights (no download), changed to Keras's layout:
the stride 2 of each stage's first bottleneck sits on the 1x1 conv1 (torchvision puts it on
the 3x3 conv2), no classifier (global average pool -> 2048 features). eval(), channels_last,
torch.jit.trace + freeze + optimize_for_inference (BatchNorm folded into the convolutions).
Run it with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set large (scripts/run-bench
does): otherwise glibc maps and unmaps every big activation buffer each pass, which makes
PyTorch several times slower on this machine.

--precision bf16: torch.autocast("cpu", dtype=torch.bfloat16) (float32 weights, bf16
convolutions on the CPU's AMX or AVX-512 BF16 units through the same oneDNN), channels_last,
eval, no_grad. Two builds are timed and the faster one counts (printed as torch_variant):
the eager model under autocast, and the model traced and frozen under autocast.
"""
import argparse
import resource
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def keras_resnet50():
    """torchvision ResNet50 with Keras's strides and no classifier, random weights, eval mode."""
    torch.manual_seed(1)
    model = torchvision.models.resnet50(weights=None)
    for layer in (model.layer2, model.layer3, model.layer4):
        layer[0].conv1.stride = (2, 2)
        layer[0].conv2.stride = (1, 1)
    model.fc = torch.nn.Identity()
    return model.eval().to(memory_format=torch.channels_last)


def conv_gflop_per_image(model, size):
    """2 * multiply-adds of every Conv2d/Linear for one SIZE x SIZE image, counted by hooks."""
    total = [0]

    def count(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            kh, kw = mod.kernel_size
            total[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw
        else:
            total[0] += 2 * out.numel() * mod.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return total[0] / 1e9


def frozen(model, batch, size):
    """TorchScript, frozen and optimised for inference on an NHWC (channels_last) input."""
    example = torch.zeros(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


def autocast_bf16(fn):
    """fn run under torch.autocast("cpu", bfloat16), features back as float32."""
    def run(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fn(x).float()
    return run


def bf16_nets(model, batch, size):
    """PyTorch's two bf16 builds: {"eager": ..., "jit": ...} (trace + freeze under autocast;
    optimize_for_inference would fold BN in float32 and undo the autocast casts)."""
    example = torch.zeros(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        traced = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))
    return {"eager": autocast_bf16(model), "jit": autocast_bf16(traced)}


def timed(net, x, iters):
    """(best wall seconds, best process CPU seconds) of iters passes after two warm-ups."""
    best = best_cpu = float("inf")
    with torch.no_grad():
        for _ in range(2):  # JIT profiling runs, then the optimised graph's first run
            net(x)
        for _ in range(iters):
            t0, c0 = time.perf_counter(), time.process_time()
            net(x)
            best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return best, best_cpu


def nhwc_to_input(nhwc):
    """float32 N x H x W x 3 array -> N x 3 x H x W tensor with channels_last strides (no copy)."""
    return torch.from_numpy(nhwc).permute(0, 3, 1, 2)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_forward(a):
    model = keras_resnet50()
    gflop = conv_gflop_per_image(model, a.size)
    nets = bf16_nets(model, a.batch, a.size) if a.precision == "bf16" else {"jit": frozen(model, a.batch, a.size)}
    rng = np.random.default_rng(7)
    x = nhwc_to_input(rng.uniform(-120, 130, (a.batch, a.size, a.size, 3)).astype(np.float32))
    times = {name: timed(net, x, a.iters) for name, net in nets.items()}
    variant = min(times, key=lambda k: times[k][0])
    best, best_cpu = times[variant]
    ips = a.batch / best
    print("torch_variant %s%s" % (a.precision, "_autocast_" + variant if a.precision == "bf16" else "_" + variant))
    print("backbone_images_per_s %.2f" % ips)
    print("backbone_images_per_cpu_s %.2f" % (a.batch / best_cpu))
    print("backbone_gflop_per_image %.3f" % gflop)
    print("backbone_gflops %.1f" % (ips * gflop))
    print("peak_rss_mib %.0f" % peak_rss_mib())


def load_preprocessed(path, size, out):
    """Keras load_img + img_to_array + preprocess_input(caffe) into OUT (size x size x 3 float32)."""
    img = Image.open(path)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.NEAREST)
    rgb = np.asarray(img, dtype=np.float32)
    np.subtract(rgb[:, :, ::-1], CAFFE_MEAN_BGR, out=out)


def run_job(net, images, batch, size, buf):
    feats = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            for i, path in enumerate(chunk):
                load_preprocessed(path, size, buf[i])
            feats.append(net(nhwc_to_input(buf[:len(chunk)])).numpy().copy())
    return np.concatenate(feats)


def bench_job(a):
    batch = min(a.batch, len(a.images))
    model = keras_resnet50()
    net = bf16_nets(model, batch, a.size)["jit"] if a.precision == "bf16" else frozen(model, batch, a.size)
    buf = np.empty((batch, a.size, a.size, 3), dtype=np.float32)
    with torch.no_grad():  # warm up the JIT on the full batch shape (and a partial last batch)
        for n in sorted({batch, len(a.images) % batch or batch}):
            for _ in range(2):
                net(nhwc_to_input(buf[:n]))
    best = float("inf")
    for _ in range(a.runs):
        t0 = time.perf_counter()
        feats = run_job(net, a.images, batch, a.size, buf)
        best = min(best, time.perf_counter() - t0)
    assert feats.shape == (len(a.images), 2048)
    print("job_images %d" % len(a.images))
    print("job_seconds %.3f" % best)
    print("job_images_per_s %.2f" % (len(a.images) / best))
    print("peak_rss_mib %.0f" % peak_rss_mib())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["forward", "job"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3, help="forward: timed passes, best is kept")
    p.add_argument("--runs", type=int, default=2, help="job: timed passes over all images, best is kept")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: torch.autocast on the CPU")
    p.add_argument("images", nargs="*")
    a = p.parse_intermixed_args()
    if a.mode == "job" and not a.images:
        p.error("job needs IMAGE arguments")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    bench_forward(a) if a.mode == "forward" else bench_job(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
