#!/usr/bin/python3
"""gen_train_schedules.py: what PyTorch ends with for the train blocks of train_schedules.nn
(the same params, data, batches, optimizers and torch.optim.lr_scheduler, stepped per epoch or
per update as the block says), written to train_schedules.txt: one line per case, its label and
its params' values, in the order the script prints them. tests/test_train_schedules.py runs
the script and compares. Needs torch: /usr/bin/python3 tests/diff/gen_train_schedules.py
"""
import os

import torch
from torch.optim import lr_scheduler as S

HERE = os.path.dirname(os.path.abspath(__file__))
X = torch.tensor([[1, 2], [2, -1], [0, 1], [-1, -2], [3, 0], [1, 1], [-2, 1], [0, -3]],
                 dtype=torch.float32)
Y = torch.tensor([[3], [1], [1], [-3], [3], [2], [-1], [-3]], dtype=torch.float32)


def loss_formula(make_opt, make_sched, epochs):
    """train sum((p - 0.5)^2): one update per epoch."""
    p = torch.tensor([1., -2., 3.], requires_grad=True)
    opt = make_opt([p])
    sched = make_sched(opt)
    for _ in range(epochs):
        opt.zero_grad()
        ((p - 0.5) ** 2).sum().backward()
        opt.step()
        sched.step()
    return [p]


def on_data(make_opt, make_sched, epochs, batch, accumulate, per_update):
    """train (x @ W + k) on X, Y with mse, rows in order, `accumulate` batches an update."""
    W = torch.tensor([[0.5], [-0.3]], requires_grad=True)
    k = torch.tensor(0.1, requires_grad=True)
    opt = make_opt([W, k])
    sched = make_sched(opt)
    rows = X.shape[0]
    batches = (rows + batch - 1) // batch
    for _ in range(epochs):
        for g in range(0, batches, accumulate):
            opt.zero_grad()
            group = range(g, min(g + accumulate, batches))
            n = sum(min(batch, rows - b * batch) for b in group)
            for b in group:
                x, y = X[b * batch:(b + 1) * batch], Y[b * batch:(b + 1) * batch]
                (torch.nn.functional.mse_loss(x @ W + k, y) * (len(x) / n)).backward()
            opt.step()
            if per_update:
                sched.step()
        if not per_update:
            sched.step()
    return [W, k]


def warmup_then(opt, over, then):
    return S.SequentialLR(opt, [S.LambdaLR(opt, lambda t: min(1.0, t / over)), then],
                          milestones=[over])


CASES = [
    ("one_cycle adam:", lambda: loss_formula(
        lambda p: torch.optim.Adam(p, lr=0.1),
        lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=30), 30)),
    ("warmup then cosine sgd:", lambda: loss_formula(
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda o: warmup_then(o, 5, S.CosineAnnealingLR(o, T_max=25)), 30)),
    ("formula sgd:", lambda: loss_formula(
        lambda p: torch.optim.SGD(p, lr=0.1),
        lambda o: S.LambdaLR(o, lambda e: 1 / (1 + e)), 10)),
    ("one_cycle per update, batches of 2:", lambda: on_data(
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=8 * 4), 8, 2, 1, True)),
    ("linear then exponential adamw:", lambda: on_data(
        lambda p: torch.optim.AdamW(p, lr=0.1),
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, end_factor=1,
                                                total_iters=4),
                                     S.ExponentialLR(o, gamma=0.9)], milestones=[4]),
        12, 4, 2, False)),
    ("step_decay per update rmsprop:", lambda: on_data(
        lambda p: torch.optim.RMSprop(p, lr=0.01),
        lambda o: S.StepLR(o, step_size=3, gamma=0.5), 3, 2, 1, True)),
]


def main():
    lines = ["# gen_train_schedules.py, torch %s: each case's params after training"
             % torch.__version__]
    for label, run in CASES:
        values = [v for p in run() for v in p.detach().reshape(-1).tolist()]
        lines.append(label + " " + " ".join("%.9g" % v for v in values))
    open(os.path.join(HERE, "train_schedules.txt"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
