"""Faces: MTCNN detection (detect.py), alignment (align.py), tracking and smoothing (track.py, smoothing.py),
paste-back (blend.py), debug drawing (draw.py)."""
