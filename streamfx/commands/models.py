"""`streamfx models list|info|download|verify`: the model catalog and the weight files in the cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from streamfx.catalog import CATALOG, cache_dir, entry_path, expected_hash, get_entry, sha256_file, verify_entry
from streamfx.errors import ModelError, UsageError

log = logging.getLogger("streamfx.models")


def register(sub) -> None:
    parser = sub.add_parser("models", help="list, inspect, download and verify model weights")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="catalog entries and whether each is present")
    info = actions.add_parser("info", help="an entry's details, and the metadata of its file or of a weight file")
    info.add_argument("name", help="catalog name or path to a .safetensors/.pt file")
    download = actions.add_parser("download", help="fetch an entry into the cache (needs internet)")
    download.add_argument("name")
    download.add_argument("--force", action="store_true", help="download even when the file is present")
    download.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    verify = actions.add_parser("verify", help="check SHA-256, keys and shapes of an entry's file or a weight file")
    verify.add_argument("name", help="catalog name or path")
    parser.set_defaults(run=run, action=None)


def run(args) -> int:
    if args.action in (None, "list"):
        return _list()
    if args.action == "info":
        return _info(args.name)
    if args.action == "download":
        return _download(args.name, args.force, args.timeout, progress=not args.quiet)
    return _verify(args.name)


def _list() -> int:
    print(f"cache: {cache_dir()}")
    print(f"{'name':<18} {'status':<9} {'size':>9}  file")
    for entry in CATALOG.values():
        path = entry_path(entry)
        status = "present" if path.is_file() else "missing"
        size = f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else "-"
        print(f"{entry.name:<18} {status:<9} {size:>9}  {path}")
    return 0


def _info(name: str) -> int:
    from streamfx.weights import read_metadata

    path = Path(name).expanduser()
    info: dict = {}
    if name in CATALOG:
        entry = get_entry(name)
        info = entry.to_dict()
        path = entry_path(entry)
        info["path"] = str(path)
        info["present"] = path.is_file()
        info["expected_sha256"] = expected_hash(entry)
    elif not path.is_file():
        raise UsageError(f"{name} is neither a catalog name nor a file")
    if path.is_file() and path.suffix == ".safetensors":
        info["file_metadata"] = read_metadata(path)
    print(json.dumps(info, indent=2, sort_keys=True))
    return 0


def _download(name: str, force: bool, timeout: float, progress: bool) -> int:
    from streamfx.download import check_downloaded, download_entry

    entry = get_entry(name)
    path = cache_dir() / entry.file
    if path.is_file() and not force:
        log.info("%s is already present; checking it (use --force to download again)", path)
        path, digest = check_downloaded(entry, path)
    else:
        path, digest = download_entry(entry, timeout=timeout, progress=progress)
    print(f"{entry.name}: {path} sha256 {digest}")
    return 0


def _verify(name: str) -> int:
    from streamfx.weights import load_generators

    if name in CATALOG:
        path, digest, expected = verify_entry(get_entry(name))
    else:
        path = Path(name).expanduser()
        if not path.is_file():
            raise UsageError(f"{name} is neither a catalog name nor a file")
        digest, expected = sha256_file(path), None
    generators, _meta = load_generators(path)  # keys, shapes and (safetensors) tensor checksum
    if not generators:
        raise ModelError(f"{path}: no generators inside")
    hash_note = "matches the recorded/published hash" if expected else "no known hash to compare"
    print(f"{path}: OK ({', '.join(sorted(generators))}); sha256 {digest} ({hash_note})")
    return 0
