"""What a model folder says about itself: `spec.json` beside the .tflite files.

Export writes it, bundle adds the evaluation metrics and data provenance, and a Space reads it back,
so serving needs neither params.yaml nor training code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import ArtifactError

SPEC_FILE = "spec.json"
CONFUSION_IMAGE = "confusion.png"  # the test split's picture the bundle stage puts in a classifier's folder
PREDICTIONS_IMAGE = "predictions.png"  # ... a regressor's: predicted against actual


class TextSteps(BaseModel):
    """Which optional steps `shared.text.tokenize` applies (part of a model's spec: training and serving agree)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lowercase: bool = True
    remove_stopwords: bool = False
    stem: bool = False


class ImageInput(BaseModel):
    """An image model's input: gray or RGB pixels of height×width, made by `shared.images.preprocess_image`."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["image"] = "image"
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    channels: Literal[1, 3] = 1
    framing: Literal["center-crop", "digit"] = Field(
        "center-crop", description="center-crop: photos; digit: the drawing's bounding box framed like MNIST"
    )
    preprocessing: str = "shared.images.preprocess_image: center crop, resize (Lanczos), /255"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order PIL uses."""
        return self.width, self.height


class Feature(BaseModel):
    """One input of a tabular model, with what a form shows and what it accepts.

    A `number` must lie in [minimum, maximum]; a `binary` is 0 or 1 (a checkbox); a `category` is one of `choices`
    (the model reads its index). An `optional` feature may be left empty: the model reads NaN and imputes it.
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    unit: str = ""
    kind: Literal["number", "binary", "category"] = "number"
    choices: list[str] = Field(default_factory=list, description="a category's values, in code order")
    optional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None

    @model_validator(mode="after")
    def _a_category_has_choices(self) -> Feature:
        if (self.kind == "category") != bool(self.choices):
            raise ValueError(f"{self.name}: choices go with kind category, and a category needs them")
        return self


class TabularInput(BaseModel):
    """A tabular model's input: float32 features in this order; values outside [minimum, maximum] are refused."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["tabular"] = "tabular"
    features: list[Feature] = Field(min_length=1)


class TextInput(BaseModel):
    """A text model's input: `shared.text.preprocess` with these steps turns a text into int32 token ids."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["text"] = "text"
    sequence_length: int = Field(gt=0)
    steps: TextSteps = Field(default_factory=TextSteps)
    vocabulary: str = Field("vocabulary.json", description="file beside spec.json: the token list (0 pad, 1 OOV)")
    language: str = "English"
    saved_model_input: Literal["text", "token_ids"] = Field(
        "token_ids",
        description="what the SavedModel's serving_default takes (TF Serving): raw strings, or token ids when a "
        "step (stemming, stop words) has no TF op; the .tflite always takes token ids",
    )


class Target(BaseModel):
    """A regressor's output: its name, and how to show it (`value × scale` in `unit`)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    unit: str
    scale: float = 1.0


class DataProvenance(BaseModel):
    """Where the training data came from, so every Space can say it plainly."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["sample", "kaggle", "public"]
    description: str
    rows: dict[str, int] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict, description="file name -> sha256")
    origins: list[str] = Field(
        default_factory=list,
        description="where `spacesuite data fetch` got the files: hf:<dataset repo>@<revision>, kaggle:<handle>, <url>",
    )

    @property
    def real(self) -> bool:
        """True unless the model learned from the generated sample data."""
        return self.source != "sample"

    @property
    def hub_datasets(self) -> list[str]:
        """The Hugging Face Hub dataset repos the data came from (a Space card's `datasets:`)."""
        return [origin[3:].split("@", 1)[0] for origin in self.origins if origin.startswith("hf:")]


class ModelSpec(BaseModel):
    """Everything needed to serve a model: labels, input, file names, provenance and metrics."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int = Field(ge=1)
    task: Literal["image-classification", "regression", "tabular-classification", "text-classification"]
    labels: list[str] = Field(default_factory=list, description="class names in output order (classifiers)")
    target: Target | None = Field(None, description="what the output means (regressors)")
    input: Annotated[ImageInput | TabularInput | TextInput, Field(discriminator="kind")]
    signature_input: str = Field("", description="input name of the serving_default signature (TF models)")
    files: dict[str, str] = Field(description="role (tflite, tflite_quantized, skops) -> file name")
    data: DataProvenance
    metrics: dict[str, float] = Field(default_factory=dict, description="test-split metrics")
    versions: dict[str, str] = Field(default_factory=dict, description="library versions at training")
    trained_with: dict[str, str] = Field(default_factory=dict, description="training facts the card shows")

    @model_validator(mode="after")
    def _task_has_its_outputs(self) -> ModelSpec:
        if self.task != "regression" and len(self.labels) < 2:
            raise ValueError("a classifier needs at least 2 labels")
        if self.task == "regression" and self.target is None:
            raise ValueError("a regressor needs a target")
        return self

    def save(self, folder: Path) -> Path:
        """Write this spec as `folder/spec.json` and return its path."""
        path = Path(folder) / SPEC_FILE
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> ModelSpec:
        """Read `folder/spec.json`.

        Raises:
            ArtifactError: the file is missing or does not match this schema.
        """
        path = Path(folder) / SPEC_FILE
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as error:
            raise ArtifactError(f"{path} is missing: run the pipeline (dvc repro) to build the model.") from error
        except (ValidationError, json.JSONDecodeError) as error:
            raise ArtifactError(f"{path} is not a valid model spec: {error}") from error
