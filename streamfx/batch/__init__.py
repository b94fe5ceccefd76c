"""`streamfx batch`: every video in a folder as one job each, resumable, run here or on a Ray cluster."""
