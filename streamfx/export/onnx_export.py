"""GNR generator -> two ONNX graphs (encoder, decoder) with a dynamic batch and their metadata.

The mapping network is not exported: it runs once per video in torch fp32, and `w` is a decoder
input. The TorchScript exporter (`dynamo=False`, opset 17) is used because it needs nothing
beyond torch and onnx; the model's modulated convs use static weights, so the batch stays dynamic.
Each file carries `metadata_props` (architecture config, resolution, normalization, source hash)
so an engine can tell what an artifact is without the weights.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from streamfx import __version__
from streamfx.engines.base import TensorSpec
from streamfx.errors import EngineError
from streamfx.signals import import_uninterrupted

if TYPE_CHECKING:
    import onnx

log = logging.getLogger("streamfx.export")

OPSET = 17
NORMALIZATION = "RGB, NCHW, float32 in [-1,1]"
EXPORT_FORMAT = "1"  # bump when the exported graphs change, so cached ONNX files are re-exported


@dataclass(frozen=True)
class GraphIO:
    """Input and output specs of one exported part."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class ExportedGenerator:
    encoder: Path
    decoder: Path
    precision: str
    model_id: str


def graph_io(config) -> dict[str, GraphIO]:
    """Names and shapes of the encoder and decoder graphs for a GNRConfig."""
    s, c, g = config.size, config.content_channels, config.content_size
    content = TensorSpec("content", ("batch", c, g, g))
    return {
        "encoder": GraphIO((TensorSpec("x", ("batch", 3, s, s)),), (content, TensorSpec("style", ("batch", config.latent_dim)))),
        "decoder": GraphIO((content, TensorSpec("w", ("batch", config.style_dim))), (TensorSpec("image", ("batch", 3, s, s)),)),
    }


def onnx_module():
    """The onnx package, imported on first use with Ctrl-C held: its C++ extension aborts the process when a Ctrl-C
    lands while it loads (`signals.py`), and naming a model for the engine cache needs none of its 0.7 s."""
    import_uninterrupted(("onnx",))
    import onnx

    return onnx


def model_id(generator: nn.Module, source_hash: str = "") -> str:
    """12 hex digits naming the model: from the weights' source hash, else from the tensors themselves."""
    if source_hash:
        return hashlib.sha256(source_hash.encode()).hexdigest()[:12]
    digest = hashlib.sha256(json.dumps(generator.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(generator.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def read_metadata(path: Path) -> dict[str, str]:
    """The `metadata_props` of an ONNX file (weights not loaded)."""
    model = onnx_module().load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def _inference_form(generator: nn.Module) -> nn.Module:
    """A CPU fp32 eval copy with equal-lr gains folded into the weights (Conv W become plain initializers)."""
    generator = copy.deepcopy(generator).to("cpu", torch.float32).eval().requires_grad_(False)
    if hasattr(generator, "fold_equalized_lr") and not getattr(generator, "folded", True):
        generator.fold_equalized_lr()
    return generator


def _trace_to_onnx(module: nn.Module, io_spec: GraphIO) -> onnx.ModelProto:
    examples = tuple(torch.randn(spec.concrete(2)) for spec in io_spec.inputs)  # batch 2: no batch-1 specialisation
    names_in = [s.name for s in io_spec.inputs]
    names_out = [s.name for s in io_spec.outputs]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, every call
        torch.onnx.export(
            module, examples, buffer, dynamo=False, opset_version=OPSET, do_constant_folding=True,
            input_names=names_in, output_names=names_out,
            dynamic_axes={name: {0: "batch"} for name in names_in + names_out},
        )
    return onnx_module().load_from_string(buffer.getvalue())


def _metadata(generator: nn.Module, part: str, precision: str, source_hash: str, ident: str) -> dict[str, str]:
    config = generator.config
    return {
        "streamfx.model": "gnr",
        "streamfx.part": part,
        "streamfx.model_id": ident,
        "streamfx.config": json.dumps(config.to_dict(), sort_keys=True),
        "streamfx.resolution": str(config.size),
        "streamfx.normalization": NORMALIZATION,
        "streamfx.precision": precision,
        "streamfx.source_hash": source_hash,
        "streamfx.version": __version__,
        "streamfx.export_format": EXPORT_FORMAT,
    }


def _save(model: onnx.ModelProto, path: Path, metadata: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name, model.producer_version = "streamfx", __version__
    tmp = Path(f"{path}.tmp")
    onnx_module().save(model, str(tmp))  # < 2 GB even for the official model: no external data
    os.replace(tmp, path)


def _is_current(path: Path, metadata: dict[str, str]) -> bool:
    if not path.is_file():
        return False
    try:
        found = read_metadata(path)
    except Exception:  # a truncated or foreign file: export again
        return False
    return all(found.get(k) == v for k, v in metadata.items() if k != "streamfx.version")


def export_generator(generator: nn.Module, out_dir: Path, *, fp16: bool = False, source_hash: str = "",
                     force: bool = False) -> ExportedGenerator:
    """Write `gnr-<id>-{encoder,decoder}-{fp32,fp16}.onnx` into out_dir; reuses files that are current."""
    onnx = onnx_module()
    from streamfx.export.fp16 import convert_to_fp16  # (it imports onnx)

    precision = "fp16" if fp16 else "fp32"
    ident = model_id(generator, source_hash)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, prepared = {}, None
    for part, io_spec in graph_io(generator.config).items():
        path = out_dir / f"gnr-{ident}-{part}-{precision}.onnx"
        metadata = _metadata(generator, part, precision, source_hash, ident)
        paths[part] = path
        if not force and _is_current(path, metadata):
            log.debug("ONNX %s is current", path.name)
            continue
        prepared = prepared or _inference_form(generator)
        log.info("exporting %s", path.name)
        try:
            model = _trace_to_onnx(getattr(prepared, part), io_spec)
            if fp16:
                model = convert_to_fp16(model)
        except (RuntimeError, ValueError, onnx.checker.ValidationError) as error:
            raise EngineError(f"ONNX export of the {part} failed: {str(error).splitlines()[0]}") from None
        _save(model, path, metadata)
    return ExportedGenerator(paths["encoder"], paths["decoder"], precision, ident)
