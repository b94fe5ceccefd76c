"""The face autoencoder A2A that photo edits decode with: how it is built, trained, resumed and stored, and that the
edit path uses it when a weight file has one."""

from __future__ import annotations

import math

import pytest
import torch

from streamfx.models.gnr import Generator, GNRConfig
from streamfx.training.photo_decoder import PhotoDecoderOptions, PhotoDecoderRun, autoencoder, trainable

TINY = GNRConfig(size=64, channels=((4, 32), (8, 32), (16, 16), (32, 8), (64, 8)), style_dim=32)


def _pair(seed: int = 0) -> tuple[Generator, Generator]:
    torch.manual_seed(seed)
    return Generator(TINY).fold_equalized_lr().eval(), Generator(TINY).fold_equalized_lr().eval()


def _faces(count: int, seed: int) -> torch.Tensor:
    return torch.rand(count, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _lpips_stand_in(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean((1, 2, 3))  # [B], like LPIPS; the real network is not needed to test the loop


def test_autoencoder_reads_with_the_a2b_encoder_and_trains_only_its_decoder():
    g_a2b, g_b2a = _pair()
    a2a = autoencoder(g_a2b, g_b2a)
    faces = _faces(2, 1)
    with torch.no_grad():
        for ours, theirs in zip(a2a.encode(faces), g_a2b.encode(faces)):
            torch.testing.assert_close(ours, theirs)
    names = set(trainable(a2a))
    assert names and not any(n.startswith("encoder.") for n in names)
    assert any(n.startswith("decoder.") for n in names) and any(n.startswith("mapping_net.") for n in names)


def test_training_can_start_from_a_shipped_a2a_and_counts_on_from_its_steps(tmp_path):
    g_a2b, g_b2a = _pair()
    shipped = autoencoder(g_a2b, g_b2a)
    with torch.no_grad():
        for param in trainable(shipped).values():
            param.add_(0.01)  # stands for the training the shipped decoder has had
    again = autoencoder(g_a2b, g_b2a, start=shipped)
    for name, param in trainable(shipped).items():
        torch.testing.assert_close(trainable(again)[name], param, rtol=0, atol=0)
    faces = _faces(2, 1)
    with torch.no_grad():
        torch.testing.assert_close(again.encode(faces)[0], g_a2b.encode(faces)[0])
    run = PhotoDecoderRun(again, _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=2, eval_every=1000, save_every=1000), step=4000)
    run.train_step()
    assert run.step == 4001


def test_an_autoencoder_trained_end_to_end_moves_its_encoder_and_photo_edits_read_it(tmp_path):
    from streamfx.edit.render import photo_encoder, same_encoder

    g_a2b, g_b2a = _pair()
    a2a = autoencoder(g_a2b, g_b2a, train_encoder=True)
    names = set(trainable(a2a))
    assert any(n.startswith("encoder.") for n in names) and any(n.startswith("decoder.") for n in names)
    assert same_encoder(a2a.fold_equalized_lr(), g_a2b)  # it starts from A2B's encoder
    run = PhotoDecoderRun(a2a.unfold_equalized_lr(), _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=2, lr=0.05, eval_every=1000, save_every=1000))
    for _ in range(2):
        run.train_step()
    trained = run.a2a.fold_equalized_lr()
    assert not same_encoder(trained, g_a2b)
    assert photo_encoder({"A2B": g_a2b, "B2A": g_b2a, "A2A": trained}) is trained
    assert photo_encoder({"A2B": g_a2b, "B2A": g_b2a}) is g_a2b
    again = autoencoder(g_a2b, g_b2a, start=trained, train_encoder=True)  # goes on from its own encoder
    assert same_encoder(again.fold_equalized_lr(), trained)
    frozen = autoencoder(g_a2b, g_b2a, start=trained)  # or back to A2B's, frozen
    assert same_encoder(frozen.fold_equalized_lr(), g_a2b)


def test_a_state_saved_with_a_frozen_encoder_is_not_resumed_by_a_run_that_trains_it(tmp_path):
    from streamfx.errors import ModelError

    options = PhotoDecoderOptions(batch=2, eval_every=1000, save_every=1000)
    first = PhotoDecoderRun(autoencoder(*_pair()), _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path, options)
    first.train_step()
    first.save()
    with pytest.raises(ModelError, match="trained other parameters"):
        PhotoDecoderRun(autoencoder(*_pair(), train_encoder=True), _faces(16, 2), _faces(4, 3), _lpips_stand_in,
                        tmp_path, options)


@pytest.mark.parametrize("adversarial, train_encoder, ema", [(0.0, False, 0.0), (0.1, False, 0.0), (0.0, True, 0.9)])
def test_a_resumed_run_continues_exactly(tmp_path, adversarial, train_encoder, ema):
    """Three steps, save, resume in a new run: the next steps match those of the run that never stopped (the critic,
    when there is one, resumes too, and so does the moving average)."""
    def run(folder):
        return PhotoDecoderRun(autoencoder(*_pair(), train_encoder=train_encoder), _faces(16, 2), _faces(4, 3),
                               _lpips_stand_in, folder,
                               PhotoDecoderOptions(batch=2, eval_every=1000, save_every=1000,
                                                   adversarial_weight=adversarial, r1_every=2, ema_decay=ema))

    straight = run(tmp_path / "straight")
    for _ in range(5):
        straight.train_step()
    first = run(tmp_path / "stopped")
    for _ in range(3):
        first.train_step()
    first.save()
    resumed = run(tmp_path / "stopped")
    assert resumed.step == 3
    for _ in range(2):
        resumed.train_step()
    for name, param in trainable(straight.a2a).items():
        torch.testing.assert_close(trainable(resumed.a2a)[name], param, rtol=0, atol=0)
    if adversarial:
        for name, param in straight.critic.named_parameters():
            torch.testing.assert_close(dict(resumed.critic.named_parameters())[name], param, rtol=0, atol=0)
    if ema:  # the average is what is evaluated: it lags the trained weights
        for name, param in straight.ema.state_dict().items():
            torch.testing.assert_close(resumed.ema.state_dict()[name], param, rtol=0, atol=0)
        assert straight.model is straight.ema
        last = straight.ema.decoder.to_rgbs[-1].conv.weight
        assert not torch.equal(last, straight.a2a.decoder.to_rgbs[-1].conv.weight)
    before = run(tmp_path / "fresh").evaluate()
    assert resumed.evaluate()["psnr"] != before["psnr"]  # the steps did change the decoder


def test_weights_keep_a2a_and_the_edit_path_decodes_with_it(tmp_path):
    from streamfx.edit.render import photo_decoder, photo_edit
    from streamfx.weights import load_weights, save_weights

    g_a2b, g_b2a = _pair()
    a2a = autoencoder(g_a2b, g_b2a)
    path = tmp_path / "model.safetensors"
    save_weights(path, {"A2B": g_a2b, "B2A": g_b2a, "A2A": a2a}, {"directions": ["A2B"], "steps": 7})
    generators, meta = load_weights(path)
    assert sorted(generators) == ["A2A", "A2B", "B2A"] and meta["directions"] == ["A2A", "A2B", "B2A"]
    assert meta["steps"] == 7  # the caller's metadata is kept, but never the file's own layout fields
    decoder = photo_decoder(generators, meta)
    assert decoder.kind == "A2A decoder"
    faces = _faces(3, 4)
    content, style = generators["A2B"].encode(faces)
    with torch.no_grad():
        expected = generators["A2A"].decode(content, generators["A2A"].mapping(style))
        torch.testing.assert_close(decoder(content, style), expected)
        zero = torch.zeros_like(content[0])
        assert torch.equal(photo_edit(generators["A2B"], decoder, faces, (zero, torch.zeros(style.shape[1]))), faces)
    del generators["A2A"]
    cycle = photo_decoder(generators, meta)
    assert cycle.kind == "anime cycle"
    with torch.no_grad():  # without A2A: drawn as anime in the bridge style, read back and drawn as a face
        bridge = generators["A2B"].mapping(torch.zeros(1, TINY.latent_dim))  # the file names no style anchors
        anime = generators["A2B"].decode(content, bridge.expand(len(content), -1))
        anime_content, _ = generators["B2A"].encode(anime)
        expected = generators["B2A"].decode(anime_content, generators["B2A"].mapping(style))
        torch.testing.assert_close(cycle(content, style), expected)
        assert torch.equal(photo_edit(generators["A2B"], cycle, faces, (zero, torch.zeros(style.shape[1]))), faces)


def test_photo_decoder_needs_a2a_or_a_cycle():
    from streamfx.edit.render import PhotoDecoder

    g_a2b, _ = _pair()
    with pytest.raises(ValueError, match="needs A2A"):
        PhotoDecoder(a2b=g_a2b)


def test_a_widened_decoder_draws_exactly_what_it_drew_and_is_stored_with_its_widths(tmp_path):
    from streamfx.training.photo_decoder import widen
    from streamfx.weights import load_weights, save_weights

    g_a2b, g_b2a = _pair()
    a2a = autoencoder(g_a2b, g_b2a)
    with torch.no_grad():
        for param in trainable(a2a).values():
            param.add_(0.05 * torch.randn_like(param))  # a decoder that has trained a while
    wide = widen(a2a, {32: 16, 64: 12})
    assert wide.config.decoder_channels == ((32, 16), (64, 12)) and wide.config.channels == TINY.channels
    assert wide.decoder.to_rgbs[-1].conv.weight.shape[1] == 12
    assert sum(p.numel() for p in wide.decoder.parameters()) > sum(p.numel() for p in a2a.decoder.parameters())
    faces = _faces(3, 5)
    with torch.no_grad():
        content, style = a2a.encode(faces)
        before = a2a.decode(content, a2a.mapping(style))
        torch.testing.assert_close(wide.encode(faces)[0], content, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(wide.decode(content, wide.mapping(style)), before, rtol=1e-5, atol=1e-5)
    # it trains from there: the new channels learn (their weights to the old outputs start at zero)
    run = PhotoDecoderRun(autoencoder(g_a2b, g_b2a, wide), _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=4, eval_every=1000, save_every=1000))
    run.train_step()
    run.train_step()
    with torch.no_grad():
        assert not torch.allclose(run.a2a.decode(content, run.a2a.mapping(style)), before, atol=1e-4)
    path = tmp_path / "wide.safetensors"
    save_weights(path, {"A2B": g_a2b, "B2A": g_b2a, "A2A": run.a2a}, {})
    generators, _ = load_weights(path)
    assert generators["A2A"].config.decoder_channels == ((32, 16), (64, 12))
    assert generators["A2B"].config.decoder_channels == ()
    with torch.no_grad():
        torch.testing.assert_close(generators["A2A"].decode(content, generators["A2A"].mapping(style)),
                                   run.a2a.decode(content, run.a2a.mapping(style)), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="only grows"):
        widen(wide, {64: 8})


def test_decoder_widths_are_checked():
    from dataclasses import replace

    from streamfx.errors import ModelError

    for resolution in (TINY.content_size, 2 * TINY.size):  # the content grid's width is the encoder's
        with pytest.raises(ModelError, match="decoder widths"):
            replace(TINY, decoder_channels=((resolution, 32),))
    assert GNRConfig.from_dict(replace(TINY, decoder_channels=((64, 16),)).to_dict()).decoder_width(64) == 16
    assert "decoder_channels" not in TINY.to_dict()  # files from before the field read and hash the same


def test_the_critic_learns_to_tell_faces_from_drawings(tmp_path):
    """With the adversarial term on, the critic's loss falls below chance (2 log 2) on a decoder that draws badly."""
    run = PhotoDecoderRun(autoencoder(*_pair()), _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=4, lr=0.0, critic_lr=1e-3, eval_every=1000, save_every=1000,
                                              adversarial_weight=0.1))
    first = run.train_step()
    assert set(first) >= {"l1", "lpips", "adversarial", "critic"}
    last = [run.train_step()["critic"] for _ in range(30)]
    assert sum(last[-5:]) / 5 < 0.8 * 2 * math.log(2) < first["critic"] + 0.5


def test_the_step_decays_linearly_over_the_run_to_its_floor(tmp_path):
    run = PhotoDecoderRun(autoencoder(*_pair()), _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=2, lr=1e-3, critic_lr=2e-3, adversarial_weight=0.1,
                                              min_lr_fraction=0.1, eval_every=1000, save_every=1000))
    run.set_lr(0.25)
    assert run.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert run.critic_optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)
    run.run(0.5)
    assert run.step > 0 and 1e-4 <= run.optimizer.param_groups[0]["lr"] < 1e-3


def test_the_log_keeps_the_held_out_lpips_apart_from_the_training_loss(tmp_path):
    """The training loss has an 'lpips' term too; the log row's 'lpips' must be the held-out reading."""
    import json

    run = PhotoDecoderRun(autoencoder(*_pair()), _faces(16, 2), _faces(4, 3), _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=2, eval_every=2, save_every=1000))
    run.train_step()
    run.record({"loss": 9.0, "lpips": 7.0}, 1.0)
    row = json.loads((tmp_path / "photo_decoder.jsonl").read_text().splitlines()[-1])
    assert row["lpips"] == pytest.approx(run.evaluate()["lpips"]) and row["train_lpips"] == 7.0


def test_each_evaluation_leaves_a_grid_of_held_out_faces_over_their_drawings(tmp_path):
    """Numbers hid how badly the decoder drew; the run leaves the picture beside them."""
    import cv2
    import numpy as np

    from streamfx.training.samples import tile

    held = _faces(5, 3)
    run = PhotoDecoderRun(autoencoder(*_pair()), _faces(16, 2), held, _lpips_stand_in, tmp_path,
                          PhotoDecoderOptions(batch=2, eval_every=1000, save_every=1000))
    run.train_step()
    run.record({"loss": 1.0, "lpips": 1.0}, 1.0)
    grid = cv2.cvtColor(cv2.imread(str(tmp_path / "held_out.png")), cv2.COLOR_BGR2RGB)
    assert grid.shape == (2 * 66, 5 * 66, 3)  # all five held-out faces (fewer than eight) over their drawings
    with torch.no_grad():
        content, style = run.a2a.encode(held)
        drawn = run.a2a.decode(content, run.a2a.mapping(style))
    expected = tile([held, drawn])
    assert np.array_equal(grid[:66], expected[:66])  # the faces themselves, exactly
    assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1
    assert not np.array_equal(grid[66:], grid[:66])  # drawings, not the faces again
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]
