"""TF Serving's REST API for a Space's models, served by the same process as its Gradio page.

Routes, request and response shapes and error bodies follow TensorFlow Serving's RESTful API, so a client
written for TF Serving works unchanged:

- `GET /v1/models/<name>[/versions/<v>]`: the model's status;
- `GET /v1/models/<name>[/versions/<v>]/metadata`: its `serving_default` signature, plus what TF Serving cannot
  say (labels, target, feature ranges) under `metadata.spacesuite`;
- `POST /v1/models/<name>[/versions/<v>]:predict` with `{"instances": [...]}` → `{"predictions": [...]}`,
  or `{"inputs": [...]}` → `{"outputs": [...]}`.

Errors are `{"error": "<one sentence>"}`: 400 for a request that cannot be answered as it is, 404 for an unknown
model or version, 413 for a body over `MAX_BODY_BYTES`, 500 (details logged, never sent) for a bug.
Each model is a `RestModel`; `ImageRestModel` and `TabularRestModel` adapt the services the pages use, so an
upload goes through the same decoding and checks whether it comes from the page or from the API.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shared.artifact import SPEC_FILE, ImageInput, ModelSpec
from shared.classifier import ImageClassifier
from shared.constants import SERVER_NAME, SERVER_PORT
from shared.errors import ArtifactError, InputError
from shared.metrics import metrics_app, observed, record_prediction, register_model
from shared.regressor import TabularRegressor
from shared.text_classifier import TextClassifier
from shared.traffic import configure as configure_traffic

if TYPE_CHECKING:
    import gradio as gr

    from shared.sklearn_classifier import TabularClassifier

logger = logging.getLogger(__name__)
MAX_INSTANCES = 64  # per request: a bigger batch holds the model's lock (and the page's users) too long
MAX_BODY_BYTES = 10 * 1024 * 1024  # larger bodies are refused (413) before they are read
SIGNATURE = "serving_default"
# Names in the exported SavedModel's serving_default signature (Keras `model.export`, one output).
OUTPUT_KEY, OUTPUT_TENSOR = "output_0", "StatefulPartitionedCall_1:0"
INTERNAL_ERROR = "Internal error: the request could not be answered; the error was logged."


class RestModel(ABC):
    """A model served over REST: a name and version, predictions for JSON instances, TF Serving metadata."""

    name: str
    version: int

    @abstractmethod
    def predict(self, instances: list) -> list:
        """One prediction per instance, in order.

        Raises:
            InputError: an instance cannot be answered; the message names its index.
        """

    @abstractmethod
    def metadata(self) -> dict:
        """TF Serving's `metadata` object: `{"signature_def": {"signature_def": {"serving_default": ...}}}`."""


def tensor_info(dtype: str, shape: Sequence[int], name: str) -> dict:
    """A TensorInfo as TF Serving writes it in JSON (sizes are strings: int64 in proto3 JSON)."""
    dims = [{"size": str(size), "name": ""} for size in shape]
    return {"dtype": dtype, "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": name}


def float32_values(values: np.ndarray) -> list[float]:
    """A model output row as JSON numbers, written as float32's shortest form (0.1, not 0.10000000149011612)."""
    return [float(str(value)) for value in np.asarray(values, dtype=np.float32).reshape(-1)]


class SpecRestModel(RestModel):
    """A `RestModel` described by a `ModelSpec`: instances answered one at a time, metadata from the spec.

    A subclass says what one instance is (`predict_instance`), how it is sent (`instance_forms`) and what the
    signature's input tensor is (`input_tensor`); a text classifier, for instance, needs only those three.
    """

    instance_forms: tuple[str, ...] = ()

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.version = spec.version

    @abstractmethod
    def predict_instance(self, instance: object) -> list:
        """The prediction for one instance (a JSON value).

        Raises:
            InputError: the instance is malformed or cannot be answered (one sentence, without its index).
        """

    @abstractmethod
    def input_tensor(self) -> tuple[str, list[int]]:
        """The signature input's dtype and shape, batch first (-1), e.g. `("DT_FLOAT", [-1, 28, 28, 1])`."""

    def output_shape(self) -> list[int]:
        """The output's shape, batch first: a probability per label, or one value."""
        return [-1, len(self.spec.labels) if self.spec.labels else 1]

    def predict(self, instances: list) -> list:
        """One prediction per instance; `{"<signature input>": value}` is accepted for `value` (TF Serving's form).

        Raises:
            InputError: no instances, or an instance that cannot be answered (the message names its index).
        """
        if not isinstance(instances, list) or not instances:
            raise InputError("There is nothing to predict: send a non-empty list of instances.")
        predictions = []
        for index, instance in enumerate(instances):
            if isinstance(instance, dict) and list(instance) == [self.spec.signature_input]:
                instance = instance[self.spec.signature_input]
            try:
                predictions.append(self.predict_instance(instance))
            except InputError as error:
                raise InputError(f"Instance {index}: {error}") from error
        return predictions

    def details(self) -> dict:
        """What TF Serving's metadata cannot say: task, how to send an instance, labels or target, input ranges."""
        details: dict[str, Any] = {"task": self.spec.task, "instances": list(self.instance_forms)}
        if self.spec.labels:
            details["labels"] = self.spec.labels
        if self.spec.target is not None:
            details["target"] = self.spec.target.model_dump()
        details["input"] = self.spec.input.model_dump()
        details["data_source"] = self.spec.data.source
        details["metrics"] = self.spec.metrics
        return details

    def metadata(self) -> dict:
        """TF Serving's metadata of the `serving_default` signature, plus `details()` under `spacesuite`."""
        dtype, shape = self.input_tensor()
        name = self.spec.signature_input
        signature = {
            "inputs": {name: tensor_info(dtype, shape, f"serving_default_{name}:0")},
            "outputs": {OUTPUT_KEY: tensor_info("DT_FLOAT", self.output_shape(), OUTPUT_TENSOR)},
            "method_name": "tensorflow/serving/predict",
        }
        return {"signature_def": {"signature_def": {SIGNATURE: signature}}, "spacesuite": self.details()}


def decode_base64(instance: Mapping) -> bytes:
    """The bytes of TF Serving's binary form `{"b64": "<base64>"}` (standard or web-safe alphabet, padding optional).

    Raises:
        InputError: another key, a non-string, invalid base64 or nothing encoded.
    """
    value = instance.get("b64")
    if len(instance) != 1 or not isinstance(value, str):
        raise InputError('Binary data must be sent as {"b64": "<base64 string>"} with no other key.')
    text = "".join(value.split()).replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InputError("The b64 value is not valid base64.") from error
    if not data:
        raise InputError("The b64 value is empty.")
    return data


def pixel_tensor(instance: list, shape: tuple[int, ...]) -> np.ndarray:
    """Check a nested list of numbers shaped like the model input (H, W, C) in [0, 1]; return it as float32.

    Raises:
        InputError: ragged, wrongly shaped, not all numbers, NaN or infinite, or outside [0, 1].
    """
    expected = "×".join(map(str, shape))
    try:
        array = np.asarray(instance)
    except (ValueError, TypeError, RecursionError) as error:
        raise InputError(f"The pixels are not a regular nested list: expected {expected} numbers.") from error
    if array.shape != shape:
        raise InputError(f"The pixels have shape {'×'.join(map(str, array.shape))}, expected {expected}.")
    if array.dtype.kind not in "iuf":
        raise InputError("The pixels must all be numbers.")
    if not np.isfinite(array).all():
        raise InputError("The pixels must be finite numbers (no NaN or infinity).")
    if array.min() < 0 or array.max() > 1:
        raise InputError(f"The pixels must lie in [0, 1], not {array.min():g} to {array.max():g}.")
    return array.astype(np.float32)


class ImageRestModel(SpecRestModel):
    """An image classifier: an instance is an image file as `{"b64": ...}` or the model input as nested floats.

    A file is decoded and preprocessed by `ImageClassifier.classify`, exactly as the page does it; nested floats
    (H, W, C) in [0, 1] go to the model as they are (for a digit model, already framed like MNIST).
    The prediction is the list of class probabilities, in the order of `labels`.
    """

    instance_forms = ('{"b64": "<base64 of a PNG, JPEG, WebP, GIF, BMP or TIFF file>"}', "[[[float]]]: H×W×C in [0, 1]")

    def __init__(self, classifier: ImageClassifier) -> None:
        super().__init__(classifier.spec)
        self.classifier = classifier
        spec_input = classifier.spec.input
        assert isinstance(spec_input, ImageInput)  # checked by ImageClassifier
        self.shape = (spec_input.height, spec_input.width, spec_input.channels)

    def input_tensor(self) -> tuple[str, list[int]]:
        """Float32 pixels, (batch, height, width, channels)."""
        return "DT_FLOAT", [-1, *self.shape]

    def predict_instance(self, instance: object) -> list:
        """Class probabilities for one `{"b64": ...}` image file or one nested list of pixels."""
        if isinstance(instance, dict):
            confidences = self.classifier.classify(decode_base64(instance)).confidences
        elif isinstance(instance, list):
            confidences = self.classifier.classify_pixels(pixel_tensor(instance, self.shape))
        else:
            raise InputError(
                'An image instance is {"b64": "<base64 of an image file>"} '
                f"or a {'×'.join(map(str, self.shape))} nested list of numbers in [0, 1]."
            )
        return float32_values(np.array([confidences[label] for label in self.spec.labels]))


def json_number(value: object) -> object:
    """`value` if it is a JSON number or boolean, else None: `check_features` reports None as not a number, and a
    boolean as not a number unless the feature is binary (it does not accept numbers written as strings here)."""
    return value if isinstance(value, int | float) else None


def row_values(instance: object, names: list[str]) -> list[object]:
    """A feature row's values in order, from a list in order or an object by feature name (JSON numbers only).

    Raises:
        InputError: neither a list nor an object, or an object naming an unknown feature.
    """
    if isinstance(instance, dict):
        unknown = sorted(set(instance) - set(names))
        if unknown:
            raise InputError(f"Unknown feature {', '.join(unknown)}: the features are {', '.join(names)}.")
        instance = [instance.get(name) for name in names]
    if not isinstance(instance, list):
        raise InputError(f"A row is a list of {len(names)} numbers ({', '.join(names)}) or an object by name.")
    return [json_number(value) for value in instance]


class TabularRestModel(SpecRestModel):
    """A tabular regressor: an instance is the features in order, or an object by feature name.

    Values are checked like the page's form (missing, not a number, NaN, infinite or outside the training range).
    The prediction is `[value]`, the model's raw output in its own units (not multiplied by `target.scale`).
    """

    instance_forms = ("[float, ...]: every feature, in order", '{"<feature name>": float, ...}: every feature')

    def __init__(self, regressor: TabularRegressor) -> None:
        super().__init__(regressor.spec)
        self.regressor = regressor
        self.features = regressor.features

    def input_tensor(self) -> tuple[str, list[int]]:
        """Float32 features, (batch, features)."""
        return "DT_FLOAT", [-1, len(self.features)]

    def predict_instance(self, instance: object) -> list:
        """`[value]` for one row of features, a list in order or an object by name."""
        value = self.regressor.predict_raw(row_values(instance, [feature.name for feature in self.features]))
        return float32_values(np.array([value]))


class TextRestModel(SpecRestModel):
    """A text classifier: an instance is a string, preprocessed by `shared.text` exactly as the page does it.

    The prediction is the list of class probabilities, in the order of `labels`.
    """

    instance_forms = ('"<text>": one string, at most 5,000 characters',)

    def __init__(self, classifier: TextClassifier) -> None:
        super().__init__(classifier.spec)
        self.classifier = classifier

    def input_tensor(self) -> tuple[str, list[int]]:
        """Strings, one per instance (tokenized here, so the LiteRT model gets int32 ids)."""
        return "DT_STRING", [-1]

    def predict_instance(self, instance: object) -> list:
        """Class probabilities for one text."""
        if not isinstance(instance, str):
            raise InputError("A text instance is a JSON string.")
        confidences = self.classifier.classify(instance).confidences
        return float32_values(np.array([confidences[label] for label in self.spec.labels]))


class TabularClassifierRestModel(TabularRestModel):
    """A scikit-learn tabular classifier: instances as for `TabularRestModel`; the prediction is the list of class
    probabilities, in the order of `labels`."""

    def __init__(self, classifier: TabularClassifier) -> None:
        SpecRestModel.__init__(self, classifier.spec)
        self.classifier = classifier
        self.features = classifier.features

    def predict_instance(self, instance: object) -> list:
        """Class probabilities for one row of features, a list in order or an object by name."""
        names = [feature.name for feature in self.features]
        confidences = self.classifier.predict_proba(row_values(instance, names))
        return float32_values(np.array([confidences[label] for label in self.spec.labels]))


def _tabular_classifier(folder: Path) -> RestModel:
    from shared.sklearn_classifier import TabularClassifier  # scikit-learn: only Spaces that carry such a model

    return TabularClassifierRestModel(TabularClassifier.from_artifact(folder))


ADAPTERS: dict[str, Callable[[Path], RestModel]] = {
    "image-classification": lambda folder: ImageRestModel(ImageClassifier.from_artifact(folder)),
    "regression": lambda folder: TabularRestModel(TabularRegressor.from_artifact(folder)),
    "text-classification": lambda folder: TextRestModel(TextClassifier.from_artifact(folder)),
    "tabular-classification": _tabular_classifier,
}


def load_rest_models(model_dir: Path) -> dict[str, RestModel]:
    """The REST models of a Space's model folder (`model/spec.json`, or `model/<model>/spec.json` each), by name.

    Raises:
        ArtifactError: no model in the folder, or a task no adapter serves.
    """
    model_dir = Path(model_dir)
    if (model_dir / SPEC_FILE).is_file():
        folders = [model_dir]
    else:
        folders = sorted(p for p in model_dir.iterdir() if (p / SPEC_FILE).is_file()) if model_dir.is_dir() else []
    if not folders:
        raise ArtifactError(f"{model_dir} holds no model (spec.json): run the pipeline (dvc repro) to build it.")
    models: dict[str, RestModel] = {}
    for folder in folders:
        task = ModelSpec.load(folder).task
        if task not in ADAPTERS:
            raise ArtifactError(f"{folder}: no REST adapter for task {task}")
        model = ADAPTERS[task](folder)
        models[model.name] = model
    return models


class Refusal(Exception):
    """A request answered with an HTTP error status and `{"error": message}`."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_response(status_code: int, message: str) -> JSONResponse:
    """TF Serving's error body: `{"error": message}`."""
    return JSONResponse({"error": message}, status_code=status_code)


def malformed(request: Request) -> Refusal:
    """TF Serving's answer to a URL it has no route for."""
    return Refusal(400, f"Malformed request: {request.method} {request.url.path[:200]}")


def find_model(models: Mapping[str, RestModel], request: Request, name: str, version: str | None) -> RestModel:
    """The model a URL names.

    Raises:
        Refusal: 400 for a name with a colon or a version that is not a number, 404 for an unknown model or version.
    """
    if ":" in name or (version is not None and not version.isdigit()):
        raise malformed(request)
    model = models.get(name)
    if model is None or (version is not None and int(version) != model.version):
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        raise Refusal(404, f"Servable not found for request: {wanted}")
    return model


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it (or its declared length) exceeds `limit` bytes.

    Raises:
        Refusal: 413, the body is too large.
    """
    too_large = Refusal(413, f"The request body is too large: at most {limit:,} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_predict_request(body: bytes, max_instances: int) -> tuple[list, bool]:
    """The instances of a predict request body and whether it used the columnar (`inputs`) form.

    `inputs` is a list (the batch) or an object of equally long lists, one per named input (turned into rows).

    Raises:
        Refusal: 400 for malformed JSON, no or empty `instances`/`inputs`, both, too many, or a wrong signature.
    """
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8 text or nested too deeply"
        raise Refusal(400, f"JSON Parse error: {reason}.") from error
    if not isinstance(payload, dict):
        raise Refusal(400, 'The request body must be a JSON object with "instances" or "inputs".')
    signature = payload.get("signature_name", SIGNATURE)
    if signature != SIGNATURE:
        raise Refusal(400, f'Serving signature name: "{signature}" not found in signature def.')
    if "instances" in payload and "inputs" in payload:
        raise Refusal(400, 'Send either "instances" (rows) or "inputs" (columns), not both.')
    if "instances" not in payload and "inputs" not in payload:
        raise Refusal(400, "Missing 'inputs' or 'instances' key.")
    columnar = "inputs" in payload
    key = "inputs" if columnar else "instances"
    instances = payload[key]
    if columnar and isinstance(instances, dict) and instances:
        columns = list(instances.values())
        if not all(isinstance(column, list) for column in columns) or len({len(c) for c in columns}) != 1:
            raise Refusal(400, '"inputs" by name must map each input to a list, all of the same length.')
        instances = [dict(zip(instances, row, strict=True)) for row in zip(*columns, strict=True)]
    if not isinstance(instances, list):
        raise Refusal(400, f'"{key}" must be a list.')
    if not instances:
        raise Refusal(400, f'"{key}" is empty: send at least one instance.')
    if len(instances) > max_instances:
        raise Refusal(400, f"Too many instances: {len(instances)}; at most {max_instances} per request.")
    return instances, columnar


def observed_predict(model: RestModel, instances: list) -> list:
    """`model.predict`, timed and counted in the Prometheus metrics (endpoint `rest`, class mix for classifiers)."""
    with observed(model.name, "rest"):
        predictions = model.predict(instances)
    labels = getattr(getattr(model, "spec", None), "labels", None)
    if labels:
        for probabilities in predictions:
            record_prediction(model.name, dict(zip(labels, probabilities, strict=True)))
    return predictions


def tf_serving_router(
    models: Mapping[str, RestModel], *, max_instances: int = MAX_INSTANCES, max_body_bytes: int = MAX_BODY_BYTES
) -> APIRouter:
    """TF Serving's `/v1/models/...` routes for `models` (by name); any other `/v1/` URL is a malformed request."""
    router = APIRouter()

    async def answer(request: Request, name: str, version: str | None, verb: str) -> JSONResponse:
        try:
            model = find_model(models, request, name, version)
            if verb == "status":
                state = {"state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                return JSONResponse({"model_version_status": [{"version": str(model.version), **state}]})
            if verb == "metadata":
                spec = {"name": name, "signature_name": "", "version": str(model.version)}
                return JSONResponse({"model_spec": spec, "metadata": model.metadata()})
            body = await read_body(request, max_body_bytes)
            instances, columnar = await run_in_threadpool(parse_predict_request, body, max_instances)
            predictions = await run_in_threadpool(observed_predict, model, instances)
            return JSONResponse({"outputs" if columnar else "predictions": predictions})
        except Refusal as refusal:
            return error_response(refusal.status_code, refusal.message)
        except InputError as error:
            return error_response(400, str(error))
        except Exception:
            logger.exception("REST %s %s failed", request.method, request.url.path[:200])
            return error_response(500, INTERNAL_ERROR)

    @router.get("/v1/models/{name}")
    async def status(request: Request, name: str) -> JSONResponse:
        return await answer(request, name, None, "status")

    @router.get("/v1/models/{name}/versions/{version}")
    async def version_status(request: Request, name: str, version: str) -> JSONResponse:
        return await answer(request, name, version, "status")

    @router.get("/v1/models/{name}/metadata")
    async def metadata(request: Request, name: str) -> JSONResponse:
        return await answer(request, name, None, "metadata")

    @router.get("/v1/models/{name}/versions/{version}/metadata")
    async def version_metadata(request: Request, name: str, version: str) -> JSONResponse:
        return await answer(request, name, version, "metadata")

    @router.post("/v1/models/{name}:predict")
    async def predict(request: Request, name: str) -> JSONResponse:
        return await answer(request, name, None, "predict")

    @router.post("/v1/models/{name}/versions/{version}:predict")
    async def version_predict(request: Request, name: str, version: str) -> JSONResponse:
        return await answer(request, name, version, "predict")

    @router.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything_else(request: Request) -> JSONResponse:
        return error_response(400, malformed(request).message)

    return router


def space_app(demo: gr.Blocks, models: Mapping[str, RestModel], *, max_file_size: str | int | None = None) -> FastAPI:
    """One FastAPI app: TF Serving's routes under `/v1/` and the Gradio page at `/`.

    `max_file_size` (default `shared.ui.MAX_UPLOAD`) limits the page's uploads; the page keeps the
    `state_session_capacity` set on its Blocks.
    """
    import gradio as gr  # imported here so that the REST API alone does not need the UI

    from shared.ui import MAX_UPLOAD

    app = FastAPI(title=demo.title or "Spacesuite", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(tf_serving_router(models))
    app.mount("/metrics", metrics_app())  # Prometheus; the mount answers /metrics/ (and /metrics redirects)
    for model in models.values():
        if hasattr(model, "spec"):
            register_model(model.spec)
    return gr.mount_gradio_app(app, demo, path="/", max_file_size=max_file_size or MAX_UPLOAD)


def serve_space(
    demo: gr.Blocks,
    models: Mapping[str, RestModel],
    *,
    host: str = SERVER_NAME,
    port: int = SERVER_PORT,
    max_file_size: str | int | None = None,
    space: str | None = None,
) -> None:
    """Serve a Space's page and its models' REST API with uvicorn until stopped (a Space's `__main__`).

    `space` names the Space in the traffic log (`SPACE_ID` wins on the Hub)."""
    log = configure_traffic(space)
    print(f"Serving on http://{host}:{port}/ and TF Serving's REST API at /v1/models/<{'|'.join(models)}>")
    print(f"Traffic log: {log.path if log else 'off (SPACESUITE_TRAFFIC_DIR=off)'}")
    uvicorn.run(space_app(demo, models, max_file_size=max_file_size), host=host, port=port, log_level="warning")
