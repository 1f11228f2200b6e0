#!/usr/bin/env python3
"""gen_optim.py — the optimizers' updates in PyTorch, for tests/unit/test_diff_optim.c.

Writes tests/diff/optim.txt: for each case, an optimizer with its settings as nn names them,
4 float32 params, and 6 steps, each with the gradient given and the params torch.optim leaves
(float32, 9 significant digits, so the bits are exact). Settings are the decimals a script
would write (0.999, not the float32 0.99900001): PyTorch holds them as doubles.

Run with Debian's python3-torch:  /usr/bin/python3 tests/diff/gen_optim.py > tests/diff/optim.txt

Format, one item per line:
    case NAME
    optim KIND NAME=VALUE ...       (nn's argument names; nesterov=1 for a flag)
    w V V V V                       (the params before the first step)
    step G G G G                    (a step's gradient)
    after V V V V                   (the params after it)
    state NAME V V V V              (each state buffer after it, in nn's order: exp_avg and
                                     exp_avg_sq; square_avg and momentum_buffer; momentum_buffer)
    ... (step, after and state, 6 times)
    end
"""
import torch

CASES = [
    ("adam_default", "adam", {"lr": 0.1}),
    ("adam_betas_wd", "adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.01}),
    ("adamw", "adamw", {"lr": 0.05, "weight_decay": 0.1}),
    ("rmsprop_default", "rmsprop", {"lr": 0.01}),
    ("rmsprop_momentum_wd", "rmsprop", {"lr": 0.003, "momentum": 0.9, "alpha": 0.9, "eps": 1e-7, "weight_decay": 0.1}),
    ("sgd_momentum_dampening", "sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}),
    ("sgd_nesterov_wd", "sgd", {"lr": 0.07, "momentum": 0.95, "nesterov": 1, "weight_decay": 0.01}),
    ("sgd_wd", "sgd", {"lr": 0.3, "weight_decay": 0.001}),
]


STATE = {"adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq"),
         "rmsprop": ("square_avg", "momentum_buffer"), "sgd": ("momentum_buffer",)}


def make(kind, params, args):
    a = dict(args)
    if kind == "sgd":
        a["nesterov"] = bool(a.get("nesterov", 0))
        return torch.optim.SGD(params, **a)
    if kind in ("adam", "adamw"):
        b1, b2 = a.pop("beta1", 0.9), a.pop("beta2", 0.999)
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return cls(params, betas=(b1, b2), **a)
    return torch.optim.RMSprop(params, **a)


def row(word, t):
    return word + " " + " ".join("%.9g" % v for v in t.tolist())


def main():
    print("# written by tests/diff/gen_optim.py with torch %s; see its opening comment" % torch.__version__)
    gen = torch.Generator().manual_seed(7)
    for name, kind, args in CASES:
        w = torch.randn(4, generator=gen, dtype=torch.float32)
        p = torch.nn.Parameter(w.clone())
        opt = make(kind, [p], args)
        print("case " + name)
        print("optim " + kind + " " + " ".join("%s=%r" % kv for kv in args.items()))
        print(row("w", p.detach()))
        for _ in range(6):
            g = torch.randn(4, generator=gen, dtype=torch.float32) * 0.5
            p.grad = g.clone()
            opt.step()
            print(row("step", g))
            print(row("after", p.detach()))
            st = opt.state[p]
            for key in STATE[kind]:
                if key in st and st[key] is not None:
                    print(row("state " + key, st[key]))
        print("end")


if __name__ == "__main__":
    main()
