"""Makes the PyTorch parity fixtures that ModelsTests/ParityTests.swift reads.

Run once with torch and torchvision installed (used: torch 2.13.0+cpu, torchvision 0.28.0):
    python Tests/Fixtures/parity/make_parity_fixtures.py Tests/Fixtures/parity
The test suite itself needs no Python: it reads the files this writes.

- r3d18_stem_layer2.0_*.npy: torchvision r3d_18's stem, layer1 and layer2.0 (the first strided
  block, with its downsample shortcut) with weights and batch-norm statistics from
  `formula_fill` (integer hashing and exactly rounded arithmetic, so ParityTests makes the same
  Float32 values without a 4.6 MB weights file), an input 1x3x8x32x32 and the feature map after
  layer2.0 in evaluation mode. The whole network is checked once by check_full_parity.py.
- mvit_d8.*: torchvision's MViT with mvit_v1_b's 16 blocks at first dimension 8 (vipbench's mvit-b
  at width 8/96), clips 4x32x32, 5 classes, every weight random (layer norms and position
  embeddings included), an input 2x3x4x32x32 and its logits in evaluation mode.
"""
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torchvision.models.video import r3d_18
from torchvision.models.video.mvit import MSBlockConfig, MViT


def randomise(model, generator):
    """Every float tensor of the state dict random, so no weight or statistic is trivially 1 or 0."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=generator) * 0.1)
            elif name.endswith("weight") and t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
            else:
                fan_in = t[0].numel() if t.dim() > 1 else t.numel()
                t.copy_(torch.randn(t.shape, generator=generator) / fan_in ** 0.5)


def formula_fill(model, prefixes):
    """Weights from a formula both sides compute exactly: the k-th value (counting through the
    state dict in order, over the keys starting with `prefixes`) is h = (k * 2654435761 + 12345)
    mod 2^32, then u = ((h >> 8) % 2001 - 1000) / 1000 in double; conv/linear weights u / 2^s with
    2^s the power of two nearest sqrt(fan in), biases and BN biases and means u / 10, BN weights
    1 + u / 2, BN running variances 1 + u / 2 (positive). Every value rounds once, to Float32."""
    import math
    k = 0
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not name.startswith(prefixes) or not t.is_floating_point():
                continue
            n = t.numel()
            idx = torch.arange(k, k + n, dtype=torch.int64)
            h = (idx * 2654435761 + 12345) % (2 ** 32)
            u = (((h >> 8) % 2001) - 1000).to(torch.float64) / 1000
            if t.dim() > 1:
                fan_in = t[0].numel()
                v = u / 2.0 ** round(math.log2(math.sqrt(fan_in)))
            elif name.endswith("running_var") or (name.endswith("weight") and t.dim() == 1):
                v = 1 + u / 2
            else:
                v = u / 10
            t.copy_(v.to(torch.float32).reshape(t.shape))
            k += n


def mvit_v1_b_settings(d0):
    heads = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
    in_mult = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
    out_mult = [2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8]
    settings = []
    for i in range(16):
        q = [1, 2, 2] if i in (1, 3, 14) else []
        kv = [1, 8, 8] if i == 0 else [1, 4, 4] if i < 3 else [1, 2, 2] if i < 14 else [1, 1, 1]
        settings.append(MSBlockConfig(num_heads=heads[i], input_channels=d0 * in_mult[i],
                                      output_channels=d0 * out_mult[i], kernel_q=[3, 3, 3] if q else [],
                                      kernel_kv=[3, 3, 3], stride_q=q, stride_kv=kv))
    return settings


def main(out):
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2021)

    r3d = r3d_18(num_classes=400).eval()
    prefixes = ("stem.", "layer1.", "layer2.0.")
    formula_fill(r3d, prefixes)
    x = torch.randn(1, 3, 8, 32, 32, generator=g)
    with torch.no_grad():
        y = r3d.layer2[0](r3d.layer1(r3d.stem(x)))
    keep = {k: v for k, v in r3d.state_dict().items() if k.startswith(prefixes)}
    np.save(f"{out}/r3d18_stem_layer2.0_input.npy", x.numpy())
    np.save(f"{out}/r3d18_stem_layer2.0_output.npy", y.numpy())

    mvit = MViT(spatial_size=(32, 32), temporal_size=4, block_setting=mvit_v1_b_settings(8),
                residual_pool=False, residual_with_cls_embed=False, rel_pos_embed=False,
                proj_after_attn=False, stochastic_depth_prob=0.2, num_classes=5).eval()
    randomise(mvit, g)
    x = torch.randn(2, 3, 4, 32, 32, generator=g)
    with torch.no_grad():
        y = mvit(x)
    save_file({k: v.contiguous() for k, v in mvit.state_dict().items()}, f"{out}/mvit_d8.safetensors")
    np.save(f"{out}/mvit_d8_input.npy", x.numpy())
    np.save(f"{out}/mvit_d8_logits.npy", y.numpy())
    print("r3d18 subset:", sum(v.numel() for v in keep.values()), "values; mvit_d8:",
          sum(p.numel() for p in mvit.parameters()), "parameters; logits", y.numpy().round(4).tolist())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
