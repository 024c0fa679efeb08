"""The numbers that describe one request, for the traffic log and the drift job: what is safe to keep.

Images are described by statistics of the pixels the model saw (never the pixels themselves), texts by their
length, word count and the share of words the model knows, form rows by their values. Training-time reference
data goes through the same functions (via the same Space classes), so live traffic and reference compare like
with like.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.artifact import Feature, ImageInput, ModelSpec, TabularInput, TextInput
from shared.text import Vocabulary

PREDICTION = "prediction"
CONFIDENCE = "confidence"
CONFIDENCE_LOG_ODDS = "confidence_log_odds"
LOG_ODDS_LIMIT = 13.8  # log-odds of a probability of 1 - 1e-6: float32 softmax outputs reach exactly 1.0


def image_descriptors(inputs: np.ndarray) -> dict[str, float]:
    """Brightness (mean) and contrast (standard deviation) of a model input in [0, 1]."""
    pixels = np.asarray(inputs, dtype=np.float32)
    return {"brightness": round(float(pixels.mean()), 5), "contrast": round(float(pixels.std()), 5)}


def text_descriptors(text: str, tokens: Sequence[str], vocabulary: Vocabulary) -> dict[str, float]:
    """Characters, words after preprocessing, and the share of those words the model knows."""
    return {
        "characters": len(text.strip()),
        "words": len(tokens),
        "known_share": round(vocabulary.known_share(tokens), 5) if tokens else 0.0,
    }


def row_descriptors(features: Sequence[Feature], row: np.ndarray) -> dict[str, float | str | None]:
    """A checked form row by feature name: numbers as numbers, a category as its choice, a missing value as None."""
    values = np.asarray(row, dtype=np.float64).reshape(-1)
    described: dict[str, float | str | None] = {}
    for feature, value in zip(features, values, strict=True):
        if np.isnan(value):
            described[feature.name] = None
        elif feature.kind == "category":
            described[feature.name] = feature.choices[int(value)]
        else:
            described[feature.name] = float(value)
    return described


def log_odds(confidence: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), bounded: confidences crowd just below 1, where the drift job compares them on this scale."""
    p = np.clip(np.asarray(confidence, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.clip(np.log(p / (1 - p)), -LOG_ODDS_LIMIT, LOG_ODDS_LIMIT)


def descriptor_columns(spec: ModelSpec) -> tuple[list[str], list[str]]:
    """(numerical, categorical) columns that describe a model's traffic: its inputs' descriptors, the prediction
    (a class is categorical, a regressor's value numerical) and, for classifiers, the confidence."""
    numerical: list[str] = []
    categorical: list[str] = []
    if isinstance(spec.input, ImageInput):
        numerical += ["brightness", "contrast"]
    elif isinstance(spec.input, TextInput):
        numerical += ["characters", "words", "known_share"]
    elif isinstance(spec.input, TabularInput):
        for feature in spec.input.features:
            (numerical if feature.kind == "number" else categorical).append(feature.name)
    if spec.labels:
        categorical.append(PREDICTION)
        numerical.append(CONFIDENCE)
    else:
        numerical.append(PREDICTION)
    return numerical, categorical
