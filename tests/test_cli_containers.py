"""Output containers and damaged files through the command line: `anime` into WebM and MOV with audio that must
be transcoded, and `probe` refusing files cut short whose header is whole."""

from __future__ import annotations

import pytest
from test_io_fixtures import leftovers, make_clip, make_cut
from test_io_matrix import INPUTS, _write

from conftest import SAMPLES
from streamfx.cli import main
from streamfx.io.probe import probe


def test_anime_to_webm_with_44k_audio(tmp_path, no_default_model):
    """The default encoder for .webm is VP9; the sample's 44.1 kHz AAC becomes 48 kHz Opus."""
    out = tmp_path / "out.webm"
    assert main(["-q", "anime", str(SAMPLES / "astronaut.mp4"), "-o", str(out), "--duration", "1"]) == 0
    info = probe(out)
    assert (info.video_codec, info.frame_count) == ("vp9", 25)
    (audio,) = info.audio
    assert (audio.codec, audio.sample_rate, audio.channels) == ("opus", 48000, 2)
    assert audio.duration == pytest.approx(1.0, abs=0.05)
    assert leftovers(tmp_path) == []


def test_anime_opus_into_mov_becomes_aac(tmp_path, no_default_model):
    video, audio, times = INPUTS["h264-opus.mkv"]
    source = _write(tmp_path / "in.mkv", video, audio, times)
    out = tmp_path / "out.mov"
    assert main(["-q", "anime", str(source), "-o", str(out)]) == 0
    info = probe(out)
    assert info.frame_count == 25 and [(a.codec, a.sample_rate) for a in info.audio] == [("aac", 48000)]


@pytest.mark.parametrize("container", ["faststart.mp4", "mkv"])
def test_probe_refuses_a_file_cut_short_with_its_header_whole(tmp_path, capsys, container):
    options = {"movflags": "faststart"} if container.endswith("mp4") else None
    whole = make_clip(tmp_path / f"whole.{container.split('.')[-1]}", frames=50, options=options)
    cut = make_cut(whole, tmp_path, f"cut.{container.split('.')[-1]}")
    assert main(["probe", str(cut)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "truncated or damaged" in err[0] and "of the 2.00 s its header declares" in err[0]
    assert main(["probe", str(whole)]) == 0
