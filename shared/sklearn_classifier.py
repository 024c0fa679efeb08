"""A scikit-learn classifier saved with skops (no pickle): form values → checked row → class probabilities."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from shared.artifact import Feature, ModelSpec, TabularInput
from shared.descriptors import row_descriptors
from shared.errors import ArtifactError
from shared.features import check_features
from shared.prediction import Prediction, Prepared

# Every type a model file may contain: the pipelines the demos build, and the containers skops stores their state
# in. A file holding any other type is refused before anything in it is built, so a tampered file cannot run code.
TRUSTED_TYPES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
    }
)


def file_types(path: Path) -> set[str]:
    """Every `module.Class` a skops file's schema names, read without building anything (skops's own
    `get_untrusted_types` leaves out the types skops trusts by default, scikit-learn's among them)."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    pending: list = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def load_skops(path: Path):
    """Load a skops file whose every type is in TRUSTED_TYPES.

    Raises:
        ArtifactError: the file is missing, unreadable, or names a type outside TRUSTED_TYPES.
    """
    import skops.io as sio

    if not Path(path).is_file():
        raise ArtifactError(f"{path} is missing: run the pipeline (dvc repro) to build the model.")
    try:
        types = file_types(path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ArtifactError(f"{path} is not a readable skops file ({error})") from error
    unknown = sorted(types - TRUSTED_TYPES)
    if unknown:
        raise ArtifactError(f"{path} holds types this app does not trust: {', '.join(unknown)}")
    try:
        return sio.load(path, trusted=sorted(types))
    except Exception as error:  # a schema that lies about its content
        raise ArtifactError(f"{path} is not a readable skops file ({type(error).__name__})") from error


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
    def folder(self) -> Path:
        """The model folder (spec.json, the skops file, its card's picture)."""
        return self.model_path.parent

    @property
    def features(self) -> list[Feature]:
        """The inputs, in order, with labels, units, kinds (number or binary), ranges and defaults."""
        assert isinstance(self.spec.input, TabularInput)  # checked in __init__
        return self.spec.input.features

    def prepare(self, values: Sequence[object] | Mapping[str, object]) -> Prepared:
        """One row of form values (in feature order, or by name) checked: float32 (1, features).

        Raises:
            InputError: a missing, non-numeric, NaN, infinite, non-binary or out-of-range value.
        """
        if isinstance(values, Mapping):
            values = [values.get(feature.name) for feature in self.features]
        return Prepared(check_features(self.features, values))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for a batch of checked rows."""
        return np.asarray(self.model.predict_proba(batch))

    def finish(self, prepared: Prepared, output: np.ndarray) -> Prediction:
        """The prediction for one prepared row and its probabilities."""
        confidences = {label: float(p) for label, p in zip(self.spec.labels, output, strict=True)}
        inputs = row_descriptors(self.features, prepared.inputs)
        return Prediction(confidences=confidences, inputs=inputs, output=output)

    def predict_one(self, values: Sequence[object] | Mapping[str, object]) -> Prediction:
        """The class probabilities for one row of form values (in feature order, or by feature name).

        Raises:
            InputError: a missing, non-numeric, NaN, infinite, non-binary or out-of-range value.
        """
        prepared = self.prepare(values)
        return self.finish(prepared, self.run(prepared.inputs)[0])
