"""Make samples/astronaut.mp4: a 4 s, 25 fps, 480x480 clip with AAC audio, made from nothing but code.

The picture is scikit-image's public-domain astronaut photo (Eileen Collins, NASA) seen through a
virtual camera that pans, zooms and rolls a few degrees smoothly, so the face stays in view and
moves like a talking head. The audio is a generated chirp (220 -> 880 Hz) with a 4 Hz tremolo.
Deterministic: same code, same PyAV/FFmpeg build, same bytes.

    python scripts/make_sample.py [--out samples/astronaut.mp4] [--seconds 4]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from streamfx.io.encode import VideoWriter

SIZE = 480  # output width = height
FPS = 25
TIME_BASE = Fraction(1, 12800)  # FFmpeg's usual mp4 time base for 25 fps: 512 ticks a frame
SAMPLE_RATE = 44100
FACE_CENTER = (222.0, 120.0)  # in the 512x512 photo, between eyes and mouth


def camera(t: float, seconds: float) -> tuple[float, float, float, float]:
    """View centre x, y (photo pixels), side of the square view (photo pixels), roll (degrees) at time t."""
    phase = 2.0 * math.pi * t / seconds
    cx = FACE_CENTER[0] + 25.0 * math.sin(phase)
    cy = FACE_CENTER[1] + 10.0 * math.sin(2.0 * phase) + 38.0  # below the face: the view stays inside the photo
    side = 280.0 - 70.0 * (0.5 - 0.5 * math.cos(phase))  # zoom in to 210 px and back
    roll = 5.0 * math.sin(phase)
    return cx, cy, side, roll


def render(photo: np.ndarray, t: float, seconds: float) -> np.ndarray:
    """[512,512,3] photo -> [SIZE,SIZE,3] uint8 RGB view of the virtual camera at time t."""
    cx, cy, side, roll = camera(t, seconds)
    matrix = cv2.getRotationMatrix2D((cx, cy), roll, SIZE / side)
    matrix[:, 2] += (SIZE / 2.0 - cx, SIZE / 2.0 - cy)  # move the view centre to the frame centre
    return cv2.warpAffine(photo, matrix, (SIZE, SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)


def chirp(seconds: float) -> np.ndarray:
    """[2, N] float32 stereo: a linear chirp 220 -> 880 Hz with a 4 Hz tremolo, faded in and out."""
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    f0, f1 = 220.0, 880.0
    phase = 2.0 * np.pi * (f0 * t + 0.5 * (f1 - f0) / seconds * t * t)
    tone = 0.3 * np.sin(phase) * (0.75 + 0.25 * np.sin(2.0 * np.pi * 4.0 * t))
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.05)
    mono = (tone * fade).astype(np.float32)
    return np.stack([mono, mono])


def write_audio(path: Path, seconds: float) -> None:
    """AAC in an .m4a, for VideoWriter to copy packet-for-packet like any source audio."""
    import av

    samples = chirp(seconds)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        stream.bit_rate = 96_000
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = 0
        frame.time_base = Fraction(1, SAMPLE_RATE)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def make_sample(out: Path, seconds: float = 4.0, crf: int = 20) -> None:
    from skimage import data

    photo = data.astronaut()  # [512,512,3] uint8 RGB
    frames = int(round(seconds * FPS))
    step = int(1 / (FPS * TIME_BASE))
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "chirp.m4a"
        write_audio(audio, seconds)
        with VideoWriter(out, width=SIZE, height=SIZE, time_base=TIME_BASE, fps=Fraction(FPS), audio_from=audio,
                         crf=crf, preset="slow", comment="streamfx sample: skimage astronaut, generated chirp",
                         overwrite=True) as writer:
            for i in range(frames):
                writer.write(render(photo, i / FPS, seconds), i * step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples" / "astronaut.mp4")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--crf", type=int, default=20)
    args = parser.parse_args()
    make_sample(args.out, args.seconds, args.crf)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
