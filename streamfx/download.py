"""Fetching catalog weights from public Google Drive ids: confirm page, resume via Range, progress bar.

Only `streamfx models download` calls this; nothing downloads at run time or in tests.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
import re
import socket
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin

from streamfx import __version__
from streamfx.catalog import ModelEntry, cache_dir, record_hash, sha256_file
from streamfx.errors import ModelError

log = logging.getLogger("streamfx.download")

DRIVE_URL = "https://drive.google.com/uc?export=download&id={id}"
CHUNK = 1 << 20
MAX_PAGE = 2 << 20  # an HTML page larger than this is not a confirm page


class _FormParser(HTMLParser):
    """Collects the download form (action + hidden inputs) and any href carrying a confirm token."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.confirm_hrefs: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("id") == "download-form" or "download" in (a.get("action") or "")):
            self.action, self._in_form = a.get("action"), True
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "a" and "confirm=" in (a.get("href") or ""):
            self.confirm_hrefs.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def drive_confirm_url(page: str, page_url: str) -> str | None:
    """The URL behind Google Drive's "can't scan this file for viruses" page, or None if the page has none."""
    parser = _FormParser()
    parser.feed(page)
    if parser.action and parser.fields:
        return urljoin(page_url, parser.action) + "?" + urlencode(parser.fields)
    if parser.confirm_hrefs:
        return urljoin(page_url, parser.confirm_hrefs[0])
    token = re.search(r"confirm=([0-9A-Za-z_-]+)", page)
    if token:
        return f"{page_url}&confirm={token.group(1)}"
    return None


def _open(opener, url: str, offset: int, timeout: float):
    headers = {"User-Agent": f"streamfx/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)


def _stream_to(response, part: Path, offset: int, progress: bool, label: str) -> None:
    from tqdm import tqdm

    resumed = offset and response.status == 206
    if offset and not resumed:
        log.info("server ignored the resume request; downloading %s from the start", label)
    start = offset if resumed else 0
    length = response.headers.get("Content-Length")
    total = start + int(length) if length else None
    with open(part, "ab" if resumed else "wb") as f, tqdm(
        total=total, initial=start, unit="B", unit_scale=True, desc=label, disable=not progress
    ) as bar:
        while block := response.read(CHUNK):
            f.write(block)
            bar.update(len(block))


def fetch(url: str, dest: Path, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download `url` to `dest` via `dest.part` (resumed if present), following one Drive confirm page."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    for _attempt in range(2):
        offset = part.stat().st_size if part.exists() else 0
        try:
            response = _open(opener, url, offset, timeout)
        except urllib.error.HTTPError as error:
            if error.code == 416 and offset:  # nothing left to fetch: the part file is complete
                break
            raise
        with response:
            if response.headers.get_content_type() == "text/html":
                page = response.read(MAX_PAGE).decode("utf-8", "replace")
                confirmed = drive_confirm_url(page, response.geturl())
                if confirmed is None:
                    raise ModelError("Google Drive sent a web page instead of the file (quota exceeded or removed?)")
                url = confirmed
                continue
            _stream_to(response, part, offset, progress, dest.name)
            break
    else:
        raise ModelError("Google Drive asked for confirmation twice; download the file by hand")
    os.replace(part, dest)
    return dest


def download_entry(entry: ModelEntry, timeout: float = 30.0, progress: bool = True, url: str | None = None) -> tuple:
    """Fetch a catalog entry into the cache, check its keys and shapes, record its SHA-256. Returns (path, sha256)."""
    if not entry.drive_id and url is None:
        raise ModelError(f"model {entry.name!r} has no public download; see `streamfx models info {entry.name}`")
    url = url or DRIVE_URL.format(id=entry.drive_id)
    dest = cache_dir() / entry.file
    try:
        fetch(url, dest, timeout=timeout, progress=progress)
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise ModelError(
            f"cannot download {entry.name}: {url.split('?')[0]} is unreachable ({reason}); this machine looks "
            f"offline. Fetch https://drive.google.com/uc?id={entry.drive_id} elsewhere, copy it to {dest} "
            f"and run `streamfx models verify {entry.name}`"
        ) from None
    return check_downloaded(entry, dest)


def check_downloaded(entry: ModelEntry, path: Path) -> tuple[Path, str]:
    """Keys and shapes of every direction, then the hash (published one enforced, measured one recorded)."""
    from streamfx.weights import load_generators

    load_generators(path)
    digest = sha256_file(path)
    if entry.sha256 and digest != entry.sha256:
        raise ModelError(f"{path}: SHA-256 {digest} differs from the published {entry.sha256}")
    record_hash(entry.file, digest)
    log.info("%s: keys and shapes OK, SHA-256 %s recorded", path, digest)
    return path, digest
