#!/usr/bin/env python3
"""gen_schedules.py — writes schedules.txt: PyTorch's learning rates (and cycled momenta), step
by step, for tests/unit/test_diff_schedules.c to compare nn's closed forms with.

Regenerate with a Python 3 that has PyTorch (here Debian's /usr/bin/python3 with torch 1.13; the
test suite itself needs no PyTorch), from the repository root:

    /usr/bin/python3 tests/diff/gen_schedules.py > tests/diff/schedules.txt

For every case it builds the torch.optim.lr_scheduler equivalent of an nn schedule on an
optimizer over one dummy parameter, and records optimizer.param_groups[0]['lr'] (and, for
one_cycle with cycle_momentum, the group's 'momentum' or betas[0]) at t = 0, 1, ..., calling
optimizer.step() and scheduler.step() after each, as a training loop does. Arguments an nn case
leaves out are left out of the PyTorch call too, so the defaults in optim.c's table are checked
against PyTorch's (except where PyTorch's default is not nn's: LinearLR's total_iters and
OneCycleLR's max_lr, which nn takes from the run). `A then B` is SequentialLR with A's `over`
as its milestone, A built with that horizon and B with total - milestone.

The output format, one case after another:
    case NAME
    base LR                     the optimizer's lr
    total N                     the horizon: T_max, total_iters, total_steps
    schedule KIND [ARG=VALUE ...] [then KIND [ARG=VALUE ...]]    in nn's words
    lr V0 V1 ...                the rate at t = 0, 1, ...
    momentum V0 V1 ...          only when the schedule cycles the momentum
    end
"""
import sys
import warnings

import torch
from torch.optim import lr_scheduler as lrs

# (name, base lr, total, steps to record, optimizer, phases); a phase is (kind, {arg: value}).
# one_cycle records exactly `total` steps: OneCycleLR refuses to go further.
CASES = [
    ("step_decay_default_gamma", 0.1, 10, 13, "sgd", [("step_decay", {"every": 3})]),
    ("step_decay", 0.05, 9, 12, "sgd", [("step_decay", {"every": 2, "gamma": 0.5})]),
    ("cosine_default", 0.1, 10, 25, "sgd", [("cosine", {})]),
    ("cosine_min", 0.05, 7, 10, "sgd", [("cosine", {"min": 0.001})]),
    ("linear_default", 0.3, 8, 11, "sgd", [("linear", {})]),
    ("linear_down", 1.0, 10, 12, "sgd", [("linear", {"start": 0.5, "end": 0.1, "over": 4})]),
    ("linear_to_zero", 0.2, 6, 8, "sgd", [("linear", {"start": 1.0, "end": 0.0})]),
    ("exponential", 0.1, 10, 13, "sgd", [("exponential", {"gamma": 0.9})]),
    ("exponential_half", 1.0, 5, 8, "sgd", [("exponential", {"gamma": 0.5})]),
    ("warmup_lambda", 0.1, 10, 12, "sgd", [("warmup", {"over": 5})]),
    ("warmup_start", 0.01, 8, 10, "sgd", [("warmup", {"over": 3, "start": 0.1})]),
    ("one_cycle_default_sgd", 0.1, 20, 20, "sgd_momentum", [("one_cycle", {})]),
    ("one_cycle_adam", 0.01, 17, 17, "adam",
     [("one_cycle", {"max_lr": 0.5, "pct": 0.25, "div": 10.0, "final_div": 100.0})]),
    ("one_cycle_no_rise", 0.1, 7, 7, "sgd", [("one_cycle", {"pct": 0.1})]),
    ("one_cycle_rmsprop", 0.02, 11, 11, "rmsprop",
     [("one_cycle", {"pct": 0.45, "base_momentum": 0.8, "max_momentum": 0.9})]),
    ("one_cycle_no_momentum", 0.1, 12, 12, "sgd_momentum",
     [("one_cycle", {"cycle_momentum": 0, "base_momentum": 0.8})]),
    ("one_cycle_one_step", 0.1, 1, 1, "sgd_momentum", [("one_cycle", {})]),
    ("warmup_then_cosine", 0.1, 20, 22, "sgd", [("warmup", {"over": 5}), ("cosine", {})]),
    ("warmup_start_then_cosine_min", 0.1, 15, 17, "sgd",
     [("warmup", {"over": 3, "start": 0.1}), ("cosine", {"min": 0.001})]),
    ("linear_then_exponential", 0.05, 12, 14, "sgd",
     [("linear", {"start": 0.2, "over": 4}), ("exponential", {"gamma": 0.9})]),
    ("warmup_then_step_decay", 0.1, 16, 18, "sgd",
     [("warmup", {"over": 4}), ("step_decay", {"every": 3, "gamma": 0.5})]),
    ("linear_then_linear", 0.1, 10, 12, "sgd",
     [("linear", {"start": 0.5, "end": 1.0, "over": 3}), ("linear", {"start": 1.0, "end": 0.1})]),
    # B starts below where A ends, so the switch itself is seen
    ("warmup_then_linear_drop", 0.1, 10, 12, "sgd",
     [("warmup", {"over": 3, "start": 0.2}), ("linear", {"start": 0.5, "end": 0.1})]),
]


def make_optimizer(name, base):
    p = torch.nn.Parameter(torch.zeros(1))
    if name == "sgd":
        return torch.optim.SGD([p], lr=base)
    if name == "sgd_momentum":
        return torch.optim.SGD([p], lr=base, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam([p], lr=base)
    if name == "rmsprop":
        return torch.optim.RMSprop([p], lr=base)
    raise ValueError(name)


def pick(args, names):
    """The nn arguments given, renamed to PyTorch's keywords."""
    return {torch_name: args[nn_name] for nn_name, torch_name in names.items() if nn_name in args}


def make_phase(opt, kind, args, horizon, base):
    """The PyTorch scheduler for one nn schedule with the given horizon."""
    if kind == "step_decay":
        return lrs.StepLR(opt, step_size=args["every"], **pick(args, {"gamma": "gamma"}))
    if kind == "cosine":
        return lrs.CosineAnnealingLR(opt, T_max=horizon, **pick(args, {"min": "eta_min"}))
    if kind == "linear":
        return lrs.LinearLR(opt, total_iters=args.get("over", horizon),
                            **pick(args, {"start": "start_factor", "end": "end_factor"}))
    if kind == "exponential":
        return lrs.ExponentialLR(opt, gamma=args["gamma"])
    if kind == "warmup":
        over, start = args["over"], args.get("start", 0.0)
        if start == 0.0:    # Hugging Face's constant schedule with warm-up
            return lrs.LambdaLR(opt, lambda t: min(1.0, t / over))
        return lrs.LinearLR(opt, start_factor=start, end_factor=1.0, total_iters=over)
    if kind == "one_cycle":
        extra = pick(args, {"pct": "pct_start", "div": "div_factor",
                            "final_div": "final_div_factor", "base_momentum": "base_momentum",
                            "max_momentum": "max_momentum"})
        if "cycle_momentum" in args:
            extra["cycle_momentum"] = bool(args["cycle_momentum"])
        return lrs.OneCycleLR(opt, max_lr=args.get("max_lr", base), total_steps=horizon,
                              anneal_strategy="cos", three_phase=False, **extra)
    raise ValueError(kind)


def make_schedule(opt, phases, total, base):
    if len(phases) == 1:
        kind, args = phases[0]
        return make_phase(opt, kind, args, total, base)
    (kind_a, args_a), (kind_b, args_b) = phases
    milestone = args_a["over"]
    first = make_phase(opt, kind_a, args_a, milestone, base)
    second = make_phase(opt, kind_b, args_b, total - milestone, base)
    return lrs.SequentialLR(opt, [first, second], milestones=[milestone])


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def schedule_words(phases):
    words = []
    for i, (kind, args) in enumerate(phases):
        words += (["then"] if i else []) + [kind]
        words += ["%s=%r" % (name, value) for name, value in args.items()]
    return " ".join(words)


def write_case(out, name, base, total, steps, optimizer, phases):
    opt = make_optimizer(optimizer, base)
    sched = make_schedule(opt, phases, total, base)
    cycles = any(k == "one_cycle" and a.get("cycle_momentum", 1) for k, a in phases)
    lr, mom = [], []
    for _ in range(steps):
        group = opt.param_groups[0]
        lr.append(group["lr"])
        mom.append(momentum_of(group))
        opt.step()
        sched.step()
    out.write("case %s\nbase %r\ntotal %d\nschedule %s\n" % (name, base, total,
                                                             schedule_words(phases)))
    out.write("lr %s\n" % " ".join(repr(v) for v in lr))
    if cycles:
        out.write("momentum %s\n" % " ".join(repr(v) for v in mom))
    out.write("end\n")


def main():
    warnings.simplefilter("ignore")     # SequentialLR's step(0) is "deprecated"
    out = sys.stdout
    out.write("# schedules.txt: PyTorch %s's learning rates for test_diff_schedules.c.\n"
              "# Generated by tests/diff/gen_schedules.py (see there); do not edit.\n"
              % torch.__version__)
    for case in CASES:
        write_case(out, *case)


if __name__ == "__main__":
    main()
