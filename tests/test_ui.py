"""`streamfx ui`: the handlers without a browser (bad uploads, temporary files), then the whole app in a real headless
chromium: upload the sample, pick a style, preview, run, download, and check the file, with nothing fetched from
or sent to anywhere but this machine.

The browser test skips without chromium and chromedriver (Debian: apt-get install chromium chromium-driver), or
fails under STREAMFX_REQUIRE_BROWSER=1 (for CI).
STREAMFX_UI_SCREENSHOT=docs/images/ui.png makes it save the page after the run (how the docs' picture is made).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from conftest import SAMPLES
from streamfx.cli import main
from streamfx.errors import UsageError

pytest.importorskip("gradio", reason="the UI needs Gradio (pip install '.[ui]')")
# Gradio's queue calls pandas in ways pandas 3 deprecates: their business, not this test's.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

from streamfx.ui import gallery, handlers  # noqa: E402  (after the skip: imports gradio)
from streamfx.ui.gallery import Style  # noqa: E402
from streamfx.ui.session import Workspace  # noqa: E402


@pytest.fixture
def ui_env(tmp_path, monkeypatch):
    """The bundled model, engines built in a temporary folder, and the Gradio settings the server changes put back
    afterwards (monkeypatch restores what it saw first)."""
    monkeypatch.setenv("STREAMFX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STREAMFX_ENGINES", str(tmp_path / "engines"))
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")  # the server must turn it off by itself


# ---- no browser -----------------------------------------------------------------------------------------------------
def _text(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("this is not media\n")
    return path


def _empty(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("make, name", [(_text, "notes.txt"), (_text, "notes.mp4"), (_text, "photo.jpg"),
                                        (_empty, "zero.mp4")])
def test_upload_that_is_not_media_gets_the_cli_error(make, name, tmp_path, monkeypatch, capsys, ui_env):
    """The UI's line is the CLI's line for the same file, word for word, and no temporary file outlives it."""
    folder = tmp_path / "mine"
    folder.mkdir()
    path = make(folder, name)
    workspace = Workspace(parent=tmp_path)
    previous = workspace.new_session()  # an earlier upload: replaced, so its folder must go
    (previous.folder / "old.mp4").write_bytes(b"x")

    view = handlers.upload(workspace, str(path), previous, Style())

    monkeypatch.chdir(folder)
    code = main(["anime", name])
    cli_lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(cli_lines) == 1
    assert view.status == cli_lines[0]
    assert name in view.status and str(workspace.root) not in view.status  # the user's name, not our folder
    assert view.session is None and view.tiles == []
    assert list(workspace.sessions.iterdir()) == [], "the failed upload and the one it replaced are both removed"
    workspace.cleanup()
    assert not workspace.root.exists()


def test_workspace_left_by_a_killed_server_is_removed(tmp_path):
    import subprocess

    finished = subprocess.Popen(["true"])
    finished.wait()
    stale = tmp_path / f"streamfx-ui-{finished.pid}-abc"
    running = tmp_path / f"streamfx-ui-{os.getpid()}-def"
    for folder in (stale, running):
        (folder / "sessions").mkdir(parents=True)
    workspace = Workspace(parent=tmp_path)
    assert not stale.exists() and running.exists() and workspace.root.name.startswith(f"streamfx-ui-{os.getpid()}-")
    workspace.cleanup()


def test_run_without_an_upload_says_so():
    view = handlers.run(None, Style())
    assert view.status == "Upload a video or a photo first."


def test_style_choices_are_the_cli_options():
    assert Style(seed=7).flags() == ["--style-seed", "7"]
    assert Style(mode="Mix two seeds", seed=1, seed_b=4, t=0.25).flags() == ["--style-mix", "1,4,0.25"]
    assert Style(mode="Reference image", image="/x/ref.png").flags() == ["--style-image", "/x/ref.png"]
    edited = Style(seed=2, edits=(("smile", 0.8), ("bangs", 0.0), ("age", -0.25)))
    assert edited.flags() == ["--style-seed", "2", "--edit", "smile=0.8,age=-0.25"]
    assert edited.label() == "seed 2, edit smile=0.8, age=-0.25"
    assert Style(seed=2, edits=(("smile", 0.0),)).flags() == ["--style-seed", "2"]
    with pytest.raises(UsageError, match="reference image"):
        Style(mode="Reference image").flags()


@pytest.mark.slow
def test_photo_upload_makes_the_cli_picture(tmp_path, monkeypatch, ui_env):
    """A photo: faces found, a gallery from its face, a reference-image style shown, and a run whose picture is
    the one `streamfx anime` makes with the same options (same engine), pixel for pixel."""
    from streamfx.io.decode import VideoReader
    from streamfx.io.image import read_image, write_image
    from streamfx.ui.gallery import IMAGE, MIX

    with VideoReader(SAMPLES / "astronaut.mp4") as reader:
        photo = tmp_path / "astro.png"
        write_image(photo, next(iter(reader)).image)
    workspace = Workspace(parent=tmp_path)
    view = handlers.upload(workspace, str(photo), None, Style())
    assert view.info == "astro.png: photo 480x480; 1 face found" and len(view.tiles) == handlers.GALLERY_SIZE
    reference = tmp_path / "reference.png"
    write_image(reference, view.tiles[3][0])
    tile, status = handlers.style_changed(view.session, Style(mode=IMAGE, image=str(reference)))
    assert tile.shape == view.tiles[0][0].shape and status == "Style: style of the reference image."

    mix = Style(mode=MIX, seed=1, seed_b=3, t=0.5)
    ran = handlers.run(view.session, mix, engine="torch")
    assert ran.status.startswith("Done: astro_anime.png, 1 frame, mix of seeds 1 and 3 at 0.5, ")
    assert ran.engine.startswith("Engine: torch")
    made = Path(ran.image["value"])
    assert ran.image["visible"] and not ran.video["visible"] and ran.download["value"] == str(made)

    cli = tmp_path / "cli.png"
    assert main(["-q", "anime", str(photo), "-o", str(cli), "--engine", "torch", "--style-mix", "1,3,0.5"]) == 0
    assert (read_image(made) == read_image(cli)).all()

    # An edit slider: the chosen-style tile changes, and the run is the CLI's `--edit` picture.
    assert "smile" in gallery.edit_sliders()
    plain_tile, _ = handlers.style_changed(view.session, Style(seed=2))
    smiling = Style(seed=2, edits=(("smile", 1.0),))
    smiling_tile, status = handlers.style_changed(view.session, smiling)
    assert status == "Style: seed 2, edit smile=1." and (plain_tile != smiling_tile).any()
    ran = handlers.run(view.session, smiling, engine="torch")
    assert main(["-q", "anime", str(photo), "-o", str(cli), "--engine", "torch", "--style-seed", "2",
                 "--edit", "smile=1", "--overwrite"]) == 0
    assert (read_image(Path(ran.image["value"])) == read_image(cli)).all()
    workspace.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_busy_port_is_a_usage_error_and_leaves_nothing(tmp_path, monkeypatch, ui_env):
    import tempfile

    from streamfx.ui.server import start

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the workspace would be made
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"--port {port}"):
            start("127.0.0.1", port)
    assert not list(tmp_path.glob("streamfx-ui-*"))
    assert "GRADIO_TEMP_DIR" not in os.environ and os.environ["GRADIO_ANALYTICS_ENABLED"] == "True"


# ---- in a real browser ----------------------------------------------------------------------------------------------
def _browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        reason = "needs chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("STREAMFX_REQUIRE_BROWSER") == "1":  # CI: a missing browser is a broken set-up
            pytest.fail(f"{reason} (STREAMFX_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    pytest.importorskip("selenium", reason="needs selenium (pip install '.[dev]')")
    return browser, driver


def _is_local(host: str | None) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture
def outside_connections(monkeypatch):
    """Every connection or name lookup this process tries beyond the machine, refused and recorded."""
    attempts = []
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, \
        socket.getaddrinfo

    def guarded(real):
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
                attempts.append(address)
                raise OSError(f"test: no connection beyond this machine ({address})")
            return real(self, address)
        return connect

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            attempts.append(host)
            raise socket.gaierror(f"test: no name lookups ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def _chrome(browser: str, driver: str, downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every request the page makes
    return webdriver.Chrome(service=Service(driver), options=options)  # a driver path: Selenium Manager not run


def _requested_urls(page) -> set[str]:
    """What the page asked for: the resource timings plus the DevTools log (which also lists failed requests)."""
    urls = set(page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"))
    for entry in page.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls


def _save_page(page, path: Path) -> None:
    """The whole page, 1280 wide: the window is made as tall as the page first."""
    page.execute_script("window.scrollTo(0, 0)")
    chrome = page.get_window_size()["height"] - page.execute_script("return window.innerHeight")
    page.set_window_size(1280, page.execute_script("return document.documentElement.scrollHeight") + chrome)
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    shot = path.with_name(f".{path.name}.full.png")
    page.save_screenshot(str(shot))
    with Image.open(shot) as image:  # 256 colours: a third of the size, and the page has few
        image.convert("RGB").quantize(256).save(path, optimize=True)
    shot.unlink()


@pytest.mark.slow
def test_browser_upload_pick_run_download(tmp_path, ui_env, outside_connections):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from streamfx.io.decode import VideoReader
    from streamfx.io.probe import probe
    from streamfx.ui.server import start

    browser, driver = _browser_paths()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    port = _free_port()
    server = start("127.0.0.1", port)
    workspace = server.workspace.root
    page = None
    try:
        assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
        page = _chrome(browser, driver, downloads)
        wait = WebDriverWait(page, 90, poll_frequency=0.2)
        page.get(server.url)

        upload = wait.until(lambda p: p.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
        upload.send_keys(str(SAMPLES / "astronaut.mp4"))
        tiles = wait.until(lambda p: p.find_elements(By.CSS_SELECTOR, "#style-gallery button.thumbnail-item"))
        assert len(tiles) == handlers.GALLERY_SIZE
        assert "1 face found" in page.find_element(By.ID, "upload-info").text
        assert page.find_elements(By.CSS_SELECTOR, "#faces img"), "the detected faces are shown"

        tiles[2].click()  # seeds 0..7 are shown: the third is seed 2
        wait.until(lambda p: p.find_element(By.CSS_SELECTOR, "#seed input").get_attribute("value") == "2")
        wait.until(lambda p: "seed 2" in p.find_element(By.ID, "status").text)

        page.find_element(By.ID, "preview").click()
        wait.until(lambda p: p.find_element(By.ID, "status").text.startswith("Preview:"))
        assert page.find_elements(By.CSS_SELECTOR, "#preview-video video")
        assert "50 frames" in page.find_element(By.ID, "status").text  # 2 s at 25 fps

        page.find_element(By.CSS_SELECTOR, "#edits .label-wrap").click()  # open "Edit the character"
        smile = wait.until(lambda p: p.find_element(By.CSS_SELECTOR, "#edit-smile input[type=number]"))
        smile.clear()
        smile.send_keys("0.5", Keys.TAB)

        page.find_element(By.ID, "run").click()
        wait.until(lambda p: p.find_element(By.ID, "download").is_enabled())
        status = page.find_element(By.ID, "status").text
        engine = page.find_element(By.ID, "engine").text
        assert status.startswith("Done: astronaut_anime.mp4, 100 frames, seed 2, edit smile=0.5"), status
        assert engine.startswith("Engine: "), engine

        page.find_element(By.ID, "download").click()
        result = downloads / "astronaut_anime.mp4"  # chromium renames its partial file to this when done
        wait.until(lambda p: result.is_file())

        info = probe(result)
        with VideoReader(result) as reader:
            decoded = sum(1 for _ in reader)
        assert info.frame_count == 100 and decoded == 100
        assert len(info.audio) == 1 and info.audio[0].duration == pytest.approx(4.0, abs=0.1)
        # The engine shown is the one that wrote the file (stylize records it in the file's comment).
        description = engine.removeprefix("Engine: ").rsplit(" (device", 1)[0]
        assert description in info.comment and "style seed 2; edit smile +0.5" in info.comment, (engine, info.comment)

        here = f"http://127.0.0.1:{port}/"
        outside = sorted(u for u in _requested_urls(page) if not u.startswith((here, "data:", "blob:")))
        assert outside == [], f"the page fetched from beyond this machine: {outside}"
        if os.environ.get("STREAMFX_UI_SCREENSHOT"):
            _save_page(page, Path(os.environ["STREAMFX_UI_SCREENSHOT"]))
    finally:
        if page is not None:
            page.quit()
        server.close()
    assert outside_connections == [], "the server tried to reach beyond this machine"
    assert not workspace.exists(), "stopping the server removes every temporary file"
