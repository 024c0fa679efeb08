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
This module is the protocol only: routes, request parsing and error bodies. How an instance reaches a model is
`shared.adapters`; the process that serves a Space is `shared.server`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shared.adapters import SIGNATURE, Adapter
from shared.errors import InputError

logger = logging.getLogger(__name__)
MAX_INSTANCES = 64  # per request: a bigger batch holds the model's lock (and the page's users) too long
MAX_BODY_BYTES = 10 * 1024 * 1024  # larger bodies are refused (413) before they are read
INTERNAL_ERROR = "Internal error: the request could not be answered; the error was logged."


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


def find_model(models: Mapping[str, Adapter], request: Request, name: str, version: str | None) -> Adapter:
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


def tf_serving_router(
    models: Mapping[str, Adapter], *, max_instances: int = MAX_INSTANCES, max_body_bytes: int = MAX_BODY_BYTES
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
            predictions = await run_in_threadpool(model.predict, instances)
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
