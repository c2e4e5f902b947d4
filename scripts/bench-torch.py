#!/usr/bin/python3
"""The PyTorch peer for scripts/bench.sh: the same MADE 784-500-784 (one mask, natural ordering), Adam, batch 100,
on the same rows, exported by bench.sh as raw uint8 bytes (rows x 784), and torch's fp32 matrix multiply.
Usage: bench-torch.py ROWS_FILE THREADS [LEARNING_RATE]. Prints BENCH lines."""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from torch_made import made  # noqa: E402

rows_path, threads = sys.argv[1], int(sys.argv[2])
learning_rate = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
torch.set_num_threads(threads)
torch.manual_seed(1)


def median(v):
    return sorted(v)[len(v) // 2]


for n in (1024, 2048):
    a, b, c = torch.rand(n, n), torch.rand(n, n), torch.empty(n, n)
    reps = 2 if n >= 2048 else 5
    rates = []
    for i in range(9):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=c)
        if i >= 2:
            rates.append(reps * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    print("BENCH torch_gemm_fp32_%d %.1f GFLOP/s" % (n, median(rates)))

x_all = torch.from_numpy(np.fromfile(rows_path, dtype=np.uint8).reshape(-1, 784).astype(np.float32))
D, H = 784, 500
params, logits = made(D, H, torch.arange(D))
opt = torch.optim.Adam(params, lr=learning_rate)

rates = []
for epoch in range(3):
    t0 = time.perf_counter()
    n = 0
    for i in range(0, x_all.shape[0] - 99, 100):
        x = x_all[i:i + 100]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(x), x, reduction="sum") / x.shape[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += x.shape[0]
    rates.append(n / (time.perf_counter() - t0))
print("BENCH torch_train %.1f examples/s" % median(rates[1:]))
with torch.no_grad():
    scored = []
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(0, x_all.shape[0], 1000):
            x = x_all[i:i + 1000]
            z = logits(x)
            (x * z - torch.nn.functional.softplus(z)).sum(1)
        scored.append(x_all.shape[0] / (time.perf_counter() - t0))
print("BENCH torch_score %.1f rows/s" % median(scored))
