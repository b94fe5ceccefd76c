"""torch vs ONNX Runtime on real face crops: fp32 parity at batch 1 and 4, fp16 ONNX within 40 dB PSNR.

Models: the golden tiny GNR (official architecture, small widths, every parameter perturbed away from its
initial value: realistic scale, not a fresh init) and a SLIM generator with random weights (equal-lr init:
unit-variance stored weights, modulation bias 1, as the official code initialises before training).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import DATA, REFERENCE, require
from streamfx.engines.onnxruntime_engine import OnnxRuntimeEngine
from streamfx.engines.torch_engine import TorchEngine
from streamfx.export.onnx_export import export_generator, graph_io, read_metadata
from streamfx.models.gnr import SLIM, Generator, GNRConfig

pytest.importorskip("onnxruntime")


def _faces(count: int) -> torch.Tensor:
    folder = require(DATA / "celebahq256" / "images")
    paths = sorted(folder.glob("*.jpg"))[:count]
    images = [cv2.resize(cv2.imread(str(p))[:, :, ::-1], (256, 256), interpolation=cv2.INTER_AREA) for p in paths]
    batch = np.stack(images).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()  # [B,3,256,256] float32 in [-1,1]


def _tiny_reference() -> Generator:
    golden = torch.load(require(REFERENCE / "gnr_tiny_reference.pt"), weights_only=True)
    generator = Generator(GNRConfig.from_dict(golden["config"]))
    generator.load_official_state_dict(golden["G_A2B_ema"])
    return generator.fold_equalized_lr().eval()


def _slim_random() -> Generator:
    torch.manual_seed(1234)
    return Generator(SLIM).eval()


@pytest.fixture(scope="module", params=["tiny_reference", "slim_random"])
def exported(request, tmp_path_factory):
    generator = _tiny_reference() if request.param == "tiny_reference" else _slim_random()
    out = tmp_path_factory.mktemp(request.param)
    return generator, export_generator(generator, out), export_generator(generator, out, fp16=True)


def _psnr(reference: torch.Tensor, test: torch.Tensor) -> float:
    mse = torch.mean((reference.clamp(-1, 1) - test.clamp(-1, 1)) ** 2).item()  # peak-to-peak 2
    return 10 * np.log10(4.0 / max(mse, 1e-20))


@pytest.mark.parametrize("batch", [1, 4])
def test_torch_and_onnxruntime_agree_fp32(exported, batch):
    generator, fp32, _ = exported
    faces = _faces(batch)
    w = generator.mapping(torch.randn(batch, generator.config.latent_dim, generator=torch.Generator().manual_seed(7)))
    io_spec = graph_io(generator.config)
    torch_enc = TorchEngine(generator.encoder, inputs=io_spec["encoder"].inputs, outputs=io_spec["encoder"].outputs).load()
    torch_dec = TorchEngine(generator.decoder, inputs=io_spec["decoder"].inputs, outputs=io_spec["decoder"].outputs).load()
    with OnnxRuntimeEngine(fp32.encoder) as ort_enc, OnnxRuntimeEngine(fp32.decoder) as ort_dec:
        content, style = torch_enc(faces)
        content_ort, style_ort = ort_enc(faces)
        image = torch_dec(content, w.detach())[0]
        image_ort = ort_dec(content, w.detach())[0]
    assert content.shape == (batch, generator.config.content_channels, 16, 16)
    assert image.shape == (batch, 3, 256, 256)
    assert image.std() > 0.01  # a real picture, not a constant
    for ours, theirs in ((content, content_ort), (style, style_ort), (image, image_ort)):
        scale = max(1.0, ours.abs().max().item())
        assert (ours - theirs).abs().max().item() <= 1e-4 * scale


def test_fp16_onnx_within_40db_of_fp32(exported):
    generator, fp32, fp16 = exported
    faces = _faces(4)
    w = generator.mapping(torch.randn(4, generator.config.latent_dim, generator=torch.Generator().manual_seed(3)))
    with OnnxRuntimeEngine(fp32.encoder) as enc32, OnnxRuntimeEngine(fp32.decoder) as dec32, \
            OnnxRuntimeEngine(fp16.encoder, precision="fp16") as enc16, \
            OnnxRuntimeEngine(fp16.decoder, precision="fp16") as dec16:
        image32 = dec32(enc32(faces)[0], w.detach())[0]
        image16 = dec16(enc16(faces)[0], w.detach())[0]
        assert enc16.inputs[0].dtype == "float32" and dec16.outputs[0].dtype == "float32"  # fp32 I/O kept
    assert torch.isfinite(image16).all()
    assert _psnr(image32, image16) >= 40.0
    assert read_metadata(fp16.decoder)["streamfx.precision"] == "fp16"


def test_fp16_onnx_keeps_modulation_and_demodulation_in_fp32(exported):
    import onnx

    _, _, fp16 = exported
    model = onnx.shape_inference.infer_shapes(onnx.load(str(fp16.decoder)))
    dtypes = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    dtypes.update({t.name: t.data_type for t in model.graph.initializer})
    half, single = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert convs and all(dtypes[n.input[1]] == half for n in convs)
    fp32_ops = [n for n in model.graph.node if n.op_type in ("Gemm", "MatMul", "Sqrt", "ReduceSum", "Pow")]
    assert fp32_ops and all(dtypes.get(n.output[0]) == single for n in fp32_ops)
