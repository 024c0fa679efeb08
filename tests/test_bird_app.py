"""The bird-species Space, started for real on 127.0.0.1 and called through gradio_client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import running_space
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from training.demos.bird_species import SPECIES, render_bird

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def space(spaces_dir: Path) -> Path:
    return spaces_dir / "bird-species"


@pytest.fixture(scope="module")
def client(space: Path) -> Iterator[Client]:
    with running_space(space) as client:
        yield client


def _assert_species(result: tuple) -> None:
    label, chart, model_view = result
    assert label["label"] in SPECIES
    rows = chart["data"]
    assert sorted(row[0] for row in rows) == sorted(SPECIES)  # a bar for every species
    assert sum(row[1] for row in rows) == pytest.approx(100.0, abs=0.1)
    assert Image.open(model_view).mode == "RGB"


def test_bundle_keeps_class_map_and_base_weights(space: Path) -> None:
    import json

    assert json.loads((space / "model" / "class_indices.json").read_text()) == {s: i for i, s in enumerate(SPECIES)}
    readme = (space / "README.md").read_text()
    assert "**Base weights**: MobileNetV2 `none`" in readme
    assert len(list((space / "examples").glob("*.jpg"))) == 4


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_every_photo_format_is_classified(client: Client, tmp_path: Path, image_format: str) -> None:
    import numpy as np

    buffer = io.BytesIO()
    render_bird("macaw", np.random.default_rng(5)).save(buffer, format=image_format)
    path = tmp_path / f"bird.{image_format.lower()}"
    path.write_bytes(buffer.getvalue())
    _assert_species(client.predict(handle_file(str(path)), api_name="/predict"))


def test_example_and_bad_upload(client: Client, space: Path, tmp_path: Path) -> None:
    example = sorted((space / "examples").glob("*.jpg"))[0]
    _assert_species(client.predict(handle_file(str(example)), api_name="/predict"))
    bad = tmp_path / "parrot.webp"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage")
    with pytest.raises(AppError, match="not an image we can read"):
        client.predict(handle_file(str(bad)), api_name="/predict")
    _assert_species(client.predict(handle_file(str(example)), api_name="/predict"))


def test_page_states_data_source(client: Client) -> None:
    config = httpx.get(client.src.rstrip("/") + "/config", timeout=10).text
    assert "trained on **sample data**" in config and "Parrot species" in config
