"""A tabular regressor service: checks a form's numbers against the model's feature ranges, then predicts on LiteRT."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from shared.artifact import Feature, ModelSpec, TabularInput
from shared.descriptors import row_descriptors
from shared.errors import ArtifactError
from shared.features import check_features
from shared.prediction import Prediction, Prepared
from shared.predictor import Predictor


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
    def folder(self) -> Path:
        """The model folder (spec.json, the model file, its card's picture)."""
        return self.predictor.model_path.parent

    @property
    def features(self) -> list[Feature]:
        """The inputs, in order, with their labels, units, ranges and defaults."""
        assert isinstance(self.spec.input, TabularInput)  # checked in __init__
        return self.spec.input.features

    def prepare(self, values: Sequence[object] | Mapping[str, object]) -> Prepared:
        """One row of form values (in feature order, or by name) checked: float32 (1, features).

        Raises:
            InputError: a missing, non-numeric, NaN, infinite or out-of-range value.
        """
        if isinstance(values, Mapping):
            values = [values.get(feature.name) for feature in self.features]
        return Prepared(check_features(self.features, values))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's outputs (N, 1) for a batch of checked rows."""
        return self.predictor.predict(batch)

    def finish(self, prepared: Prepared, output: np.ndarray) -> Prediction:
        """The prediction for one prepared row and its output."""
        value = float(np.asarray(output).reshape(-1)[0])
        return Prediction(value=value, inputs=row_descriptors(self.features, prepared.inputs), output=output)

    def predict_one(self, values: Sequence[object] | Mapping[str, object]) -> Prediction:
        """The model's own output (e.g. in $100,000) for one row of form values, in feature order or by name.

        Raises:
            InputError: a missing, non-numeric, NaN, infinite or out-of-range value.
        """
        prepared = self.prepare(values)
        return self.finish(prepared, self.run(prepared.inputs)[0])

    def display(self, value: float) -> float:
        """A model output in the target's display unit (e.g. dollars)."""
        assert self.spec.target is not None  # checked in __init__
        return value * self.spec.target.scale
