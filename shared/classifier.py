"""An image classifier service: loads once, answers one image at a time (what a Space calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.artifact import ImageInput, ModelSpec
from shared.descriptors import image_descriptors
from shared.errors import ArtifactError, InputError
from shared.images import ImageSource, preprocess_image
from shared.predictor import Predictor
from shared.traffic import note_answer

PREVIEW_SIDE = 140  # small model inputs are shown enlarged to about this many pixels


@dataclass
class Prediction:
    """One answer: {label: probability}, the pixels the model saw, notes for the user, and the image's
    descriptors (brightness, contrast) for the traffic log."""

    confidences: dict[str, float]
    model_view: np.ndarray
    notes: list[str] = field(default_factory=list)
    descriptors: dict[str, float] = field(default_factory=dict)

    @property
    def top(self) -> tuple[str, float]:
        """The most likely label and its probability."""
        label = max(self.confidences, key=self.confidences.__getitem__)
        return label, self.confidences[label]


class ImageClassifier:
    """Decode → preprocess (shared with training) → LiteRT → labelled probabilities."""

    def __init__(self, predictor: Predictor) -> None:
        if not isinstance(predictor.spec.input, ImageInput):
            raise ArtifactError(f"{predictor.model_path} is not an image model (input {predictor.spec.input.kind})")
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
        spec_input = self.spec.input
        assert isinstance(spec_input, ImageInput)  # checked in __init__
        inputs, decoded = preprocess_image(
            source, spec_input.size, channels=spec_input.channels, framing=spec_input.framing
        )
        if float(inputs.std()) < 1e-3:
            raise InputError("The image is a single flat color: there is nothing to recognise.")
        confidences = self.classify_pixels(inputs[0])
        pixels = (inputs[0] * 255).round().astype(np.uint8)
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        scale = max(1, PREVIEW_SIDE // max(pixels.shape[:2]))
        view = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
        return Prediction(confidences, view, decoded.notes, image_descriptors(inputs))

    def classify_pixels(self, pixels: np.ndarray) -> dict[str, float]:
        """{label: probability} for one model input (H, W, C) in [0, 1], already preprocessed; the answer is noted
        for the traffic log."""
        confidences = self.predictor.confidences(self.predictor.predict(pixels[np.newaxis])[0])
        note_answer(self.spec, image_descriptors(pixels), confidences=confidences, pixels=pixels)
        return confidences
