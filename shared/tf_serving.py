"""TF Serving's REST API for a Space's models, served by the same process as its Gradio page.

Routes, request and response shapes and error bodies follow TensorFlow Serving's RESTful API, so a client
written for TF Serving works unchanged:

- `GET /v1/models/<name>[/versions/<v>]`: the model's status;
- `GET /v1/models/<name>[/versions/<v>]/metadata`: its `serving_default` signature, plus what TF Serving cannot
  say (labels, target, feature ranges) under `metadata.spacesuite`;
- `POST /v1/models/<name>[/versions/<v>]:predict` with `{"instances": [...]}` → `{"predictions": [...]}`,
  or `{"inputs": [...]}` → `{"outputs": [...]}`; ours besides TF Serving's: the answer's `request_id`;
- `POST /v1/models/<name>[/versions/<v>]:explain` (ours, not TF Serving's) with the same body as :predict (at most
  `explain.MAX_EXPLAIN_INSTANCES` instances) → `{"explanations": [...]}`, one `shared.explain.Explanation` each.
- ours, not TF Serving's: `POST /v1/models/<name>[/versions/<v>]:feedback` with `{"request_id": ..., "correct":
  true|false, "label": ... (required when wrong), "instance": 0}`, a user's verdict on an answered instance
  (`shared.feedback`); an unknown request id is 404, a malformed body or unknown label 400.

Errors are `{"error": "<one sentence>"}`: 400 for a request that cannot be answered as it is, 404 for an unknown
model or version, 413 for a body over `limits.MAX_BODY_BYTES`, 500 (details logged, never sent) for a bug. A
refused request to a known model is recorded like an answered one (metrics and traffic log).

`RestAPI` is a plain ASGI app: the API answers before FastAPI's routing and request objects (which cost more than
a small model's prediction), and a small :predict (a few instances, small images) runs on the event loop without a
thread hop, its model input batched with the concurrent requests' (`shared.batching`). A large body is parsed and its
instances decoded in a worker thread, a few such requests at a time. This module is the protocol only: routes,
request parsing and error bodies. How an instance reaches a model is `shared.adapters`; the process that serves a
Space is `shared.server`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

import shared.explain as explain
import shared.limits as limits
from shared.adapters import SIGNATURE, Adapter
from shared.errors import InputError
from shared.feedback import MAX_FEEDBACK_BYTES, UnknownRequest

logger = logging.getLogger(__name__)
MAX_INSTANCES = limits.MAX_INSTANCES
MAX_BODY_BYTES = limits.MAX_BODY_BYTES
INTERNAL_ERROR = "Internal error: the request could not be answered; the error was logged."
INLINE_BODY_BYTES = 64 * 1024  # a smaller :predict is parsed and decoded on the event loop...
INLINE_INSTANCES = 4  # ... when it holds at most this many instances (64 small images would hold the loop)
LARGE_REQUESTS = 2  # larger ones are parsed and decoded in worker threads, this many at a time
JSON_VALUE_BYTES = 48  # what one parsed JSON value costs in memory, about (for the decode gate)
PREFIX = "/v1/models/"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONE_SURROGATE = "JSON Parse error: a \\u escape is a lone surrogate, which is not valid Unicode."
VERBS = ("predict", "explain", "feedback")  # POST verbs; explain and feedback are ours, not TF Serving's
_STATUS = {"state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


class Refusal(Exception):
    """A request answered with an HTTP error status and `{"error": message}`."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_body(message: str) -> bytes:
    """TF Serving's error body, `{"error": message}`, as ASCII JSON (whatever the message quotes of the request)."""
    return json.dumps({"error": message}, ensure_ascii=True).encode("ascii")


def malformed(method: str, path: str) -> Refusal:
    """TF Serving's answer to a URL it has no route for."""
    return Refusal(400, f"Malformed request: {method} {path[:200]}")


def route(method: str, path: str) -> tuple[str, str | None, str]:
    """The model name, version (or None) and verb (`status`, `metadata`, `predict`, `explain`, `feedback`) a
    request's URL names.

    Raises:
        Refusal: 400 for a URL outside the API's routes.
    """
    if not path.startswith(PREFIX):
        raise malformed(method, path)
    tail, verb = path[len(PREFIX) :], ""
    if method == "POST":
        tail, colon, verb = tail.rpartition(":")
        if not colon or verb not in VERBS:
            raise malformed(method, path)
    elif method != "GET":
        raise malformed(method, path)
    parts = tail.split("/")
    version = parts[2] if len(parts) >= 3 and parts[1] == "versions" else None
    rest = parts[1:] if version is None else parts[3:]
    if not parts[0] or rest not in ([], ["metadata"]) or (verb and rest):
        raise malformed(method, path)
    return parts[0], version, verb or ("metadata" if rest else "status")


def find_model(models: Mapping[str, Adapter], method: str, path: str, name: str, version: str | None) -> Adapter:
    """The model a URL names.

    Raises:
        Refusal: 400 for a name with a colon or a version that is not a number, 404 for an unknown model or version.
    """
    if ":" in name or (version is not None and not (version.isdigit() and len(version) <= 18)):
        raise malformed(method, path)
    model = models.get(name)
    if model is None or (version is not None and int(version) != model.version):
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        raise Refusal(404, f"Servable not found for request: {wanted[:300]}")
    return model


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body, refused as soon as it (or its declared length) exceeds `limit` bytes.

    Raises:
        Refusal: 413, the body is too large; 400, the client went away.
    """
    too_large = Refusal(413, f"The request body is too large: at most {limit:,} bytes.")
    for key, value in scope["headers"]:
        if key == b"content-length" and value.isdigit() and (len(value) > 18 or int(value) > limit):
            raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(400, "The client closed the connection before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _lone_surrogate(payload: Any) -> str | None:
    """The first string (or key) of a parsed payload that holds a lone surrogate, or None."""
    pending = [payload]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return node
    return None


def load_json(body: bytes) -> Any:
    """The parsed body: orjson first; the standard library for what orjson refuses but TF Serving takes (NaN,
    Infinity, integers beyond 64 bits), without ever letting a lone surrogate through.

    Raises:
        Refusal: 400, not JSON, not UTF-8, nested too deeply or holding a lone surrogate.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if "surrogate" in str(error):
            raise Refusal(400, LONE_SURROGATE) from None
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as error:
        raise Refusal(400, f"JSON Parse error: {error.msg}.") from None
    except (ValueError, RecursionError):  # not UTF-8, nested too deeply, an integer of thousands of digits
        raise Refusal(400, "JSON Parse error: not UTF-8 text, nested too deeply or a number too long.") from None
    if _SURROGATE_ESCAPE.search(body) and _lone_surrogate(payload) is not None:
        raise Refusal(400, LONE_SURROGATE)
    return payload


def parse_predict_request(body: bytes, max_instances: int = MAX_INSTANCES) -> tuple[list, bool]:
    """The instances of a predict request body and whether it used the columnar (`inputs`) form.

    `inputs` is a list (the batch) or an object of equally long lists, one per named input (turned into rows). The
    JSON values are counted on the raw bytes before parsing, and the instances before any row is built.

    Raises:
        Refusal: 400 for malformed JSON, too many values, no or empty `instances`/`inputs`, both, too many, or a
            wrong signature.
    """
    if len(body) > INLINE_BODY_BYTES:
        values = body.count(b",") + body.count(b"[") + body.count(b"{")
        if values > limits.MAX_JSON_VALUES:
            raise Refusal(400, f"The request holds too many JSON values: at most {limits.MAX_JSON_VALUES:,}.")
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise Refusal(400, 'The request body must be a JSON object with "instances" or "inputs".')
    signature = payload.get("signature_name", SIGNATURE)
    if signature != SIGNATURE:
        raise Refusal(400, f'Serving signature name: "{str(signature)[:100]}" not found in signature def.')
    if "instances" in payload and "inputs" in payload:
        raise Refusal(400, 'Send either "instances" (rows) or "inputs" (columns), not both.')
    if "instances" not in payload and "inputs" not in payload:
        raise Refusal(400, "Missing 'inputs' or 'instances' key.")
    columnar = "inputs" in payload
    key = "inputs" if columnar else "instances"
    instances = payload[key]
    too_many = f"Too many instances: {{}}; at most {max_instances} per request."
    if columnar and isinstance(instances, dict) and instances:
        columns = list(instances.values())
        if not all(isinstance(column, list) for column in columns) or len({len(c) for c in columns}) != 1:
            raise Refusal(400, '"inputs" by name must map each input to a list, all of the same length.')
        if len(columns[0]) > max_instances:
            raise Refusal(400, too_many.format(len(columns[0])))
        instances = [dict(zip(instances, row, strict=True)) for row in zip(*columns, strict=True)]
    if not isinstance(instances, list):
        raise Refusal(400, f'"{key}" must be a list.')
    if not instances:
        raise Refusal(400, f'"{key}" is empty: send at least one instance.')
    if len(instances) > max_instances:
        raise Refusal(400, too_many.format(len(instances)))
    return instances, columnar


def _parse_large(body: bytes, max_instances: int) -> tuple[list, bool]:
    """`parse_predict_request` for a large body, holding its estimated memory in the decode gate."""
    from shared.images import DECODE_GATE

    values = body.count(b",") + body.count(b"[") + body.count(b"{")
    with DECODE_GATE.hold(len(body) + values * JSON_VALUE_BYTES):
        return parse_predict_request(body, max_instances)


class RestAPI:
    """TF Serving's `/v1/models/...` routes for `models` (by name), as an ASGI app; any other `/v1/` URL is a
    malformed request."""

    def __init__(
        self, models: Mapping[str, Adapter], *, max_instances: int = MAX_INSTANCES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.models = models
        self.max_instances = max_instances
        self.max_body_bytes = max_body_bytes
        self._large: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._explaining: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request under `/v1/`."""
        status, body = await self.answer(scope, receive)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii"))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """The status and JSON body that answer a request."""
        method, path = scope["method"], scope["path"]
        started = time.perf_counter()
        model: Adapter | None = None
        try:
            name, version, verb = route(method, path)
            model = find_model(self.models, method, path, name, version)
            if verb == "status":
                return 200, orjson.dumps({"model_version_status": [{"version": str(model.version), **_STATUS}]})
            if verb == "metadata":
                spec = {"name": name, "signature_name": "", "version": str(model.version)}
                return 200, orjson.dumps({"model_spec": spec, "metadata": model.metadata()})
            if verb == "explain":
                return 200, await self.explain(model, scope, receive)
            if verb == "feedback":
                body = await read_body(scope, receive, MAX_FEEDBACK_BYTES)
                return 200, orjson.dumps(model.feedback(load_json(body)))
            return 200, await self.predict(model, scope, receive)
        except UnknownRequest as error:
            return 404, error_body(str(error))
        except Refusal as refusal:
            service = getattr(model, "service", None)
            if service is not None:  # a known model: the refusal is recorded like an answer
                service.refuse("rest", refusal.message, time.perf_counter() - started)
            return refusal.status_code, error_body(refusal.message)
        except InputError as error:  # recorded by the model's service
            return 400, error_body(str(error))
        except Exception:
            logger.exception("REST %s %s failed", method, ascii(path[:200]))
            return 500, error_body(INTERNAL_ERROR)

    async def predict(self, model: Adapter, scope: Scope, receive: Receive) -> bytes:
        """The JSON answer to a :predict request."""
        body = await read_body(scope, receive, self.max_body_bytes)
        if len(body) <= INLINE_BODY_BYTES:
            instances, columnar = parse_predict_request(body, self.max_instances)
            rows, request_id = await model.predict_async(instances, in_thread=len(instances) > INLINE_INSTANCES)
        else:
            loop = asyncio.get_running_loop()
            large = self._large.get(loop) or self._large.setdefault(loop, asyncio.Semaphore(LARGE_REQUESTS))
            async with large:
                instances, columnar = await asyncio.to_thread(_parse_large, body, self.max_instances)
                del body
                rows, request_id = await model.predict_async(instances, in_thread=True)
        answer = {"outputs" if columnar else "predictions": rows, "request_id": request_id}
        return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)

    async def explain(self, model: Adapter, scope: Scope, receive: Receive) -> bytes:
        """The JSON answer to an :explain request (ours; TF Serving has no such verb): the same body as :predict, at
        most `explain.MAX_EXPLAIN_INSTANCES` instances, explained in a worker thread, a few requests at a time."""
        body = await read_body(scope, receive, self.max_body_bytes)
        loop = asyncio.get_running_loop()
        gate = self._explaining.get(loop) or self._explaining.setdefault(
            loop, asyncio.Semaphore(explain.EXPLAIN_CONCURRENCY)
        )
        async with gate:
            most = min(self.max_instances, explain.MAX_EXPLAIN_INSTANCES)
            instances, _ = await asyncio.to_thread(_parse_large, body, most)
            del body
            answers = await asyncio.to_thread(model.explain, instances)
        return orjson.dumps({"explanations": answers}, option=orjson.OPT_SERIALIZE_NUMPY)


class RestFirst:
    """ASGI middleware: requests under `/v1/` go to the REST API before the app's own routing."""

    def __init__(self, app: ASGIApp, rest: RestAPI) -> None:
        self.app = app
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one ASGI call."""
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self.rest(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def serve_rest(app: FastAPI, models: Mapping[str, Adapter]) -> None:
    """Answer TF Serving's routes for `models` in `app`, ahead of its own routes (call before it starts)."""
    app.add_middleware(RestFirst, rest=RestAPI(models))


def tf_serving_router(
    models: Mapping[str, Adapter], *, max_instances: int = MAX_INSTANCES, max_body_bytes: int = MAX_BODY_BYTES
) -> APIRouter:
    """TF Serving's routes for `models` as a FastAPI router (what `serve_rest` does, through the app's routing)."""
    router = APIRouter()
    api = RestAPI(models, max_instances=max_instances, max_body_bytes=max_body_bytes)
    router.add_route("/v1/{path:path}", api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return router
