#!/usr/bin/env bash
# The training issue's acceptance comparison: a width-1/8 R3D-18 on the embedded motion set
# (8x4 clips, short side 40, crop 32, batch 16, 2 threads, SGD Nesterov lr 0.05, weight decay
# 5e-4, cosine; RGB 60 epochs, flow 40), vipbench and PyTorch with the same seeds, one after the
# other on the same machine. Prints one JSON line per run (vipbench's --json summary, PyTorch's).
#
#   bash Benchmarks/compare_motion_training.sh [OUTDIR] [SEEDS...]   # needs data/motion and data/motion-flow
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/vipbench-compare}; shift || true
seeds=${*:-0 1 2}
bin=.build/release/vipbench
mkdir -p "$out"
common=(--width 0.125 --clip 8x4 --short-side 40 --crop 32 --batch 16 --threads 2 --lr 0.05 --weight-decay 5e-4)
for modality in rgb flow; do
  if [ $modality = rgb ]; then epochs=60; extra=(--normalise slowfast); else epochs=40; extra=(--modality flow --flow data/motion-flow); fi
  for seed in $seeds; do
    "$bin" train r3d18 --data data/motion --out "$out/vipbench-$modality-$seed" "${common[@]}" "${extra[@]}" \
      --epochs $epochs --seed "$seed" --flip 0 --optimizer sgd --schedule cosine --validate-every 10 --json \
      2> "$out/vipbench-$modality-$seed.log" | tail -1 | sed "s/^/{\"framework\":\"vipbench\",\"modality\":\"$modality\",\"seed\":$seed,\"run\":/; s/\$/}/"
    pyflow=(); [ $modality = flow ] && pyflow=(--modality flow --flow data/motion-flow)
    python3 Benchmarks/train_motion_pytorch.py --data data/motion "${pyflow[@]}" --width 0.125 --clip 8x4 --short-side 40 \
      --crop 32 --batch 16 --threads 2 --lr 0.05 --epochs $epochs --seed "$seed" --json 2> "$out/pytorch-$modality-$seed.log" | tail -1
  done
done
