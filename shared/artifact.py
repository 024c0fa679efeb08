"""What a model folder says about itself: `spec.json` beside the .tflite files.

Export writes it, bundle adds the evaluation metrics and data provenance, and a Space reads it back,
so serving needs neither params.yaml nor training code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ArtifactError

SPEC_FILE = "spec.json"


class ImageInput(BaseModel):
    """An image model's input: gray pixels of height×width, scaled by `shared.images.normalize`."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["image"] = "image"
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    channels: Literal[1] = 1
    preprocessing: str = "shared.images.preprocess_image: gray, center crop, resize (Lanczos), /255"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order PIL uses."""
        return self.width, self.height


class DataProvenance(BaseModel):
    """Where the training data came from, so every Space can say it plainly."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["sample", "kaggle"]
    description: str
    rows: dict[str, int] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict, description="file name -> sha256")


class ModelSpec(BaseModel):
    """Everything needed to serve a model: labels, input, file names, provenance and metrics."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int = Field(ge=1)
    task: Literal["image-classification"]
    labels: list[str] = Field(min_length=2)
    input: ImageInput
    signature_input: str = Field(description="input name of the serving_default signature")
    files: dict[str, str] = Field(description="role (tflite, tflite_quantized) -> file name")
    data: DataProvenance
    metrics: dict[str, float] = Field(default_factory=dict, description="test-split metrics")
    versions: dict[str, str] = Field(default_factory=dict, description="library versions at training")

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
