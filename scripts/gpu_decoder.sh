#!/usr/bin/env bash
# The photo decoder's GPU run, for a lent GPU machine's few minutes: A2A decoders trained from the shipped A2A,
# widened (32:128, 64:64, 128:32), batch 32, the step decaying linearly to a tenth of LR over the run. RUNS names
# them: "plain" (L1 + LPIPS), "gan" (the same + 0.1 x patch critic); several share the one GPU side by side (on an
# H200 one alone ran 29 steps/s, two 15 each). Each comes back as its parameters alone (no Adam moments: files
# must stay under the device tool's 16 MiB) with its held-out log. A second call on the still-warm machine resumes
# from $WORK, e.g. at a lower LR.
#
#   python scripts/gpu_decoder_pack.py                      # here, first: the faces and LPIPS, into .gpu/
#   bash scripts/gpu_decoder.sh                             # there, with carry [".gpu"]; results in $OUT
#   RUNS=plain LR=3e-4 MINUTES=3.9 bash scripts/gpu_decoder.sh   # there again: resume plain, alone, lower
#   DEVICE=cpu MINUTES=0.2 BATCH=2 bash scripts/gpu_decoder.sh   # a dry run of the script itself on a CPU
#
# Back here, copy its NAME.safetensors to DIR/photo_decoder.safetensors and export it with the faces it saw (the
# pack's training faces: 2,850 of its 3,000 files) and a note of how it ran, which the weight file keeps:
#   python scripts/train_photo_decoder.py --widen 32:128,64:64,128:32 --run-dir DIR --minutes 0 --batch 32 \
#       --faces 2850 --note "..." --export FILE
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-runs/gpu_decoder}"
device="${DEVICE:-cuda}"
minutes="${MINUTES:-6.5}"
batch="${BATCH:-32}"
lr="${LR:-1e-3}"
runs="${RUNS:-plain gan}"
work="${WORK:-/tmp/gpu_decoder}"
mkdir -p "$out" "$work"
export PYTHONUNBUFFERED=1

python - > "$out/machine.txt" 2>&1 <<'EOF'
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
if torch.cuda.is_available():
    print(torch.cuda.get_device_name(0))
EOF
[ -f "$work/lpips.pth" ] || python scripts/gpu_decoder_pack.py --unpack "$work/lpips.pth" || exit 1

common=(--device "$device" --batch "$batch" --lr "$lr" --min-lr 0.1 --widen 32:128,64:64,128:32
        --celeba-dir .gpu/celebahq128 --faces 5000 --lpips "$work/lpips.pth" --save-every 2000
        --threads 4 --minutes "$minutes")
declare -A extra=([plain]="" [gan]="--adversarial 0.1")
for name in $runs; do
    # shellcheck disable=SC2086  # extra[] holds options, split on purpose
    python scripts/train_photo_decoder.py "${common[@]}" ${extra[$name]} --run-dir "$work/$name" \
        > "$out/$name.log" 2>&1 &
done
wait

for name in $runs; do  # parameters and the critic, without Adam's moments
    cp "$work/$name/photo_decoder.jsonl" "$out/$name.jsonl" 2>/dev/null  # none before the first evaluation
    python - "$work/$name/photo_decoder.safetensors" "$out/$name.safetensors" <<'EOF'
import sys
from safetensors import safe_open
from safetensors.torch import save_file
with safe_open(sys.argv[1], "pt") as f:
    kept = {k: f.get_tensor(k) for k in f.keys() if "adam." not in k}
    save_file(kept, sys.argv[2], metadata=f.metadata())
EOF
done
ls -la "$out"
