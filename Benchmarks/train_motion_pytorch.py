"""PyTorch's side of the training comparison on the embedded synthetic "motion" dataset.

Trains a width-scaled (default 1/8) torchvision-style R3D-18, or torchvision's MViT-B (mvit_v1_b's
16 blocks at d0 = round(96 x width)), from scratch the way `vipbench train` does (random crop
crop x crop window, no resize, no flip; (x/255 - 0.45)/0.225 RGB or flow as stored; SGD + Nesterov
or AdamW, linear warm-up then cosine per step; validation on the centre crop of the middle clip of
every validation video) and prints validation top-1 and training clips/s.

    python3 Benchmarks/train_motion_pytorch.py --data data/motion --epochs 60 --seed 0 --json
    python3 Benchmarks/train_motion_pytorch.py --data data/motion --modality flow --flow data/motion-flow --json
    python3 Benchmarks/train_motion_pytorch.py --data data/motion --model mvit-b --width 0.1667 --clip 8x5 \
        --optimizer adamw --lr 1e-3 --weight-decay 0.05 --warmup 3 --label-smoothing 0.1 --clip-grad 1 --epochs 30

The MViT needs torchvision (its MViT class, none of its compiled ops).

Needs torch, numpy and the ffmpeg command (every video is decoded once at startup and kept in
memory). RGB frames are resized with the short side at --short-side, the long side rounded to the
nearest integer (half away from zero, as vipbench), with swscale's bicubic filter as vipbench's
FrameConverter (--scale-flags to change). Flow (`vipbench flow extract`) is read from
DIR/<split>/<videoid>.mkv: 8-bit grey frames W x 2H, x above y, value q / 255 x 2 - 1, at the
extracted size. train_clips_per_s counts training clips over the time spent in training steps
(forward, backward, optimiser step); decoding, batch assembly and validation are not counted.
The first step (one-off kernel set-up, 0.2 to 2.5 s on a 2-core machine) is also reported on its
own, with the rate without it.
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.45, 0.225


# ---------------------------------------------------------------- data

def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_split(root, split, classes, limit):
    rows = read_rows(os.path.join(root, "annotations", f"motion-{split}.csv"))
    items = [(r["videoid"], r["split"], classes[r["label"]]) for r in rows]
    return items[:limit] if limit else items


def swift_round(x):
    """Swift's Double.rounded(): to nearest, halves away from zero (x >= 0 here)."""
    return int(math.floor(x + 0.5))


def probe_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", path], check=True, capture_output=True, text=True).stdout
    w, h = out.strip().splitlines()[0].split(",")[:2]
    return int(w), int(h)


def decode_rgb(path, short_side, flags):
    """All frames, T x H x W x 3 uint8, short side resized to short_side (vipbench's FrameSize.shortSide)."""
    w, h = probe_size(path)
    if w <= h:
        tw, th = short_side, swift_round(h * short_side / w)
    else:
        tw, th = swift_round(w * short_side / h), short_side
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", f"scale={tw}:{th}:flags={flags}",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    n = len(raw) // (tw * th * 3)
    if n == 0:
        raise RuntimeError(f"{path}: no frame decodes")
    return np.frombuffer(raw, np.uint8, count=n * th * tw * 3).reshape(n, th, tw, 3)


def decode_flow(base):
    """All flow frames, T x H x W x 2 uint8 (x, y), from base.mkv (W x 2H grey, x above y) and base.json."""
    with open(base + ".json") as f:
        record = json.load(f)
    w, h = record["width"], record["height"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", base + ".mkv", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True).stdout
    n = len(raw) // (w * 2 * h)
    if n * w * 2 * h != len(raw) or n != record["flowFrames"]:
        raise RuntimeError(f"{base}.mkv: {len(raw)} bytes, the record says {record['flowFrames']} frames of {w}x{2 * h}")
    planes = np.frombuffer(raw, np.uint8).reshape(n, 2 * h, w)
    return np.ascontiguousarray(np.stack([planes[:, :h], planes[:, h:]], axis=-1))


def clip_indices(start, n, frames, skip):
    return [(start + i * skip) % n for i in range(frames)]  # "loop" past the end


class Clips:
    """Decoded videos of one split and the clips cut from them (N x C x T x H x W float32)."""

    def __init__(self, videos, labels, modality, frames, skip, crop):
        self.videos, self.labels = videos, np.asarray(labels, np.int64)
        self.modality, self.frames, self.skip, self.crop = modality, frames, skip, crop
        self.span = (frames - 1) * skip + 1
        for v in videos:
            if v.shape[1] < crop or v.shape[2] < crop:
                raise SystemExit(f"frames of {v.shape[2]}x{v.shape[1]} are smaller than the {crop} crop")

    def __len__(self):
        return len(self.videos)

    def _tensor(self, pieces):
        x = torch.from_numpy(np.stack(pieces)).float()  # B x T x H x W x C
        x = x.permute(0, 4, 1, 2, 3).contiguous()
        if self.modality == "rgb":
            return (x / 255 - MEAN) / STD
        return x / 255 * 2 - 1

    def train_batch(self, idx, rng):
        pieces = []
        for i in idx:
            v = self.videos[i]
            n, h, w = v.shape[:3]
            start = int(rng.integers(0, max(n - self.span, 0) + 1))
            y0 = int(rng.integers(0, h - self.crop + 1))
            x0 = int(rng.integers(0, w - self.crop + 1))
            pieces.append(v[clip_indices(start, n, self.frames, self.skip), y0:y0 + self.crop, x0:x0 + self.crop])
        return self._tensor(pieces), torch.from_numpy(self.labels[idx])

    def val_batch(self, idx):
        pieces = []
        for i in idx:
            v = self.videos[i]
            n, h, w = v.shape[:3]
            start = max(n - self.span, 0) // 2
            y0, x0 = (h - self.crop + 1) // 2, (w - self.crop + 1) // 2  # ceil((L - crop) / 2)
            pieces.append(v[clip_indices(start, n, self.frames, self.skip), y0:y0 + self.crop, x0:x0 + self.crop])
        return self._tensor(pieces), torch.from_numpy(self.labels[idx])


# ---------------------------------------------------------------- model (torchvision's VideoResNet, scaled)

def conv3x3x3(cin, cout, stride=1):  # torchvision's Conv3DSimple
    return nn.Conv3d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Sequential(conv3x3x3(inplanes, planes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv3x3x3(planes, planes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + residual)


class R3D18(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, width=1.0, layers=(2, 2, 2, 2)):
        super().__init__()
        widths = [max(1, swift_round(c * width)) for c in (64, 128, 256, 512)]
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, widths[0], kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(widths[0]), nn.ReLU(inplace=True))
        self.inplanes = widths[0]
        self.layer1 = self._make_layer(widths[0], layers[0], 1)
        self.layer2 = self._make_layer(widths[1], layers[1], 2)
        self.layer3 = self._make_layer(widths[2], layers[2], 2)
        self.layer4 = self._make_layer(widths[3], layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(widths[3] * BasicBlock.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * BasicBlock.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm3d(planes * BasicBlock.expansion))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * BasicBlock.expansion
        layers += [BasicBlock(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(self.avgpool(x).flatten(1))


# ---------------------------------------------------------------- training

def torchvision_video():
    """torchvision.models.video, also where torchvision's compiled ops do not load (a CUDA
    torchvision wheel beside a CPU torch): the video models need none of them, so the module that
    registers them is left out."""
    try:
        import torchvision.models.video as video
    except (ImportError, RuntimeError):
        import types
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torchvision.models.video as video
    return video


def mvit(classes, in_channels, width, frames, crop):
    """torchvision's MViT with mvit_v1_b's blocks at d0 = round(96 x width), as vipbench's `MViT`."""
    torchvision_video()
    from torchvision.models.video.mvit import MSBlockConfig, MViT
    d0 = max(1, swift_round(96 * width))
    heads = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
    in_mult = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
    out_mult = [2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8]
    blocks = []
    for i in range(16):
        q = [1, 2, 2] if i in (1, 3, 14) else []
        kv = [1, 8, 8] if i == 0 else [1, 4, 4] if i < 3 else [1, 2, 2] if i < 14 else [1, 1, 1]
        blocks.append(MSBlockConfig(num_heads=heads[i], input_channels=d0 * in_mult[i], output_channels=d0 * out_mult[i],
                                    kernel_q=[3, 3, 3] if q else [], kernel_kv=[3, 3, 3], stride_q=q, stride_kv=kv))
    model = MViT(spatial_size=(crop, crop), temporal_size=frames, block_setting=blocks, residual_pool=False,
                 residual_with_cls_embed=False, rel_pos_embed=False, proj_after_attn=False,
                 stochastic_depth_prob=0.2, num_classes=classes)
    if in_channels != 3:
        old = model.conv_proj
        model.conv_proj = nn.Conv3d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding)
    return model


def evaluate(model, data, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(data), batch):
            x, y = data.val_batch(np.arange(s, min(s + batch, len(data))))
            correct += (model(x).argmax(1) == y).sum().item()
    model.train()
    return correct / len(data)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset dir (annotations/, train/, val/)")
    p.add_argument("--modality", choices=["rgb", "flow"], default="rgb")
    p.add_argument("--flow", help="extracted flow dir (<split>/<videoid>.mkv + .json), for --modality flow")
    p.add_argument("--clip", default="8x4", help="FRAMESxSKIP")
    p.add_argument("--short-side", type=int, default=40)
    p.add_argument("--scale-flags", default="bicubic", help="ffmpeg scale filter flags (vipbench: bicubic)")
    p.add_argument("--crop", type=int, default=32)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--model", choices=["r3d18", "mvit-b"], default="r3d18")
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="sgd: Nesterov momentum 0.9")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=5e-4, help="adamw: none on 1-D tensors (the MViT recipe)")
    p.add_argument("--warmup", type=float, default=0, help="linear warm-up epochs from 0 before the cosine")
    p.add_argument("--label-smoothing", type=float, default=0)
    p.add_argument("--clip-grad", type=float, help="clip gradients to this global L2 norm")
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--validate-every", type=int, default=0, help="validate every N epochs (and after the last); 0: only at the end")
    p.add_argument("--limit", type=int, help="first N videos of each split (quick checks)")
    p.add_argument("--json", action="store_true", help="print a JSON summary line at the end")
    a = p.parse_args()
    if a.modality == "flow" and not a.flow:
        p.error("--modality flow needs --flow DIR")
    frames, skip = (int(v) for v in a.clip.lower().split("x"))

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    random.seed(a.seed)
    rng = np.random.default_rng(a.seed)

    classes = {r["label"]: int(r["idx"]) - 1 for r in read_rows(os.path.join(a.data, "annotations", "clsIdx.csv"))}
    splits = {s: load_split(a.data, s, classes, a.limit) for s in ("train", "val")}

    def decode(item):
        vid, split, _ = item
        if a.modality == "flow":
            return decode_flow(os.path.join(a.flow, split, vid))
        return decode_rgb(os.path.join(a.data, split, vid + ".mp4"), a.short_side, a.scale_flags)

    t0 = time.perf_counter()
    data = {}
    with ThreadPoolExecutor(max(1, a.threads)) as pool:
        for s, items in splits.items():
            data[s] = Clips(list(pool.map(decode, items)), [i[2] for i in items], a.modality, frames, skip, a.crop)
    v = data["train"].videos[0]
    print(f"decoded {len(data['train'])} train + {len(data['val'])} val videos ({a.modality}, {v.shape[2]}x{v.shape[1]}, "
          f"{v.shape[0]} frames in the first) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    in_channels = 3 if a.modality == "rgb" else 2
    if a.model == "mvit-b":
        model = mvit(len(classes), in_channels, a.width, frames, a.crop)
    else:
        model = R3D18(in_channels=in_channels, num_classes=len(classes), width=a.width)
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.weight_decay)
    else:
        decay = [t for t in model.parameters() if t.dim() > 1]
        no_decay = [t for t in model.parameters() if t.dim() <= 1]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                                 {"params": no_decay, "weight_decay": 0}], lr=a.lr)
    n_train = len(data["train"])
    steps_per_epoch = math.ceil(n_train / a.batch)
    total, warm = a.epochs * steps_per_epoch, round(a.warmup * steps_per_epoch)

    def rate(step):  # linear warm-up from 0, then a cosine to 0 over the remaining steps (per step)
        if step < warm:
            return step / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)

    step_seconds, clips, best, top1 = 0.0, 0, None, None
    first_step_seconds, first_clips = None, 0  # the first step carries one-off kernel set-up
    wall0 = time.perf_counter()
    model.train()
    for epoch in range(a.epochs):
        order = rng.permutation(n_train)
        loss_sum = 0.0
        for s in range(0, n_train, a.batch):
            x, y = data["train"].train_batch(order[s:s + a.batch], rng)
            t = time.perf_counter()
            loss = F.cross_entropy(model(x), y, label_smoothing=a.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip_grad)
            opt.step()
            dt = time.perf_counter() - t
            step_seconds += dt
            if first_step_seconds is None:
                first_step_seconds, first_clips = dt, len(y)
            sched.step()
            clips += len(y)
            loss_sum += loss.item() * len(y)
        last = epoch + 1 == a.epochs
        if last or (a.validate_every > 0 and (epoch + 1) % a.validate_every == 0):
            top1 = evaluate(model, data["val"], a.batch)
            best = top1 if best is None else max(best, top1)
            print(f"epoch {epoch + 1}/{a.epochs}  loss {loss_sum / n_train:.4f}  val top-1 {100 * top1:.1f} %  "
                  f"({clips / step_seconds:.1f} clips/s in steps)", flush=True)

    if a.json:
        print(json.dumps({
            "framework": "pytorch", "torch": torch.__version__, "model": a.model, "modality": a.modality, "seed": a.seed,
            "epochs": a.epochs, "clip": a.clip, "short_side": a.short_side, "crop": a.crop, "batch": a.batch,
            "optimizer": a.optimizer, "lr": a.lr, "weight_decay": a.weight_decay, "warmup": a.warmup, "width": a.width, "threads": a.threads,
            "train_videos": n_train, "val_videos": len(data["val"]),
            "val_top1": top1, "best_val_top1": best,
            "train_clips_per_s": clips / step_seconds if step_seconds > 0 else None,
            "train_seconds": step_seconds,
            "first_step_seconds": first_step_seconds,
            "train_clips_per_s_after_first_step": (clips - first_clips) / (step_seconds - first_step_seconds)
            if step_seconds > first_step_seconds and clips > first_clips else None,
            "wall_seconds": time.perf_counter() - wall0,
        }), flush=True)


if __name__ == "__main__":
    main()
