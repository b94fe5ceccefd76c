"""Evaluation of a face -> anime model on faces it never trained on.

Per face, the A2B generator translates with K fixed style seeds, and the metrics are:
- cycle PSNR (dB): A -> B (seed 0) -> A with the face's own style, against the face;
- style diversity: mean pairwise L1 (on [0,1] pixels) between the K translations of the face;
- content consistency: Pearson correlation of 16x16 grey thumbnails of face and translation (pose/layout kept);
- anime score: mean probability from `classifier.AnimeClassifier` that the translation is anime.

Against a teacher (faces with a teacher output, none distilled): LPIPS between the A2B output and the teacher's
output, with the teacher's anchor style (one fixed z for every face, as a video uses it) and with the style that
B2A reads from that face's own teacher output (what the distillation term trains); LPIPS of the untranslated face
gives the scale.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from streamfx.models.gnr import Generator
from streamfx.training.classifier import AnimeClassifier
from streamfx.training.samples import fixed_styles

GREY = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def psnr(x: Tensor, y: Tensor) -> Tensor:
    """[B] PSNR in dB of images in [-1,1], measured on [0,1]."""
    mse = ((x.clamp(-1, 1) - y.clamp(-1, 1)) / 2).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def grey_thumbnail_correlation(x: Tensor, y: Tensor, size: int = 16) -> Tensor:
    """[B] Pearson correlation of the size x size grey thumbnails of x and y."""

    def thumb(t: Tensor) -> Tensor:
        grey = (t.clamp(-1, 1) * GREY.to(t.device)).sum(1, keepdim=True)
        small = F.interpolate(grey, size=(size, size), mode="area").flatten(1)
        return small - small.mean(1, keepdim=True)

    a, b = thumb(x), thumb(y)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-8)


def pairwise_l1(outputs: Tensor) -> Tensor:
    """Mean L1 over all pairs of [K,3,H,W] images in [-1,1], measured on [0,1]."""
    pairs = list(itertools.combinations(range(len(outputs)), 2))
    return torch.stack([((outputs[i] - outputs[j]) / 2).abs().mean() for i, j in pairs]).mean()


@dataclass(frozen=True)
class GroupScores:
    name: str
    count: int
    cycle_psnr: float
    diversity_l1: float
    content_corr: float
    anime_score: float


@torch.no_grad()
def evaluate_group(name: str, faces: Tensor, a2b: Generator, b2a: Generator, classifier: AnimeClassifier,
                   seeds: int = 8) -> GroupScores:
    """Scores of one group of faces [N,3,S,S] in [-1,1]."""
    w = a2b.mapping(fixed_styles(seeds, a2b.config.latent_dim))  # [K,style_dim]
    cycle, diversity, corr, anime = [], [], [], []
    for face in faces:
        content, own_style = a2b.encode(face[None])
        outputs = a2b.decode(content.expand(seeds, -1, -1, -1), w)  # [K,3,S,S]
        back = b2a.decode(b2a.encode(outputs[:1])[0], b2a.mapping(own_style))
        cycle.append(psnr(back, face[None]))
        diversity.append(pairwise_l1(outputs))
        corr.append(grey_thumbnail_correlation(outputs, face[None].expand_as(outputs)).mean())
        anime.append(classifier.anime_probability(outputs).mean())
    return GroupScores(name, len(faces), float(torch.cat(cycle).mean()), float(torch.stack(diversity).mean()),
                       float(torch.stack(corr).mean()), float(torch.stack(anime).mean()))


@dataclass(frozen=True)
class TeacherScores:
    name: str
    count: int
    lpips_anchor: float  # A2B(face, anchor z) vs teacher output
    lpips_read: float  # A2B(face, style read from the teacher output) vs teacher output
    lpips_input: float  # the face itself vs teacher output
    anime_anchor: float
    anime_teacher: float


def style_anchor(b2a: Generator, teacher_outputs: Tensor, chunk: int = 32) -> Tensor:
    """[1,latent] mean of the style codes that B2A reads from a teacher's outputs [N,3,S,S]: the teacher's look."""
    with torch.no_grad():
        codes = torch.cat([b2a.encode(part)[1] for part in teacher_outputs.split(chunk)])
    return codes.mean(0, keepdim=True)


@torch.no_grad()
def evaluate_teacher(name: str, faces: Tensor, targets: Tensor, anchor: Tensor, a2b: Generator, b2a: Generator,
                     lpips, classifier: AnimeClassifier) -> TeacherScores:
    """Scores of faces [N,3,S,S] against their teacher outputs [N,3,S,S]; `anchor` z [1,latent]."""
    content = a2b.encode(faces)[0]
    anchored = a2b.decode(content, a2b.mapping(anchor.expand(len(faces), -1)))
    read = a2b.decode(content, a2b.mapping(b2a.encode(targets)[1]))
    return TeacherScores(name, len(faces), float(lpips(anchored.clamp(-1, 1), targets).mean()),
                         float(lpips(read.clamp(-1, 1), targets).mean()), float(lpips(faces, targets).mean()),
                         float(classifier.anime_probability(anchored).mean()),
                         float(classifier.anime_probability(targets).mean()))


def teacher_table(rows: list[TeacherScores]) -> str:
    lines = ["| teacher, faces | n | LPIPS, anchor style | LPIPS, style read from its output | LPIPS of the face "
             "(no model) | anime score, anchor | anime score of the teacher |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.count} | {r.lpips_anchor:.3f} | {r.lpips_read:.3f} | {r.lpips_input:.3f} "
                     f"| {r.anime_anchor:.3f} | {r.anime_teacher:.3f} |")
    return "\n".join(lines)


def markdown_table(groups: list[GroupScores], reference: dict[str, float]) -> str:
    """The evaluation table; `reference` holds the classifier's scores on untranslated images."""
    lines = ["| faces | n | cycle PSNR A→B→A (dB) | style diversity (pairwise L1) | content corr (grey 16x16) "
             "| anime score |", "|---|---|---|---|---|---|"]
    for g in groups:
        lines.append(f"| {g.name} | {g.count} | {g.cycle_psnr:.2f} | {g.diversity_l1:.4f} | {g.content_corr:.3f} "
                     f"| {g.anime_score:.3f} |")
    for name, score in reference.items():
        lines.append(f"| {name} (untranslated) | | | | | {score:.3f} |")
    return "\n".join(lines)
