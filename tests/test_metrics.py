"""Prometheus metrics: outcomes, latency, class mix and model info land in the registry a Space exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest

from shared.artifact import DataProvenance, ImageInput, ModelSpec
from shared.errors import InputError
from shared.metrics import METRIC_NAMES, REGISTRY, register_model
from shared.prediction import Prediction
from shared.service import Service

SPEC = ModelSpec(
    name="unit",
    version=1,
    task="image-classification",
    labels=["a", "b"],
    input=ImageInput(height=4, width=4),
    files={},
    data=DataProvenance(source="sample", description="test"),
)


class Answers:
    """An in-memory model for the service: "bad" is refused, "bug" is a bug, anything else answers b."""

    spec = SPEC
    folder = Path()

    def predict_one(self, instance: object) -> Prediction:
        if instance == "bad":
            raise InputError("bad")
        if instance == "bug":
            raise ZeroDivisionError
        return Prediction(confidences={"a": 0.2, "b": 0.8})


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_outcomes_latency_and_predictions_are_counted() -> None:
    labels = {"model": "unit", "endpoint": "predict"}
    before_ok = _value("spacesuite_requests_total", {**labels, "outcome": "ok"})
    service = Service(Answers())
    assert service.answer("predict", ["x"])[0].top == ("b", 0.8)
    with pytest.raises(InputError, match=r"^bad$"):
        service.answer("predict", ["bad"])
    with pytest.raises(InputError, match=r"^Instance 1: bad$"):
        service.answer("predict", ["x", "bad"], name_index=True)
    with pytest.raises(ZeroDivisionError):
        service.answer("predict", ["bug"])
    assert _value("spacesuite_requests_total", {**labels, "outcome": "ok"}) == before_ok + 1
    assert _value("spacesuite_requests_total", {**labels, "outcome": "input_error"}) >= 1
    assert _value("spacesuite_requests_total", {**labels, "outcome": "error"}) >= 1
    assert _value("spacesuite_request_seconds_count", labels) >= 4
    assert _value("spacesuite_predictions_total", {"model": "unit", "label": "b"}) >= 1
    assert _value("spacesuite_prediction_confidence_bucket", {"model": "unit", "le": "0.8"}) >= 1


def test_model_info_and_every_metric_name_is_exported() -> None:
    spec = ModelSpec(
        name="unit-model",
        version=3,
        task="image-classification",
        labels=["a", "b"],
        input=ImageInput(height=4, width=4),
        files={},
        data=DataProvenance(source="sample", description="test"),
    )
    register_model(spec)
    text = generate_latest(REGISTRY).decode()
    assert (
        'spacesuite_model_info{data_source="sample",model="unit-model",task="image-classification",version="3"} 1.0'
        in text
    )
    for name in METRIC_NAMES:
        assert name in text
