"""Tuning an edit direction against the attribute classifier, after regression has given its start.

Regression finds the change that comes with an attribute on average; at the strength that carries faces across,
that average change also drags other attributes along and smears the face (docs/editing.md). Tuning keeps one
global direction per attribute (an edit is still one fixed addition per video) and moves it by gradient descent on
training faces, through the photo decoder and the classifier, so that

- at slider +1 a face without the attribute is read as having it, and at -1 a face with it as not (a margin past
  the 0.5 line), which is what the crossing measures;
- the classifier's 39 other readings stay where they were on the unedited face, which is what entanglement
  measures;
- the direction stays near its start (a pull towards it), so it remains the regression's edit, refined, and not
  whatever pattern the classifier happens to answer to.

The faces are training faces outside the calibration set; the held-out faces that judge the result never take
part. Because the classifier that guides the tuning is also the one that scores it, the result must be looked at
(`scripts/edit_grid.py`), not only measured. Its objective adds the decoder's difference to the face rather than
carrying the face along the drawing's motion (`composite.py`: the optical flow has no gradient); the calibration
after tuning judges the direction as edits are made.

Off by default: each time it was tried (sessions 6, 17 and 38, the last through the two-way photo autoencoder) the
classifier was carried across by blotches and streaks that do not show the attribute (docs/editing-log.md, session 38).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from streamfx.engines.torch_engine import cpu_has_bf16

log = logging.getLogger("streamfx.edit")


@dataclass(frozen=True)
class TuneOptions:
    steps: int = 150
    batch: int = 8
    learning_rate: float = 0.05  # Adam's step, in units of the start direction's RMS per number
    margin: float = 1.0  # logit past the 0.5 line that counts as crossed (probability 0.73)
    keep_weight: float = 10.0  # weight of the other attributes' mean absolute change
    anchor_weight: float = 0.1  # pull towards the start, per unit of squared relative distance
    bf16: bool = True  # autocast the decoder and classifier where the CPU has native bf16 (2.2 against 3.1 s per step
    # of 8 faces, one thread, AVX-512 BF16)
    seed: int = 0


@dataclass
class TuningFaces:
    """Training faces with what tuning needs of them, computed once: codes, plain decodings, classifier readings."""

    faces: Tensor  # [N,3,S,S] in [-1,1]
    content: Tensor  # [N,C,H,W]
    style: Tensor  # [N,latent]
    base: Tensor  # [N,3,S,S]: the decoder's plain redrawing
    before: Tensor  # [N,K]: the classifier's probabilities of the faces themselves


@torch.no_grad()
def tuning_faces(encode, decoder, classifier, faces: Tensor, chunk: int = 32) -> TuningFaces:
    """Everything `tune_direction` reads, for `faces`. `encode`: faces -> (content, style), e.g. `encode_all`."""
    content, style = encode(faces)
    base = torch.cat([decoder(content[i:i + chunk], style[i:i + chunk]) for i in range(0, len(faces), chunk)])
    return TuningFaces(faces, content, style, base, classifier.probabilities(faces.clamp(-1, 1)))


def tune_direction(decoder, classifier, data: TuningFaces, k: int, content_dir: Tensor, style_dir: Tensor,
                   opts: TuneOptions = TuneOptions()) -> tuple[Tensor, Tensor]:
    """(content direction, style direction) of attribute k after `opts.steps` steps from the given start.
    `decoder` and `classifier` must be differentiable torch modules (or callables of them); neither is changed."""
    start = (content_dir.detach().float(), style_dir.detach().float())
    units = tuple(d.pow(2).mean().sqrt().clamp(min=1e-8) for d in start)  # step sizes relative to each part
    # Parameters are the directions divided by their units, so one learning rate suits both parts.
    params = [(d / u).clone().requires_grad_(True) for d, u in zip(start, units)]
    optimizer = torch.optim.Adam(params, lr=opts.learning_rate)
    generator = torch.Generator().manual_seed(opts.seed)
    others = torch.ones(data.before.shape[1], dtype=torch.bool)
    others[k] = False
    bf16 = opts.bf16 and cpu_has_bf16()
    for step in range(opts.steps):
        index = torch.randint(len(data.faces), (opts.batch,), generator=generator)
        sign = torch.where(data.before[index, k] < 0.5, 1.0, -1.0)  # push each face towards the other side
        content_delta, style_delta = (p * u for p, u in zip(params, units))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            edited = decoder(data.content[index] + sign[:, None, None, None] * content_delta,
                             data.style[index] + sign[:, None] * style_delta)
            logits = classifier((data.faces[index] + edited.float() - data.base[index]).clamp(-1, 1)).float()
        crossing = F.softplus(opts.margin - sign * logits[:, k]).mean()
        keep = (torch.sigmoid(logits[:, others]) - data.before[index][:, others]).abs().mean()
        anchor = sum(((p * u - s) / u).pow(2).mean() for p, u, s in zip(params, units, start))
        loss = crossing + opts.keep_weight * keep + opts.anchor_weight * anchor
        # gradients of the directions only: the caller's modules are left without any (`.grad` stays as it was)
        for param, grad in zip(params, torch.autograd.grad(loss, params)):
            param.grad = grad
        optimizer.step()
        if step % 25 == 0 or step == opts.steps - 1:
            log.debug("tune %d step %d: crossing %.3f keep %.3f anchor %.3f", k, step, crossing.detach().item(),
                      keep.detach().item(), anchor.detach().item())
    return tuple((p * u).detach() for p, u in zip(params, units))
