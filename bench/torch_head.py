"""PyTorch twin of bench/bench_head.c: seconds per head-training epoch on synthetic
cached features (8,144 x 2048, 196 classes, batch 32), the same layer stack
(BatchNorm1d eps 1e-3 / Keras momentum 0.99 -> Dense(512, ReLU) -> Dropout(0.6) -> Dense(196)),
cross-entropy with label smoothing 0.1 plus L2 5e-4 on both kernels, Adam(1e-3, eps 1e-7),
2 threads. Run with /usr/bin/python3 bench/torch_head.py [epochs].
Prints one line: head_epoch_seconds <mean seconds per epoch>."""
import sys
import time

import torch

N_SAMPLES, IN_DIM, CLASSES, BATCH, HIDDEN, THREADS, WARMUP_STEPS = 8144, 2048, 196, 32, 512, 2, 10
L2 = 5e-4


def build():
    torch.manual_seed(42)
    dense1 = torch.nn.Linear(IN_DIM, HIDDEN)
    dense2 = torch.nn.Linear(HIDDEN, CLASSES)
    for layer in (dense1, dense2):      # Keras init: glorot_uniform kernels, zero biases
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    model = torch.nn.Sequential(
        torch.nn.BatchNorm1d(IN_DIM, eps=1e-3, momentum=0.01),   # torch momentum = 1 - Keras 0.99
        dense1, torch.nn.ReLU(), torch.nn.Dropout(0.6), dense2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    return model, (dense1.weight, dense2.weight), opt


def run_epoch(model, kernels, opt, loss_fn, x, y, max_steps):
    order = torch.randperm(N_SAMPLES)
    total, count = 0.0, 0
    for step, start in enumerate(range(0, N_SAMPLES, BATCH)):
        if step >= max_steps:
            break
        idx = order[start:start + BATCH]
        xb, yb = x[idx], y[idx]
        logits = model(xb)
        loss = loss_fn(logits, yb) + L2 * sum((k * k).sum() for k in kernels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        count += len(idx)
    return total / max(count, 1)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(THREADS)
    gen = torch.Generator().manual_seed(1)
    x = 2.0 * torch.rand(N_SAMPLES, IN_DIM, generator=gen)   # post-ReLU features are >= 0
    y = torch.randint(0, CLASSES, (N_SAMPLES,), generator=gen)
    model, kernels, opt = build()
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    run_epoch(model, kernels, opt, loss_fn, x, y, WARMUP_STEPS)
    t0 = time.perf_counter()
    loss = 0.0
    for _ in range(epochs):
        loss = run_epoch(model, kernels, opt, loss_fn, x, y, N_SAMPLES)
    per_epoch = (time.perf_counter() - t0) / epochs
    print(f"torch_head: {epochs} epoch(s), last epoch loss {loss:.4f}", file=sys.stderr)
    print(f"head_epoch_seconds {per_epoch:.4f}")


if __name__ == "__main__":
    main()
