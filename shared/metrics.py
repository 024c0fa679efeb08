"""Prometheus metrics a Space exports at `/metrics`: requests by outcome, latency, class mix, confidence, which
model answers, and users' feedback by verdict. One registry per process (a Space, or the local suite of every Space).

`observe` is a sink of `shared.service`: it sees the one record of every request, page and REST alike, as the
traffic log does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, make_asgi_app

from shared.artifact import ModelSpec

if TYPE_CHECKING:
    from shared.feedback import Feedback
    from shared.service import Record

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
FEEDBACK = Counter(
    "spacesuite_feedback", "Users' verdicts on answers (right, wrong), by model.", ["model", "verdict"],
    registry=REGISTRY,
)  # fmt: skip
# not on the dashboard yet: tests/test_prometheus.py would need feedback traffic to ask its query
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


def observe(record: Record) -> None:
    """Count one request by outcome, time it, and count each answer's top label and observe its probability (not
    again for an explanation of it)."""
    LATENCY.labels(model=record.model, endpoint=record.endpoint).observe(record.latency_s)
    REQUESTS.labels(model=record.model, endpoint=record.endpoint, outcome=record.outcome).inc()
    for prediction in [] if record.explanation else record.predictions:  # an explanation repeats an answer
        if prediction.confidences:
            label, confidence = prediction.top
            PREDICTIONS.labels(model=record.model, label=label).inc()
            CONFIDENCE.labels(model=record.model).observe(confidence)


def count_feedback(feedback: Feedback) -> None:
    """Count one verdict on an answer (`spacesuite_feedback_total{model, verdict}`)."""
    FEEDBACK.labels(model=feedback.model, verdict=feedback.verdict).inc()


def metrics_app():
    """The ASGI app to mount at `/metrics` (Prometheus text format)."""
    return make_asgi_app(registry=REGISTRY)
