"""Makes optimizer_steps.json: torch.optim's SGD (Nesterov, weight decay), Adam (weight decay) and
AdamW (parameter groups: no decay on 1-D tensors, one frozen tensor, global-norm clipping) over 20
steps on small tensors, with the gradients of every step stored so the Swift side applies the same.

    python3 Tests/Fixtures/optim/make_fixtures.py   # torch 2.13.0+cpu
"""
import json, os
import torch

torch.manual_seed(0)
shapes = {"conv.weight": [4, 3, 2], "conv.bias": [4], "fc.weight": [3, 5], "norm.weight": [5]}
steps = 20


def case(name, make, lr_of_step, frozen=(), clip=None, no_decay_1d=False):
    params = {k: torch.randn(s) for k, s in shapes.items()}
    initial = {k: v.flatten().tolist() for k, v in params.items()}
    grads = [{k: (torch.randn(s) * (1 + t % 3)).flatten().tolist() for k, s in shapes.items()} for t in range(steps)]
    tensors = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    for k in frozen:
        tensors[k].requires_grad_(False)
    opt = make(tensors)
    for t in range(steps):
        for k, p in tensors.items():
            p.grad = None if k in frozen else torch.tensor(grads[t][k]).reshape(shapes[k])
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([p for k, p in tensors.items() if k not in frozen], clip)
        for g in opt.param_groups:
            g["lr"] = lr_of_step(t)
        opt.step()
    return {"name": name, "shapes": shapes, "initial": initial, "gradients": grads,
            "learning_rates": [lr_of_step(t) for t in range(steps)],
            "final": {k: v.detach().flatten().tolist() for k, v in tensors.items()},
            "frozen": list(frozen), "clip": clip, "no_decay_1d": no_decay_1d}


def groups(tensors, wd, frozen=()):
    decay = [p for k, p in tensors.items() if p.ndim > 1 and k not in frozen]
    no_decay = [p for k, p in tensors.items() if p.ndim <= 1 and k not in frozen]
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


cases = [
    case("sgd-nesterov-decay",
         lambda ts: torch.optim.SGD(ts.values(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
         lambda t: 0.1 * (0.5 + 0.5 * torch.cos(torch.tensor(3.14159265 * t / 20)).item())),
    case("adam-decay",
         lambda ts: torch.optim.Adam(ts.values(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-3),
         lambda t: 1e-2),
    case("adamw-groups-clip",
         lambda ts: torch.optim.AdamW(groups(ts, 0.05, frozen=("norm.weight",)), lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
         lambda t: 1e-3 * min(1.0, (t + 1) / 5), frozen=("norm.weight",), clip=1.0, no_decay_1d=True),
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizer_steps.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "steps": steps, "cases": cases}, f)
print("wrote", out)
