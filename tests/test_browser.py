"""Every Space driven in headless Chromium as a person would: open the page, pick an example, upload a file or
sketch, press the button, read the answer the page shows. Playwright drives Debian's chromium (no browser download);
one browser serves the whole module. The static TF.js Space is served by a plain static file server and must give
the same top letter as LiteRT on every bundled example, an upload and a sketch."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import serving
from playwright.sync_api import Browser, Page, expect, sync_playwright
from starlette.staticfiles import StaticFiles

from shared.service import load_model

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for every test of the module."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: scripts/bootstrap.sh --test installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab, 1280×1000; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# ---- the static TF.js Space ----


def _classify_in_page(page: Page) -> list[tuple[str, float]]:
    """Press Classify and read the ranked answer the page shows: (label, probability) pairs."""
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#status")).to_have_text("Done.")
    rows = page.locator("#answer li").all_inner_texts()
    answer = []
    for row in rows:
        label, percent, _ = row.split()
        answer.append((label, float(percent) / 100))
    return answer


def _agrees_with_litert(answer: list[tuple[str, float]], litert_confidences: dict[str, float]) -> None:
    top_label = max(litert_confidences, key=litert_confidences.__getitem__)
    assert answer[0][0] == top_label, f"the page says {answer}, LiteRT {top_label}"
    for label, probability in answer:  # the page shows one decimal of a percent
        assert abs(probability - litert_confidences[label]) <= 0.0006, (label, probability, litert_confidences[label])


@pytest.fixture(scope="module")
def static_space(spaces_dir: Path) -> Iterator[str]:
    """The bundled static Space served as plain files on 127.0.0.1, as the Hub serves a static Space."""
    with serving(StaticFiles(directory=spaces_dir / "sign-language-web", html=True)) as url:
        yield url


def test_static_space_gives_litert_s_answer_on_every_example(
    page: Page, static_space: str, spaces_dir: Path, tiny_repo: Path
) -> None:
    bundle = spaces_dir / "sign-language-web"
    litert = load_model(tiny_repo / "build" / "sign-language" / "export")
    page.goto(f"{static_space}/")
    expect(page.locator("#model-note")).to_contain_text("runs in your browser with TensorFlow.js")
    examples = json.loads((bundle / "examples" / "examples.json").read_text())
    assert len(examples) >= 2
    expect(page.locator("[data-example]")).to_have_count(len(examples))
    for name in examples:
        page.locator(f'[data-example="{name}"]').click()
        expect(page.locator("#status")).to_contain_text(f"Example {name} ready")
        expected = litert.predict_one(bundle / "examples" / name).confidences
        assert expected is not None
        _agrees_with_litert(_classify_in_page(page), expected)


def test_static_space_classifies_an_upload_and_a_sketch_like_litert(
    page: Page, static_space: str, spaces_dir: Path, tiny_repo: Path, tmp_path: Path
) -> None:
    litert = load_model(tiny_repo / "build" / "sign-language" / "export")
    page.goto(f"{static_space}/")
    expect(page.get_by_role("button", name="Classify")).to_be_enabled()

    # an upload bigger than the model's input, in color, not square: crop, gray, reduce and Lanczos in the page
    from PIL import Image

    example = sorted((spaces_dir / "sign-language-web" / "examples").glob("*.png"))[1]
    upload = tmp_path / "hand.png"
    gray = Image.open(example).convert("L").resize((168, 168), Image.Resampling.BICUBIC)
    photo = Image.new("RGB", (240, 168), (200, 30, 30))
    photo.paste(Image.merge("RGB", (gray, gray, gray)), (36, 0))
    photo.save(upload)
    page.locator("#upload").set_input_files(upload)
    expect(page.locator("#status")).to_contain_text("hand.png ready")
    expected = litert.predict_one(upload).confidences
    assert expected is not None
    _agrees_with_litert(_classify_in_page(page), expected)

    # a sketch drawn with the mouse, then the very canvas sent to LiteRT
    sketch = page.locator("#sketch")
    box = sketch.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 70, box["y"] + 60)
    page.mouse.down()
    for x, y in ((140, 220), (210, 60), (100, 150), (190, 150)):
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()
    expect(page.locator("#status")).to_contain_text("Sketch ready")
    answer = _classify_in_page(page)
    drawn = page.evaluate("document.getElementById('sketch').toDataURL('image/png')")
    png = base64.b64decode(drawn.split(",", 1)[1])
    expected = litert.predict_one(png).confidences
    assert expected is not None
    _agrees_with_litert(answer, expected)


def test_static_space_says_what_is_missing(page: Page, static_space: str) -> None:
    page.goto(f"{static_space}/")
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#status")).to_have_text(re.compile("No image was given"))
    expect(page.locator("#answer li")).to_have_count(0)
