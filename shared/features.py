"""Checking a form's values against a tabular model's features: one sentence naming every bad field.

A row reaches the model as float32: a number as itself, a yes/no as 0 or 1, a category as the index of its choice,
and an optional feature left empty as NaN (the model's pipeline imputes it).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.artifact import Feature
from shared.errors import InputError

MISSING = "(missing)"  # what a form shows for an optional category left empty


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
    except (TypeError, ValueError, OverflowError):  # a 400-digit integer overflows float
        return None


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", MISSING))


def _choice(feature: Feature, value: object) -> float | None:
    """The index of a category's choice (its name, any case; or the index itself), or None."""
    if isinstance(value, str):
        names = [choice.lower() for choice in feature.choices]
        return float(names.index(value.strip().lower())) if value.strip().lower() in names else None
    number = _number(value, binary=False)
    return number if number is not None and number.is_integer() and 0 <= number < len(feature.choices) else None


def _range(feature: Feature) -> str:
    unit = f" {feature.unit}" if feature.unit else ""
    return f"{feature.minimum:g} to {feature.maximum:g}{unit}"


def _check(feature: Feature, raw: object) -> tuple[float, str | None]:
    """The value the model reads for one field, and what is wrong with it (None when nothing is)."""
    missing = _empty(raw) or (isinstance(raw, float) and math.isnan(raw))
    if feature.optional and missing:
        return math.nan, None
    if feature.kind == "category":
        code = _choice(feature, raw)
        if code is None:
            return 0.0, f"{feature.label} must be one of {', '.join(feature.choices)}, not {raw!r}"
        return code, None
    binary = feature.kind == "binary"
    number = _number(raw, binary)
    if number is None:
        return 0.0, f"{feature.label} is missing or not a number"
    if not math.isfinite(number):
        return 0.0, f"{feature.label} must be a finite number, not {raw}"
    if binary and number not in (0.0, 1.0):
        return 0.0, f"{feature.label} must be yes (1) or no (0), not {raw}"
    outside = (feature.minimum is not None and number < feature.minimum) or (
        feature.maximum is not None and number > feature.maximum
    )
    if outside:
        return 0.0, f"{feature.label} = {number:g} is outside {_range(feature)}"
    return number, None


def check_features(features: Sequence[Feature], values: Sequence[object]) -> np.ndarray:
    """Turn form values into one float32 row, in the model's feature order.

    Raises:
        InputError: a value is missing (and not optional), not a number, NaN, infinite, outside the feature's range,
            or not one of a category's choices; the message names every such feature and what it accepts.
    """
    if len(values) != len(features):
        raise InputError(
            f"Expected {len(features)} values ({', '.join(f.label for f in features)}), got {len(values)}."
        )
    row, problems = checked_row(features, values)
    if problems:
        text = "; ".join(problem for _, problem in problems)
        raise InputError(text + ". The model only answers inside the ranges it was trained on.")
    return np.array([row], dtype=np.float32)


def checked_row(features: Sequence[Feature], values: Sequence[object]) -> tuple[list[float], list[tuple[Feature, str]]]:
    """The values the model reads for one row (in feature order; `values` as many), and each bad field with what is
    wrong with it (one sentence, naming the feature and what it accepts); no problems: the row can be answered."""
    checked = [_check(feature, raw) for feature, raw in zip(features, values, strict=True)]
    problems = [(feature, problem) for feature, (_, problem) in zip(features, checked, strict=True) if problem]
    return [value for value, _ in checked], problems


def read_examples_csv(path: Path) -> list[list[float | str | None]]:
    """Rows of a bundled examples CSV (header: feature names): numbers as numbers, a category's choice as text, an
    empty cell as None; [] when the Space has none."""
    if not path.is_file():
        return []

    def value(cell: str) -> float | str | None:
        if not cell:
            return None
        try:
            return float(cell)
        except ValueError:
            return cell

    with path.open(encoding="utf-8") as handle:
        return [[value(cell) for cell in row] for row in list(csv.reader(handle))[1:]]


def form_values(row: Sequence[Any], features: Sequence[Feature]) -> list[Any]:
    """An examples row as the form's fields take it: booleans for checkboxes, MISSING for an empty category."""
    shown = []
    for value, feature in zip(row, features, strict=True):
        if feature.kind == "binary":
            shown.append(bool(value))
        elif feature.kind == "category" and value is None:
            shown.append(MISSING)
        else:
            shown.append(value)
    return shown
