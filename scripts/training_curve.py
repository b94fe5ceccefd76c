#!/usr/bin/env python
"""A training run's curve: its evaluations (scripts/eval_gnr.py) against step time, as a table and a chart.

    python scripts/training_curve.py runs/distill128 --history docs/training-evaluations.csv --branch "from 9,013" \
        --markdown --chart docs/images/training-curve.png

Reads RUN/eval_step*/eval.json (one per evaluated checkpoint) and RUN/log.jsonl (the trainer's cumulative step time,
`wall_s`, logged every few steps). `--history` merges them into a CSV kept in git (run folders are not), under the
name `--branch`: a run started from exported weights (`train_gnr.py --init-weights`) continues an earlier run's
step time as its own branch of the curve. Prints one row per evaluation; `--chart` draws four panels against hours of
step time, each with its bar from the default-model issue where it has one: the anime score of the seeds (per
group) and of the JP_face anchor (bar 0.7), the anchor's LPIPS to the teacher's output, the seeds' style diversity
(bar 0.1) and the cycle PSNR.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import print_rows  # noqa: E402  (the scripts' one table printer)

GROUPS = ("trainA", "female", "male")  # eval_gnr's three held-out groups, in its order


@dataclass
class Evaluation:
    step: int
    hours: float
    cycle_psnr: float  # trainA
    diversity: float  # trainA
    anime: tuple[float, float, float]  # seeds, per group
    anchor_lpips: float  # JP_face anchor against the teacher's output
    anchor_anime: float
    branch: str = ""  # which run, for runs that continue another one's weights


HISTORY_FIELDS = ("branch", "step", "hours", "cycle_psnr", "diversity", "anime_trainA", "anime_female", "anime_male",
                  "anchor_lpips", "anchor_anime")


def read_history(path: Path) -> list[Evaluation]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [Evaluation(int(row["step"]), float(row["hours"]), float(row["cycle_psnr"]), float(row["diversity"]),
                           tuple(float(row[f"anime_{g}"]) for g in GROUPS), float(row["anchor_lpips"]),
                           float(row["anchor_anime"]), row["branch"])
                for row in csv.DictReader(handle)]


def write_history(path: Path, evaluations: list[Evaluation]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HISTORY_FIELDS)
        for e in evaluations:
            writer.writerow([e.branch, e.step, f"{e.hours:.2f}", f"{e.cycle_psnr:.2f}", f"{e.diversity:.4f}",
                             *(f"{a:.3f}" for a in e.anime), f"{e.anchor_lpips:.3f}", f"{e.anchor_anime:.3f}"])


def merged(history: list[Evaluation], fresh: list[Evaluation]) -> list[Evaluation]:
    """History and fresh evaluations, one per (branch, step), the fresh one winning; ordered by branch, then step."""
    by_key = {(e.branch, e.step): e for e in history}
    by_key.update({(e.branch, e.step): e for e in fresh})
    branches = list(dict.fromkeys(e.branch for e in history + fresh))
    return sorted(by_key.values(), key=lambda e: (branches.index(e.branch), e.step))


def step_hours(log: Path) -> list[tuple[int, float]]:
    """(step, cumulative step time in hours) for every logged step, in order."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return sorted((row["step"], row["wall_s"] / 3600) for row in rows if "wall_s" in row)


def hours_at(times: list[tuple[int, float]], step: int) -> float:
    """Step time when `step` was reached: the last logged step at or before it."""
    earlier = [hours for logged, hours in times if logged <= step]
    return earlier[-1] if earlier else 0.0


def read_evaluation(path: Path, times: list[tuple[int, float]], branch: str = "") -> Evaluation:
    report = json.loads(path.read_text())
    step = int(re.search(r"step (\d+)", report["source"]).group(1))
    groups = report["groups"]
    jpface = next(t for t in report["teachers"] if t["name"].startswith("jpface"))
    return Evaluation(step, hours_at(times, step), groups[0]["cycle_psnr"], groups[0]["diversity_l1"],
                      tuple(g["anime_score"] for g in groups), jpface["lpips_anchor"], jpface["anime_anchor"], branch)


def read_run(run: Path, branch: str = "") -> list[Evaluation]:
    times = step_hours(run / "log.jsonl")
    found = [read_evaluation(p, times, branch) for p in run.glob("eval_step*/eval.json")]
    return sorted(found, key=lambda e: e.step)


def print_table(evaluations: list[Evaluation], markdown: bool) -> None:
    header = ("branch", "step", "step time (h)", "cycle PSNR trainA (dB)", "diversity trainA",
              "anime score seeds (trainA / F / M)", "JP_face anchor: LPIPS / anime score")
    rows = [(e.branch, f"{e.step:,}", f"{e.hours:.2f}", f"{e.cycle_psnr:.2f}", f"{e.diversity:.4f}",
             " / ".join(f"{a:.3f}" for a in e.anime), f"{e.anchor_lpips:.3f} / {e.anchor_anime:.3f}")
            for e in evaluations]
    print_rows(header, rows, markdown)


# ---- the chart --------------------------------------------------------------------------------------------------
PANEL_W, PANEL_H, MARGIN = 420, 300, 52
INK, GRID, BAR = (40, 40, 40), (225, 225, 225), (0, 0, 200)  # BGR
COLOURS = [(200, 120, 0), (60, 160, 60), (170, 80, 170), (0, 110, 230)]


@dataclass
class Panel:
    title: str
    low: float
    high: float
    lines: dict[str, list[float]]  # legend -> one value per evaluation
    bar: float | None = None


def draw_chart(evaluations: list[Evaluation], out: Path) -> None:
    import cv2

    hours = [e.hours for e in evaluations]
    panels = [
        Panel("anime score (bar 0.7)", 0.0, 1.0, {
            **{f"seeds, {g}": [e.anime[i] for e in evaluations] for i, g in enumerate(GROUPS)},
            "JP_face anchor": [e.anchor_anime for e in evaluations]}, bar=0.7),
        Panel("JP_face anchor: LPIPS to the teacher", 0.0, 0.5, {"LPIPS": [e.anchor_lpips for e in evaluations]}),
        Panel("style diversity, trainA (bar 0.1)", 0.08, 0.11, {"seeds": [e.diversity for e in evaluations]},
              bar=0.1),
        Panel("cycle PSNR, trainA (dB)", 16.0, 22.0, {"A>B>A": [e.cycle_psnr for e in evaluations]}),
    ]
    branches = [e.branch for e in evaluations]
    tiles = [_draw_panel(panel, hours, branches, max(hours) * 1.05 or 1.0) for panel in panels]
    sheet = np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet):
        raise SystemExit(f"could not write {out}")


def _draw_panel(panel: Panel, hours: list[float], branches: list[str], x_max: float) -> np.ndarray:
    """One panel; each branch is its own polyline, the first with filled dots, later ones with hollow dots."""
    import cv2

    tile = np.full((PANEL_H + 2 * MARGIN, PANEL_W + 2 * MARGIN, 3), 255, np.uint8)

    def at(x: float, y: float) -> tuple[int, int]:
        fy = (min(max(y, panel.low), panel.high) - panel.low) / (panel.high - panel.low)
        return int(MARGIN + x / x_max * PANEL_W), int(MARGIN + (1 - fy) * PANEL_H)

    for i in range(5):  # horizontal grid with its values
        y = panel.low + (panel.high - panel.low) * i / 4
        cv2.line(tile, at(0, y), at(x_max, y), GRID, 1)
        cv2.putText(tile, f"{y:g}", (4, at(0, y)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, INK, 1, cv2.LINE_AA)
    for h in range(int(x_max) + 1):  # one tick per hour of step time
        cv2.putText(tile, str(h), (at(h, panel.low)[0] - 4, MARGIN + PANEL_H + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                    INK, 1, cv2.LINE_AA)
    cv2.putText(tile, "hours of step time", (MARGIN + PANEL_W // 2 - 60, MARGIN + PANEL_H + 36),
                cv2.FONT_HERSHEY_SIMPLEX, 0.42, INK, 1, cv2.LINE_AA)
    cv2.rectangle(tile, at(0, panel.high), at(x_max, panel.low), INK, 1)
    if panel.bar is not None:
        cv2.line(tile, at(0, panel.bar), at(x_max, panel.bar), BAR, 1, cv2.LINE_AA)
    order = list(dict.fromkeys(branches))
    for number, (label, values) in enumerate(panel.lines.items()):
        colour = COLOURS[number % len(COLOURS)]
        for rank, branch in enumerate(order):
            points = np.array([at(h, v) for h, v, b in zip(hours, values, branches) if b == branch], np.int32)
            cv2.polylines(tile, [points], False, colour, 2 if rank == 0 else 1, cv2.LINE_AA)
            for point in points:
                cv2.circle(tile, tuple(int(c) for c in point), 3, colour, -1 if rank == 0 else 1, cv2.LINE_AA)
        cv2.putText(tile, label, (MARGIN + 8, MARGIN + 16 + 16 * number), cv2.FONT_HERSHEY_SIMPLEX, 0.42, colour, 1,
                    cv2.LINE_AA)
    if len(order) > 1:
        key = "   ".join(f"{'filled' if rank == 0 else 'hollow'}: {b}" for rank, b in enumerate(order[:2]))
        cv2.putText(tile, key, (MARGIN, MARGIN + PANEL_H + 50), cv2.FONT_HERSHEY_SIMPLEX, 0.38, INK, 1, cv2.LINE_AA)
    cv2.putText(tile, panel.title, (MARGIN, MARGIN - 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, INK, 1, cv2.LINE_AA)
    return tile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run's folder (with log.jsonl and eval_step*/)")
    parser.add_argument("--chart", type=Path, help="write the chart to this PNG")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--history", type=Path, help="CSV of earlier evaluations: read, merged, written back")
    parser.add_argument("--branch", default=None, help="the run's name in the history (default: its folder name)")
    args = parser.parse_args(argv)
    if not (args.run / "log.jsonl").is_file():
        print(f"error: no log.jsonl in {args.run}", file=sys.stderr)
        return 2
    evaluations = read_run(args.run, args.run.name if args.branch is None else args.branch)
    if args.history:
        evaluations = merged(read_history(args.history), evaluations)
        write_history(args.history, evaluations)
    if not evaluations:
        print(f"error: no eval_step*/eval.json in {args.run} (run scripts/eval_gnr.py --out RUN/eval_stepN)",
              file=sys.stderr)
        return 2
    print_table(evaluations, args.markdown)
    if args.chart:
        draw_chart(evaluations, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
