"""Prometheus metrics: outcomes, latency, class mix and model info land in the registry a Space exports."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from shared.artifact import DataProvenance, ImageInput, ModelSpec
from shared.errors import InputError
from shared.metrics import METRIC_NAMES, REGISTRY, observed, record_prediction, register_model


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_outcomes_latency_and_predictions_are_counted() -> None:
    labels = {"model": "unit", "endpoint": "predict"}
    before_ok = _value("spacesuite_requests_total", {**labels, "outcome": "ok"})
    with observed("unit", "predict"):
        record_prediction("unit", {"a": 0.2, "b": 0.8})
    with pytest.raises(InputError), observed("unit", "predict"):
        raise InputError("bad")
    with pytest.raises(ZeroDivisionError), observed("unit", "predict"):
        _ = 1 / 0
    assert _value("spacesuite_requests_total", {**labels, "outcome": "ok"}) == before_ok + 1
    assert _value("spacesuite_requests_total", {**labels, "outcome": "input_error"}) >= 1
    assert _value("spacesuite_requests_total", {**labels, "outcome": "error"}) >= 1
    assert _value("spacesuite_request_seconds_count", labels) >= 3
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
