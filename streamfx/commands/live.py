"""`streamfx live`: a webcam (or a video file standing in for one) through the pipeline, in real time,
into a preview window, an OBS virtual camera and/or a recording."""

from __future__ import annotations

import argparse
import logging

from streamfx.commands.anime import build_effect
from streamfx.commands.common import PRELOAD, add_face_arguments, add_model_arguments, build_pipeline, check_common
from streamfx.errors import UsageError
from streamfx.io.paths import check_output

log = logging.getLogger("streamfx")

KEYS_HELP = ("keys in the preview window: n/p next/previous style seed, [/] choose an edit slider, +/- move it by "
             "0.1, 0 resets it, space toggles the effect, q quits")
SLIDER_STEP = 0.1


def register(sub) -> None:
    parser = sub.add_parser("live", help="stylize a webcam live: preview window, OBS virtual camera, recording",
                            description=KEYS_HELP)
    parser.add_argument("--camera", default="0", metavar="INDEX|FILE",
                        help="camera index (default 0), or a video file played at its own frame rate")
    parser.add_argument("--width", type=int, default=None, help="requested camera width")
    parser.add_argument("--height", type=int, default=None, help="requested camera height")
    parser.add_argument("--fps", type=float, default=None, help="requested camera frame rate")
    parser.add_argument("--reconnect", action="store_true", help="wait for a camera that disconnects, do not stop")
    parser.add_argument("--preview", action=argparse.BooleanOptionalAction, default=True,
                        help="a preview window with the stylized stream (default on; --no-preview for none)")
    parser.add_argument("--virtual-cam", action="store_true", help="send the output to a virtual camera (pyvirtualcam)")
    parser.add_argument("--virtual-cam-device", default=None, metavar="DEV", help="e.g. /dev/video10")
    parser.add_argument("--virtual-cam-backend", default=None, metavar="NAME",
                        help="pyvirtualcam backend (obs, unitycapture, v4l2loopback; default: the platform's)")
    parser.add_argument("-o", "--output", metavar="OUT.mp4", help="also record what is streamed")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing recording")
    parser.add_argument("--stats", action="store_true", help="print per-stage timings at the end")
    add_model_arguments(parser)
    group = parser.add_argument_group("attribute edits (keys [ ] + - 0 change them while it runs)")
    group.add_argument("--edit", metavar="NAME=V,...", help="sliders in [-1, 1] to start with, e.g. smile=0.5")
    group.add_argument("--freeze", metavar="NAME,...",
                       help="attributes the edit must not push (its part along their directions is removed)")
    add_face_arguments(parser)
    parser.set_defaults(run=run, batch=1, preload=(*PRELOAD, "pyvirtualcam"), thread_budget=True)


class LiveControls:
    """Key handling for the preview window: style seed, edit sliders, effect on/off, quit."""

    def __init__(self, pipeline, effect, camera, seed: int, bank=None, request=None):
        from streamfx.edit.sliders import HEADLINE

        self.pipeline, self.effect, self.camera, self.seed = pipeline, effect, camera, seed
        self.bank = bank  # None: the model has no edit bank, the slider keys do nothing
        self.sliders = dict(request.sliders) if request else {}
        self.freeze = request.freeze if request else ()
        offered = bank.offered(HEADLINE, photo=False) if bank is not None else []
        self.names = offered + [n for n in self.sliders if n not in offered]
        if bank is not None:
            self.names = _steppable(bank, self.names, self.sliders, self.freeze)
        self.chosen = 0

    def on_key(self, key: str) -> None:
        if key in ("q", "\x1b"):
            self.stop()
        elif key in ("[", "]", "+", "=", "-", "0"):
            self._slider_key(key)
        elif key == " ":
            self.pipeline.effect_enabled = not self.pipeline.effect_enabled
            log.info("effect %s", "on" if self.pipeline.effect_enabled else "off")
        elif key in ("n", "p") and hasattr(self.effect, "style_for_seed"):
            self.seed = max(0, self.seed + (1 if key == "n" else -1))
            self.effect.set_styles(self.effect.style_for_seed(self.seed))
            log.info("style seed %d", self.seed)

    def _slider_key(self, key: str) -> None:
        if self.bank is None or not self.names or not hasattr(self.effect, "set_edit"):
            log.info("no edit sliders: this model has no edit bank")
            return
        name = self.names[self.chosen]
        if key in ("[", "]"):
            self.chosen = (self.chosen + (1 if key == "]" else -1)) % len(self.names)
            name = self.names[self.chosen]
        else:
            value = 0.0 if key == "0" else self.sliders.get(name, 0.0) + (SLIDER_STEP if key in "+=" else -SLIDER_STEP)
            self.sliders[name] = round(min(1.0, max(-1.0, value)), 2)
            content_delta, _style_delta = self.bank.deltas(self.sliders, self.freeze, photo=False)
            self.effect.set_edit(content_delta)
        log.info("edit slider %s = %+.1f", name, self.sliders.get(name, 0.0))

    def stop(self) -> None:
        self.pipeline.request_stop()
        self.camera.stop_event.set()


def _steppable(bank, names: list[str], sliders: dict, freeze: tuple[str, ...]) -> list[str]:
    """Of the slider `names`, those the keys may step: one name per attribute (the request's own where it gave one,
    `young` rather than `age`) and none of a frozen attribute, which the bank would refuse to move."""
    requested = {bank.resolve(name)[0]: name for name in sliders}
    taken = {bank.resolve(name)[0] for name in freeze}
    out = []
    for name in names:
        attribute = bank.resolve(name)[0]
        if attribute not in taken:
            taken.add(attribute)
            out.append(requested.get(attribute, name))
    return out


def _sinks(args, camera, width: int, height: int, on_key) -> list:
    from streamfx.sinks.file import FileSink
    from streamfx.sinks.preview import open_preview
    from streamfx.sinks.virtualcam import VirtualCamSink

    sinks = []
    try:
        if args.output is not None:
            out = check_output(args.output, overwrite=args.overwrite, source=getattr(camera, "path", None))
            sinks.append(FileSink(out, width=width, height=height, time_base=camera.time_base, fps=camera.fps,
                                  comment="streamfx live recording", overwrite=args.overwrite))
        if args.virtual_cam:
            sinks.append(VirtualCamSink(width, height, float(camera.fps), device=args.virtual_cam_device,
                                        backend=args.virtual_cam_backend))
        if args.preview:
            preview = open_preview("streamfx live", on_key)
            if preview is not None:
                sinks.append(preview)
                log.info(KEYS_HELP)
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    if not sinks:
        log.warning("no preview, virtual camera or recording: frames are processed and discarded")
    return sinks


def _bank_of(effect):
    """The edit bank of the effect's model, or None (no model, or a model without one)."""
    from streamfx.edit.load import bank_path, load_bank
    from streamfx.weights import read_metadata

    if getattr(effect, "weights", None) is None or not bank_path(effect.weights).is_file():
        return None
    return load_bank(effect.weights, read_metadata(effect.weights))


def run(args) -> int:
    from streamfx.io.camera import open_camera
    from streamfx.signals import sigterm_as_interrupt

    from streamfx.look import Look

    check_common(args)
    look = Look.from_args(args)
    if args.style_image or args.style_mix:
        raise UsageError("live mode takes --style-seed (n/p keys change it), not --style-image or --style-mix")
    camera = open_camera(args.camera, width=args.width, height=args.height, fps=args.fps, reconnect=args.reconnect)
    try:
        if args.output is not None:  # refuse a bad recording path before the model loads
            check_output(args.output, overwrite=args.overwrite, source=getattr(camera, "path", None))
        effect = build_effect(args)
        try:
            pipeline = build_pipeline(args, effect, live=True)
            controls = LiveControls(pipeline, effect, camera, look.first_seed, _bank_of(effect), look.edit)
            width, height = pipeline.composer.output_size(camera.width, camera.height)
            sinks = _sinks(args, camera, width, height, controls.on_key)
            with sigterm_as_interrupt():
                stats = pipeline.run(camera, sinks)
        finally:
            effect.close()
    finally:
        camera.close()
    if args.stats:
        print(stats.table("live"))
    log.info("live: %d frames shown, %d dropped, %.1f fps", stats.frames_out, stats.frames_dropped, stats.fps)
    return 0
