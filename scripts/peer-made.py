#!/usr/bin/python3
"""The PyTorch peer MADE for scripts/peer-check.sh: one hidden layer, one mask (Germain et al. 2015), trained on the
rows PeerExport wrote (<dir>/train.u8, <dir>/valid.u8: rows x 784 unsigned bytes, 0/1) with the recipe given on the
command line: Adam, L2 weight decay through the optimizer (torch's Adam weight_decay, as pytorch-made), the step size
times gamma every `every` epochs, minibatches of `batch` rows reshuffled each epoch. Prints one line per epoch:
PEER epoch <n> valid <mean validation NLL in nats> train <mean training loss in nats>."""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from torch_made import made  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--hidden", type=int, default=500)
p.add_argument("--batch", type=int, default=100)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--l2", type=float, default=1e-4)
p.add_argument("--every", type=int, default=45)
p.add_argument("--gamma", type=float, default=0.1)
p.add_argument("--ordering", default="raster", help="raster or random (one permutation of --seed)")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)


def rows(split):
    return torch.from_numpy(np.fromfile(f"{a.dir}/{split}.u8", dtype=np.uint8).reshape(-1, 784).astype(np.float32))


train, valid = rows("train"), rows("valid")
D, H = train.shape[1], a.hidden
params, logits = made(D, H, torch.arange(D) if a.ordering == "raster" else torch.randperm(D))
opt = torch.optim.Adam(params, lr=a.lr, weight_decay=a.l2)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=a.every, gamma=a.gamma)


def nll(x):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits(x), x, reduction="none").sum(1)


for epoch in range(a.epochs):
    perm = torch.randperm(train.shape[0])
    total = 0.0
    for i in range(0, train.shape[0], a.batch):
        x = train[perm[i:i + a.batch]]
        loss = nll(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * x.shape[0]
    sched.step()
    with torch.no_grad():
        v = torch.cat([nll(valid[i:i + 1000]) for i in range(0, valid.shape[0], 1000)]).mean().item()
    print(f"PEER epoch {epoch + 1} valid {v:.3f} train {total / train.shape[0]:.3f}", flush=True)
