"""An image classifier service: loads once, answers one image at a time (what a Space calls)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.artifact import ImageInput, ModelSpec
from shared.descriptors import image_descriptors
from shared.errors import ArtifactError, InputError
from shared.images import ImageSource, preprocess_image
from shared.prediction import Prediction
from shared.predictor import Predictor

PREVIEW_SIDE = 140  # small model inputs are shown enlarged to about this many pixels


@dataclass(frozen=True)
class ModelInput:
    """Pixels already shaped like the model input (H, W, C) in [0, 1], as a REST client may send them."""

    pixels: np.ndarray


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

    @property
    def folder(self) -> Path:
        """The model folder (spec.json, the model file, its card's picture)."""
        return self.predictor.model_path.parent

    def classify(self, source: ImageSource) -> Prediction:
        """Classify one image (path, bytes, PIL image or array): probabilities, what the model saw, notes.

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
        prediction = self.classify_pixels(inputs[0])
        pixels = (inputs[0] * 255).round().astype(np.uint8)
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        scale = max(1, PREVIEW_SIDE // max(pixels.shape[:2]))
        prediction.view = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
        prediction.notes = list(decoded.notes)
        return prediction

    def classify_pixels(self, pixels: np.ndarray) -> Prediction:
        """The prediction for one model input (H, W, C) in [0, 1], already preprocessed."""
        confidences = self.predictor.confidences(self.predictor.predict(pixels[np.newaxis])[0])
        return Prediction(confidences=confidences, inputs=image_descriptors(pixels), pixels=pixels)

    def predict_one(self, instance: ImageSource | ModelInput) -> Prediction:
        """Answer one image file (path, bytes, PIL image, array), or pixels shaped like the model input."""
        if isinstance(instance, ModelInput):
            return self.classify_pixels(instance.pixels)
        return self.classify(instance)
