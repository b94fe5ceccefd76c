"""`streamfx engines export|build|list|clear`: ONNX files and TensorRT plans in the engine cache."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from streamfx.errors import UsageError

log = logging.getLogger("streamfx")


def _add_model_options(parser) -> None:
    parser.add_argument("--weights", metavar="W", help="weights file or catalog name (default: the default model)")
    parser.add_argument("--random", choices=("slim", "official"),
                        help="a randomly initialised generator of this width instead of weights (speed tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    parser.add_argument("--direction", choices=("A2B", "B2A"), default="A2B",
                        help="which generator of the weights file: A2B face->anime (default), B2A anime->face")
    parser.add_argument("--dir", type=Path, help="engine cache folder (default: engines/ or the user cache)")


def register(sub) -> None:
    parser = sub.add_parser("engines", help="export ONNX, build TensorRT plans, list or clear the engine cache",
                            description="Manage the engine cache: ONNX exports and TensorRT plans.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the encoder and decoder ONNX files (dynamic batch)")
    _add_model_options(export)
    export.add_argument("--fp16", action="store_true", help="fp16 convolutions in the ONNX (TensorRT 11 style)")
    export.add_argument("--force", action="store_true", help="export even when current files exist")
    build = actions.add_parser("build", help="compile TensorRT plans for this GPU (exports ONNX first if needed)")
    _add_model_options(build)
    build.add_argument("--fp16", action="store_true", help="build from the fp16 ONNX (default: fp32)")
    build.add_argument("--device", default="cuda:0", help="CUDA device (default cuda:0)")
    build.add_argument("--max-batch", type=int, default=8, help="profile batch 1..N (default 8)")
    build.add_argument("--rebuild", action="store_true", help="build even when a valid plan is cached")
    listing = actions.add_parser("list", help="show cached ONNX files and plans with what they were built for")
    listing.add_argument("--dir", type=Path, help="engine cache folder")
    clear = actions.add_parser("clear", help="delete cached plans and ONNX files")
    clear.add_argument("--dir", type=Path, help="engine cache folder")
    clear.add_argument("--keep-onnx", action="store_true", help="delete only plans, timing caches and notes")
    parser.set_defaults(run=run, preload=("numpy", "torch", "onnxruntime"))


def _cache_dir(args) -> Path:
    from streamfx.export.cache import default_cache_dir

    return args.dir if args.dir else default_cache_dir()


def load_generator(args):
    """(generator, source hash) from --weights or --random."""
    import torch

    from streamfx.models.gnr import OFFICIAL, SLIM, Generator

    if args.random and args.weights:
        raise UsageError("give --weights or --random, not both")
    if args.random:
        torch.manual_seed(args.seed)
        generator = Generator(SLIM if args.random == "slim" else OFFICIAL).eval()
        return generator, ""
    from streamfx.catalog import sha256_file
    from streamfx.weights import load_generators, resolve_weights

    path = resolve_weights(args.weights)
    generators, meta = load_generators(path)
    if args.direction not in generators:
        raise UsageError(f"{path.name} has no {args.direction} generator (has {', '.join(generators)})")
    source = meta.get("tensors_sha256") or sha256_file(path)
    return generators[args.direction], f"{source}:{args.direction}"


def _export(args) -> int:
    from streamfx.export.onnx_export import export_generator

    generator, source_hash = load_generator(args)
    started = time.perf_counter()
    exported = export_generator(generator, _cache_dir(args), fp16=args.fp16, source_hash=source_hash, force=args.force)
    log.info("exported in %.1f s", time.perf_counter() - started)
    print(exported.encoder)
    print(exported.decoder)
    return 0


def _build(args) -> int:
    from streamfx.engines.select import open_engines

    generator, source_hash = load_generator(args)
    if args.rebuild:
        _clear_plans(_cache_dir(args), generator, source_hash)
    engines = open_engines(generator, engine="tensorrt", device=args.device, precision="fp16" if args.fp16 else "fp32",
                           max_batch=args.max_batch, cache_dir=_cache_dir(args), source_hash=source_hash)
    print(engines.description)
    print(engines.encoder.plan_path)
    print(engines.decoder.plan_path)
    engines.close()
    return 0


def _clear_plans(cache_dir: Path, generator, source_hash: str) -> None:
    from streamfx.export.onnx_export import model_id

    for plan in cache_dir.glob(f"gnr-{model_id(generator, source_hash)}-*.engine"):
        plan.unlink()


def _describe(path: Path) -> str:
    from streamfx.errors import EngineError
    from streamfx.export.cache import EngineKey
    from streamfx.export.onnx_export import read_metadata
    from streamfx.export.tensorrt_build import read_header

    try:
        if path.suffix == ".engine":
            key = EngineKey.from_dict(read_header(path)[0]["key"])
            return (f"tensorrt {key.tensorrt_version} {key.precision} on {key.gpu_name} ({key.compute_capability}), "
                    f"batch 1..{key.profile.max_batch}")
        if path.suffix == ".onnx":
            meta = read_metadata(path)
            return f"onnx {meta.get('streamfx.part', '?')} {meta.get('streamfx.precision', '?')} model {meta.get('streamfx.model_id', '?')}"
    except (EngineError, OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable ({error})"
    return ""


def _list(args) -> int:
    from streamfx.export.cache import list_artifacts

    cache_dir = _cache_dir(args)
    files = list_artifacts(cache_dir)
    print(f"{cache_dir}: {len(files)} file(s)")
    for path in files:
        print(f"  {path.name:<60} {path.stat().st_size / 1e6:8.1f} MB  {_describe(path)}")
    return 0


def _clear(args) -> int:
    from streamfx.export.cache import clear_cache

    removed = clear_cache(_cache_dir(args), keep_onnx=args.keep_onnx)
    log.info("removed %d file(s) from %s", len(removed), _cache_dir(args))
    return 0


def run(args) -> int:
    return {"export": _export, "build": _build, "list": _list, "clear": _clear}[args.action](args)
