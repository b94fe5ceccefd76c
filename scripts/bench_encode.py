"""Which x264 preset and CRF encode stylized output fastest at the quality of the old default (medium, CRF 18)?

    python scripts/bench_encode.py [CLIP ...] [--duration 4] [--presets ...] [--crfs ...] [--markdown]

Each clip is first stylized by `streamfx anime` (the installed default model) into a lossless file (x264 CRF 0),
so every encoder setting compresses the same stylized frames. Per preset and CRF: encode-only frames per second
(2 threads, as the pipeline's budget gives the encoder), file size, and PSNR / SSIM of the decoded result against
the stylized frames (luma, SSIM with the usual 11x11 Gaussian window, sigma 1.5). "Same quality as medium/18" means
an SSIM no lower than medium's at CRF 18 minus 0.0005 and a PSNR no lower than its minus 0.1 dB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared/data/videos"
CLIPS = [SHARED / "LivePortrait/d13.mp4", REPO / "runs/bench_clips/landscape720_1face.mp4", SHARED / "LivePortrait/d20.mp4"]
PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]
CRFS = [14, 16, 18, 20, 22]
REFERENCE = ("medium", 18)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--presets", nargs="+", default=PRESETS)
    parser.add_argument("--crfs", type=int, nargs="+", default=CRFS)
    parser.add_argument("--threads", type=int, default=2, help="encoder threads (default 2)")
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args()


def stylize(clip: Path, out: Path, duration: float) -> None:
    command = [sys.executable, "-m", "streamfx", "-q", "anime", str(clip), "-o", str(out), "--duration",
               str(duration), "--crf", "0", "--preset", "ultrafast", "--overwrite"]
    subprocess.run(command, check=True)


def read_frames(path: Path) -> tuple[list[np.ndarray], Fraction]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or Fraction(25)
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], rate


def encode(frames: list[np.ndarray], rate: Fraction, path: Path, preset: str, crf: int, threads: int) -> float:
    """Encode `frames`; returns encode-only seconds (frames are converted to PyAV frames before the clock)."""
    import av

    pictures = [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate, options={"preset": preset, "crf": str(crf)})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = threads
        started = time.perf_counter()
        for picture in pictures:
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
        return time.perf_counter() - started


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2YUV)[..., 0].astype(np.float64)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    return float(np.mean(((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))))


def quality(reference: list[np.ndarray], path: Path) -> tuple[float, float]:
    decoded, _ = read_frames(path)
    psnrs, ssims = [], []
    for ref, out in zip(reference, decoded, strict=True):
        a, b = luma(ref), luma(out)
        mse = float(np.mean((a - b) ** 2))
        psnrs.append(99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse))
        ssims.append(ssim(a, b))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def measure(clips: list[Path], opts) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-encode-") as tmp:
        folder = Path(tmp)
        for number, clip in enumerate(clips):
            lossless = folder / f"stylized{number}.mp4"
            stylize(clip, lossless, opts.duration)
            frames, rate = read_frames(lossless)
            for preset in opts.presets:
                for crf in opts.crfs:
                    out = folder / f"{number}-{preset}-{crf}.mp4"
                    seconds = encode(frames, rate, out, preset, crf, opts.threads)
                    psnr, ssim_value = quality(frames, out)
                    seconds_of_video = len(frames) / float(rate)
                    rows.append({"clip": f"{clip.name} ({frames[0].shape[1]}x{frames[0].shape[0]})",
                                 "preset": preset, "crf": crf, "fps": len(frames) / seconds,
                                 "kbps": out.stat().st_size * 8 / 1000 / seconds_of_video,
                                 "psnr": psnr, "ssim": ssim_value})
                    out.unlink()
    return rows


def matches_reference(row: dict, reference: dict) -> bool:
    return row["ssim"] >= reference["ssim"] - 0.0005 and row["psnr"] >= reference["psnr"] - 0.1


def print_tables(rows: list[dict], markdown: bool) -> None:
    sep = " | " if markdown else "  "
    head = ["clip", "preset", "crf", "encode fps", "kbit/s", "PSNR dB", "SSIM", "same quality as medium/18"]
    if markdown:
        print("| " + sep.join(head) + " |\n|" + "---|" * len(head))
    else:
        print(sep.join(head))
    for clip in dict.fromkeys(r["clip"] for r in rows):
        group = [r for r in rows if r["clip"] == clip]
        reference = next(r for r in group if (r["preset"], r["crf"]) == REFERENCE)
        for r in group:
            cells = [clip, r["preset"], str(r["crf"]), f"{r['fps']:.1f}", f"{r['kbps']:.0f}", f"{r['psnr']:.2f}",
                     f"{r['ssim']:.4f}", "yes" if matches_reference(r, reference) else "no"]
            print(("| " if markdown else "") + sep.join(cells) + (" |" if markdown else ""))


def main() -> int:
    opts = parse()
    clips = [c for c in (opts.clips or CLIPS) if c.is_file()]
    opts.presets = list(dict.fromkeys([*opts.presets, REFERENCE[0]]))  # the reference is always measured
    opts.crfs = list(dict.fromkeys([*opts.crfs, REFERENCE[1]]))
    print_tables(measure(clips, opts), opts.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
