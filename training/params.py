"""The one typed loader of params.yaml: every stage reads its settings through `load_params`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

PARAMS_FILE = Path("params.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseParams(_Strict):
    """Settings shared by every stage."""

    seed: int = 42


class DataParams(_Strict):
    """Where a demo's raw data comes from (ingest stage)."""

    source: Literal["sample", "kaggle"] = "sample"
    path: Path = Path("data/kaggle/sign-language")
    sample_train_per_class: int = Field(100, ge=5)
    sample_test_per_class: int = Field(25, ge=2)


class SplitParams(_Strict):
    """Stratified train/val/test fractions (prepare stage)."""

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitParams:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:.4f}")
        return self


class CnnParams(_Strict):
    """Layer sizes of the small image CNN (train stage)."""

    conv_filters: list[int] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: int = Field(3, ge=1)
    dense_units: int = Field(128, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)


class TrainParams(_Strict):
    """Optimizer, epochs and augmentation (train stage)."""

    epochs: int = Field(12, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    augment_shift: float = Field(0.0, ge=0, lt=0.5)
    augment_rotation: float = Field(0.0, ge=0, lt=0.5)


class ExportParams(_Strict):
    """Serving layout of the exported model (export stage)."""

    version: int = Field(1, ge=1)


class ParityParams(_Strict):
    """How closely the .tflite models must agree with Keras (parity stage)."""

    min_agreement: float = Field(0.99, ge=0, le=1)
    min_agreement_quantized: float = Field(0.97, ge=0, le=1)


class SpaceParams(_Strict):
    """How the demo appears on the Hub (bundle stage)."""

    title: str
    repo_id: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")


class SignLanguageParams(_Strict):
    """Every setting of the sign-language demo, one section per stage."""

    data: DataParams
    split: SplitParams
    model: CnnParams
    train: TrainParams
    export: ExportParams
    parity: ParityParams
    space: SpaceParams


class Params(_Strict):
    """The whole params.yaml."""

    base: BaseParams
    sign_language: SignLanguageParams

    def demo(self, name: str) -> SignLanguageParams:
        """Return the section of one demo, by its Space name (``sign-language``)."""
        section = getattr(self, name.replace("-", "_"), None)
        if not isinstance(section, BaseModel) or name == "base":
            raise KeyError(f"params.yaml has no section for demo {name!r}")
        return section


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml.

    Raises:
        FileNotFoundError: the file does not exist.
        pydantic.ValidationError: a key is unknown, missing or out of range (the message names it).
    """
    with Path(path).open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    return Params.model_validate(raw)
