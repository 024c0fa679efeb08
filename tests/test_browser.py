"""Every Space driven in headless Chromium as a person would: open the page, click an example, upload a file, type
or sketch, press the button, read the answer the page shows. Playwright drives Debian's chromium (no browser
download); one browser serves the whole module. The static TF.js Space is served by a plain static file server and
must give the same top letter as LiteRT on every bundled example, an upload and a sketch; each Gradio Space must show
two examples' answers (its own label; a regressor's, what its API says), the first from a click on the example alone
(with its explanation), and a Keras model's layers and training curves. SPACESUITE_SCREENSHOT_DIR=<folder> keeps a
screenshot of each Gradio page."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import running_space, serving
from gradio_client.exceptions import AppError
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from starlette.staticfiles import StaticFiles

from shared.artifact import ModelSpec
from shared.network import NetworkSummary
from shared.service import load_model
from training.deploy import endpoint_for, examples, model_specs

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)  # a first answer loads its model (seconds on 2 busy cores)
GRADIO_SPACES = sorted(path.parent.name for path in (Path(__file__).parents[1] / "spaces").glob("*/app.py"))
# How a person reaches a model's panel on its Space's page: the tabs to open, and the button that answers. Every
# other model's panel is on the page as it opens, answered by "Classify".
PANELS = {"digits": (("Digit", "Upload"), "Classify"), "housing": (("House price",), "Estimate")}
EXAMPLES = ".gallery-item, tr.tr-body"  # gr.Examples: a gallery of named examples, or a table of form rows
SHOWN_IMAGE = 'img[src*="/gradio_api/file="]'  # a picture the page shows, served back by Gradio (the input first)


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
    """A fresh tab, 1280×1000."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    yield tab
    context.close()


@pytest.fixture
def static_page(page: Page) -> Iterator[Page]:
    """A tab for the static Space's page, whose scripts are ours: a JavaScript error on it fails the test."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
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
    static_page: Page, static_space: str, spaces_dir: Path, tiny_repo: Path
) -> None:
    bundle = spaces_dir / "sign-language-web"
    litert = load_model(tiny_repo / "build" / "sign-language" / "export")
    static_page.goto(f"{static_space}/")
    expect(static_page.locator("#model-note")).to_contain_text("runs in your browser with TensorFlow.js")
    examples = json.loads((bundle / "examples" / "examples.json").read_text())
    assert len(examples) >= 2
    expect(static_page.locator("[data-example]")).to_have_count(len(examples))
    for name in examples:
        static_page.locator(f'[data-example="{name}"]').click()
        expect(static_page.locator("#status")).to_contain_text(f"Example {name} ready")
        expected = litert.predict_one(bundle / "examples" / name).confidences
        assert expected is not None
        _agrees_with_litert(_classify_in_page(static_page), expected)


def test_static_space_classifies_an_upload_and_a_sketch_like_litert(
    static_page: Page, static_space: str, spaces_dir: Path, tiny_repo: Path, tmp_path: Path
) -> None:
    litert = load_model(tiny_repo / "build" / "sign-language" / "export")
    static_page.goto(f"{static_space}/")
    expect(static_page.get_by_role("button", name="Classify")).to_be_enabled()

    # an upload bigger than the model's input, in color, not square: crop, gray, reduce and Lanczos in the page
    from PIL import Image

    example = sorted((spaces_dir / "sign-language-web" / "examples").glob("*.png"))[1]
    upload = tmp_path / "hand.png"
    gray = Image.open(example).convert("L").resize((168, 168), Image.Resampling.BICUBIC)
    photo = Image.new("RGB", (240, 168), (200, 30, 30))
    photo.paste(Image.merge("RGB", (gray, gray, gray)), (36, 0))
    photo.save(upload)
    static_page.locator("#upload").set_input_files(upload)
    expect(static_page.locator("#status")).to_contain_text("hand.png ready")
    expected = litert.predict_one(upload).confidences
    assert expected is not None
    _agrees_with_litert(_classify_in_page(static_page), expected)

    # a sketch drawn with the mouse, then the very canvas sent to LiteRT
    sketch = static_page.locator("#sketch")
    box = sketch.bounding_box()
    assert box is not None
    static_page.mouse.move(box["x"] + 70, box["y"] + 60)
    static_page.mouse.down()
    for x, y in ((140, 220), (210, 60), (100, 150), (190, 150)):
        static_page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    static_page.mouse.up()
    expect(static_page.locator("#status")).to_contain_text("Sketch ready")
    answer = _classify_in_page(static_page)
    drawn = static_page.evaluate("document.getElementById('sketch').toDataURL('image/png')")
    png = base64.b64decode(drawn.split(",", 1)[1])
    expected = litert.predict_one(png).confidences
    assert expected is not None
    _agrees_with_litert(answer, expected)


def test_static_space_says_what_is_missing(static_page: Page, static_space: str) -> None:
    static_page.goto(f"{static_space}/")
    static_page.get_by_role("button", name="Classify").click()
    expect(static_page.locator("#status")).to_have_text(re.compile("No image was given"))
    expect(static_page.locator("#answer li")).to_have_count(0)


# ---- the Gradio Spaces ----


def _answer(page: Page, spec: ModelSpec, endpoint: str) -> Locator:
    """Where the page shows a model's answer: the top label of a classifier, the Markdown line of a regressor."""
    if spec.labels:
        return page.locator('[data-testid="label-output-value"]').filter(visible=True)
    return page.locator(f"#{endpoint.lstrip('/')}-answer")


def _give(page: Page, spec: ModelSpec, example: object, index: int, shown: Locator) -> str:
    """Put an example into the page as a person would; return how. The first is clicked among the examples; the
    second image is uploaded from disk and the second text typed."""
    if index == 1 and spec.input.kind == "image":
        panel = page.get_by_role("tabpanel").filter(visible=True).last  # the open tab of the image panel
        panel.locator("input[type=file]").first.set_input_files(str(example))
        return "uploaded"
    if index == 1 and spec.input.kind == "text":
        page.get_by_label("Text").fill(str(example))
        return "typed"
    with page.expect_response(lambda response: response.request.method == "POST" and "/gradio_api/" in response.url):
        item = shown.nth(index)
        # Gradio loads an example's values through its server. The example gets the click as an event: Playwright's
        # real click waits for it to stop moving, and on 2 busy cores a wide table's row, or a gallery while the
        # page still lays out, did not within a minute (the answer the page shows is still checked below)
        expect(item).to_be_visible()
        (item.locator("td").first if spec.input.kind == "tabular" else item).dispatch_event("click")
    return "clicked"


def _expect_explanation(page: Page, spec: ModelSpec, endpoint: str) -> None:
    """Wait until the page shows why a classifier answered: the heat map, the weighted words, or a feature's bar that
    is not zero (the chart starts with every weight at zero)."""
    why = page.locator(f"#{endpoint.lstrip('/')}-why")
    if spec.input.kind == "image":
        expect(why.locator("img").first).to_be_visible()
    elif spec.input.kind == "text":
        expect(why.locator(".token").first).to_be_visible()
    else:
        expect(why.locator('[aria-roledescription="bar"]:not([aria-label$="weight: 0"])').first).to_be_attached()


def _wait_for_image(page: Page, before: str | None) -> None:
    """Wait until the image input shows a new picture (served back by Gradio), as a person waits to see it."""
    shown = page.locator(SHOWN_IMAGE).filter(visible=True).first
    expect(shown).to_be_visible()
    if before is not None:
        expect(shown).not_to_have_attribute("src", before)


@pytest.mark.parametrize("space", GRADIO_SPACES)
def test_a_person_gets_the_answer_of_two_examples_from_the_page(space: str, spaces_dir: Path, page: Page) -> None:
    bundle = spaces_dir / space
    with running_space(bundle) as client:
        api = client.view_api(print_info=False, return_format="dict")
        page.goto(client.src)
        expect(page.get_by_text("trained on sample data").first).to_be_visible()
        for spec in model_specs(bundle):
            tabs, button = PANELS.get(spec.name, ((), "Classify"))
            for tab in tabs:
                page.get_by_role("tab", name=tab, exact=True).click()
            endpoint = endpoint_for(api, spec)
            bundled = examples(bundle, spec)
            shown = page.locator(EXAMPLES).filter(visible=True)
            expect(shown).to_have_count(len(bundled))
            for index, example in enumerate(bundled[:2]):
                image = page.locator(SHOWN_IMAGE).filter(visible=True)
                before = image.first.get_attribute("src") if image.count() else None
                how = _give(page, spec, example, index, shown)
                if spec.input.kind == "image":
                    _wait_for_image(page, before)
                if how != "clicked":  # a click on an example answers by itself; an upload or a text is then sent
                    page.get_by_role("button", name=button, exact=True).filter(visible=True).click()
                if spec.labels:  # every example is answered with its own label (tests/test_examples.py)
                    expected = Path(str(example)).stem if spec.input.kind == "image" else spec.labels[index]
                else:  # a regressor's answer: what the Space's API says for the same row (or its refusal)
                    try:
                        expected = re.sub(r"[#*]", "", str(client.predict(*example, api_name=endpoint))).strip()
                    except AppError as refusal:  # outside the training ranges: the page says so in a toast
                        expect(page.get_by_text(str(refusal.message)[:60]).first).to_be_visible()
                        continue
                expect(_answer(page, spec, endpoint), f"{spec.name}, example {index} {how}").to_have_text(expected)
                if index == 0 and spec.labels:  # the first answer of the panel: its explanation came with the click
                    _expect_explanation(page, spec, endpoint)
        keep = os.environ.get("SPACESUITE_SCREENSHOT_DIR")
        if keep:
            page.screenshot(path=Path(keep) / f"{space}.png", full_page=True)
        page.close()  # before its server stops: a module still loading would report a failed fetch


def test_the_digit_examples_sit_in_the_tab_they_fill(spaces_dir: Path, page: Page) -> None:
    bundle = spaces_dir / "keras-basics"
    spec = next(spec for spec in model_specs(bundle) if spec.name == "digits")
    bundled = examples(bundle, spec)
    with running_space(bundle) as client:
        page.goto(client.src)
        page.get_by_role("tab", name="Digit", exact=True).click()
        expect(page.get_by_role("tab", name="Sketch", exact=True)).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("button", name="Classify sketch", exact=True)).to_be_visible()
        expect(page.locator(EXAMPLES).filter(visible=True)).to_have_count(0)  # none would fill a hidden tab
        page.get_by_role("tab", name="Upload", exact=True).click()
        shown = page.locator(EXAMPLES).filter(visible=True)
        expect(shown).to_have_count(len(bundled))
        shown.nth(len(bundled) - 1).click()
        expect(_answer(page, spec, "/digit")).to_have_text(Path(str(bundled[-1])).stem)
        _expect_explanation(page, spec, "/digit")
        page.close()


def test_keras_basics_shows_each_network_s_layers_and_training_curves(spaces_dir: Path, page: Page) -> None:
    bundle = spaces_dir / "keras-basics"
    with running_space(bundle) as client:
        api = client.view_api(print_info=False, return_format="dict")
        page.goto(client.src)
        for spec in model_specs(bundle):
            name = endpoint_for(api, spec).lstrip("/")
            network = NetworkSummary.load(bundle / "model" / spec.name)
            assert network is not None, f"{spec.name}: no network.json in the bundle"
            page.get_by_role("tab", name=PANELS[spec.name][0][0], exact=True).click()
            accordion = page.locator(f"#{name}-network")
            accordion.get_by_text("The network: its layers and how it learned").click()
            expect(accordion.locator(f"#{name}-network-totals")).to_contain_text(
                f"{network.total_params:,} parameters ({network.trainable_params:,} trainable"
            )
            expect(accordion.get_by_text(network.layers[0].name, exact=True).first).to_be_visible()
            for layer in network.layers:  # every row of the Dataframe (the last may sit below its scroll)
                expect(accordion.get_by_text(layer.name, exact=True).first).to_be_attached()
            metrics = {point.metric for point in network.curves}
            assert "loss" in metrics
            for metric in metrics:
                expect(accordion.get_by_text(f"{metric} per epoch").first).to_be_visible()
            expect(accordion.locator(".vega-embed")).to_have_count(len(metrics))
        page.close()
