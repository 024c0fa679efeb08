"""An image classifier service: loads once, answers one image at a time (what a Space calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.artifact import ModelSpec
from shared.errors import InputError
from shared.images import ImageSource, preprocess_image
from shared.predictor import Predictor

PREVIEW_SCALE = 5


@dataclass
class Prediction:
    """One answer: {label: probability}, the pixels the model saw, and notes for the user."""

    confidences: dict[str, float]
    model_view: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def top(self) -> tuple[str, float]:
        """The most likely label and its probability."""
        label = max(self.confidences, key=self.confidences.__getitem__)
        return label, self.confidences[label]


class ImageClassifier:
    """Decode → preprocess (shared with training) → LiteRT → labelled probabilities."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @classmethod
    def from_artifact(cls, folder: Path, *, quantized: bool = False) -> ImageClassifier:
        """Load the model folder written by the pipeline (spec.json + .tflite)."""
        return cls(Predictor.from_artifact(folder, quantized=quantized))

    @property
    def spec(self) -> ModelSpec:
        """The model's self-description."""
        return self.predictor.spec

    def classify(self, source: ImageSource) -> Prediction:
        """Classify one image (path, bytes, PIL image or array).

        Raises:
            InputError: the image cannot be read or is blank/too small/too large.
        """
        inputs, decoded = preprocess_image(source, self.spec.input.size)
        if float(inputs.std()) < 1e-3:
            raise InputError("The image is a single flat color: show a hand sign.")
        probabilities = self.predictor.predict_proba(inputs)[0]
        pixels = (inputs[0, ..., 0] * 255).round().astype(np.uint8)
        view = np.kron(pixels, np.ones((PREVIEW_SCALE, PREVIEW_SCALE), dtype=np.uint8))
        return Prediction(self.predictor.confidences(probabilities), view, decoded.notes)
