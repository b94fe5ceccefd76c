"""P-Net compiled by OpenVINO for the CPU.

Most of a detection is P-Net's small convolutions over the image pyramid. OpenVINO fuses each convolution with its
PReLU and pooling and runs the pyramid 2.4x faster than torch on one thread, with the same numbers in fp32 (face
probabilities within 2e-6). The ONNX graph, with free batch, height and width, is exported once into the engine
cache under the weights' hash; each process compiles it (about 0.3 s). Without openvino, or when export or
compilation fails, the detector keeps the torch P-Net: the faces found are the same either way.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import torch

log = logging.getLogger("streamfx.face")

INPUT, OUTPUTS = "image", ("prob", "offsets")
OPSET = 17  # as the generator's export; not imported from there, which would import onnx (over a second)


class OpenVinoPNet:
    """A drop-in for the torch P-Net's forward: [B,3,H,W] normalized -> (prob [B,H',W'], offsets [B,4,H',W'])."""

    def __init__(self, compiled):
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: one caller at a time

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self._lock:
            results = self._request.infer([x.contiguous().numpy()])  # copies out of the request's buffers
        prob, offsets = results.to_tuple()
        return torch.from_numpy(prob), torch.from_numpy(offsets)


def compiled_pnet(pnet: torch.nn.Module, weights: Path, threads: int) -> OpenVinoPNet | None:
    """P-Net on OpenVINO with `threads` threads, or None (the reason is logged) when that is not possible here."""
    from streamfx.signals import thread_signal_stack_kept

    try:
        import openvino
    except (ImportError, OSError):
        return None
    try:
        # fp32 asked explicitly: on a CPU with bf16 the plugin would pick bf16 by itself and move the scores.
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": max(1, int(threads)),
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False}
        with thread_signal_stack_kept():  # see signals.py: Ctrl-C must not crash after the plugin is gone
            return OpenVinoPNet(openvino.Core().compile_model(str(_exported(pnet, weights)), "CPU", config))
    except Exception as error:  # export or compile failed (openvino raises its own RuntimeErrors): keep torch
        log.info("face detection stays on torch: P-Net did not compile with openvino (%s)", str(error)[:200])
        return None


def _exported(pnet: torch.nn.Module, weights: Path) -> Path:
    """The cached ONNX file of this P-Net (exported now if missing), named by the weights' hash."""
    from streamfx.export.cache import default_cache_dir, file_sha256

    folder = default_cache_dir()
    path = folder / f"mtcnn-pnet-{file_sha256(weights)[:16]}-opset{OPSET}.onnx"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    example = torch.zeros(1, 3, 24, 24)
    axes = {INPUT: {0: "batch", 2: "height", 3: "width"}, "prob": {0: "batch", 1: "rows", 2: "columns"},
            "offsets": {0: "batch", 2: "rows", 3: "columns"}}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, as in export/onnx_export.py
        torch.onnx.export(pnet, (example,), str(partial), dynamo=False, opset_version=OPSET, input_names=[INPUT],
                          output_names=list(OUTPUTS), dynamic_axes=axes)
    partial.replace(path)  # whole or absent: another process may read it at once
    return path
