"""What a command asked to edit, the bank that belongs to a model, and the photo edit effect built from them."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from streamfx.edit.sliders import slider_key
from streamfx.errors import ModelError, UsageError

log = logging.getLogger("streamfx")


@dataclass(frozen=True)
class EditRequest:
    """Slider values by name (aliases or CelebA names), the attributes to hold where they are, and whether sides the
    model refuses on real faces may run anyway (`--allow-refused`: below the measured bars, said so)."""

    sliders: dict[str, float] = field(default_factory=dict)
    freeze: tuple[str, ...] = ()
    allow_refused: bool = False

    @property
    def active(self) -> bool:
        return any(value != 0 for value in self.sliders.values())

    def describe(self) -> str:
        moved = ", ".join(f"{name} {value:+g}" for name, value in self.sliders.items() if value != 0) or "none"
        return moved + (f"; frozen: {', '.join(self.freeze)}" if self.freeze else "")


def parse_sliders(text: str, option: str = "--edit") -> dict[str, float]:
    """'smile=0.8,bangs=0.5' -> {"smile": 0.8, "bangs": 0.5}; UsageError naming the option when malformed."""
    sliders = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number):
            raise UsageError(f"{option} expects NAME=VALUE[,NAME=VALUE...] with VALUE in [-1, 1], got {item!r}")
        if not -1.0 <= number <= 1.0:
            raise UsageError(f"{option} {name.strip()}={number:g}: sliders go from -1 to 1")
        key = slider_key(name)
        if key in sliders:
            raise UsageError(f"{option}: {key} is given twice")
        sliders[key] = number
    return sliders


def parse_names(text: str | None) -> tuple[str, ...]:
    return tuple(slider_key(name) for name in (text or "").split(",") if name.strip())


def bank_path(weights: Path) -> Path:
    """Where a model's edit bank is: beside it (`gnr_slim.safetensors` -> `gnr_slim_edits.safetensors`), else in
    the package data (the bundled default model's bank, when the model itself was copied into the cache)."""
    from streamfx.catalog import PACKAGE_DATA

    name = f"{Path(weights).stem}_edits.safetensors"
    beside = Path(weights).with_name(name)
    return beside if beside.is_file() or not (PACKAGE_DATA / name).is_file() else PACKAGE_DATA / name


def load_bank(weights: Path, meta: dict):
    """The edit bank of the model at `weights` (its metadata `meta`); ModelError when it has none."""
    from streamfx.edit.bank import EditBank

    path = bank_path(Path(weights))
    if not path.is_file():
        raise ModelError(f"{Path(weights).name} has no edit bank ({path.name}): fit one with scripts/fit_edits.py")
    return EditBank.load(path, model_sha256=meta.get("tensors_sha256"))


def check_request(bank, request: EditRequest) -> None:
    """UsageError for unknown or uneditable names, before any work."""
    bank.deltas(request.sliders, request.freeze)


def edit_label(bank, request: EditRequest) -> str:
    """What the edit is, for the log and the output's comment; sliders run below the measured bars are named with
    their figures, and warned about."""
    from streamfx.edit.bank import BARS

    below = bank.below_bars(request.sliders)
    for slider in below:
        log.warning("edit: %s, short of the bars a side is offered by (%s): it may not read as the attribute, "
                    "may change others or the person, or may flicker", slider, BARS)
    return request.describe() + (f"; below the measured bars: {', '.join(below)}" if below else "")


def build_photo_edit(weights: str | None, request: EditRequest, *, engine: str = "auto", device: str = "auto",
                     precision: str = "auto", max_batch: int = 8, cache_dir=None, steady: float | None = None):
    """The photo edit effect for the model `weights` (default: the installed default model); `steady`: see
    `PhotoEditEffect` (None: its default)."""
    from streamfx.edit.effect import PhotoEditEffect
    from streamfx.edit.render import PhotoDecoder, bridge_style
    from streamfx.effects import weights_identity
    from streamfx.engines.select import open_engines
    from streamfx.weights import load_generators, resolve_weights

    path = resolve_weights(weights)
    generators, meta = load_generators(path)
    if "A2A" not in generators and not {"A2B", "B2A"} <= set(generators):
        raise ModelError(f"{path}: editing needs the face autoencoder (A2A) or both generators")
    bank = load_bank(path, meta)
    edit = bank.edit(request.sliders, request.freeze, refused=request.allow_refused)
    source = weights_identity(path, meta)
    options = dict(engine=engine, device=device, precision=precision, max_batch=max_batch, cache_dir=cache_dir)
    settings = dict(crop_size=generators["A2B"].config.size, weights=path, label=edit_label(bank, request))
    if steady is not None:
        settings["steady"] = steady
    if "A2A" in generators:  # the photo autoencoder: one set of engines encodes and decodes
        a2a = open_engines(generators["A2A"], source_hash=f"{source}:A2A", **options)
        return PhotoEditEffect(a2a, PhotoDecoder(a2a), edit, engines=[a2a], **settings)
    bridge_w = bridge_style(generators["A2B"], meta, bank.info.get("bridge", "jpface"))
    engines_a2b = open_engines(generators["A2B"], source_hash=source, **options)  # the same engines `anime` uses
    try:
        engines_b2a = open_engines(generators["B2A"], source_hash=f"{source}:B2A", **options)
    except BaseException:
        engines_a2b.close()
        raise
    decoder = PhotoDecoder(a2b=engines_a2b, b2a=engines_b2a, bridge_w=bridge_w)
    return PhotoEditEffect(engines_a2b, decoder, edit, engines=[engines_a2b, engines_b2a], **settings)
