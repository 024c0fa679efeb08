"""TF Serving's REST API for every bundled model, served for real on 127.0.0.1 and called with httpx."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import serving
from fastapi import FastAPI

from shared.adapters import Adapter, ImageAdapter, TabularAdapter, adapters
from shared.artifact import ImageInput
from shared.classifier import ImageClassifier
from shared.errors import ArtifactError
from shared.images import preprocess_image
from shared.regressor import TabularRegressor
from shared.server import space_app
from shared.service import Service, load_services
from shared.tf_serving import MAX_INSTANCES, tf_serving_router

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGE_MODELS = {"sign-language": "sign-language/model", "bird-species": "bird-species/model"}
IMAGE_MODELS["digits"] = "keras-basics/model/digits"
HOUSING_ROW = [4.416, 26, 4.783, 1.14, 752, 2.507, 36.5, -117.8]  # the first row of the bundled examples.csv


class Broken(Adapter):
    """A model with a bug: predicting raises something other than InputError."""

    def __init__(self) -> None:
        self.name, self.version = "broken", 1

    def predict(self, instances: list) -> list:
        raise RuntimeError("secret internal detail")

    async def predict_async(self, instances: list, *, in_thread: bool = False) -> list:
        raise RuntimeError("secret internal detail")

    def metadata(self) -> dict:
        return {"signature_def": {}}


@pytest.fixture(scope="module")
def classifiers(spaces_dir: Path) -> dict[str, ImageClassifier]:
    return {name: ImageClassifier.from_artifact(spaces_dir / folder) for name, folder in IMAGE_MODELS.items()}


@pytest.fixture(scope="module")
def regressor(spaces_dir: Path) -> TabularRegressor:
    return TabularRegressor.from_artifact(spaces_dir / "keras-basics" / "model" / "housing")


@pytest.fixture(scope="module")
def base(classifiers: dict[str, ImageClassifier], regressor: TabularRegressor) -> Iterator[str]:
    models: dict[str, Adapter] = {name: ImageAdapter(Service(c)) for name, c in classifiers.items()}
    models["housing"] = TabularAdapter(Service(regressor))
    models["broken"] = Broken()
    app = FastAPI()
    app.include_router(tf_serving_router(models))
    with serving(app) as url:
        yield url


def examples(spaces_dir: Path, name: str) -> list[Path]:
    folder = spaces_dir / ("keras-basics/examples/digits" if name == "digits" else f"{name}/examples")
    return sorted(p for p in folder.iterdir() if p.suffix in {".png", ".jpg"})


def b64(path: Path) -> dict:
    return {"b64": base64.b64encode(path.read_bytes()).decode("ascii")}


def post(url: str, **kwargs) -> httpx.Response:
    return httpx.post(url, timeout=60, **kwargs)


def test_status_of_every_model(base: str) -> None:
    for name in (*IMAGE_MODELS, "housing"):
        for path in (f"/v1/models/{name}", f"/v1/models/{name}/versions/1"):
            response = httpx.get(base + path, timeout=10)
            assert response.status_code == 200, response.text
            assert response.json() == {
                "model_version_status": [
                    {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                ]
            }


def test_metadata_describes_the_serving_signature(base: str, classifiers: dict, regressor: TabularRegressor) -> None:
    for name, classifier in classifiers.items():
        response = httpx.get(f"{base}/v1/models/{name}/metadata", timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_spec"] == {"name": name, "signature_name": "", "version": "1"}
        signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
        spec_input = classifier.spec.input
        assert isinstance(spec_input, ImageInput)
        pixels = signature["inputs"]["pixels"]
        assert pixels["dtype"] == "DT_FLOAT"
        sizes = [dim["size"] for dim in pixels["tensor_shape"]["dim"]]
        assert sizes == ["-1", str(spec_input.height), str(spec_input.width), str(spec_input.channels)]
        output = signature["outputs"]["output_0"]["tensor_shape"]["dim"]
        assert [dim["size"] for dim in output] == ["-1", str(len(classifier.spec.labels))]
        assert signature["method_name"] == "tensorflow/serving/predict"
        assert body["metadata"]["spacesuite"]["labels"] == classifier.spec.labels
    assert httpx.get(f"{base}/v1/models/bird-species/versions/1/metadata", timeout=10).status_code == 200

    housing = httpx.get(f"{base}/v1/models/housing/metadata", timeout=10).json()
    signature = housing["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert [dim["size"] for dim in signature["inputs"]["features"]["tensor_shape"]["dim"]] == ["-1", "8"]
    extra = housing["metadata"]["spacesuite"]
    assert extra["task"] == "regression"
    assert extra["target"]["scale"] == regressor.spec.target.scale
    features = extra["input"]["features"]
    assert [f["name"] for f in features] == [f.name for f in regressor.features]
    assert all(f["minimum"] is not None and f["maximum"] is not None for f in features)


@pytest.mark.parametrize("name", list(IMAGE_MODELS))
def test_b64_images_get_what_the_page_gets(base: str, spaces_dir: Path, classifiers: dict, name: str) -> None:
    paths = examples(spaces_dir, name)[:4]
    response = post(f"{base}/v1/models/{name}:predict", json={"instances": [b64(p) for p in paths]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    labels = classifiers[name].spec.labels
    assert len(predictions) == len(paths)
    for path, probabilities in zip(paths, predictions, strict=True):
        page = classifiers[name].classify(path).confidences  # what the Gradio page computes for an upload
        assert probabilities == pytest.approx([page[label] for label in labels], abs=1e-6)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)


def test_b64_variants_are_accepted(base: str, spaces_dir: Path) -> None:
    path = examples(spaces_dir, "sign-language")[0]
    standard = base64.b64encode(path.read_bytes()).decode("ascii")
    web_safe = base64.urlsafe_b64encode(path.read_bytes()).decode("ascii").rstrip("=")
    wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))
    instances = [{"b64": standard}, {"b64": web_safe}, {"b64": wrapped}, {"pixels": {"b64": standard}}]
    response = post(f"{base}/v1/models/sign-language/versions/1:predict", json={"instances": instances})
    assert response.status_code == 200, response.text
    first, *others = response.json()["predictions"]
    assert all(other == first for other in others)


@pytest.mark.parametrize("name", list(IMAGE_MODELS))
def test_raw_tensors_match_the_b64_image(base: str, spaces_dir: Path, classifiers: dict, name: str) -> None:
    path = examples(spaces_dir, name)[0]
    spec_input = classifiers[name].spec.input
    pixels, _ = preprocess_image(path, spec_input.size, channels=spec_input.channels, framing=spec_input.framing)
    tensor = pixels[0].tolist()
    from_file = post(f"{base}/v1/models/{name}:predict", json={"instances": [b64(path)]}).json()["predictions"][0]
    response = post(f"{base}/v1/models/{name}:predict", json={"instances": [tensor, tensor]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == [pytest.approx(from_file, abs=1e-6)] * 2


def test_columnar_inputs_answer_outputs(base: str, spaces_dir: Path) -> None:
    images = [b64(p) for p in examples(spaces_dir, "digits")[:3]]
    rows = post(f"{base}/v1/models/digits:predict", json={"instances": images}).json()["predictions"]
    response = post(f"{base}/v1/models/digits:predict", json={"inputs": images})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"] == rows
    by_name = post(f"{base}/v1/models/digits:predict", json={"inputs": {"pixels": images}})
    assert by_name.json()["outputs"] == rows


def test_housing_by_list_and_by_name_in_model_units(base: str, regressor: TabularRegressor) -> None:
    names = [feature.name for feature in regressor.features]
    other = [3.0, 40, 5.0, 1.0, 1000, 3.0, 34.0, -118.3]
    by_list = post(f"{base}/v1/models/housing:predict", json={"instances": [HOUSING_ROW, other]})
    assert by_list.status_code == 200, by_list.text
    predictions = by_list.json()["predictions"]
    assert len(predictions) == 2 and all(len(p) == 1 for p in predictions)
    assert predictions[0][0] == pytest.approx(regressor.predict_one(HOUSING_ROW).value, rel=1e-6)
    assert predictions[1][0] == pytest.approx(regressor.predict_one(other).value, rel=1e-6)

    by_name = post(
        f"{base}/v1/models/housing:predict", json={"instances": [dict(zip(names, HOUSING_ROW, strict=True))]}
    )
    assert by_name.json()["predictions"] == [predictions[0]]
    columns = {name: [HOUSING_ROW[i], other[i]] for i, name in enumerate(names)}
    assert post(f"{base}/v1/models/housing:predict", json={"inputs": columns}).json()["outputs"] == predictions
    named = post(f"{base}/v1/models/housing/versions/1:predict", json={"instances": [{"features": HOUSING_ROW}]})
    assert named.json()["predictions"] == [predictions[0]]


def test_concurrent_requests_are_all_answered(base: str, spaces_dir: Path) -> None:
    images = [b64(p) for p in examples(spaces_dir, "sign-language")]

    def call(index: int) -> int:
        name = "housing" if index % 2 else "sign-language"
        body = {"instances": [HOUSING_ROW]} if index % 2 else {"instances": images}
        return post(f"{base}/v1/models/{name}:predict", json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(call, range(16))) == [200] * 16


def test_concurrent_requests_each_get_the_answer_they_get_alone(base: str, spaces_dir: Path) -> None:
    """Concurrent :predict requests of 1-7 images share model calls, run in chunks of the interpreters' fixed batch
    sizes: each request still gets its own rows, as when it comes alone."""
    images = [b64(p) for p in examples(spaces_dir, "sign-language")]
    bodies = [{"instances": [images[(start + k) % len(images)] for k in range(1 + start % 7)]} for start in range(24)]

    def answer(body: dict) -> list:
        response = post(f"{base}/v1/models/sign-language:predict", json=body)
        assert response.status_code == 200, response.text
        return response.json()["predictions"]

    alone = [answer(body) for body in bodies]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(answer, bodies))
    for mine, reference in zip(together, alone, strict=True):
        assert len(mine) == len(reference)
        assert np.allclose(mine, reference, atol=1e-6)


def _nested(depth: int) -> bytes:
    return b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"


def _tensor(shape: tuple[int, ...], value: str) -> bytes:
    """A JSON predict body with one tensor of `shape`, every value written as the literal `value`."""
    text = value
    for side in reversed(shape):
        text = "[" + ",".join([text] * side) + "]"
    return ('{"instances": [' + text + "]}").encode()


BAD_B64 = {"b64": "not base64 at all!"}
TEXT_FILE = {"b64": base64.b64encode(b"hello, I am not an image").decode()}
ERRORS = [
    # (model path and verb, json body or raw bytes, status, words of the message)
    ("sign-language:predict", b'{"instances": [', 400, "JSON Parse error"),
    ("sign-language:predict", b"\xff\xfe\x00garbage", 400, "JSON Parse error"),
    ("sign-language:predict", _nested(100_000), 400, "JSON Parse error"),
    ("sign-language:predict", [1, 2], 400, "JSON object"),
    ("sign-language:predict", {}, 400, "Missing 'inputs' or 'instances' key"),
    ("sign-language:predict", {"instances": []}, 400, '"instances" is empty'),
    ("sign-language:predict", {"inputs": []}, 400, '"inputs" is empty'),
    ("sign-language:predict", {"instances": {"b64": "x"}}, 400, "must be a list"),
    ("sign-language:predict", {"instances": [BAD_B64], "inputs": [BAD_B64]}, 400, "not both"),
    ("sign-language:predict", {"inputs": {"pixels": [1], "other": [1, 2]}}, 400, "same length"),
    ("sign-language:predict", {"instances": [BAD_B64] * (MAX_INSTANCES + 1)}, 400, "Too many instances"),
    ("sign-language:predict", {"signature_name": "classify", "instances": [1]}, 400, "signature name"),
    ("sign-language:predict", {"instances": [BAD_B64]}, 400, "Instance 0: The b64 value is not valid base64"),
    ("sign-language:predict", {"instances": [TEXT_FILE]}, 400, "Instance 0: This file is not an image"),
    ("sign-language:predict", {"instances": [{"b64": ""}]}, 400, "Instance 0: The b64 value is empty"),
    ("sign-language:predict", {"instances": [{"b64": 5}]}, 400, "Instance 0: Binary data must be sent as"),
    ("sign-language:predict", {"instances": [{"image": {"b64": "AA"}}]}, 400, "Instance 0: Binary data"),
    ("sign-language:predict", {"instances": ["a string"]}, 400, "Instance 0: An image instance is"),
    ("sign-language:predict", {"instances": [[[0.5] * 28] * 28]}, 400, "Instance 0: The pixels have shape 28×28,"),
    ("sign-language:predict", {"instances": [[[[2.0]] * 28] * 28]}, 400, "Instance 0: The pixels must lie in [0, 1]"),
    ("sign-language:predict", {"instances": [[[["x"]] * 28] * 28]}, 400, "Instance 0: The pixels must all be numbers"),
    ("sign-language:predict", {"instances": [[[[True]] * 28] * 28]}, 400, "Instance 0: The pixels must all be"),
    ("sign-language:predict", {"instances": [[[0.5], [0.5, 0.5]]]}, 400, "Instance 0: The pixels are not a regular"),
    ("sign-language:predict", _tensor((28, 28, 1), "NaN"), 400, "Instance 0: The pixels must be finite"),
    ("sign-language:predict", _tensor((28, 28, 1), "1e999"), 400, "Instance 0: The pixels must be finite"),
    ("housing:predict", {"instances": [HOUSING_ROW, HOUSING_ROW[:3]]}, 400, "Instance 1: Expected 8 values"),
    ("housing:predict", {"instances": [[1e9, *HOUSING_ROW[1:]]]}, 400, "Instance 0: Median income = 1e+09 is outside"),
    ("housing:predict", {"instances": [["4.4", *HOUSING_ROW[1:]]]}, 400, "Instance 0: Median income is missing or"),
    ("housing:predict", {"instances": [[True, *HOUSING_ROW[1:]]]}, 400, "Instance 0: Median income is missing or"),
    ("housing:predict", {"instances": [{"MedInc": 4.0}]}, 400, "Instance 0: Median house age is missing"),
    ("housing:predict", {"instances": [{"MedInk": 4.0}]}, 400, "Instance 0: Unknown feature MedInk"),
    ("housing:predict", {"instances": ["4.4"]}, 400, "Instance 0: A row is a list of 8 values"),
    ("housing:predict", b'{"instances": [[NaN, 26, 4.783, 1.14, 752, 2.507, 36.5, -117.8]]}', 400, "finite number"),
    ("housing:predict", b'{"instances": [[4.4, Infinity, 4.783, 1.14, 752, 2.5, 36.5, -117.8]]}', 400, "finite"),
    ("housing/versions/2:predict", {"instances": [HOUSING_ROW]}, 404, "Servable not found for request: Specific"),
    ("housing/versions/latest:predict", {"instances": [HOUSING_ROW]}, 400, "Malformed request: POST"),
    ("housing:classify", {"instances": [HOUSING_ROW]}, 400, "Malformed request: POST /v1/models/housing:classify"),
    ("housing", {"instances": [HOUSING_ROW]}, 400, "Malformed request: POST /v1/models/housing"),
    ("no-such-model:predict", {"instances": [HOUSING_ROW]}, 404, "Servable not found for request: Latest("),
    ("housing:feedback", {"request_id": "0123456789abcdef", "correct": True}, 400, "a classifier's answers only"),
    ("digits:feedback", {"request_id": "0123456789abcdef", "correct": True}, 404, "No answer with request_id"),
    ("digits:feedback", b"[1, 2]", 400, "must be a JSON object"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), ERRORS)
def test_bad_requests_get_a_clear_json_error(base: str, path: str, body: object, status: int, message: str) -> None:
    request = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = post(f"{base}/v1/models/{path}", **request)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["error"]
    assert message in response.json()["error"]


def test_unknown_model_is_named_like_tf_serving(base: str) -> None:
    for method, path in [("GET", "nope"), ("GET", "nope/metadata"), ("POST", "nope:predict")]:
        response = httpx.request(method, f"{base}/v1/models/{path}", json={"instances": [1]}, timeout=10)
        assert response.status_code == 404
        assert response.json() == {"error": "Servable not found for request: Latest(nope)"}
    wrong = httpx.get(f"{base}/v1/models/housing/versions/7", timeout=10)
    assert wrong.status_code == 404
    assert wrong.json() == {"error": "Servable not found for request: Specific(housing, 7)"}
    for path in ["housing:predict", "housing/versions/x/metadata", "", "housing/labels/a"]:
        response = httpx.get(f"{base}/v1/models/{path}", timeout=10)
        assert response.status_code in (400, 404), response.text
        assert list(response.json()) == ["error"]


def test_large_bodies_are_refused_without_being_read(base: str) -> None:
    declared = post(f"{base}/v1/models/housing:predict", content=b" " * 12_000_000)
    assert declared.status_code == 413, declared.text
    assert "too large" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts while reading
        for _ in range(12):
            yield b" " * 1_000_000

    streamed = post(f"{base}/v1/models/housing:predict", content=chunks())
    assert streamed.status_code == 413, streamed.text
    assert "too large" in streamed.json()["error"]
    # the server still answers afterwards
    assert post(f"{base}/v1/models/housing:predict", json={"instances": [HOUSING_ROW]}).status_code == 200


def test_a_bug_is_a_logged_500_without_details(base: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="shared.tf_serving"):
        response = post(f"{base}/v1/models/broken:predict", json={"instances": [1]})
    assert response.status_code == 500
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert list(response.json()) == ["error"]
    assert any("secret internal detail" in (record.exc_text or "") for record in caplog.records)


def test_load_services_reads_one_or_several_models(spaces_dir: Path, tmp_path: Path) -> None:
    single = adapters(load_services(spaces_dir / "sign-language" / "model"))
    assert list(single) == ["sign-language"] and isinstance(single["sign-language"], ImageAdapter)
    several = adapters(load_services(spaces_dir / "keras-basics" / "model"))
    assert sorted(several) == ["digits", "housing"]
    assert isinstance(several["digits"], ImageAdapter) and isinstance(several["housing"], TabularAdapter)
    with pytest.raises(ArtifactError, match="holds no model"):
        load_services(tmp_path)


def test_space_app_serves_the_page_and_the_api(spaces_dir: Path) -> None:
    from shared.suite import load_space
    from shared.ui import SESSION_CAPACITY

    bundle = spaces_dir / "sign-language"
    services = load_services(bundle / "model")
    demo = load_space(bundle, services)
    with serving(space_app(demo, services)) as url:
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert httpx.get(url + "/config", timeout=30).status_code == 200
        response = post(url + "/v1/models/sign-language:predict", json={"instances": [b64(bundle / "examples/B.png")]})
        assert response.status_code == 200, response.text
        assert len(response.json()["predictions"][0]) == 24
        missing = httpx.get(url + "/v1/models/birds", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"].startswith("Servable not found")
        too_big = httpx.post(url + "/gradio_api/upload", files={"files": ("big.png", b"0" * 30_000_000)}, timeout=30)
        assert too_big.status_code == 413, too_big.text
        assert demo.state_holder.capacity == SESSION_CAPACITY  # read from the Blocks when mounted
        assert json.loads(httpx.get(url + "/v1/models/sign-language", timeout=10).text)["model_version_status"]
