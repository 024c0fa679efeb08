"""Crafted inputs (bench/crafted_inputs.py) against a real Space process on 127.0.0.1: each gets its 4xx and one
clear sentence, a request within the limits is still answered, and every refused REST request is logged."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REPO, serving

import shared.limits as limits
from shared import traffic
from shared.server import space_app
from shared.service import load_services
from shared.suite import load_space

sys.path.insert(0, str(REPO / "bench"))
from crafted_inputs import Case, bright, cases, multipart

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CASES = cases()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This process's traffic log in a fresh folder for this module (and back to the session's after)."""
    folder = tmp_path_factory.mktemp("traffic")
    traffic.configure("crafted", environ={"SPACESUITE_TRAFFIC_DIR": str(folder)})
    yield folder
    traffic.configure()


@pytest.fixture(scope="module")
def base(spaces_dir: Path, log_dir: Path) -> Iterator[str]:
    """The keras-basics page (a sketchpad: uploads) with the REST API of digits, housing, sign-language and emotion."""
    services = load_services(spaces_dir / "keras-basics" / "model")
    page = load_space(spaces_dir / "keras-basics", services)
    for space in ("sign-language", "emotion"):
        services.update(load_services(spaces_dir / space / "model"))
    with serving(space_app(page, services), guarded=True) as url:
        yield url


def send(base: str, case: Case) -> httpx.Response:
    """Send a crafted case the way a client would."""
    if case.target == "upload":
        body, content_type = multipart(case.body)
        return httpx.post(f"{base}/gradio_api/upload", content=body, headers={"content-type": content_type}, timeout=60)
    return httpx.post(f"{base}/v1/models/{case.target}:predict", content=case.body, headers=case.headers, timeout=60)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_crafted_input_gets_its_status_and_one_clear_sentence(base: str, case: Case) -> None:
    response = send(base, case)
    assert response.status_code == case.status, response.text[:300]
    if case.status >= 400:
        message = response.json()["error"] if case.target != "upload" else response.text
        assert case.message.lower() in message.lower(), message
        assert "Traceback" not in message and len(message) < 400


def test_refused_rest_requests_are_logged_as_input_errors(base: str, log_dir: Path) -> None:
    refused = [case for case in CASES if case.target != "upload" and case.status == 400][:6]
    for case in refused:
        assert send(base, case).status_code == 400
    lines = [json.loads(line) for path in sorted(log_dir.glob("*.jsonl")) for line in path.read_text().splitlines()]
    for case in refused:
        assert any(line["model"] == case.target and line["outcome"] == "input_error" for line in lines), case.name
    assert all(line.isascii() for path in log_dir.glob("*.jsonl") for line in path.read_text().splitlines())


def test_a_good_request_is_answered_after_the_crafted_ones(base: str, spaces_dir: Path) -> None:
    example = sorted((spaces_dir / "keras-basics" / "examples" / "digits").glob("*.png"))[0]
    body, content_type = multipart(example.read_bytes())
    uploaded = httpx.post(f"{base}/gradio_api/upload", content=body, headers={"content-type": content_type})
    assert uploaded.status_code == 200, uploaded.text
    [path] = uploaded.json()
    assert Path(path).is_file()


def test_the_page_bounds_its_queue_and_deletes_uploads() -> None:
    from shared.ui import page

    blocks = page("t", "d", {})
    assert blocks.delete_cache == (limits.CACHE_SWEEP_S, limits.CACHE_MAX_AGE_S)
    assert blocks._queue.max_size == limits.QUEUE_SIZE
    assert blocks._queue.default_concurrency_limit == limits.EVENT_CONCURRENCY


def test_a_sketch_is_checked_from_its_headers_before_anything_is_decoded(tmp_path: Path) -> None:
    import gradio as gr
    from gradio.components.image_editor import EditorData
    from gradio.data_classes import FileData

    from shared.ui import SketchUpload

    huge = tmp_path / "layer.png"
    huge.write_bytes(bright(9000, 9000))  # 81 MP: Gradio would decode it at full size
    small = tmp_path / "composite.png"
    small.write_bytes(bright(300, 300))
    pad = SketchUpload(type="numpy")
    drawing = EditorData(background=None, layers=[FileData(path=str(huge))], composite=FileData(path=str(small)))
    with pytest.raises(gr.Error, match="too large"):
        pad.preprocess(drawing)
    many = EditorData(background=None, layers=[FileData(path=str(small))] * 9, composite=FileData(path=str(small)))
    with pytest.raises(gr.Error, match="too many layers"):
        pad.preprocess(many)
    fine = EditorData(background=None, layers=[FileData(path=str(small))], composite=FileData(path=str(small)))
    assert pad.preprocess(fine)["composite"] == str(small)


def test_a_page_without_an_image_component_takes_no_upload(spaces_dir: Path) -> None:
    services = load_services(spaces_dir / "emotion" / "model")
    with serving(space_app(load_space(spaces_dir / "emotion", services), services), guarded=True) as url:
        body, content_type = multipart(bright(300, 300))
        uploaded = httpx.post(f"{url}/gradio_api/upload", content=body, headers={"content-type": content_type})
    assert uploaded.status_code == 403 and "takes no files" in uploaded.text
