"""The face autoencoder A2A that photo edits decode with: an encoder, and a decoder that learns to redraw the photo
from the encoder's content map and style code (L1 + LPIPS on CelebA-HQ training faces).

GNR's own photo path, face -> anime -> face, redraws a 128-px face at about 18 dB, too blurry to carry an edit. An
edit only moves the content map and style code, so a decoder that reads those directly is all editing needs. The
decoder starts from the B2A decoder (which already draws faces from a content map). By default it trains alone:
the encoder, and so the content space the edit directions live in, stays exactly the A2B encoder. But A2B's code,
trained to become anime, holds too little of the photo: the decoder then draws smeared faces with doubled eyes
(24 dB), although from codes optimised per face it draws them sharp (28 dB, docs/editing-log.md, session 27). With
`train_encoder` the encoder (from A2B's, or the starting A2A's) trains with the decoder, end to end; photo edits
then read this encoder (`edit/render.photo_encoder`) and the bank keeps the anime directions apart.

L1 + LPIPS alone plateau at a soft face (about 23.6 dB): where a patch could be several things, the decoder draws
their mean. An optional adversarial term (`adversarial_weight`) adds a patch critic that judges local texture
against the real faces, which is what asks the decoder for detail instead of blur.

LPIPS reads half of each batch mirrored (`lpips.either_way`): read one way only, it forgives stripes along one
diagonal, and a decoder trained so draws them (docs/editing-log.md, session 32).

`ema_decay` keeps an exponential moving average of the weights, which is what is evaluated, drawn and exported.

State (what trains, the critic, their Adam moments, the average, step, sampler) is saved as safetensors + JSON, so
a run resumes where it stopped.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from streamfx.engines.torch_engine import cpu_has_bf16
from streamfx.errors import ModelError
from streamfx.models.discriminator import PatchCritic
from streamfx.models.gnr import Generator
from streamfx.models.modulated import ModulatedConv2d
from streamfx.training.losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty
from streamfx.training.lpips import either_way
from streamfx.training.samples import tile, write_png
from streamfx.training.trainer import update_ema

log = logging.getLogger("streamfx.training")

STATE, LOG, GRID = "photo_decoder.safetensors", "photo_decoder.jsonl", "held_out.png"


@dataclass
class PhotoDecoderOptions:
    batch: int = 8
    lr: float = 2e-3  # equal-lr parameters, as GNR trains
    betas: tuple[float, float] = (0.0, 0.99)
    lpips_weight: float = 1.0
    adversarial_weight: float = 0.0  # 0: no critic (L1 + LPIPS only)
    r1_gamma: float = 1.0  # the critic's gradient penalty on real faces, applied lazily every `r1_every` steps
    r1_every: int = 16
    critic_lr: float = 2e-3
    eval_every: int = 100
    save_every: int = 100
    seed: int = 0
    min_lr_fraction: float = 1.0  # lr decays linearly over a run's time budget down to this fraction (1: constant)
    ema_decay: float = 0.0  # 0: no moving average (the trained weights are evaluated and exported)


def autoencoder(g_a2b: Generator, g_b2a: Generator, start: Generator | None = None,
                train_encoder: bool = False) -> Generator:
    """A2A in training form: A2B's encoder (frozen), B2A's mapping and decoder (trainable); or those of `start`, an
    A2A trained before (the one a weight file ships), to train on from there. `train_encoder`: the encoder trains
    too, from `start`'s (else A2B's)."""
    a2a = copy.deepcopy(start if start is not None else g_b2a).unfold_equalized_lr()
    if start is None or not train_encoder:
        a2a.encoder.load_state_dict(copy.deepcopy(g_a2b).unfold_equalized_lr().encoder.state_dict())
    for name, param in a2a.named_parameters():
        param.requires_grad_(train_encoder or not name.startswith("encoder."))
    return a2a


def widen(a2a: Generator, widths: dict[int, int]) -> Generator:
    """A2A with its decoder widened to `widths` {resolution: channels} (wider only), drawing exactly what `a2a`
    draws: the old weights are kept, the new channels start random but reach the old channels and the RGB output
    only through zero weights, so training grows them from the decoder already trained. The encoder is unchanged."""
    from dataclasses import replace

    old = copy.deepcopy(a2a).fold_equalized_lr()
    config = replace(old.config, decoder_channels=tuple(sorted({**dict(old.config.decoder_channels),
                                                                **widths}.items())))
    wide = Generator(config).fold_equalized_lr()
    wide.encoder.load_state_dict(old.encoder.state_dict())
    wide.mapping_net.load_state_dict(old.mapping_net.state_dict())
    with torch.no_grad():
        for (name, new), (_, kept) in zip(wide.decoder.named_parameters(), old.decoder.named_parameters()):
            if new.shape != kept.shape and any(a < b for a, b in zip(new.shape, kept.shape)):
                raise ValueError(f"{name}: widen only grows a decoder ({tuple(kept.shape)} -> {tuple(new.shape)})")
            new[tuple(slice(0, n) for n in kept.shape)] = kept
        for module, kept in zip(wide.decoder.modules(), old.decoder.modules()):  # the same layers, in order
            if isinstance(module, ModulatedConv2d):  # cut what new inputs send to the old outputs
                _cut_new_inputs(module, kept)
    return wide if a2a.folded else wide.unfold_equalized_lr()


def _cut_new_inputs(wide: ModulatedConv2d, kept: ModulatedConv2d) -> None:
    """Zero the weights from `wide`'s new input channels to its old output channels."""
    cout_dim, cin_dim = (1, 0) if wide.upsample else (0, 1)
    old_out, old_in = kept.weight.shape[cout_dim], kept.weight.shape[cin_dim]
    index = [slice(None)] * 4
    index[cout_dim], index[cin_dim] = slice(0, old_out), slice(old_in, None)
    wide.weight[tuple(index)] = 0.0


def trainable(a2a: Generator) -> dict[str, Tensor]:
    return {name: param for name, param in a2a.named_parameters() if param.requires_grad}


class PhotoDecoderRun:
    """Train A2A on faces [N,3,S,S] in [-1,1]; held-out faces measure it (PSNR and LPIPS to the face)."""

    def __init__(self, a2a: Generator, faces: Tensor, held_out: Tensor, lpips, run_dir: Path,
                 options: PhotoDecoderOptions = PhotoDecoderOptions(), step: int = 0):
        """`step`: the steps `a2a` has already trained (a saved state in `run_dir` overrides it)."""
        self.a2a, self.faces, self.held_out, self.lpips = a2a, faces, held_out, lpips
        self.optimizer = torch.optim.Adam(trainable(a2a).values(), lr=options.lr, betas=options.betas)
        self.critic = self.critic_optimizer = None
        if options.adversarial_weight > 0:
            self.critic = PatchCritic(a2a.config.size).to(faces.device).requires_grad_(False)
            self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=options.critic_lr,
                                                     betas=options.betas)
        if faces.device.type == "cpu":  # bf16 convolutions on the CPU are fastest channels-last
            for net in (a2a, lpips, self.critic):
                if isinstance(net, torch.nn.Module):  # (tests pass a plain function for LPIPS)
                    net.to(memory_format=torch.channels_last)
        # bf16 where it is native: a GPU, or a CPU with AVX-512 BF16 (emulated bf16 is 18x slower than fp32)
        self.device = faces.device
        self.bf16 = self.device.type == "cuda" or (self.device.type == "cpu" and cpu_has_bf16())
        self.run_dir, self.options = Path(run_dir), options
        self.generator = torch.Generator().manual_seed(options.seed + step)
        self.step = step
        self.trains_encoder = any(p.requires_grad for p in a2a.encoder.parameters())
        self.ema = copy.deepcopy(a2a).requires_grad_(False) if options.ema_decay > 0 else None
        self.resume()

    @property
    def model(self) -> Generator:
        """The A2A that is evaluated, drawn and exported: the moving average when the run keeps one."""
        return self.ema if self.ema is not None else self.a2a

    # ---- training ---------------------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One step; returns its loss terms."""
        o = self.options
        index = torch.randint(len(self.faces), (o.batch,), generator=self.generator).to(self.device)
        flip = (torch.rand(o.batch, generator=self.generator) < 0.5).to(self.device)
        mirror = (torch.rand(o.batch, generator=self.generator) < 0.5).to(self.device)  # how LPIPS reads each pair
        x = self.faces[index]
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.set_grad_enabled(self.trains_encoder):
            content, style = self.a2a.encode(x)
        # LPIPS's VGG16 is most of the step: on CPUs with native bf16, bf16 and channels-last make it 1.8x faster
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.a2a.decode(content, self.a2a.mapping(style))
            perceptual = either_way(self.lpips, out, x, mirror).float().mean()
        terms = {"l1": F.l1_loss(out.float(), x), "lpips": perceptual}
        loss = terms["l1"] + o.lpips_weight * perceptual
        if self.critic is not None:
            terms["adversarial"] = g_nonsaturating_loss([self.critic(out.float())])
            loss = loss + o.adversarial_weight * terms["adversarial"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.critic is not None:
            terms["critic"] = self.critic_step(x, out.detach().float())
        self.step += 1
        if self.ema is not None:
            update_ema(self.ema, self.a2a, self.options.ema_decay, self.step)
        return {"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}}

    def critic_step(self, real: Tensor, fake: Tensor) -> Tensor:
        """Teach the critic real faces from the decoder's drawings (R1 on the real ones every `r1_every` steps)."""
        o, critic = self.options, self.critic.requires_grad_(True)
        regularize = self.step % o.r1_every == 0
        real = real.detach().requires_grad_(regularize)
        real_logits = critic(real)
        loss = d_logistic_loss([real_logits], [critic(fake)])
        if regularize:  # on each face's mean logit: summed, 256 patch logits would penalise ~256x as hard
            loss = loss + o.r1_gamma / 2 * r1_penalty([real_logits.mean((2, 3))], real) * o.r1_every
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer.step()
        critic.requires_grad_(False)
        return loss.detach()

    def run(self, seconds: float) -> dict:
        """Train for `seconds` of wall time, evaluating and saving as it goes; ends with a save."""
        started, losses = time.monotonic(), []
        while (elapsed := time.monotonic() - started) < seconds:
            self.set_lr(1 - (1 - self.options.min_lr_fraction) * elapsed / seconds)
            losses.append(self.train_step())
            if self.step % self.options.eval_every == 0:
                means = {k: sum(row[k] for row in losses) / len(losses) for k in losses[0]}
                self.record(means, time.monotonic() - started)
                losses = []
            if self.step % self.options.save_every == 0:
                self.save()
        self.save()
        return self.evaluate()

    def set_lr(self, fraction: float) -> None:
        """The decoder's (and critic's) step at `fraction` of the options' learning rates."""
        for optimizer, lr in ((self.optimizer, self.options.lr), (self.critic_optimizer, self.options.critic_lr)):
            if optimizer is None:  # no critic in an L1 + LPIPS run
                continue
            for group in optimizer.param_groups:
                group["lr"] = lr * fraction

    @torch.no_grad()
    def evaluate(self, chunk: int = 32) -> dict:
        """PSNR (dB) and LPIPS of the held-out faces redrawn from their own codes; `lpips_mirrored` reads the same
        pairs mirrored, since LPIPS's VGG is stricter on one diagonal than on the other (`either_way`)."""
        from streamfx.training.evaluate import psnr

        scores, model = {"psnr": [], "lpips": [], "lpips_mirrored": []}, self.model
        for part in self.held_out.split(chunk):
            content, style = model.encode(part)
            out = model.decode(content, model.mapping(style)).clamp(-1, 1)
            scores["psnr"].append(psnr(out, part))
            scores["lpips"].append(self.lpips(out, part).flatten())
            scores["lpips_mirrored"].append(self.lpips(out.flip(3), part.flip(3)).flatten())
        return {"step": self.step, **{k: float(torch.cat(v).mean()) for k, v in scores.items()}}

    def record(self, losses: dict[str, float], elapsed: float) -> None:
        # the training losses as train_*, so the training LPIPS cannot overwrite the held-out one
        row = {**self.evaluate(), **{f"train_{k}": round(v, 4) for k, v in losses.items()},
               "elapsed_s": round(elapsed, 1)}
        extra = "".join(f", {k} {losses[k]:.3f}" for k in ("adversarial", "critic") if k in losses)
        log.info("photo decoder step %d: loss %.3f%s, held-out PSNR %.2f dB, LPIPS %.4f (mirrored %.4f)",
                 row["step"], losses["loss"], extra, row["psnr"], row["lpips"], row["lpips_mirrored"])
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / LOG).open("a") as f:
            f.write(json.dumps(row) + "\n")
        self.draw_grid()

    @torch.no_grad()
    def draw_grid(self, count: int = 8) -> Path:
        """`GRID` in the run folder: the first `count` held-out faces over their drawings, to look at. PSNR and
        LPIPS hid for a dozen sessions that the decoder redraws faces smeared, streaked and with doubled eyes
        (docs/editing-log.md, session 27); a glance shows it."""
        faces, model = self.held_out[:count], self.model
        content, style = model.encode(faces)
        drawn = model.decode(content, model.mapping(style)).float()
        return write_png(self.run_dir / GRID, tile([faces, drawn]))

    # ---- state --------------------------------------------------------------------------------------------------
    def save(self) -> None:
        from safetensors.torch import save_file

        tensors, meta = {}, {"step": str(self.step), "sampler": json.dumps(self.generator.get_state().tolist())}
        for prefix, params, optimizer in self._trained():
            tensors.update(_pack(prefix, params, optimizer))
            meta[f"{_adam(prefix)}_step"] = str(_adam_step(optimizer))
        if self.ema is not None:
            tensors.update({f"ema.{k}": v.contiguous() for k, v in self.ema.state_dict().items()})
        self.run_dir.mkdir(parents=True, exist_ok=True)
        partial = self.run_dir / f".{STATE}.part"
        save_file(tensors, str(partial), metadata=meta)
        partial.replace(self.run_dir / STATE)

    def resume(self) -> None:
        """Load the saved state; a critic the state lacks (an L1 + LPIPS run, now adversarial) starts fresh."""
        from safetensors import safe_open

        path = self.run_dir / STATE
        if not path.is_file():
            return
        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
            keys = set(f.keys())
            for prefix, params, optimizer in self._trained():
                if any(k.startswith(prefix + ".") for k in keys):
                    if not {f"{prefix}.{name}" for name in params} <= keys:
                        raise ModelError(f"{path}: saved by a run that trained other parameters (with or without "
                                         f"the encoder); resume it as it was, or use another run folder")
                    _unpack(f, keys, prefix, params, optimizer, int(meta[f"{_adam(prefix)}_step"]))
            if self.ema is not None:  # a state without an average starts it from the weights just loaded
                saved = {k[len("ema."):]: f.get_tensor(k) for k in keys if k.startswith("ema.")}
                self.ema.load_state_dict(saved if saved else self.a2a.state_dict())
        self.step = int(meta["step"])
        self.generator.set_state(torch.tensor(json.loads(meta["sampler"]), dtype=torch.uint8))
        log.info("photo decoder resumed at step %d", self.step)

    def _trained(self) -> list[tuple[str, dict[str, Tensor], torch.optim.Optimizer]]:
        """(key prefix, parameters, optimizer) of each network this run trains."""
        nets = [("param", trainable(self.a2a), self.optimizer)]
        if self.critic is not None:
            nets.append(("critic", dict(self.critic.named_parameters()), self.critic_optimizer))
        return nets


def _adam(prefix: str) -> str:
    """Key prefix of the Adam state of the parameters saved under `prefix` (the decoder's kept its first name)."""
    return "adam" if prefix == "param" else f"{prefix}_adam"


def _pack(prefix: str, params: dict[str, Tensor], optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Parameters as `prefix.name`, Adam's moments as `{_adam(prefix)}.i.exp_avg[_sq]`."""
    adam = _adam(prefix)
    tensors = {f"{prefix}.{k}": v.detach().contiguous() for k, v in params.items()}
    for i, param in enumerate(params.values()):
        state = optimizer.state.get(param, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                tensors[f"{adam}.{i}.{key}"] = state[key].contiguous()
    return tensors


def _unpack(f, keys: set[str], prefix: str, params: dict[str, Tensor], optimizer: torch.optim.Optimizer,
            adam_step: int) -> None:
    adam = _adam(prefix)
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(f.get_tensor(f"{prefix}.{name}"))
    for i, param in enumerate(params.values()):
        if f"{adam}.{i}.exp_avg" in keys:
            optimizer.state[param] = {"step": torch.tensor(float(adam_step)),
                                      "exp_avg": f.get_tensor(f"{adam}.{i}.exp_avg").to(param.device),
                                      "exp_avg_sq": f.get_tensor(f"{adam}.{i}.exp_avg_sq").to(param.device)}


def _adam_step(optimizer: torch.optim.Optimizer) -> int:
    states = [s for s in optimizer.state.values() if "step" in s]
    return int(states[0]["step"]) if states else 0
