"""Steady photo edits in video: the change an edit makes to a face, averaged over its track's recent frames.

The edit is fixed for the whole video, but the decoder redraws every frame's face anew, and its small differences
from one frame to the next show as flicker in the change it adds (docs/editing.md). The faces are aligned crops,
so a track's change can be averaged in place: an exponential moving average per face track, which a new track starts
from its own first change. Keeping half of the average each frame lags about one frame behind the face's own motion
and halves the decoder's frame-to-frame noise (variance (1 - keep) / (1 + keep) of it). Where the change draws
something worn, the average keeps more (`WORN_KEEP`), per pixel by that share of the change.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor

KEEP = 0.5  # share of the running average each new frame keeps
# Where the change draws something worn (glasses), which stays where it is on the aligned face: its look need not
# follow the face's own motion, so it is averaged over about ten frames. Eyeglasses +1's flicker on the video check's
# worst clip went from 1.230 to 1.191 (session 46).
WORN_KEEP = 0.9


class SteadyChange:
    """Per face track, the moving average of the change [3,S,S] the edit makes to its aligned crop. Faces without a
    track (-1) keep their own change; the oldest tracks are forgotten past `tracks` of them (a long live session)."""

    def __init__(self, keep: float = KEEP, tracks: int = 256):
        if not 0.0 <= keep < 1.0:
            raise ValueError(f"keep must be in [0, 1), not {keep}")
        self.keep, self.tracks = keep, tracks
        self._averages: OrderedDict[int, Tensor] = OrderedDict()

    def clear(self) -> None:
        self._averages.clear()

    def __call__(self, tracks, changes: Tensor, worn: Tensor | None = None) -> Tensor:
        """`changes` [B,3,S,S] of faces in frame order with their track ids `tracks` -> the averaged changes.
        `worn`: [1,S,S] or [B,1,S,S] in [0,1], each pixel's share of the change that draws something worn, which
        keeps WORN_KEEP of its average (None: none)."""
        if tracks is None or self.keep == 0.0:
            return changes
        keeps = self._keeps(changes, worn)
        out = changes.clone()
        for i, track in enumerate(tracks):
            if track < 0:
                continue
            average = self._averages.pop(track, None)
            if average is not None:
                out[i] = keeps[i] * average + (1.0 - keeps[i]) * changes[i]
            self._averages[track] = out[i]
        while len(self._averages) > self.tracks:
            self._averages.popitem(last=False)
        return out

    def _keeps(self, changes: Tensor, worn: Tensor | None) -> Tensor:
        """[B] or [B,1,S,S]: the share of its track's average each face's change keeps, per pixel where some of the
        change draws something worn."""
        if worn is None:
            return torch.full((len(changes),), self.keep, device=changes.device)
        return self.keep + (WORN_KEEP - self.keep) * worn.to(changes.device).expand(len(changes), -1, -1, -1)
