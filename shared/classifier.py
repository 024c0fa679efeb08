"""An image classifier service: loads once, answers one image at a time (what a Space calls)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.artifact import ImageInput, ModelSpec
from shared.descriptors import image_descriptors
from shared.errors import ArtifactError, InputError
from shared.images import ImageSource, preprocess_image
from shared.prediction import Prediction, Prepared
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

    def prepare(self, instance: ImageSource | ModelInput) -> Prepared:
        """An image file (path, bytes, PIL image, array) decoded and preprocessed, or pixels already shaped like the
        model input, as a batch of one; its descriptors (brightness, contrast) ride along for `finish` to log.

        Raises:
            InputError: the image cannot be read, or is blank/too small/too large.
        """
        if isinstance(instance, ModelInput):
            return Prepared(instance.pixels[np.newaxis], context=image_descriptors(instance.pixels))
        spec_input = self.spec.input
        assert isinstance(spec_input, ImageInput)  # checked in __init__
        size, channels, framing = spec_input.size, spec_input.channels, spec_input.framing
        inputs, notes = preprocess_image(instance, size, channels=channels, framing=framing)
        described = image_descriptors(inputs[0])  # the flat-color check reads them, and `finish` logs them
        if described["contrast"] < 1e-3:
            raise InputError("The image is a single flat color: there is nothing to recognise.")
        return Prepared(inputs, notes, context=described)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of model inputs."""
        return self.predictor.predict(batch)

    def finish(self, prepared: Prepared, output: np.ndarray) -> Prediction:
        """The prediction for one prepared image and its row of probabilities."""
        pixels = prepared.inputs[0]
        return Prediction(
            confidences=self.predictor.confidences(output),
            inputs=prepared.context,
            pixels=pixels,
            output=output,
            notes=list(prepared.notes),
        )

    def classify(self, source: ImageSource) -> Prediction:
        """Classify one image (path, bytes, PIL image or array): probabilities, what the model saw, notes.

        Raises:
            InputError: the image cannot be read or is blank/too small/too large.
        """
        prepared = self.prepare(source)
        prediction = self.finish(prepared, self.run(prepared.inputs)[0])
        pixels = (prediction.pixels * 255).round().astype(np.uint8)  # type: ignore[operator]
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        scale = max(1, PREVIEW_SIDE // max(pixels.shape[:2]))
        prediction.view = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
        return prediction

    def classify_pixels(self, pixels: np.ndarray) -> Prediction:
        """The prediction for one model input (H, W, C) in [0, 1], already preprocessed."""
        prepared = self.prepare(ModelInput(pixels))
        return self.finish(prepared, self.run(prepared.inputs)[0])

    def predict_one(self, instance: ImageSource | ModelInput) -> Prediction:
        """Answer one image file (path, bytes, PIL image, array), or pixels shaped like the model input."""
        if isinstance(instance, ModelInput):
            return self.classify_pixels(instance.pixels)
        return self.classify(instance)
