"""Builds the out-of-distribution tables of scripts/ood-bench.sh from the MNIST idx files (standard library only).

Writes into OUT_DIR:
  train04.csv      MNIST training images of digits 0-4, for prepare (label, then 784 pixels; no header)
  test04.csv       MNIST test images of digits 0-4, for prepare's test split (same layout)
  in.csv           the first N test images of digits 0-4: the in-distribution table (header id,g,p0..p783)
  heldout.csv      the first N test images of digits 5-9
  flipped.csv      the in-distribution images mirrored left-right
  empty.csv        near-empty images: 1-3 random strokes of 3-8 pixels on black
  noise.csv        uniform noise, every pixel 0..255
  digits8.csv      the sklearn 8x8 digits (0..16) upsampled 3x to 24x24, scaled to 0..255, padded to 28x28
                   (only when SKLEARN_DIGITS names digits.csv.gz)
g = id // GROUP: the batches of the typicality score.
"""
import csv
import gzip
import os
import random
import sys

RAW, OUT, N, GROUP = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
DIGITS = os.environ.get("SKLEARN_DIGITS", "")


def idx(path):
    data = open(path, "rb").read()
    if data[2] == 8 and data[3] == 3:
        n, rows, cols = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
        return [list(data[16 + rows * cols * i:16 + rows * cols * (i + 1)]) for i in range(n)]
    n = int.from_bytes(data[4:8], "big")
    return list(data[8:8 + n])


def write_prepare(name, images, labels):
    with open(os.path.join(OUT, name), "w", newline="") as f:
        w = csv.writer(f)
        for x, y in zip(images, labels):
            if y <= 4:
                w.writerow([y] + x)


def write_table(name, images):
    with open(os.path.join(OUT, name), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "g"] + ["p%d" % d for d in range(784)])
        for i, x in enumerate(images):
            w.writerow([i, i // GROUP] + x)


def strokes(rng):
    img = [0] * 784
    for _ in range(rng.randint(1, 3)):
        r, c = rng.randrange(28), rng.randrange(28)
        dr, dc = rng.choice([(0, 1), (1, 0), (1, 1), (1, -1)])
        for _ in range(rng.randint(3, 8)):
            if 0 <= r < 28 and 0 <= c < 28:
                img[r * 28 + c] = 255
            r, c = r + dr, c + dc
    return img


def upsampled(row):
    img = [0] * 784
    for r in range(24):
        for c in range(24):
            img[(r + 2) * 28 + c + 2] = round(row[(r // 3) * 8 + c // 3] * 255 / 16)
    return img


os.makedirs(OUT, exist_ok=True)
train_x, train_y = idx(f"{RAW}/train-images-idx3-ubyte"), idx(f"{RAW}/train-labels-idx1-ubyte")
test_x, test_y = idx(f"{RAW}/t10k-images-idx3-ubyte"), idx(f"{RAW}/t10k-labels-idx1-ubyte")
write_prepare("train04.csv", train_x, train_y)
write_prepare("test04.csv", test_x, test_y)
inside = [x for x, y in zip(test_x, test_y) if y <= 4][:N]
write_table("in.csv", inside)
write_table("heldout.csv", [x for x, y in zip(test_x, test_y) if y >= 5][:N])
write_table("flipped.csv", [[x[r * 28 + 27 - c] for r in range(28) for c in range(28)] for x in inside])
rng = random.Random(1)
write_table("empty.csv", [strokes(rng) for _ in range(N)])
write_table("noise.csv", [[rng.randrange(256) for _ in range(784)] for _ in range(N)])
if DIGITS:
    with gzip.open(DIGITS, "rt") as f:
        rows = [[float(v) for v in line.split(",")[:64]] for line in f if line.strip()]
    write_table("digits8.csv", [upsampled(r) for r in rows[:N]])
