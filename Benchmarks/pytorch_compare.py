"""vipbench's models against PyTorch's, measured in the same run, one model after the other.

    python Benchmarks/pytorch_compare.py .build/release/vipbench [MODEL ...]
(naming models, e.g. `mvit-b r3d50`, runs only their rows)
Needs torch and torchvision (used: torch 2.13.0+cpu, torchvision 0.28.0; torch 2.15.0, torchvision 0.29.2). Both sides use 2
threads, batch 1 inference unless noted, medians over at least 2 seconds after a warm-up, and
random inputs. Prints one line per model and a JSON summary. Models PyTorch has no definition of
(r3d18-tclr, r3d50-hara, i3d) are measured on vipbench's side only. Rows marked onednn-bf16 run
vipbench's fast mode (BF16 multiplies) against PyTorch's FP32; the width-1/8 and width-1/4 rows
are the scaled profiles' training shapes (the smallest and the largest), and the MViT-B at
3x8x32x32 (d0 = 16) is the mini profile's row 1.
"""
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_motion_pytorch import R3D18, mvit, torchvision_video  # noqa: E402

torchvision_video()
from torchvision.models.video import mvit_v1_b, r3d_18  # noqa: E402
from torchvision.models.video.resnet import BasicStem, Bottleneck, Conv3DSimple, VideoResNet  # noqa: E402

torch.set_num_threads(2)


def r3d50_torchvision_style():
    return VideoResNet(block=Bottleneck, conv_makers=[Conv3DSimple] * 4, layers=[3, 4, 6, 3], stem=BasicStem)


CASES = [  # (vipbench name, input CxTxHxW, batch, train, torch constructor or None, width, convolution backend)
    ("r3d18", "3x16x112x112", 1, False, r3d_18, 1.0, "onednn"),
    ("r3d18", "3x16x112x112", 4, True, r3d_18, 1.0, "onednn"),
    ("r3d18", "3x8x32x32", 16, True, lambda: R3D18(3, 400, 0.125), 0.125, "onednn"),
    ("r3d18", "3x16x64x64", 16, True, lambda: R3D18(3, 400, 0.25), 0.25, "onednn"),
    ("mvit-b", "3x8x32x32", 16, True, lambda: mvit(400, 3, 16 / 96, 8, 32), 16 / 96, "onednn"),
    ("r3d18-tclr", "3x16x112x112", 1, False, None, 1.0, "onednn"),
    ("r3d50", "3x16x224x224", 1, False, r3d50_torchvision_style, 1.0, "onednn"),
    ("r3d50-hara", "3x16x224x224", 1, False, None, 1.0, "onednn"),
    ("i3d", "3x16x224x224", 1, False, None, 1.0, "onednn"),
    ("mvit-b", "3x16x224x224", 1, False, mvit_v1_b, 1.0, "onednn"),
    ("r3d18", "3x16x112x112", 1, False, r3d_18, 1.0, "onednn-bf16"),
    ("r3d18", "3x16x112x112", 4, True, r3d_18, 1.0, "onednn-bf16"),
]


def time_torch(make, shape, batch, train, seconds=2.0):
    model = make()
    x = torch.randn(batch, *shape)
    if train:
        model.train()
        opt_labels = torch.arange(batch) % 400

        def step():
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), opt_labels).backward()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
    step()
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= seconds or len(times) >= 50:
            break
    times.sort()
    return times[len(times) // 2] / batch


def main(vipbench, only):
    rows = []
    for name, inp, batch, train, make, width, backend in CASES:
        if only and name not in only:
            continue
        shape = [int(v) for v in inp.split("x")]
        theirs = time_torch(make, shape, batch, train) if make else None
        args = [vipbench, "bench", "model", name, "--input", inp, "--batch", str(batch), "--threads", "2", "--json", "--no-record",
                "--width", str(width), "--convolution", backend]
        if train:
            args.append("--train")
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        ours = json.loads(out.strip().splitlines()[-1])
        row = {"model": name, "input": inp, "batch": batch, "mode": "train-step" if train else "inference",
               "width": width, "convolution": ours.get("convolution"),
               "vipbench_s_per_clip": ours["seconds_per_clip"], "pytorch_s_per_clip": theirs,
               "speed_ratio": theirs / ours["seconds_per_clip"] if theirs else None,
               "vipbench_peak_rss_mb": (ours.get("peak_rss_bytes") or 0) / 2**20,
               "gmacs_per_view": ours.get("gmacs_per_view"), "achieved_gflops": ours.get("achieved_gflops")}
        rows.append(row)
        print(f"{name:11s} {inp} b{batch} {row['mode']:10s}" + (f" width {width}" if width != 1 else "")
              + (f" {backend}" if backend != "onednn" else "") + f" vipbench {row['vipbench_s_per_clip']:.3f} s/clip"
              + (f", PyTorch {theirs:.3f} s/clip, vipbench speed / PyTorch speed {row['speed_ratio']:.2f}" if theirs else "")
              + f", peak RSS {row['vipbench_peak_rss_mb']:.0f} MB", flush=True)
    print(json.dumps({"torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main(sys.argv[1], set(sys.argv[2:]))
