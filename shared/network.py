"""What a Keras network looks like to a person, beside its spec.json: `network.json`, its layers with their
parameter counts (Keras's `model.summary()`) and its per-epoch training curves. The export stage writes it
(`training.network`); a Space shows it. Kept out of `shared.artifact`, which every training stage depends on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ArtifactError

NETWORK_FILE = "network.json"  # a Keras model's layers and training curves, beside spec.json (export writes it)


class Layer(BaseModel):
    """One layer of a network, as Keras's `model.summary()` lists it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: str
    output_shape: str
    params: int = Field(ge=0)


class CurvePoint(BaseModel):
    """One value of a training curve: a metric on a split after an epoch (1-based)."""

    model_config = ConfigDict(extra="forbid")
    epoch: int = Field(ge=1)
    metric: str
    split: Literal["train", "validation"]
    value: float


class NetworkSummary(BaseModel):
    """A trained network for people to read: its layers with their parameter counts, and its per-epoch curves."""

    model_config = ConfigDict(extra="forbid")
    layers: list[Layer]
    total_params: int = Field(ge=0)
    trainable_params: int = Field(ge=0)
    curves: list[CurvePoint] = Field(default_factory=list)

    def save(self, folder: Path) -> Path:
        """Write this summary as `folder/network.json` and return its path."""
        path = Path(folder) / NETWORK_FILE
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> NetworkSummary | None:
        """Read `folder/network.json`; None when the model has none (a scikit-learn pipeline).

        Raises:
            ArtifactError: the file does not match this schema.
        """
        path = Path(folder) / NETWORK_FILE
        if not path.is_file():
            return None
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValidationError, json.JSONDecodeError) as error:
            raise ArtifactError(f"{path} is not a valid network summary: {error}") from error
