"""Prometheus metrics a Space exports at `/metrics`: requests by outcome, latency, class mix, confidence and
which model answers. One registry per process (a Space, or the local suite of every Space).

`observed` wraps every request (page and REST): it feeds these metrics and appends the request to the traffic
log (`shared.traffic`) before the answer leaves the app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, make_asgi_app

from shared.artifact import ModelSpec
from shared.errors import InputError
from shared.traffic import collecting, log_request

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "spacesuite_requests", "Requests answered, by model, endpoint and outcome (ok, input_error, error).",
    ["model", "endpoint", "outcome"], registry=REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "spacesuite_request_seconds", "Time to answer one request inside the app (decode, preprocess, model).",
    ["model", "endpoint"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=REGISTRY,
)  # fmt: skip
PREDICTIONS = Counter(
    "spacesuite_predictions", "Predicted classes (the top label of each answer).", ["model", "label"], registry=REGISTRY
)
CONFIDENCE = Histogram(
    "spacesuite_prediction_confidence", "Probability of the top label of each answer.", ["model"],
    buckets=tuple(round(0.1 * step, 1) for step in range(1, 11)), registry=REGISTRY,
)  # fmt: skip
MODEL = Info("spacesuite_model", "The model a Space serves: version, task, data source.", ["model"], registry=REGISTRY)
METRIC_NAMES = (
    "spacesuite_requests_total",
    "spacesuite_request_seconds",
    "spacesuite_predictions_total",
    "spacesuite_prediction_confidence",
    "spacesuite_model_info",
)


def register_model(spec: ModelSpec) -> None:
    """Publish which model version serves `spec.name` (`spacesuite_model_info`)."""
    MODEL.labels(model=spec.name).info(
        {"version": str(spec.version), "task": spec.task, "data_source": spec.data.source}
    )


def record_prediction(model: str, confidences: dict[str, float]) -> None:
    """Count the top label of one answer and observe its probability."""
    if confidences:
        label = max(confidences, key=confidences.__getitem__)
        PREDICTIONS.labels(model=model, label=label).inc()
        CONFIDENCE.labels(model=model).observe(confidences[label])


@contextmanager
def observed(model: str, endpoint: str) -> Iterator[None]:
    """Time one request, count its outcome (ok, input_error: the user's, or error: ours) and append it to the
    traffic log with the answers the model code noted (`shared.traffic.note_answer`)."""
    start = time.perf_counter()
    outcome, error = "error", ""
    with collecting() as answers:
        try:
            yield
            outcome = "ok"
        except InputError as refusal:
            outcome, error = "input_error", str(refusal)
            raise
        except Exception as failure:
            error = type(failure).__name__  # the details go to the server log, not the traffic log
            raise
        finally:
            latency = time.perf_counter() - start
            LATENCY.labels(model=model, endpoint=endpoint).observe(latency)
            REQUESTS.labels(model=model, endpoint=endpoint, outcome=outcome).inc()
            log_request(model, endpoint, outcome, latency, answers if outcome == "ok" else [], error)


def metrics_app():
    """The ASGI app to mount at `/metrics` (Prometheus text format)."""
    return make_asgi_app(registry=REGISTRY)
