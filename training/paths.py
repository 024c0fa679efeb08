"""Where each stage of a demo reads and writes: the one place these paths are spelled (and dvc.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLE_DATA_DIR = Path("data/sample")
PUBLIC_DATA_DIR = Path("data/public")  # `spacesuite data fetch`: the real data, from its publishers
BUILD_DIR = Path("build")
DIST_DIR = Path("dist/spaces")
SPACES_SRC_DIR = Path("spaces")
VOCABULARY_FILE = "vocabulary.json"  # a text model's vocabulary, in its prepare and export folders


@dataclass(frozen=True)
class DemoPaths:
    """Every file a demo's stages produce, relative to the repository root."""

    name: str

    @property
    def sample_data(self) -> Path:
        """Generated sample data in Kaggle layout (tracked by data.dvc)."""
        return SAMPLE_DATA_DIR / self.name

    @property
    def public_data(self) -> Path:
        """Real data fetched from its publishers (`spacesuite data fetch`), in the layout the reader takes."""
        return PUBLIC_DATA_DIR / self.name

    @property
    def build(self) -> Path:
        """Intermediate outputs of the stages (cached by DVC, ignored by git)."""
        return BUILD_DIR / self.name

    @property
    def dataset(self) -> Path:
        """Ingest: all validated rows."""
        return self.build / "ingest" / "dataset.npz"

    @property
    def provenance(self) -> Path:
        """Ingest: where the rows came from (source, files, sha256, counts)."""
        return self.build / "ingest" / "provenance.json"

    @property
    def statistics(self) -> Path:
        """Statistics: Evidently's data summary of the ingested rows (statistics.html, statistics.json)."""
        return self.build / "statistics"

    @property
    def splits(self) -> Path:
        """Prepare: train/val/test arrays and the label names."""
        return self.build / "prepare" / "splits.npz"

    @property
    def vocabulary(self) -> Path:
        """Prepare (text demos): the token list built from the train split (0 pad, 1 OOV)."""
        return self.build / "prepare" / VOCABULARY_FILE

    @property
    def text_steps(self) -> Path:
        """Prepare (text demos): the `shared.text` steps the texts went through, for the export's spec."""
        return self.build / "prepare" / "text_steps.json"

    @property
    def keras_model(self) -> Path:
        """Train: the fitted Keras model."""
        return self.build / "train" / "model.keras"

    @property
    def live(self) -> Path:
        """Train: dvclive's per-epoch curves (committed; DVC plots read them)."""
        return Path("dvclive") / self.name

    @property
    def metrics(self) -> Path:
        """Evaluate and parity: metric JSON files (committed; `dvc metrics diff` reads them)."""
        return Path("metrics") / self.name

    @property
    def plots(self) -> Path:
        """Evaluate: confusion matrix data (committed; DVC plots read it)."""
        return Path("plots") / self.name

    @property
    def export(self) -> Path:
        """Export: spec.json, model.tflite, model_quant.tflite and the TF Serving tree."""
        return self.build / "export"

    @property
    def keras_test_outputs(self) -> Path:
        """Export: the Keras model's outputs on the test split, the reference the parity stage holds the .tflite
        files to (which thus needs no TensorFlow)."""
        return self.export / "keras_test_outputs.npy"

    def serving(self, version: int) -> Path:
        """Export: SavedModel in TF Serving's `<name>/<version>/` layout."""
        return self.export / "serving" / self.name / str(version)

    @property
    def tfjs(self) -> Path:
        """TF.js graph model converted from the SavedModel."""
        return self.build / "tfjs"

    @property
    def space_src(self) -> Path:
        """The Space's source folder: app.py, README template, examples."""
        return SPACES_SRC_DIR / self.name

    @property
    def bundle(self) -> Path:
        """Bundle: the self-contained Space folder, ready for the Hub."""
        return DIST_DIR / self.name
