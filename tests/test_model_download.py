"""Model download logic without the internet: Drive confirm-page parsing, resume via Range, offline message."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streamfx.catalog import get_entry
from streamfx.download import download_entry, drive_confirm_url, fetch
from streamfx.errors import ModelError

# Shape of Google Drive's current "can't scan this file for viruses" page (trimmed).
CONFIRM_FORM = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<div class="uc-main"><p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button" value="Download anyway"/>
<input type="hidden" name="id" value="1IMIVke4WDaGayUa7vk_xVw1uqIHikGtC">
<input type="hidden" name="export" value="download"><input type="hidden" name="confirm" value="t">
<input type="hidden" name="uuid" value="0c5b2a3e-1111-2222-3333-444455556666"></form></div></body></html>"""
# The older page: a link carrying a confirm token.
CONFIRM_LINK = """<html><body><a id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action"
href="/uc?export=download&amp;confirm=Xy9_b&amp;id=1IMIVke4WDaGayUa7vk_xVw1uqIHikGtC">Download anyway</a></body></html>"""


def test_confirm_url_from_form():
    url = drive_confirm_url(CONFIRM_FORM, "https://drive.google.com/uc?export=download&id=1IM")
    assert url.startswith("https://drive.usercontent.google.com/download?")
    assert "id=1IMIVke4WDaGayUa7vk_xVw1uqIHikGtC" in url and "confirm=t" in url and "uuid=0c5b2a3e" in url


def test_confirm_url_from_link_and_none():
    url = drive_confirm_url(CONFIRM_LINK, "https://drive.google.com/uc?export=download&id=1IM")
    assert url == "https://drive.google.com/uc?export=download&confirm=Xy9_b&id=1IMIVke4WDaGayUa7vk_xVw1uqIHikGtC"
    assert drive_confirm_url("<html><body>Quota exceeded</body></html>", "https://x/uc?id=1") is None


def test_offline_message_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path))
    # Port 9 on the loopback refuses connections: the same failure path as no route to Google, no traffic.
    with pytest.raises(ModelError, match="offline") as info:
        download_entry(get_entry("gnr-official"), timeout=0.5, progress=False, url="http://127.0.0.1:9/uc?id=x")
    assert str(tmp_path / "GNR_checkpoint.pt") in str(info.value)
    assert "\n" not in str(info.value)


PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _FakeDrive(BaseHTTPRequestHandler):
    """/uc answers the confirm page; /download serves PAYLOAD, honouring Range."""

    ranges: list = []

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith("/uc"):
            page = CONFIRM_FORM.replace("https://drive.usercontent.google.com/download", "/download").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        _FakeDrive.ranges.append(start)
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_fetch_follows_confirm_page_and_resumes(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeDrive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dest = tmp_path / "file.bin"
        (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:300_000])  # an interrupted earlier download
        url = f"http://127.0.0.1:{server.server_address[1]}/uc?export=download&id=1IM"
        fetch(url, dest, timeout=5, progress=False)
    finally:
        server.shutdown()
    assert dest.read_bytes() == PAYLOAD
    assert _FakeDrive.ranges == [300_000]
    assert not (tmp_path / "file.bin.part").exists()
