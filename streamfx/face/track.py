"""Face tracks with stable ids: full MTCNN every N frames, O-Net landmark refresh in between, One Euro smoothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from streamfx.errors import UsageError
from streamfx.face.boxes import box_area, box_iou
from streamfx.face.smoothing import OneEuroFilter
from streamfx.types import Face, VideoFrame

log = logging.getLogger(__name__)

# Defaults tuned with scripts/jitter_report.py on the static-camera talking-head clips (docs/faces.md).
DEFAULT_MIN_CUTOFF = 1.0  # Hz
DEFAULT_BETA = 4.0  # per (face sizes per second)


@dataclass
class _Track:
    track_id: int
    face: Face  # latest unsmoothed observation
    smoother: OneEuroFilter | None
    output: Face | None = None  # latest smoothed face, what update() returns


class FaceTracker:
    """Follow faces through a video.

    detect_every: run the full detector every N frames (and whenever no face is tracked); in between, O-Net
    re-reads each tracked box (about 1 ms per face on a CPU).
    smooth: One Euro filter on landmarks and box corners, dt from frame timestamps; min_cutoff and beta as
    in `OneEuroFilter` (speeds in face sizes per second).
    select: "all", "largest" (the largest tracked face in each frame) or an int track id.
    iou_threshold: least overlap for a detection to continue a track.
    keep_threshold: least O-Net score for a refreshed face to stay tracked; below it the track ends
    (its id is not reused) and the next frame runs the full detector.
    """

    def __init__(self, detector, detect_every=5, smooth=True, min_cutoff=DEFAULT_MIN_CUTOFF, beta=DEFAULT_BETA,
                 select="all", iou_threshold=0.3, keep_threshold=0.7):
        if detect_every < 1:
            raise UsageError(f"detect every must be at least 1 frame, not {detect_every}")
        if not (select in ("all", "largest") or (isinstance(select, int) and select >= 0)):
            raise UsageError(f"face selection must be 'all', 'largest' or a track id, not {select!r}")
        self.detector = detector
        self.detect_every = int(detect_every)
        self.smooth = bool(smooth)
        self.min_cutoff, self.beta = float(min_cutoff), float(beta)
        self.select = select
        self.iou_threshold = float(iou_threshold)
        self.keep_threshold = float(keep_threshold)
        self.reset()

    def reset(self) -> None:
        """Drop every track (e.g. after a seek or scene cut); ids continue from where they were."""
        self._tracks: list[_Track] = []
        self._since_detect = 0
        self._detect_next = True
        self._next_id = getattr(self, "_next_id", 0)
        self.last_detected = False  # whether the last update ran the full detector (for stats)

    def update(self, frame: VideoFrame) -> list[Face]:
        """Faces in this frame (after `select`), each with its track_id, smoothed when enabled, ordered by id."""
        self.last_detected = self._detect_next or not self._tracks or self._since_detect >= self.detect_every
        if self.last_detected:
            self._associate(self.detector.detect([frame.image])[0])
            self._since_detect = 1
            self._detect_next = False
        else:
            self._refresh(frame.image)
            self._since_detect += 1
        t = frame.time if frame.time is not None else None
        for track in self._tracks:
            track.output = self._smoothed(track, t, frame.index)
        return self._selected()

    # ---- steps ------------------------------------------------------------------------------------------
    def _associate(self, faces: list[Face]) -> None:
        """Greedy IoU matching of new detections to tracks; unmatched tracks end, unmatched faces start tracks."""
        old = self._tracks
        matched_tracks: list[_Track] = []
        if old and faces:
            iou = box_iou(np.stack([t.face.box for t in old]), np.stack([f.box for f in faces]))
            used_t, used_f = set(), set()
            for flat in np.argsort(-iou, axis=None):
                i, j = divmod(int(flat), len(faces))
                if iou[i, j] < self.iou_threshold:
                    break
                if i in used_t or j in used_f:
                    continue
                used_t.add(i)
                used_f.add(j)
                old[i].face = faces[j]
                matched_tracks.append(old[i])
            faces = [f for j, f in enumerate(faces) if j not in used_f]
            lost = len(old) - len(used_t)
            if lost:
                log.debug("%d face track(s) lost at detection", lost)
        for face in faces:
            matched_tracks.append(_Track(self._next_id, face, self._new_smoother()))
            self._next_id += 1
        self._tracks = sorted(matched_tracks, key=lambda t: t.track_id)

    def _refresh(self, image: np.ndarray) -> None:
        """O-Net on each tracked box; tracks whose face fades out end now."""
        refreshed = self.detector.refine(image, np.stack([t.face.box for t in self._tracks]))
        kept = []
        for track, face in zip(self._tracks, refreshed):
            overlap = box_iou(track.face.box, face.box)[0, 0]
            if face.score >= self.keep_threshold and overlap >= self.iou_threshold:
                track.face = face
                kept.append(track)
        if len(kept) < len(self._tracks):
            self._detect_next = True  # a face left or was lost: look again at once
        self._tracks = kept

    def _new_smoother(self) -> OneEuroFilter | None:
        return OneEuroFilter(self.min_cutoff, self.beta) if self.smooth else None

    def _smoothed(self, track: _Track, t: float | None, index: int) -> Face:
        face = replace(track.face, track_id=track.track_id)
        if track.smoother is None:
            return face
        # 5 landmarks and the 2 box corners filtered together: [7,2] pixels
        points = np.concatenate([face.landmarks.reshape(5, 2), face.box.reshape(2, 2)]).astype(np.float64)
        size = float(np.sqrt(max(box_area(face.box)[0], 1.0)))
        if t is None:
            t = index * track.smoother.default_dt
        points = track.smoother(points, t, scale=size)
        return replace(face, landmarks=points[:5].astype(np.float32), box=points[5:].reshape(4).astype(np.float32))

    def _selected(self) -> list[Face]:
        faces = [t.output for t in self._tracks if t.output is not None]
        if self.select == "all" or not faces:
            return faces
        if self.select == "largest":
            return [max(faces, key=lambda f: float(box_area(f.box)[0]))]
        return [f for f in faces if f.track_id == self.select]
