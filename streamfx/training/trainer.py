"""One GANs N' Roses training step, and everything it needs to resume exactly.

Networks: G_A2B (face -> anime) and G_B2A (anime -> face), their EMA copies, image discriminators D_A and D_B,
and the latent discriminator D_L. Each step draws B images per domain; `same` is one image augmented B times,
`varied` is the B images augmented once (see `augment.gnr_batch`). All randomness of a step (data order,
augmentation, style noise, shuffles) comes from the samplers and one CPU `torch.Generator`, which are saved, so
a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from streamfx.errors import UsageError
from streamfx.models.discriminator import Discriminator, LatentDiscriminator
from streamfx.models.gnr import OFFICIAL, SLIM, GNRConfig, Generator
from streamfx.training import checkpoint as ckpt
from streamfx.training.augment import AugmentConfig, augment_pair, gnr_batch, jitter_colours
from streamfx.training.data import DomainData, DomainSampler, ImageCache
from streamfx.training.losses import (LossWeights, d_logistic_loss, g_nonsaturating_loss, r1_penalty,
                                      style_consistency_loss)
from streamfx.training.lpips import either_way, load_lpips

TINY_CHANNELS = ((4, 32), (8, 32), (16, 32), (32, 16), (64, 16))


def model_config(name: str, size: int | None = None) -> GNRConfig:
    """Named generator widths at a training size. Content stays 16x16 (num_down shrinks with the size)."""
    if name == "tiny":
        base = GNRConfig(size=64, num_down=2, channels=TINY_CHANNELS, style_dim=64)
    elif name in ("slim", "official"):
        base = SLIM if name == "slim" else OFFICIAL
    else:
        raise UsageError(f"unknown model config {name!r} (tiny, slim, official)")
    if size is None or size == base.size:
        return base
    num_down = base.num_down - (base.size.bit_length() - size.bit_length())
    channels = tuple((r, c) for r, c in base.channels if r <= size)
    return GNRConfig(**{**asdict(base), "size": size, "num_down": num_down, "channels": channels})


@dataclass(frozen=True)
class TrainConfig:
    model: GNRConfig
    batch: int = 4
    lr: float = 2e-3
    d_reg_every: int = 16  # lazy R1 interval
    ema_decay: float = 0.999
    ema_warmup: bool = True  # decay min(0.999, (1+t)/(10+t)): short runs get a usable EMA; 0.999 from ~9k steps
    lr_halve_every: int = 100_000
    seed: int = 0
    amp: bool = False  # bf16 autocast (CUDA, and CPUs with AVX-512 BF16 / AMX)
    channels_last: bool = False  # NHWC activations: faster convolutions on the CPU
    cycle_lpips_downsample: int = 2  # the cycle's LPIPS at 1/2 resolution: VGG16 at full size would triple the step
    gnr_every: int = 1  # with teacher pairs: the full GNR step every N steps, distillation-only steps between
    jitter_teacher: bool = False  # colour-jitter teacher outputs: a family of palettes per teacher in style space
    weights: LossWeights = field(default_factory=LossWeights)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


@torch.no_grad()
def update_ema(average: torch.nn.Module, live: torch.nn.Module, decay: float, step: int | None = None) -> None:
    """Move `average`'s parameters towards `live`'s; with `step`, a shorter memory over the first steps
    (decay min(decay, (1+t)/(10+t)), as GNR warms its EMA up)."""
    if step is not None:
        decay = min(decay, (1 + step) / (10 + step))
    for p_average, p in zip(average.parameters(), live.parameters()):
        p_average.lerp_(p, 1.0 - decay)


class GNRTrainer:
    """Owns the networks, optimizers, samplers and RNG; `step()` runs one D and one G update."""

    def __init__(self, cfg: TrainConfig, data: DomainData, device: str | torch.device = "cpu"):
        self.cfg, self.data, self.device = cfg, data, torch.device(device)
        torch.manual_seed(cfg.seed)  # parameter initialization
        m = cfg.model
        self.g_a2b, self.g_b2a = Generator(m).to(self.device), Generator(m).to(self.device)
        self.ema_a2b, self.ema_b2a = copy.deepcopy(self.g_a2b).eval(), copy.deepcopy(self.g_b2a).eval()
        _set_requires_grad(self.ema_a2b, False)
        _set_requires_grad(self.ema_b2a, False)
        channels = dict(m.channels)
        self.d_a = Discriminator(m.size, channels).to(self.device)
        self.d_b = Discriminator(m.size, channels).to(self.device)
        self.d_l = LatentDiscriminator(m.latent_dim).to(self.device)
        self.lpips = load_lpips().to(self.device)
        if cfg.channels_last:
            for net in (self.g_a2b, self.g_b2a, self.ema_a2b, self.ema_b2a, self.d_a, self.d_b, self.lpips):
                net.to(memory_format=torch.channels_last)
        d_ratio = cfg.d_reg_every / (cfg.d_reg_every + 1)  # lazy regularization correction of Adam's beta2
        self.g_optim = torch.optim.Adam(
            list(self.g_a2b.parameters()) + list(self.g_b2a.parameters()), lr=cfg.lr, betas=(0.0, 0.99))
        self.d_optim = torch.optim.Adam(
            [p for d in (self.d_a, self.d_b, self.d_l) for p in d.parameters()], lr=cfg.lr, betas=(0.0, 0.99**d_ratio))
        self.sampler_a = DomainSampler(data.train_a, seed=cfg.seed * 2 + 1)
        self.sampler_b = DomainSampler(data.train_b, seed=cfg.seed * 2 + 2)
        self.sampler_pairs = DomainSampler(data.pairs, seed=cfg.seed * 2 + 3) if data.pairs else None
        self.images = ImageCache(m.size)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.step_count = 0
        self.wall_seconds = 0.0
        self.started_from: dict | None = None  # the weight file a warm-started run began from (provenance)

    # -- one iteration ------------------------------------------------------------------------------------------------

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.cfg.amp)

    def _input(self, images: Tensor) -> Tensor:
        images = images.to(self.device)
        return images.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else images

    def _draw(self) -> dict[str, Tensor]:
        """Images, augmentations and style noise for one step, all from the saved RNG state."""
        b, dev = self.cfg.batch, self.device
        ori_a = self.images.batch(self.sampler_a.next_paths(b))  # [B,3,S,S] in [-1,1]
        ori_b = self.images.batch(self.sampler_b.next_paths(b))
        same_a, varied_a = gnr_batch(ori_a, self.generator, self.cfg.augment)
        same_b, varied_b = gnr_batch(ori_b, self.generator, self.cfg.augment)
        latent = self.cfg.model.latent_dim
        draw = {"same_a": same_a, "varied_a": varied_a, "same_b": same_b, "varied_b": varied_b}
        draw = {name: self._input(images) for name, images in draw.items()}
        draw["rand_a"] = torch.randn(b, latent, generator=self.generator).to(dev)  # [B,8] N(0,I) face styles
        draw["rand_b"] = torch.randn(b, latent, generator=self.generator).to(dev)  # anime styles
        for name in ("pick_a", "pick_b"):
            draw[name] = torch.randperm(2 * b, generator=self.generator)[:b].to(dev)
        for name in ("shuffle_a", "shuffle_b"):
            draw[name] = torch.randperm(b, generator=self.generator).to(dev)
        # which pairs LPIPS reads mirrored (`either_way`): the cycle's, both domains
        draw["mirror_cycle"] = (torch.rand(2 * b, generator=self.generator) < 0.5).to(dev)
        if self.sampler_pairs is not None:
            faces, targets = zip(*self.sampler_pairs.next_paths(b))
            pair_x, pair_y = augment_pair(self.images.batch(list(faces)), self.images.batch(list(targets)),
                                          self.generator, self.cfg.augment)
            if self.cfg.jitter_teacher:
                pair_y = jitter_colours(pair_y, self.generator, self.cfg.augment)
            draw["pair_x"], draw["pair_y"] = self._input(pair_x), self._input(pair_y)  # [B,3,S,S] face, teacher
            draw["mirror_pairs"] = (torch.rand(b, generator=self.generator) < 0.5).to(dev)
        return draw

    def _translate(self, x: dict[str, Tensor]) -> dict[str, Tensor]:
        """Forward pass of both generators: encodings, target styles, translations."""
        f = {}
        f["content_a"], f["style_a"] = self.g_a2b.encode(x["same_a"])  # [B,C,16,16], [B,8]
        f["content_b"], f["style_b"] = self.g_b2a.encode(x["same_b"])
        f["enc_a"] = self.g_a2b.encode(x["varied_a"])[1]  # face styles of B different faces
        f["enc_b"] = self.g_b2a.encode(x["varied_b"])[1]  # anime styles of B different anime
        # targets: half N(0,I), half encoded from real images, shuffled, first B
        f["target_b"] = torch.cat([x["rand_b"], f["enc_b"]])[x["pick_b"]]
        f["target_a"] = torch.cat([x["rand_a"], f["enc_a"]])[x["pick_a"]]
        f["fake_b"] = self.g_a2b.decode(f["content_a"], self.g_a2b.mapping(f["target_b"]))  # [B,3,S,S] anime
        f["fake_a"] = self.g_b2a.decode(f["content_b"], self.g_b2a.mapping(f["target_a"]))  # faces
        if "pair_y" in x:
            f["distilled"] = self._distill(x)
        return f

    def _discriminator_step(self, x: dict, f: dict, regularize: bool) -> dict[str, Tensor]:
        _set_requires_grad(nn.ModuleList([self.d_a, self.d_b, self.d_l]), True)
        w = self.cfg.weights
        real_a = x["varied_a"].detach().requires_grad_(regularize)
        real_b = x["varied_b"].detach().requires_grad_(regularize)
        rand_a = x["rand_a"].detach().requires_grad_(regularize)
        rand_b = x["rand_b"].detach().requires_grad_(regularize)
        with self._autocast():
            out_real_a, out_real_b = self.d_a(real_a), self.d_b(real_b)
            out_lat_a, out_lat_b = [self.d_l(rand_a)], [self.d_l(rand_b)]
            loss = (d_logistic_loss(out_real_a, self.d_a(f["fake_a"].detach()))
                    + d_logistic_loss(out_real_b, self.d_b(f["fake_b"].detach()))
                    + d_logistic_loss(out_lat_a, [self.d_l(f["enc_a"].detach())])
                    + d_logistic_loss(out_lat_b, [self.d_l(f["enc_b"].detach())]))
            if "distilled" in f:  # teacher styles are fakes too: D_L pulls them into N(0,I), where seeds land
                loss = loss + F.softplus(self.d_l(f["distilled"]["style"].detach()).float()).mean()
        logs = {"d_adv": loss.detach()}
        if regularize:
            r1 = (r1_penalty(out_real_a, real_a) + r1_penalty(out_real_b, real_b)
                  + r1_penalty(out_lat_a, rand_a) + r1_penalty(out_lat_b, rand_b))
            loss = loss + w.r1_gamma / 2 * r1 * self.cfg.d_reg_every  # lazy: scaled by the interval
            logs["d_r1"] = r1.detach()
        self.d_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.d_optim.step()
        return logs

    def _generator_step(self, x: dict, f: dict) -> dict[str, Tensor]:
        _set_requires_grad(nn.ModuleList([self.d_a, self.d_b, self.d_l]), False)
        w = self.cfg.weights
        with self._autocast():
            adv = g_nonsaturating_loss(self.d_a(f["fake_a"])) + g_nonsaturating_loss(self.d_b(f["fake_b"]))
            lat = g_nonsaturating_loss([self.d_l(f["enc_a"])]) + g_nonsaturating_loss([self.d_l(f["enc_b"])])
            consistency = style_consistency_loss(f["style_a"]) + style_consistency_loss(f["style_b"])
            # cycle: content of the fake, the source's own style (shuffled: it is the same image B times)
            rec_content_a, rec_style_b = self.g_b2a.encode(f["fake_b"])
            rec_content_b, rec_style_a = self.g_a2b.encode(f["fake_a"])
            cycle_a = self.g_b2a.decode(rec_content_a, self.g_b2a.mapping(f["style_a"][x["shuffle_a"]]))
            cycle_b = self.g_a2b.decode(rec_content_b, self.g_a2b.mapping(f["style_b"][x["shuffle_b"]]))
            cycle = F.mse_loss(cycle_a.float(), x["same_a"]) + F.mse_loss(cycle_b.float(), x["same_b"])
            style_rec = (F.mse_loss(rec_style_b.float(), f["target_b"].float())
                         + F.mse_loss(rec_style_a.float(), f["target_a"].float()))
            distilled = f.get("distilled")
            if distilled is not None:
                lat = lat + g_nonsaturating_loss([self.d_l(distilled["style"])])  # teacher styles inside N(0,I)
            perceptual, distill_lpips = self._perceptual(x, cycle_a, cycle_b, distilled)
        loss = (w.adversarial * adv + w.latent_adversarial * lat + w.style_consistency * consistency
                + w.cycle * cycle + w.perceptual * perceptual + w.style_reconstruction * style_rec)
        logs = {"g_adv": adv.detach(), "g_latent": lat.detach(), "style_consistency": consistency.detach(),
                "cycle_mse": cycle.detach(), "cycle_perceptual": perceptual.detach(),
                "style_reconstruction": style_rec.detach()}
        if distilled is not None:
            distill_l1 = (distilled["image"].float() - x["pair_y"]).abs().mean()
            loss = loss + w.distill_l1 * distill_l1 + w.distill_lpips * distill_lpips
            logs.update(distill_l1=distill_l1.detach(), distill_lpips=distill_lpips.detach())
        self.g_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optim.step()
        return {"g_total": loss.detach(), **logs}

    def _distill(self, x: dict) -> dict[str, Tensor]:
        """A->B decoding of the face's content with the style that the B->A encoder reads from the teacher output."""
        content = self.g_a2b.encode(x["pair_x"])[0]
        style = self.g_b2a.encode(x["pair_y"])[1]  # [B,8]
        return {"image": self.g_a2b.decode(content, self.g_a2b.mapping(style)), "style": style}

    def _perceptual(self, x: dict, cycle_a: Tensor, cycle_b: Tensor, distilled: dict | None) -> tuple[Tensor, Tensor]:
        """(cycle LPIPS summed over both domains, distillation LPIPS).

        VGG16 LPIPS costs more than the rest of the step, so the cycle (whose job is to keep the content) is
        measured at half resolution, in one call for both domains; the distillation, which carries the
        teacher's line work, at full resolution. Half of each call's pairs are read mirrored (`lpips.either_way`).
        """
        half = self.cfg.cycle_lpips_downsample
        outputs = F.avg_pool2d(torch.cat([cycle_a, cycle_b]), half) if half > 1 else torch.cat([cycle_a, cycle_b])
        targets = torch.cat([x["same_a"], x["same_b"]])
        targets = F.avg_pool2d(targets, half) if half > 1 else targets
        cycle = either_way(self.lpips, outputs, targets, x["mirror_cycle"]).float().mean() * 2  # both domains
        if distilled is None:
            return cycle, cycle.new_zeros(())
        return cycle, self._distill_lpips(distilled, x)

    def _distill_lpips(self, distilled: dict, x: dict) -> Tensor:
        """LPIPS of the distilled drawings against the teacher's, half of the pairs read mirrored."""
        return either_way(self.lpips, distilled["image"], x["pair_y"], x["mirror_pairs"]).float().mean()

    def _update_ema(self) -> None:
        for ema, live in ((self.ema_a2b, self.g_a2b), (self.ema_b2a, self.g_b2a)):
            update_ema(ema, live, self.cfg.ema_decay, self.step_count if self.cfg.ema_warmup else None)

    def _set_lr(self) -> None:
        lr = self.cfg.lr * 0.5 ** (self.step_count // self.cfg.lr_halve_every)
        for group in self.g_optim.param_groups + self.d_optim.param_groups:
            group["lr"] = lr

    def _distill_step(self, x: dict) -> dict[str, Tensor]:
        """A generator update on the teacher pairs alone: about a third of the full step's cost on the CPU."""
        _set_requires_grad(self.d_l, False)
        w = self.cfg.weights
        with self._autocast():
            distilled = self._distill(x)
            lat = g_nonsaturating_loss([self.d_l(distilled["style"])])
            distill_lpips = self._distill_lpips(distilled, x)
        distill_l1 = (distilled["image"].float() - x["pair_y"]).abs().mean()
        loss = w.distill_l1 * distill_l1 + w.distill_lpips * distill_lpips + w.latent_adversarial * lat
        self.g_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optim.step()
        return {"g_total": loss.detach(), "distill_l1": distill_l1.detach(), "distill_lpips": distill_lpips.detach()}

    def is_full_step(self, step: int) -> bool:
        """Whether `step` runs the whole GNR update (always, without teacher pairs)."""
        return self.sampler_pairs is None or step % self.cfg.gnr_every == 0

    def is_r1_step(self, step: int) -> bool:
        """Whether `step` adds the lazy R1 penalty: every `d_reg_every`-th full step."""
        every = 1 if self.sampler_pairs is None else self.cfg.gnr_every
        return self.is_full_step(step) and (step // every) % self.cfg.d_reg_every == 0

    def step(self) -> dict[str, Tensor]:
        """One iteration (D update, G update, EMA; or a distillation-only G update, see `gnr_every`).
        Returns detached scalar losses (no device sync)."""
        self._set_lr()
        self.g_a2b.train()
        self.g_b2a.train()
        x = self._draw()
        if self.is_full_step(self.step_count):
            with self._autocast():
                f = self._translate(x)
            logs = self._discriminator_step(x, f, self.is_r1_step(self.step_count))
            logs.update(self._generator_step(x, f))
        else:
            logs = self._distill_step(x)
        self._update_ema()
        self.step_count += 1
        return logs

    # -- state --------------------------------------------------------------------------------------------------------

    def _modules(self) -> dict[str, nn.Module]:
        return {"G_A2B": self.g_a2b, "G_B2A": self.g_b2a, "G_A2B_ema": self.ema_a2b, "G_B2A_ema": self.ema_b2a,
                "D_A": self.d_a, "D_B": self.d_b, "D_L": self.d_l}

    def state(self) -> tuple[dict[str, Tensor], dict]:
        """(tensors, JSON meta) that restore this trainer exactly."""
        tensors = {f"model/{n}/{k}": v for n, m in self._modules().items() for k, v in m.state_dict().items()}
        meta = {"step": self.step_count, "wall_seconds": self.wall_seconds, "config": self.cfg.to_dict(),
                "samplers": {"A": self.sampler_a.state_dict(), "B": self.sampler_b.state_dict(),
                             **({"pairs": self.sampler_pairs.state_dict()} if self.sampler_pairs else {})},
                "data": self.data.sources}
        if self.started_from:
            meta["started_from"] = self.started_from
        for name, optim in (("G", self.g_optim), ("D", self.d_optim)):
            t, m = ckpt.optimizer_state(f"optim/{name}", optim)
            tensors.update(t)
            meta[f"optim_{name}"] = m
        t, meta["rng"] = ckpt.rng_state({"train": self.generator})
        tensors.update(t)
        return tensors, meta

    def warm_start(self, generators: dict[str, nn.Module], step: int, wall_seconds: float,
                   source: dict | None = None) -> None:
        """Continue from exported generators (the EMA pair of a weight file): both the live and the EMA copies start
        from them; discriminators, optimizers and samplers start fresh, as a weight file carries none of them."""
        for direction, live, ema in (("A2B", self.g_a2b, self.ema_a2b), ("B2A", self.g_b2a, self.ema_b2a)):
            raw = copy.deepcopy(generators[direction]).unfold_equalized_lr().state_dict()  # training form
            live.load_state_dict(raw)
            ema.load_state_dict(raw)
        self.step_count, self.wall_seconds = int(step), float(wall_seconds)
        self.started_from = source

    def load_state(self, tensors: dict[str, Tensor], meta: dict) -> None:
        for name, module in self._modules().items():
            prefix = f"model/{name}/"
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        for name, optim in (("G", self.g_optim), ("D", self.d_optim)):
            ckpt.restore_optimizer(f"optim/{name}", optim, tensors, meta[f"optim_{name}"])
        self.sampler_a.load_state_dict(meta["samplers"]["A"])
        self.sampler_b.load_state_dict(meta["samplers"]["B"])
        if self.sampler_pairs is not None:
            self.sampler_pairs.load_state_dict(meta["samplers"]["pairs"])
        ckpt.restore_rng({"train": self.generator}, tensors, meta["rng"])
        self.step_count, self.wall_seconds = int(meta["step"]), float(meta["wall_seconds"])
        self.started_from = meta.get("started_from")
