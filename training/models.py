"""The pipeline's models and the Spaces that carry them: what each model's input is, in one place.

Stages take a model name (`sign-language`, `bird-species`, `digits`, `housing`); the bundle stage
takes a Space name (`spaces:` in params.yaml says which models a Space carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shared.images import normalize


@dataclass(frozen=True)
class ModelInfo:
    """How a model's stored rows become network input, and what it predicts."""

    name: str
    task: Literal["image-classification", "regression", "tabular-classification", "text-classification"]
    channels: int = 0  # image models: 1 (gray) or 3 (RGB); 0: tabular
    framework: Literal["keras", "sklearn"] = "keras"
    framing: Literal["center-crop", "digit"] = "center-crop"  # image models: how an upload is cropped

    @property
    def is_classifier(self) -> bool:
        """True for classifiers (stratified splits, accuracy, confusion matrix)."""
        return self.task != "regression"

    def inputs(self, rows: np.ndarray) -> np.ndarray:
        """Network input for stored rows: `shared.images.normalize` for images, float32 for features, int32
        token ids for text (prepare has already run `shared.text.preprocess`)."""
        if self.channels:
            return normalize(rows, self.channels)
        return rows.astype(np.int32 if self.task == "text-classification" else np.float32)


MODELS = {
    "sign-language": ModelInfo("sign-language", "image-classification", channels=1),
    "bird-species": ModelInfo("bird-species", "image-classification", channels=3),
    "digits": ModelInfo("digits", "image-classification", channels=1, framing="digit"),
    "housing": ModelInfo("housing", "regression"),
    "gender": ModelInfo("gender", "tabular-classification", framework="sklearn"),
    "emotion": ModelInfo("emotion", "text-classification"),
}
SPACES = ("sign-language", "bird-species", "keras-basics", "gender", "emotion")


def model_info(name: str) -> ModelInfo:
    """The entry of MODELS for `name`.

    Raises:
        KeyError: an unknown model (the message lists the known ones).
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]
