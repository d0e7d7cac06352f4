"""Peak resident memory and time of a paper-size R3D-18 training step in PyTorch (3x16x112x112,
batch 4, 2 threads, SGD), to set beside `vipbench bench model r3d18 --train --batch 4`.

    python3 Benchmarks/pytorch_train_memory.py [--batch 4] [--accumulate 1]
Uses the R3D-18 of train_motion_pytorch.py (torchvision's layout) at width 1, 400 classes.
"""
import argparse, json, os, resource, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_motion_pytorch import R3D18  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=4)
p.add_argument("--accumulate", type=int, default=1)
p.add_argument("--steps", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
model = R3D18(3, 400, 1.0)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
micro = a.batch // a.accumulate
x = torch.randn(micro, 3, 16, 112, 112)
y = torch.arange(micro) % 400
times = []
for s in range(a.steps + 1):
    t0 = time.perf_counter()
    opt.zero_grad()
    for _ in range(a.accumulate):
        (torch.nn.functional.cross_entropy(model(x), y) / a.accumulate).backward()
    opt.step()
    if s > 0:
        times.append(time.perf_counter() - t0)
print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "batch": a.batch, "accumulate": a.accumulate,
                  "seconds_per_step": sorted(times)[len(times) // 2],
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
