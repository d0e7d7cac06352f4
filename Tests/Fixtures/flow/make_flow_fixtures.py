"""Makes the OpenCV TV-L1 reference flows that FlowTests compare vipbench with.

Run once with ffmpeg on PATH and opencv-contrib-python-headless installed (used: 5.0.0.93):
    python Tests/Fixtures/flow/make_flow_fixtures.py Tests/Fixtures/videos Tests/Fixtures/flow
For each pair: two consecutive frames of a shared test video scaled to SIZExSIZE by ffmpeg, turned
to grey by OpenCV (cvtColor, the same fixed-point luma vipbench uses) and saved as PGM, and
OpenCV's DualTVL1 flow with its default (CPU) parameters saved as a Middlebury .flo file.
The test suite reads these files; it needs neither Python nor OpenCV.
"""
import json
import os
import subprocess
import sys
import tempfile

import cv2

PAIRS = [  # (name, video, first frame, size)
    ("armwrestling112", "kinetics-arm-wrestling.mp4", 20, 112),
    ("taichi112", "kinetics-tai-chi.mp4", 10, 112),
    ("cleanandjerk224", "kinetics-clean-and-jerk.mp4", 10, 224),
    ("pool224", "kinetics-cleaning-pool.mp4", 30, 224),
]


def main(videos, out):
    cv2.setNumThreads(1)
    info = {"opencv": cv2.__version__, "parameters": "DualTVL1OpticalFlow_create() defaults", "pairs": []}
    for name, video, first, size in PAIRS:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", os.path.join(videos, video), "-vf",
                            f"select='between(n,{first},{first + 1})',scale={size}:{size}", "-fps_mode", "passthrough",
                            os.path.join(tmp, "f%d.png")], check=True)
            grey = [cv2.cvtColor(cv2.imread(os.path.join(tmp, f"f{i}.png")), cv2.COLOR_BGR2GRAY) for i in (1, 2)]
        for i, g in enumerate(grey):
            cv2.imwrite(os.path.join(out, f"{name}_{i}.pgm"), g)
        flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(grey[0], grey[1], None)
        cv2.writeOpticalFlow(os.path.join(out, f"{name}_opencv.flo"), flow)
        mag = (flow ** 2).sum(-1) ** 0.5
        info["pairs"].append({"name": name, "video": video, "frames": [first, first + 1], "size": size,
                              "mean_length": round(float(mag.mean()), 4), "max_length": round(float(mag.max()), 4)})
        print(name, "mean length", mag.mean(), "max", mag.max())
    with open(os.path.join(out, "fixtures.json"), "w") as f:
        json.dump(info, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
