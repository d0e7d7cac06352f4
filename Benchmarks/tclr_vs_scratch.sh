#!/usr/bin/env bash
# The training issue's TCLR check on the embedded motion set: TCLR pretraining of a width-1/8
# r3d18-tclr (8x2 global clips, two local 8-frame clips, TCLR's augmentations without flips, Adam
# 1e-3), then fine-tuning with the scratch recipe (SGD Nesterov 0.05, cosine, 8x4 clips), against
# the same network trained from scratch for the same fine-tuning epochs. One JSON line per run.
#
#   bash Benchmarks/tclr_vs_scratch.sh [OUTDIR] [PRETRAIN_EPOCHS] [FINETUNE_EPOCHS] [SEEDS...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/vipbench-tclr}; pre_epochs=${2:-10}; ft_epochs=${3:-30}; shift 3 || true
seeds=${*:-0 1 2}
bin=.build/release/vipbench
mkdir -p "$out"
size=(--width 0.125 --short-side 40 --crop 32 --batch 16 --threads 2 --flip 0)
ft=(--clip 8x4 --normalise unit --optimizer sgd --lr 0.05 --weight-decay 5e-4 --schedule cosine --epochs "$ft_epochs" --validate-every 10 --json)
for seed in $seeds; do
  "$bin" pretrain tclr --data data/motion --out "$out/pre-$seed" "${size[@]}" --clip 8x2 --crop-kind tclr --optimizer adam \
    --lr 1e-3 --weight-decay 1e-9 --schedule plateau --patience 9 --epochs "$pre_epochs" --seed "$seed" --json \
    2> "$out/pre-$seed.log" | tail -1 | sed "s/^/{\"stage\":\"pretrain\",\"seed\":$seed,\"run\":/; s/\$/}/"
  "$bin" train r3d18-tclr --data data/motion --out "$out/tclr-$seed" "${size[@]}" "${ft[@]}" --seed "$seed" \
    --init-from "$out/pre-$seed/latest.safetensors" 2> "$out/tclr-$seed.log" | tail -1 | sed "s/^/{\"stage\":\"tclr-finetune\",\"seed\":$seed,\"run\":/; s/\$/}/"
  "$bin" train r3d18-tclr --data data/motion --out "$out/scratch-$seed" "${size[@]}" "${ft[@]}" --seed "$seed" \
    2> "$out/scratch-$seed.log" | tail -1 | sed "s/^/{\"stage\":\"scratch\",\"seed\":$seed,\"run\":/; s/\$/}/"
done
