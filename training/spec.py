"""What the export stages write beside a model, for Keras and scikit-learn alike: the range and default of each
feature a form accepts, and the class indices."""

from __future__ import annotations

import math

import numpy as np

from shared.artifact import Feature

CLASS_INDICES = "class_indices.json"  # class name → output index, as Keras's image loaders write it


def feature_ranges(features: list[Feature], rows: np.ndarray) -> list[Feature]:
    """The features with what a form accepts, from the training `rows` (NaN: a missing value): a number's range and
    median as default; a category's most common choice as default; whether a value may be missing."""
    ranged = []
    for i, feature in enumerate(features):
        column = rows[:, i].astype(np.float64)
        seen = column[~np.isnan(column)]
        update: dict = {"optional": feature.optional or bool(np.isnan(column).any())}
        if feature.kind == "category":
            codes = seen.astype(np.int64)
            update["default"] = float(np.bincount(codes, minlength=len(feature.choices)).argmax())
        else:
            # 4 decimals, widened outward so training values stay inside; the 1e-6 slack absorbs float32
            # error (5.9 is stored as 5.900000095367432 and must not become 5.9001)
            update["minimum"] = math.floor((float(seen.min()) + 1e-6) * 1e4) / 1e4
            update["maximum"] = math.ceil((float(seen.max()) - 1e-6) * 1e4) / 1e4
            update["default"] = round(float(np.median(seen)), 4)
        ranged.append(feature.model_copy(update=update))
    return ranged
