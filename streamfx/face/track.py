"""Face tracks with stable ids: MTCNN every N frames, O-Net landmark refresh in between, One Euro smoothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from streamfx.errors import UsageError
from streamfx.face.boxes import box_area, box_iou
from streamfx.face.smoothing import OneEuroFilter, face_points, frame_time, with_points
from streamfx.types import Face, VideoFrame

log = logging.getLogger(__name__)

# Defaults tuned with scripts/jitter_report.py on the static-camera talking-head clips (docs/faces.md).
DEFAULT_MIN_CUTOFF = 0.7  # Hz
DEFAULT_BETA = 4.0  # per (face sizes per second)

# Most of a detection is P-Net over the finest pyramid levels, which only small faces need. So only every few
# detections search the whole range; the others look for faces of at least this share of the frame's short side
# (48 px at 720p, 72 at 1080p) and never above any tracked face (with room for it to shrink), so tracks continue.
COARSE_FACE_SHARE = 1 / 15
TRACKED_FACE_MARGIN = 0.7


def parse_selection(text: str, option: str = "face selection") -> str | int:
    """A face-selection rule as typed on a command line: "all", "largest" or a track id; `option` names
    the flag in the error."""
    if text in ("all", "largest"):
        return text
    if text.isdigit():
        return int(text)
    raise UsageError(f"{option} must be all, largest or a track id, not {text!r}")


@dataclass
class _Track:
    track_id: int
    face: Face  # latest unsmoothed observation
    smoother: OneEuroFilter | None
    output: Face | None = None  # latest smoothed face, what update() returns


class FaceTracker:
    """Follow faces through a video.

    detect_every: run the detector every N frames (and on the frame after a doubtful read); in between, O-Net
    re-reads each tracked box (about 0.5 ms per face on a CPU), so a new face shows up within N frames.
    small_faces_every: every so many detections (and the first) search faces down to the detector's smallest size;
    the others skip faces under `COARSE_FACE_SHARE` of the frame, so a small new face shows up within
    N x small_faces_every frames. 1: every detection searches everything.
    smooth: One Euro filter on landmarks and box corners, dt from frame timestamps; min_cutoff and beta as
    in `OneEuroFilter` (speeds in face sizes per second).
    select: "all", "largest" (the largest tracked face in each frame) or an int track id.
    iou_threshold: least overlap for a detection to continue a track.
    start_threshold: least detection score to start a new track. Continuing a track needs only the detector's
    own thresholds (hysteresis): blurry background faces in dark scenes score 0.7-0.93, clear faces > 0.95.
    keep_threshold: least O-Net score to accept a refreshed face between detections. O-Net re-reading a tracked
    box scores real but hard faces (profiles, laughing) anywhere from 0.1 to 1, so a low read only holds the
    last observation and runs the full detector on the next frame; a track ends when a full detection does
    not match it (its id is never reused).
    """

    def __init__(self, detector, detect_every=5, smooth=True, min_cutoff=DEFAULT_MIN_CUTOFF, beta=DEFAULT_BETA,
                 select="all", iou_threshold=0.3, start_threshold=0.95, keep_threshold=0.3, small_faces_every=3):
        if detect_every < 1:
            raise UsageError(f"detect every must be at least 1 frame, not {detect_every}")
        if small_faces_every < 1:
            raise UsageError(f"small faces every must be at least 1 detection, not {small_faces_every}")
        if not (select in ("all", "largest") or (isinstance(select, int) and select >= 0)):
            raise UsageError(f"face selection must be 'all', 'largest' or a track id, not {select!r}")
        self.detector = detector
        self.detect_every = int(detect_every)
        self.small_faces_every = int(small_faces_every)
        self.smooth = bool(smooth)
        self.min_cutoff, self.beta = float(min_cutoff), float(beta)
        self.select = select
        self.iou_threshold = float(iou_threshold)
        self.start_threshold = float(start_threshold)
        self.keep_threshold = float(keep_threshold)
        self.reset()

    def reset(self) -> None:
        """Drop every track (e.g. after a seek or scene cut); ids continue from where they were."""
        self._tracks: list[_Track] = []
        self._since_detect = 0
        self._detections = 0  # since the reset: the first searches every face size
        self._detect_next = True
        self._next_id = getattr(self, "_next_id", 0)
        self.last_detected = False  # whether the last update ran the full detector (for stats)

    def update(self, frame: VideoFrame) -> list[Face]:
        """Faces in this frame (after `select`), each with its track_id, smoothed when enabled, ordered by id."""
        self.last_detected = self._detect_next or self._since_detect >= self.detect_every
        if self.last_detected:
            self._associate(self.detector.detect([frame.image], min_face_size=self._smallest_face(frame.image))[0])
            self._detections += 1
            self._since_detect = 1
            self._detect_next = False
        else:
            if self._tracks:
                self._refresh(frame.image)
            self._since_detect += 1
        t = frame_time(frame)
        for track in self._tracks:
            track.output = self._smoothed(track, t)
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
            if face.score < self.start_threshold:
                continue
            matched_tracks.append(_Track(self._next_id, face, self._new_smoother()))
            self._next_id += 1
        self._tracks = sorted(matched_tracks, key=lambda t: t.track_id)

    def _smallest_face(self, image: np.ndarray) -> float | None:
        """The smallest face this detection searches (frame pixels); None: as small as the detector goes."""
        if self._detections % self.small_faces_every == 0:
            return None
        tracked = [TRACKED_FACE_MARGIN * float(np.sqrt(box_area(t.face.box)[0])) for t in self._tracks]
        return min([COARSE_FACE_SHARE * min(image.shape[:2]), *tracked])

    def _refresh(self, image: np.ndarray) -> None:
        """O-Net on each tracked box. A doubtful read keeps the previous observation and asks for a full
        detection on the next frame, which then continues the track (same id) or ends it."""
        refreshed = self.detector.refine(image, np.stack([t.face.box for t in self._tracks]))
        for track, face in zip(self._tracks, refreshed):
            overlap = box_iou(track.face.box, face.box)[0, 0]
            if face.score >= self.keep_threshold and overlap >= self.iou_threshold:
                track.face = face
            else:
                self._detect_next = True

    def _new_smoother(self) -> OneEuroFilter | None:
        return OneEuroFilter(self.min_cutoff, self.beta) if self.smooth else None

    def _smoothed(self, track: _Track, t: float) -> Face:
        face = replace(track.face, track_id=track.track_id)
        if track.smoother is None:
            return face
        size = float(np.sqrt(max(box_area(face.box)[0], 1.0)))
        return with_points(face, track.smoother(face_points(face), t, scale=size))

    def _selected(self) -> list[Face]:
        faces = [t.output for t in self._tracks if t.output is not None]
        if self.select == "all" or not faces:
            return faces
        if self.select == "largest":
            return [max(faces, key=lambda f: float(box_area(f.box)[0]))]
        return [f for f in faces if f.track_id == self.select]
