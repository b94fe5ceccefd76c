"""Nothing in the GNR blocks stops ONNX export: constant conv weights, dynamic batch, ORT matches torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from streamfx.models.gnr import Generator, GNRConfig

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TINY = GNRConfig(channels=((4, 16), (8, 16), (16, 16), (32, 8), (64, 8), (128, 4), (256, 4)), style_dim=16)


class DecodeFromZ(nn.Module):
    """The decoder graph engines export: mapping + decoder, so z (or w) is a real input."""

    def __init__(self, G: Generator) -> None:
        super().__init__()
        self.G = G

    def forward(self, content, z):
        return self.G.decode(content, self.G.mapping(z))


def _export(module, args, names_in, names_out, path):
    dynamic = {name: {0: "batch"} for name in names_in + names_out}
    torch.onnx.export(
        module, args, str(path), input_names=names_in, output_names=names_out,
        dynamic_axes=dynamic, opset_version=17, dynamo=False,
    )
    return onnx.load(str(path))


def _assert_constant_conv_weights(model):
    """Every Conv/ConvTranspose weight is an initializer (possibly behind Identity), never computed at run time."""
    constants = {init.name for init in model.graph.initializer}
    produced = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants.update(node.output)
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert convs
    for node in convs:
        name = node.input[1]
        while name in produced and produced[name].op_type == "Identity":
            name = produced[name].input[0]
        assert name in constants, f"{node.name} has a run-time weight {node.input[1]}"


@pytest.fixture(scope="module")
def tiny_generator() -> Generator:
    torch.manual_seed(1)
    return Generator(TINY).eval().fold_equalized_lr()


def test_onnx_export_encoder_decoder_match_ort(tiny_generator, tmp_path):
    G = tiny_generator
    x1 = torch.rand(1, 3, 256, 256) * 2 - 1
    enc = _export(G.encoder, (x1,), ["image"], ["content", "style"], tmp_path / "enc.onnx")
    with torch.no_grad():
        c1, _ = G.encode(x1)
    dec = _export(DecodeFromZ(G), (c1, torch.randn(1, 8)), ["content", "z"], ["output"], tmp_path / "dec.onnx")
    _assert_constant_conv_weights(enc)
    _assert_constant_conv_weights(dec)
    enc_sess = ort.InferenceSession(str(tmp_path / "enc.onnx"), providers=["CPUExecutionProvider"])
    dec_sess = ort.InferenceSession(str(tmp_path / "dec.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 4):
        x = torch.rand(batch, 3, 256, 256) * 2 - 1
        z = torch.randn(batch, 8)
        with torch.no_grad():
            content, style = G.encode(x)
            out = G.decode(content, G.mapping(z))
        ort_content, ort_style = enc_sess.run(None, {"image": x.numpy()})
        (ort_out,) = dec_sess.run(None, {"content": content.numpy(), "z": z.numpy()})
        for ours, theirs in [(content, ort_content), (style, ort_style), (out, ort_out)]:
            err = (ours - torch.from_numpy(theirs)).abs().max() / ours.abs().max()
            assert theirs.shape == tuple(ours.shape)
            assert err < 1e-4
