"""A tiny training script for the digits-pytorch study: softmax regression on CSV data, printing its metrics.

SageMaker's PyTorch container runs it in script mode (`algorithm.entry_point` + `source_dir`): hyperparameters
arrive as `--name value` arguments, channels as SM_CHANNEL_<NAME> folders of CSV files (label first). Each epoch
prints one line the study's metric regexes read, e.g.
    epoch 3/20 train_loss=0.4132 val_loss=0.5120 val_acc=0.8312
It needs nothing beyond Python's standard library, so `python train.py` runs anywhere on a generated
data set (how README's `amt check-metrics` example log was made).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
from pathlib import Path

Row = tuple[int, list[float]]


def load(folder: str | None, seed: int, count: int) -> list[Row]:
    """The CSV rows of a channel folder, or `count` generated rows (two well-separated classes) without one."""
    if folder and Path(folder).is_dir():
        rows: list[Row] = []
        for path in sorted(Path(folder).glob("*.csv")):
            with path.open() as fh:
                rows += [(int(float(r[0])), [float(x) for x in r[1:]]) for r in csv.reader(fh) if r]
        return rows
    rng = random.Random(seed)
    return [(label, [rng.gauss(label - 0.5, 1.0) for _ in range(4)])
            for label in (rng.randrange(2) for _ in range(count))]


def probabilities(weights: list[list[float]], x: list[float]) -> list[float]:
    scores = [w[0] + sum(wi * xi for wi, xi in zip(w[1:], x, strict=True)) for w in weights]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    return [e / sum(exps) for e in exps]


def evaluate(weights: list[list[float]], rows: list[Row]) -> tuple[float, float]:
    loss = correct = 0.0
    for label, x in rows:
        p = probabilities(weights, x)
        loss -= math.log(max(p[label], 1e-12))
        correct += p.index(max(p)) == label
    return loss / len(rows), correct / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--weight-decay", "--weight_decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    args, _ = parser.parse_known_args()  # SageMaker also passes its own arguments

    train = load(os.environ.get("SM_CHANNEL_TRAIN"), args.seed, 800)
    valid = load(os.environ.get("SM_CHANNEL_VALIDATION"), args.seed + 1, 200)
    classes = max(label for label, _ in train + valid) + 1
    weights = [[0.0] * (len(train[0][1]) + 1) for _ in range(classes)]
    rng = random.Random(args.seed)
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(train)
        for label, x in train:
            p = probabilities(weights, x)
            for k, w in enumerate(weights):
                grad = p[k] - (k == label)
                w[0] -= args.lr * grad
                for i, xi in enumerate(x, start=1):
                    w[i] -= args.lr * (grad * xi + args.weight_decay * w[i])
        train_loss, _ = evaluate(weights, train)
        val_loss, val_acc = evaluate(weights, valid)
        print(f"epoch {epoch}/{args.epochs} train_loss={train_loss:.4f} val_loss={val_loss:.4f} val_acc={val_acc:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
