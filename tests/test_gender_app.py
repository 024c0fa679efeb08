"""The gender Space, started for real on 127.0.0.1 and called through gradio_client and raw HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import running_space
from gradio_client import Client
from gradio_client.exceptions import AppError

from shared.artifact import ModelSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def space(spaces_dir: Path) -> Path:
    return spaces_dir / "gender"


@pytest.fixture(scope="module")
def client(space: Path) -> Iterator[Client]:
    with running_space(space) as client:
        yield client


@pytest.fixture(scope="module")
def form(space: Path) -> list[object]:
    spec = ModelSpec.load(space / "model")
    return [bool(f.default) if f.kind == "binary" else f.default for f in spec.input.features]  # type: ignore[union-attr]


def test_the_form_gives_a_class_with_its_probability(client: Client, form: list[object]) -> None:
    label = client.predict(*form, api_name="/predict")
    assert label["label"] in ("Female", "Male")
    assert sum(c["confidence"] for c in label["confidences"]) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [(1, 999, "Forehead width = 999 is outside"), (2, -1, "Forehead height = -1 is outside"), (1, None, "missing")],
)
def test_bad_values_get_a_clear_error_and_the_app_keeps_serving(
    client: Client, form: list[object], index: int, value: object, message: str
) -> None:
    values = list(form)
    values[index] = value
    with pytest.raises(AppError, match=message):
        client.predict(*values, api_name="/predict")
    assert client.predict(*form, api_name="/predict")["label"] in ("Female", "Male")


def test_nan_sent_as_a_json_literal_is_refused(client: Client, form: list[object]) -> None:
    base = client.src.rstrip("/")
    values = list(form)
    values[1] = float("nan")
    reply = httpx.post(
        f"{base}/gradio_api/call/predict",
        content=json.dumps({"data": values}),  # Python writes NaN, which a strict JSON client could not send
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 200
    with httpx.stream("GET", f"{base}/gradio_api/call/predict/{reply.json()['event_id']}", timeout=30) as stream:
        text = "".join(stream.iter_text())
    assert "event: error" in text and "Forehead width must be a finite number" in text


def test_bundle_card_names_the_kept_pipeline_and_both_candidates(space: Path) -> None:
    readme = (space / "README.md").read_text()
    spec = ModelSpec.load(space / "model")
    assert f"pipeline `{spec.trained_with['pipeline']}`" in readme
    assert "| gaussian_nb" in readme and "| logistic_regression" in readme
    assert (space / "model" / "model.skops").is_file() and not list(space.rglob("*.pkl"))
