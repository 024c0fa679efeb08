"""The Space page rendered by headless Chromium: the DOM has the title and the provenance note, the
screenshot is not blank."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.suite import load_space

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1000", "--virtual-time-budget=15000",
]  # fmt: skip


TITLES = {
    "sign-language": "Sign-language letters",
    "bird-species": "Parrot species",
    "keras-basics": "Keras basics",
    "gender": "Gender from facial measurements",
    "emotion": "Emotion in text",
}


@pytest.fixture(scope="module", params=list(TITLES))
def page(request: pytest.FixtureRequest, spaces_dir: Path) -> Iterator[tuple[str, str]]:
    demo = load_space(spaces_dir / request.param)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield request.param, url
    finally:
        demo.close()


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: scripts/bootstrap.sh --test installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tmp_path / "profile"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_page_renders_title_and_note(page: tuple[str, str], tmp_path: Path) -> None:
    space, page_url = page
    dom = _chromium(tmp_path, "--dump-dom", page_url).stdout
    assert TITLES[space] in dom
    assert "sample data" in dom
    assert "Classify" in dom or "Estimate" in dom


def test_screenshot_is_not_blank(page: tuple[str, str], tmp_path: Path) -> None:
    space, page_url = page
    shot = tmp_path / "space.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", page_url)
    assert shot.is_file(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (1000, 1280)
    assert pixels.std() > 10, "the page looks blank"
    dark_share = float((pixels < 128).mean())
    assert 0.002 < dark_share < 0.9, f"text or controls missing (dark share {dark_share:.3f})"
    keep = os.environ.get("SPACESUITE_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / f"{space}.png")
