#!/usr/bin/env bash
# Real footage in the challenge's layout for `vipbench bench loader`: the four Kinetics clips of
# Tests/Fixtures/videos (340x256, 10 s) as they are, and made longer (looped to 30 s) and larger
# (640x480 and 960x720) with libx264's defaults (keyframes at most 250 frames apart, B-frames), as
# long and HD Kinetics videos are. 16 training videos of 4 classes.
#
#     bash Benchmarks/make_loader_footage.sh /tmp/footage
#     vipbench bench loader /tmp/footage --clips 16 --workers 2
set -euo pipefail
out=${1:?usage: make_loader_footage.sh OUT}
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/Tests/Fixtures/videos
mkdir -p "$out/annotations" "$out/train"
echo "label,idx" > "$out/annotations/clsIdx.csv"
echo "label,videoid,split" > "$out/annotations/kinetics400ViPriors-train.csv"
i=0
for name in arm-wrestling clean-and-jerk cleaning-pool tai-chi; do
    i=$((i + 1))
    echo "${name//-/ },$i" >> "$out/annotations/clsIdx.csv"
    f=$src/kinetics-$name.mp4
    make() {  # id, loops, scale
        local id=$1 loops=$2 scale=$3
        [ -f "$out/train/$id.mp4" ] || ffmpeg -v error -y -stream_loop "$loops" -i "$f" -an -vf "scale=$scale" \
            -c:v libx264 -crf 23 -pix_fmt yuv420p "$out/train/$id.mp4"
        echo "${name//-/ },$id,train" >> "$out/annotations/kinetics400ViPriors-train.csv"
    }
    cp "$f" "$out/train/${name}_native.mp4"
    echo "${name//-/ },${name}_native,train" >> "$out/annotations/kinetics400ViPriors-train.csv"
    make "${name}_480p_30s" 2 640:480
    make "${name}_720p_10s" 0 960:720
    make "${name}_720p_30s" 2 960:720
done
echo "16 videos in $out"
