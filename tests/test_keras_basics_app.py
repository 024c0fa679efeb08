"""The keras-basics Space (two models, two tabs), started for real and called through gradio_client."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import running_space
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from shared.artifact import ModelSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def space(spaces_dir: Path) -> Path:
    return spaces_dir / "keras-basics"


@pytest.fixture(scope="module")
def client(space: Path) -> Iterator[Client]:
    with running_space(space) as client:
        yield client


@pytest.fixture(scope="module")
def form(space: Path) -> list[float]:
    spec = ModelSpec.load(space / "model" / "housing")
    return [feature.default for feature in spec.input.features]  # type: ignore[union-attr]


def test_bundle_carries_both_models_and_their_cards(space: Path) -> None:
    assert ModelSpec.load(space / "model" / "digits").labels == [str(d) for d in range(10)]
    assert ModelSpec.load(space / "model" / "housing").task == "regression"
    readme = (space / "README.md").read_text()
    assert "### Model card: `digits`" in readme and "### Model card: `housing`" in readme
    assert "](model/housing/predictions.png)" in readme and (space / "model" / "housing" / "predictions.png").is_file()
    assert len(list((space / "examples" / "digits").glob("*.png"))) == 6


def test_a_drawn_digit_gets_class_probabilities(client: Client, tmp_path: Path) -> None:
    drawing = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(drawing).line([(200, 60), (200, 340)], fill=(0, 0, 0, 255), width=28)  # a "1"
    path = tmp_path / "one.png"
    drawing.save(path)
    label, chart, _ = client.predict(
        {"background": None, "layers": [], "composite": handle_file(str(path))}, api_name="/digit_sketch"
    )
    assert label["label"] in [str(d) for d in range(10)]
    assert len(chart["data"]) == 10


def test_an_empty_sketch_is_refused(client: Client, tmp_path: Path) -> None:
    with pytest.raises(AppError, match="Draw a digit"):
        client.predict({"background": None, "layers": [], "composite": None}, api_name="/digit_sketch")
    blank = tmp_path / "blank.png"
    Image.new("RGBA", (300, 300), (255, 255, 255, 255)).save(blank)
    with pytest.raises(AppError, match="No digit found"):
        client.predict(
            {"background": None, "layers": [], "composite": handle_file(str(blank))}, api_name="/digit_sketch"
        )


def test_uploaded_example_digit(client: Client, space: Path) -> None:
    example = space / "examples" / "digits" / "3.png"
    label, _, _ = client.predict(handle_file(str(example)), api_name="/digit")
    assert label["label"] in [str(d) for d in range(10)]


def test_the_house_form_gives_a_price(client: Client, form: list[float]) -> None:
    answer = client.predict(*form, api_name="/price")
    assert answer.startswith("### Median house value: **$") and answer.endswith("**")


def _raw_call(base: str, endpoint: str, body: str) -> tuple[str, str]:
    """POST a JSON body as text (so NaN and Infinity literals get through), read the SSE result: (event, data)."""
    base = base.rstrip("/")
    reply = httpx.post(f"{base}/gradio_api/call/{endpoint}", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 200, reply.text
    event = ""
    with httpx.stream("GET", f"{base}/gradio_api/call/{endpoint}/{reply.json()['event_id']}", timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event in ("complete", "error"):
                return event, line.removeprefix("data: ")
    return event, ""


@pytest.mark.parametrize(("literal", "value"), [("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf)])
def test_nan_and_infinity_sent_as_json_literals_get_a_clear_error(
    client: Client, form: list[float], literal: str, value: float
) -> None:
    body = json.dumps({"data": [value, *form[1:]]})  # Python writes NaN / Infinity / -Infinity
    assert literal in body
    event, data = _raw_call(client.src, "price", body)
    assert event == "error" and "Median income must be a finite number" in data
    assert client.predict(*form, api_name="/price").startswith("### Median house value")


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (1, -3, "Median house age = -3 is outside"),
        (4, 1e15, "Population = 1e\\+15 is outside"),
        (6, None, "Latitude is missing"),
    ],
)
def test_bad_form_values_get_a_clear_error_and_the_app_keeps_serving(
    client: Client, form: list[float], index: int, value: float | None, message: str
) -> None:
    values: list[float | None] = list(form)
    values[index] = value
    with pytest.raises(AppError, match=message):
        client.predict(*values, api_name="/price")
    assert client.predict(*form, api_name="/price").startswith("### Median house value")
