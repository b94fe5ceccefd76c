"""The three MTCNN nets compiled by OpenVINO for the CPU.

Torch runs these small nets slowly on the CPU: each is a handful of tiny convolutions, and on one thread torch's
per-layer overhead dominates. OpenVINO fuses each convolution with its PReLU and pooling: P-Net over the pyramid runs
2.4x faster, R-Net on a batch of 24 px crops 6-7x and O-Net on 48 px crops 4-7x, with the same numbers in fp32
(face probabilities within 3e-6). Each net's ONNX graph, with a free batch (and for P-Net free height and width), is
exported once into the engine cache under its weights' hash; each process compiles the three (well under a second).
Without openvino, or when an export or compilation fails, the detector keeps the torch nets: the faces found are the
same either way.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import torch

log = logging.getLogger("streamfx.face")

INPUT = "image"
OPSET = 17  # as the generator's export; not imported from there, which would import onnx (over a second)


class OpenVinoNet:
    """A drop-in for a torch MTCNN net's forward: [B,3,H,W] normalized -> the same tuple of outputs."""

    def __init__(self, compiled):
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: one caller at a time

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with self._lock:
            results = self._request.infer([x.contiguous().numpy()])  # copies out of the request's buffers
        return tuple(torch.from_numpy(output) for output in results.to_tuple())


# Per net: the input side (None: P-Net takes any height and width) and its outputs with their free axes.
_GRAPHS = {
    "pnet": (None, {"prob": {0: "batch", 1: "rows", 2: "columns"}, "offsets": {0: "batch", 2: "rows", 3: "columns"}}),
    "rnet": (24, {"prob": {0: "batch"}, "offsets": {0: "batch"}}),
    "onet": (48, {"prob": {0: "batch"}, "offsets": {0: "batch"}, "points": {0: "batch"}}),
}


def compiled_nets(nets: dict[str, torch.nn.Module], weights: Path, threads: int) -> dict[str, OpenVinoNet] | None:
    """{"pnet", "rnet", "onet"} on OpenVINO with `threads` threads each (they never run at once), or None (the
    reason is logged) when that is not possible here. `weights` is the folder of the nets' .pt files."""
    from streamfx.engines.openvino_engine import import_openvino
    from streamfx.errors import EngineError
    from streamfx.signals import thread_signal_stack_kept

    try:
        openvino = import_openvino()
    except EngineError:
        return None
    try:
        # fp32 asked explicitly: on a CPU with bf16 the plugin would pick bf16 by itself and move the scores.
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": max(1, int(threads)),
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False}
        core = openvino.Core()
        with thread_signal_stack_kept():  # see signals.py: Ctrl-C must not crash after the plugin is gone
            return {name: OpenVinoNet(core.compile_model(str(_exported(net, name, weights / f"{name}.pt")), "CPU",
                                                         config))
                    for name, net in nets.items()}
    except Exception as error:  # export or compile failed (openvino raises its own RuntimeErrors): keep torch
        log.info("face detection stays on torch: MTCNN did not compile with openvino (%s)", str(error)[:200])
        return None


def _exported(net: torch.nn.Module, name: str, weights: Path) -> Path:
    """The cached ONNX file of this net (exported now if missing), named by the weights' hash."""
    from streamfx.export.cache import default_cache_dir, file_sha256

    folder = default_cache_dir()
    path = folder / f"mtcnn-{name}-{file_sha256(weights)[:16]}-opset{OPSET}.onnx"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    side, outputs = _GRAPHS[name]
    example = torch.zeros(1, 3, side or 24, side or 24)
    axes = {INPUT: {0: "batch"} if side else {0: "batch", 2: "height", 3: "width"}, **outputs}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, as in export/onnx_export.py
        torch.onnx.export(net, (example,), str(partial), dynamo=False, opset_version=OPSET, input_names=[INPUT],
                          output_names=list(outputs), dynamic_axes=axes)
    partial.replace(path)  # whole or absent: another process may read it at once
    return path
