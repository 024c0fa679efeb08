"""Checking a form's values against a tabular model's features: one sentence naming every bad field."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shared.artifact import Feature
from shared.errors import InputError


def _number(value: object, binary: bool) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):  # a checkbox; True/False is no answer to a numeric field
        return float(value) if binary else None
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
        binary = feature.kind == "binary"
        number = _number(raw, binary)
        if number is None:
            problems.append(f"{feature.label} is missing or not a number")
        elif not math.isfinite(number):
            problems.append(f"{feature.label} must be a finite number, not {raw}")
        elif binary and number not in (0.0, 1.0):
            problems.append(f"{feature.label} must be yes (1) or no (0), not {raw}")
        elif (feature.minimum is not None and number < feature.minimum) or (
            feature.maximum is not None and number > feature.maximum
        ):
            problems.append(f"{feature.label} = {number:g} is outside {_describe(feature).split(' (', 1)[1][:-1]}")
        row.append(number if number is not None and math.isfinite(number) else 0.0)
    if problems:
        raise InputError("; ".join(problems) + ". The model only answers inside the ranges it was trained on.")
    return np.array([row], dtype=np.float32)
