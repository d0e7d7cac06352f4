"""One-off: vipbench's logits against torchvision's for the paper-size r3d_18 and mvit_v1_b.

    python Tests/Fixtures/parity/check_full_parity.py .build/release/vipbench /tmp/parity
Writes random weights (safetensors, torchvision's keys) and an input batch, runs
`vipbench model forward`, and prints the relative error max|ours - theirs| / max|theirs|.
Too big to commit (133 MB and 147 MB of weights): the test suite uses make_parity_fixtures.py's.
"""
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torchvision.models.video import mvit_v1_b, r3d_18

sys.path.insert(0, os.path.dirname(__file__))
from make_parity_fixtures import randomise  # noqa: E402


def check(vipbench, out, name, model, shape, g):
    model.eval()
    randomise(model, g)
    x = torch.randn(*shape, generator=g)
    with torch.no_grad():
        theirs = model(x).numpy()
    w, xi, yo = f"{out}/{name}.safetensors", f"{out}/{name}_in.npy", f"{out}/{name}_out.npy"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, w)
    np.save(xi, x.numpy())
    subprocess.run([vipbench, "model", "forward", name, "--weights", w, "--input", xi, "--output", yo], check=True)
    ours = np.load(yo)
    err = np.abs(ours - theirs).max() / np.abs(theirs).max()
    print(f"{name}: logits {theirs.shape}, max |theirs| {np.abs(theirs).max():.4f}, relative error {err:.2e}")
    return err


def main(vipbench, out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(7)
    errors = [check(vipbench, out, "r3d18", r3d_18(num_classes=400), (1, 3, 16, 112, 112), g),
              check(vipbench, out, "mvit-b", mvit_v1_b(num_classes=400), (1, 3, 16, 224, 224), g)]
    sys.exit(0 if max(errors) <= 1e-4 else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "/tmp/parity")
