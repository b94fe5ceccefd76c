"""Slider names users type, free of torch so the command line can list them without loading it."""

from __future__ import annotations

# Friendly slider names: (CelebA attribute, sign). `--age +1` makes a face older, which is Young going down.
ALIASES = {
    "smile": ("Smiling", 1.0), "age": ("Young", -1.0), "young": ("Young", 1.0), "male": ("Male", 1.0),
    "eyeglasses": ("Eyeglasses", 1.0), "glasses": ("Eyeglasses", 1.0), "bald": ("Bald", 1.0),
    "beard": ("No_Beard", -1.0), "mouth_open": ("Mouth_Slightly_Open", 1.0), "bangs": ("Bangs", 1.0),
}


def slider_key(name: str) -> str:
    """A slider name as typed ("Mouth-Open ") in the form the bank and requests compare ("mouth_open")."""
    return name.strip().lower().replace("-", "_")


# The sliders `streamfx edit` offers as options of their own (the rest through --edit NAME=VALUE).
HEADLINE = ("smile", "age", "male", "eyeglasses", "bald", "beard", "mouth_open", "bangs")

