"""A tabular regressor service: checks a form's numbers against the model's feature ranges, then predicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from shared.artifact import Feature, ModelSpec, TabularInput
from shared.errors import ArtifactError, InputError
from shared.predictor import Predictor


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().replace(",", "")
        if not value:
            return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _describe(feature: Feature) -> str:
    unit = f" {feature.unit}" if feature.unit else ""
    return f"{feature.label} ({feature.minimum:g} to {feature.maximum:g}{unit})"


def check_features(features: Sequence[Feature], values: Sequence[object]) -> np.ndarray:
    """Turn form values into one float32 row, in the model's feature order.

    Raises:
        InputError: a value is missing, not a number, NaN, infinite, or outside the feature's range;
            the message names every such feature and the accepted range.
    """
    if len(values) != len(features):
        raise InputError(
            f"Expected {len(features)} values ({', '.join(f.label for f in features)}), got {len(values)}."
        )
    row, problems = [], []
    for feature, raw in zip(features, values, strict=True):
        number = _number(raw)
        if number is None:
            problems.append(f"{feature.label} is missing or not a number")
        elif not math.isfinite(number):
            problems.append(f"{feature.label} must be a finite number, not {raw}")
        elif (feature.minimum is not None and number < feature.minimum) or (
            feature.maximum is not None and number > feature.maximum
        ):
            problems.append(f"{feature.label} = {number:g} is outside {_describe(feature).split(' (', 1)[1][:-1]}")
        row.append(number if number is not None and math.isfinite(number) else 0.0)
    if problems:
        raise InputError("; ".join(problems) + ". The model only answers inside the ranges it was trained on.")
    return np.array([row], dtype=np.float32)


class TabularRegressor:
    """Form values → checked row → LiteRT → one number in the target's unit."""

    def __init__(self, predictor: Predictor) -> None:
        spec = predictor.spec
        if not isinstance(spec.input, TabularInput) or spec.target is None:
            raise ArtifactError(f"{predictor.model_path} is not a tabular regressor")
        self.predictor = predictor

    @classmethod
    def from_artifact(cls, folder: Path, *, quantized: bool = False) -> TabularRegressor:
        """Load the model folder written by the pipeline (spec.json + .tflite)."""
        return cls(Predictor.from_artifact(folder, quantized=quantized))

    @property
    def spec(self) -> ModelSpec:
        """The model's self-description."""
        return self.predictor.spec

    @property
    def features(self) -> list[Feature]:
        """The inputs, in order, with their labels, units, ranges and defaults."""
        assert isinstance(self.spec.input, TabularInput)  # checked in __init__
        return self.spec.input.features

    def predict(self, values: Sequence[object] | Mapping[str, object]) -> float:
        """The prediction in the target's display unit (e.g. dollars) for one row of form values.

        Values may be a sequence in feature order or a mapping by feature name.

        Raises:
            InputError: a missing, non-numeric, NaN, infinite or out-of-range value.
        """
        if isinstance(values, Mapping):
            values = [values.get(feature.name) for feature in self.features]
        row = check_features(self.features, values)
        assert self.spec.target is not None
        return float(self.predictor.predict(row).reshape(-1)[0]) * self.spec.target.scale
