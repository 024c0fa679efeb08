"""The emotion Space: its page through gradio_client, its TF-Serving REST API through httpx, both for real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import running_space, serving
from gradio_client import Client
from gradio_client.exceptions import AppError

from shared.server import space_app
from shared.service import load_services
from shared.suite import load_space
from training.demos.emotion import LABELS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def space(spaces_dir: Path) -> Path:
    return spaces_dir / "emotion"


@pytest.fixture(scope="module")
def client(space: Path) -> Iterator[Client]:
    with running_space(space) as client:
        yield client


@pytest.fixture(scope="module")
def rest(space: Path) -> Iterator[str]:
    services = load_services(space / "model")
    with serving(space_app(load_space(space, services), services)) as base:
        yield base


def _assert_emotions(result: tuple) -> None:
    label, chart, words = result
    assert label["label"] in LABELS and len(label["confidences"]) == 6
    assert sorted(row[0] for row in chart["data"]) == sorted(LABELS)
    assert isinstance(words, str) and words


def test_examples_are_classified(client: Client, space: Path) -> None:
    examples = json.loads((space / "examples" / "examples.json").read_text())
    assert len(examples) == 6
    _assert_emotions(client.predict(examples[0], api_name="/predict"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "type or paste"),
        ("   \n\t ", "type or paste"),
        ("x" * 1_000_000, "too long"),
        ("😀😂🎉", "None of these words is known"),
        ("Я очень счастлив сегодня", "None of these words is known"),
    ],
)
def test_bad_text_gets_a_clear_error_and_the_app_keeps_serving(client: Client, text: str, message: str) -> None:
    with pytest.raises(AppError, match=message):
        client.predict(text, api_name="/predict")
    _assert_emotions(client.predict("i feel so happy today", api_name="/predict"))


def test_control_characters_and_mixed_text_are_answered(client: Client) -> None:
    _assert_emotions(client.predict("i feel\x00 so\x1b[31m happy 😀 today\u200b", api_name="/predict"))


def test_rest_predict_metadata_and_errors(rest: str) -> None:
    reply = httpx.post(f"{rest}/v1/models/emotion:predict", json={"instances": ["i feel so happy", "im scared"]})
    assert reply.status_code == 200
    predictions = reply.json()["predictions"]
    assert len(predictions) == 2 and all(abs(sum(p) - 1) < 1e-4 for p in predictions)
    metadata = httpx.get(f"{rest}/v1/models/emotion/metadata").json()
    assert metadata["model_spec"]["name"] == "emotion"
    assert metadata["metadata"]["spacesuite"]["labels"] == LABELS
    for body, status in [
        ({"instances": [""]}, 400),
        ({"instances": [42]}, 400),
        ({"instances": ["x" * 1_000_000]}, 400),
        ({"instances": []}, 400),
        ({"text": "hi"}, 400),
    ]:
        reply = httpx.post(f"{rest}/v1/models/emotion:predict", json=body, timeout=30)
        assert reply.status_code == status and "error" in reply.json(), (
            body if len(str(body)) < 80 else "…",
            reply.text,
        )
    assert httpx.get(f"{rest}/v1/models/nope").status_code == 404
    page = httpx.get(rest + "/", follow_redirects=True)
    assert page.status_code == 200 and "Emotion in text" in page.text


def test_bundle_card_states_the_blessing(space: Path) -> None:
    readme = (space / "README.md").read_text()
    assert "Blessed by the evaluate stage" in readme
    assert "snowballstemmer==" in (space / "requirements.txt").read_text()
