"""Evaluation metrics on real faces: identical images score perfectly, different ones do not."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from conftest import DATA, require
from streamfx.io.image import read_image
from streamfx.training.data import list_images, load_batch
from streamfx.training.evaluate import grey_thumbnail_correlation, pairwise_l1, psnr


def test_metrics_on_real_faces():
    faces = load_batch(list_images(require(DATA / "selfie2anime" / "trainA"))[:4], 128)
    assert (psnr(faces, faces) > 90).all()
    noisy = (faces + 0.05 * torch.randn_like(faces)).clamp(-1, 1)
    assert ((psnr(noisy, faces) > 20) & (psnr(noisy, faces) < 35)).all()
    assert torch.allclose(grey_thumbnail_correlation(faces, faces), torch.ones(4), atol=1e-5)
    assert (grey_thumbnail_correlation(noisy, faces) > 0.95).all()
    # a mirrored face keeps less of the layout than a noisy copy
    assert grey_thumbnail_correlation(faces.flip(3), faces).mean() < grey_thumbnail_correlation(noisy, faces).mean()
    assert float(pairwise_l1(faces[:1].expand(3, -1, -1, -1))) == 0.0
    assert float(pairwise_l1(faces)) > 0.05


def test_training_curve_reads_step_time_and_scores(tmp_path, monkeypatch):
    """scripts/training_curve.py pairs each evaluation with the step time logged at or before its step."""
    spec = importlib.util.spec_from_file_location("training_curve", Path(__file__).parents[1] / "scripts" /
                                                  "training_curve.py")
    curve = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "training_curve", curve)  # its dataclasses look their module up there
    spec.loader.exec_module(curve)
    log = [{"step": 10, "wall_s": 36.0}, {"step": 20, "wall_s": 7200.0}, {"step": 30, "wall_s": 9000.0}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    for step, anime in ((25, 0.2), (10, 0.1)):
        report = {"source": f"runs/x/checkpoints/step_{step:07d} (EMA, step {step})",
                  "groups": [{"cycle_psnr": 20.0 + i, "diversity_l1": 0.1, "anime_score": anime * (i + 1)}
                             for i in range(3)],
                  "teachers": [{"name": "cute, held-out", "lpips_anchor": 0.9, "anime_anchor": 0.0},
                               {"name": "jpface, held-out", "lpips_anchor": 0.15, "anime_anchor": 0.3}]}
        (tmp_path / f"eval_step{step}").mkdir()
        (tmp_path / f"eval_step{step}" / "eval.json").write_text(json.dumps(report))
    first, second = curve.read_run(tmp_path)
    assert (first.step, first.hours, second.step, second.hours) == (10, 0.01, 25, 2.0)
    assert second.anime == pytest.approx((0.2, 0.4, 0.6)) and second.cycle_psnr == 20.0
    assert (second.anchor_lpips, second.anchor_anime) == (0.15, 0.3)  # the JP_face anchor, not the cute one
    # the history in git: a CSV round trip, and a re-evaluated step replaces its row in its own branch only
    history = tmp_path / "history.csv"
    curve.write_history(history, [first, second])
    kept = curve.read_history(history)
    assert [(e.step, e.hours, e.anime[2]) for e in kept] == [(10, 0.01, 0.3), (25, 2.0, 0.6)]
    branch = curve.Evaluation(25, 2.5, 21.0, 0.11, (0.0, 0.1, 0.2), 0.12, 0.2, branch="from 25")
    again = curve.Evaluation(25, 2.0, 20.5, 0.1, (0.2, 0.4, 0.7), 0.15, 0.3)
    rows = curve.merged(kept, [again, branch])
    assert [(e.branch, e.step, e.cycle_psnr) for e in rows] == [("", 10, 20.0), ("", 25, 20.5), ("from 25", 25, 21.0)]
    chart = tmp_path / "curve.png"
    curve.draw_chart(rows, chart)
    assert read_image(chart).shape == (2 * (curve.PANEL_H + 2 * curve.MARGIN), 2 * (curve.PANEL_W + 2 * curve.MARGIN), 3)
