"""The sign-language Space, started for real on 127.0.0.1 and called through gradio_client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import running_space, serving
from fixture_images import animated_gif, declared_size_png, hand_like, jpeg_bytes, png_bytes
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from shared.suite import build_suite
from training.demos.sign_language import LETTERS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(bundle_dir: Path) -> Iterator[Client]:
    with running_space(bundle_dir) as client:
        yield client


def _upload(tmp_path: Path, name: str, payload: bytes) -> dict:
    path = tmp_path / name
    path.write_bytes(payload)
    return handle_file(str(path))


def _assert_letters(result: tuple) -> None:
    label, model_view = result
    assert label["label"] in LETTERS
    assert sum(c["confidence"] for c in label["confidences"]) <= 1.0 + 1e-4
    assert len(label["confidences"]) == 5
    assert Image.open(model_view).size == (140, 140)


def test_example_image_is_classified(client: Client, bundle_dir: Path) -> None:
    _assert_letters(client.predict(handle_file(str(bundle_dir / "examples" / "A.png")), api_name="/predict"))


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("corrupt.png", b"\x89PNG\r\n\x1a\nthis is not really a png", "not an image we can read"),
        ("text.jpg", b"hello", "not an image we can read"),
        ("tiny.png", png_bytes(Image.new("L", (1, 1))), "too small"),
        ("bomb.png", declared_size_png(20000, 20000), "too large"),
        ("big.png", declared_size_png(8000, 6000), "too large"),
        ("flat.png", png_bytes(Image.new("RGB", (64, 64), (90, 90, 90))), "flat color"),
    ],
)
def test_bad_uploads_get_a_clear_error_and_the_app_keeps_serving(
    client: Client, bundle_dir: Path, tmp_path: Path, name: str, payload: bytes, message: str
) -> None:
    with pytest.raises(AppError, match=message):
        client.predict(_upload(tmp_path, name, payload), api_name="/predict")
    _assert_letters(client.predict(handle_file(str(bundle_dir / "examples" / "B.png")), api_name="/predict"))


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("animated.gif", animated_gif()),
        ("rgba.png", png_bytes(hand_like(mode="RGBA"))),
        ("cmyk.jpg", jpeg_bytes(hand_like(mode="CMYK"))),
        ("rotated.jpg", jpeg_bytes(hand_like(size=(60, 90)), exif_orientation=6)),
        ("sixteen.png", png_bytes(Image.fromarray(np.asarray(hand_like(mode="L"), dtype=np.uint16) * 257))),
    ],
)
def test_unusual_but_valid_images_are_classified(client: Client, tmp_path: Path, name: str, payload: bytes) -> None:
    _assert_letters(client.predict(_upload(tmp_path, name, payload), api_name="/predict"))


def test_sketch_endpoint(client: Client, tmp_path: Path) -> None:
    with pytest.raises(AppError, match="Draw a hand sign"):
        client.predict({"background": None, "layers": [], "composite": None}, api_name="/predict_sketch")
    drawing = _upload(tmp_path, "sketch.png", png_bytes(hand_like(mode="RGBA")))
    result = client.predict({"background": None, "layers": [], "composite": drawing}, api_name="/predict_sketch")
    _assert_letters(result)


def test_page_states_data_source_and_accuracy(client: Client) -> None:
    config = httpx.get(client.src.rstrip("/") + "/config", timeout=10).text
    assert "trained on **sample data**" in config
    assert "Test accuracy **" in config
    assert "Confusion matrix of the test split" in config


def test_suite_serves_every_space_an_index_and_rest(bundle_dir: Path) -> None:
    with serving(build_suite(bundle_dir.parent)) as base:
        index = httpx.get(base + "/", timeout=10)
        assert index.status_code == 200
        for space in ("sign-language", "bird-species", "keras-basics", "emotion", "gender", "sign-language-web"):
            assert f'href="/{space}/"' in index.text
        assert "housing: sample data, test RMSE" in index.text
        assert httpx.get(base + "/sign-language/", timeout=10, follow_redirects=True).status_code == 200
        static = bundle_dir.parent / "sign-language-web"  # served as its files are, as the Hub serves a static Space
        for name in ("index.html", "model/model.json"):
            served = httpx.get(f"{base}/sign-language-web/{name}", timeout=10)
            assert served.status_code == 200 and served.content == (static / name).read_bytes(), name
        assert httpx.get(f"{base}/sign-language-web/", timeout=10).content == (static / "index.html").read_bytes()
        result = Client(base + "/sign-language/", verbose=False).predict(
            handle_file(str(bundle_dir / "examples" / "C.png")), api_name="/predict"
        )
        _assert_letters(result)
        too_big = httpx.post(
            base + "/sign-language/gradio_api/upload", files={"files": ("big.png", b"0" * 30_000_000)}, timeout=30
        )
        assert too_big.status_code == 413, too_big.text
        for model in ("sign-language", "bird-species", "digits", "housing", "emotion", "gender"):
            status = httpx.get(f"{base}/v1/models/{model}", timeout=10).json()
            assert status["model_version_status"][0]["state"] == "AVAILABLE", model
        reply = httpx.post(f"{base}/v1/models/emotion:predict", json={"instances": ["i feel so happy today"]})
        assert reply.status_code == 200 and len(reply.json()["predictions"][0]) == 6
        metrics = httpx.get(f"{base}/metrics/", timeout=10).text  # the page call and the REST call, counted
        assert 'spacesuite_requests_total{endpoint="predict",model="sign-language",outcome="ok"}' in metrics
        assert 'spacesuite_requests_total{endpoint="rest",model="emotion",outcome="ok"}' in metrics
        assert 'spacesuite_model_info{data_source="sample",model="gender"' in metrics
