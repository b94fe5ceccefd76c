#!/usr/bin/env bash
# The GPU check, ready for the day a CUDA machine is lent: in under 10 minutes it runs the GPU tests, the engine
# benchmark (torch CUDA fp16/fp32 at batch 1-64, with and without CUDA graphs; ONNX Runtime CUDA and TensorRT when
# installed there) and the pipeline on a 1080p clip, and writes the results as a Markdown section.
#
#   bash scripts/gpu_check.sh                  # results in $OUT (the device tool's folder) or runs/gpu_check/
#   DEVICE=cpu SECONDS_PER_ROW=0.2 bash scripts/gpu_check.sh   # a dry run of the script itself on a CPU
#
# Bring the section home with: python scripts/gpu_check_merge.py RESULTS/gpu_section.md (into docs/benchmarks.md).
# Each step has its own time limit, so one that hangs cannot eat the others' time; a failed step is reported in the
# section, never hidden.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-runs/gpu_check}"
device="${DEVICE:-cuda:0}"
row_seconds="${SECONDS_PER_ROW:-2}"
mkdir -p "$out"
started=$(date +%s)

step() {  # step NAME LIMIT_SECONDS COMMAND...: run it, keep its output, record how it ended
    local name=$1 limit=$2
    shift 2
    local t0=$(date +%s)
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    echo "$name rc=$rc $(( $(date +%s) - t0 ))s" | tee -a "$out/steps.txt"
}

python - > "$out/machine.txt" 2>&1 <<'EOF'
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"GPU {p.name}, {p.total_memory / 2**30:.0f} GiB, compute {p.major}.{p.minor}")
for name in ("onnxruntime", "tensorrt"):
    try:
        module = __import__(name)
        extra = module.get_available_providers() if name == "onnxruntime" else ""
        print(name, module.__version__, extra)
    except ImportError:
        print(name, "not installed")
EOF

# A 1080p clip from the bundled sample (centred, padded): no shared data needed on the GPU machine.
python - "$out/clip_1080p.mp4" <<'EOF'
import sys
from fractions import Fraction
import av, numpy as np
from streamfx.io.decode import VideoReader
with VideoReader("samples/astronaut.mp4") as reader, av.open(sys.argv[1], "w") as out:
    stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "18"})
    stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
    for frame in reader:
        canvas = np.full((1080, 1920, 3), 90, np.uint8)
        canvas[300:780, 720:1200] = frame.image
        picture = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        picture.pts, picture.time_base = frame.index, Fraction(1, 25)
        out.mux(stream.encode(picture))
    out.mux(stream.encode(None))
EOF

step gpu_tests 150 python -m pytest -q -m gpu tests
step engines 200 python scripts/bench_engines.py --device "$device" --models slim128 slim official \
    --precisions fp16 fp32 --batches 1 4 8 16 32 64 --seconds "$row_seconds" --min-runs 2
step engines_graphs 90 python scripts/bench_engines.py --device "$device" --engines torch --models slim128 slim \
    --precisions fp16 --batches 1 4 8 16 32 64 --cuda-graphs --seconds "$row_seconds" --min-runs 2
step pipeline_1080p 90 streamfx bench "$out/clip_1080p.mp4" --device "$device"

python - "$out" <<'EOF' > "$out/gpu_section.md"
import sys
from pathlib import Path
out = Path(sys.argv[1])
read = lambda name: (out / name).read_text().strip() if (out / name).exists() else "(missing)"
print("### GPU check (`scripts/gpu_check.sh`)\n")
print("```\n" + read("machine.txt") + "\n```\n")
print("Steps (exit code, seconds): `" + "`, `".join(read("steps.txt").splitlines()) + "`\n")
for title, name in (("Engines", "engines.txt"), ("torch with CUDA graphs", "engines_graphs.txt"),
                    ("Pipeline, 1080p (the sample centred on a 1920x1080 canvas)", "pipeline_1080p.txt"),
                    ("GPU tests", "gpu_tests.txt")):
    text = read(name)
    tail = "\n".join(text.splitlines()[-40:])
    body = tail if "|" in tail else "```\n" + tail + "\n```"  # a Markdown table as is, logs as code
    print(f"#### {title}\n\n{body}\n")
EOF
echo "done in $(( $(date +%s) - started ))s: $out/gpu_section.md"
