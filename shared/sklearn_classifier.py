"""A scikit-learn classifier saved with skops (no pickle): form values → checked row → class probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from shared.artifact import Feature, ModelSpec, TabularInput
from shared.descriptors import row_descriptors
from shared.errors import ArtifactError
from shared.features import check_features
from shared.traffic import note_answer

# Every type a model file may contain. skops refuses anything else, so a tampered file cannot run code.
TRUSTED_TYPES = frozenset(
    {
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.linear_model._logistic.LogisticRegression",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.float64",
        "numpy.int64",
        "builtins.slice",
    }
)


def load_skops(path: Path):
    """Load a skops file whose types are all in TRUSTED_TYPES.

    Raises:
        ArtifactError: the file is missing, unreadable, or holds a type outside TRUSTED_TYPES.
    """
    import skops.io as sio

    if not Path(path).is_file():
        raise ArtifactError(f"{path} is missing: run the pipeline (dvc repro) to build the model.")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as error:
        raise ArtifactError(f"{path} is not a readable skops file ({error})") from error
    unknown = sorted(set(untrusted) - TRUSTED_TYPES)
    if unknown:
        raise ArtifactError(f"{path} holds types this app does not trust: {', '.join(unknown)}")
    return sio.load(path, trusted=list(untrusted))


class TabularClassifier:
    """Form values → checked row (ranges from spec.json) → scikit-learn pipeline → {label: probability}."""

    def __init__(self, spec: ModelSpec, model_path: Path) -> None:
        if not isinstance(spec.input, TabularInput) or spec.task != "tabular-classification":
            raise ArtifactError(f"{model_path} is not a tabular classifier")
        self.spec = spec
        self.model_path = Path(model_path)
        self.model = load_skops(model_path)

    @classmethod
    def from_artifact(cls, folder: Path) -> TabularClassifier:
        """Load the model folder written by the pipeline (spec.json + the .skops file it names)."""
        spec = ModelSpec.load(folder)
        if "skops" not in spec.files:
            raise ArtifactError(f"{folder}/spec.json names no skops file")
        return cls(spec, Path(folder) / spec.files["skops"])

    @property
    def features(self) -> list[Feature]:
        """The inputs, in order, with labels, units, kinds (number or binary), ranges and defaults."""
        assert isinstance(self.spec.input, TabularInput)  # checked in __init__
        return self.spec.input.features

    def predict_proba(self, values: Sequence[object] | Mapping[str, object]) -> dict[str, float]:
        """{label: probability} for one row of form values (in feature order, or by feature name).

        Raises:
            InputError: a missing, non-numeric, NaN, infinite, non-binary or out-of-range value.
        """
        if isinstance(values, Mapping):
            values = [values.get(feature.name) for feature in self.features]
        row = check_features(self.features, values)
        probabilities = np.asarray(self.model.predict_proba(row))[0]
        confidences = {label: float(p) for label, p in zip(self.spec.labels, probabilities, strict=True)}
        note_answer(self.spec, row_descriptors(self.features, row), confidences=confidences)
        return confidences
