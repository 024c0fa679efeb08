"""The one typed loader of params.yaml: every stage reads its settings through `load_params`.

Sections: `base`, `drift`, `spaces`, and one per demo, named after its module in `training/demos/` and validated
by the schema that module declares (built from the pieces below). A Space carries one or more demos' models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from training.demos import demo, names, section_of
from training.sources import Source

PARAMS_FILE = Path("params.yaml")
COMMON = ("base", "drift", "spaces")  # the sections of params.yaml that are not a demo's


class Strict(BaseModel):
    """A params section: typed, frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseParams(Strict):
    """Settings shared by every stage."""

    seed: int = 42


DataSource = Literal["sample", "kaggle", "public"]


class DataParams(Strict):
    """Where a demo's raw data comes from (ingest stage): generated sample data, a folder of real files you copied
    (`kaggle`, in `path`), or the files `spacesuite data fetch` got from their publishers (`public`)."""

    source: DataSource = "sample"
    path: Path
    public: list[Source] = Field(
        default_factory=list, description="where `spacesuite data fetch` gets the real files (training/sources.py)"
    )


class TextParams(Strict):
    """`shared.text.preprocess`: the steps (training and the Space apply the same), vocabulary and length."""

    lowercase: bool = True
    remove_stopwords: bool = False
    stem: bool = False
    max_tokens: int = Field(10000, ge=10, description="vocabulary size, padding and OOV included")
    sequence_length: int = Field(64, ge=4)


class PrepareParams(Strict):
    """The prepare stage: stratified train/val/test fractions, and a text demo's preprocessing.

    With `keep_file_test`, the dataset's own test file is the test split and train/val share its
    training file in the ratio train:val (`test` is then ignored).
    """

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    keep_file_test: bool = False
    text: TextParams | None = Field(None, description="text demos: how texts become token ids")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> PrepareParams:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:.4f}")
        if self.test == 0 and not self.keep_file_test:
            raise ValueError("split.test may be 0 only with keep_file_test: true")
        return self


class TrainParams(Strict):
    """Optimizer, epochs, early stopping and augmentation (train stage)."""

    epochs: int = Field(12, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    early_stopping_patience: int = Field(0, ge=0, description="0: off; else epochs without val improvement")
    reduce_lr_patience: int = Field(0, ge=0, description="0: off; else halve the rate after this many flat epochs")
    average_weights: bool = Field(
        False,
        description="true: after each epoch the model is the mean of the weights its epochs so far ended with; val "
        "scores, early stopping and the curves follow that mean (training/weight_average.py)",
    )
    augment_shift: float = Field(0.0, ge=0, lt=0.5)
    augment_rotation: float = Field(0.0, ge=0, lt=0.5)
    augment_zoom: float = Field(0.0, ge=0, lt=0.5)
    augment_flip: bool = False
    class_weight: Literal["none", "sqrt", "balanced"] = Field(
        "none",
        description="balanced: weight each class by n / (classes × its count), for macro scores; sqrt: its square root",
    )


class BlessParams(Strict):
    """The evaluate stage blesses a model only at these test-split scores; bundle refuses an unblessed one."""

    min_accuracy: float = Field(0.0, ge=0, le=1, description="classifiers")
    min_f1_macro: float = Field(0.0, ge=0, le=1, description="classifiers")
    max_rmse: float | None = Field(None, gt=0, description="regressors, in the model's own units")
    baseline: str | None = Field(
        "HEAD",
        description="git revision from which the last blessed model's committed metrics/<model>/slices.json is "
        "searched back; null: thresholds only",
    )
    tolerance: float = Field(
        0.02, ge=0, le=1, description="how much worse than the baseline a score may be (absolute; relative for RMSE)"
    )
    min_slice_rows: int = Field(50, ge=1, description="a slice with fewer test rows (either side) is not compared")


class ExportParams(Strict):
    """Serving layout of the exported model (export stage)."""

    version: int = Field(1, ge=1)


class ParityParams(Strict):
    """How closely the .tflite classifiers must agree with Keras on the test split (parity stage)."""

    min_agreement: float = Field(0.99, ge=0, le=1)
    min_agreement_quantized: float = Field(0.97, ge=0, le=1)


class RegressionParityParams(Strict):
    """How far the .tflite regressors may stray from Keras on the test split (parity stage), in target units."""

    max_abs_diff: float = Field(1e-3, gt=0)
    max_abs_diff_quantized: float = Field(0.1, gt=0)


class TuneRange(Strict):
    """A numeric range to search: floats, or integers with `integer`; on a log scale with `log`."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> TuneRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range must start above 0")
        return self


class TuneParams(Strict):
    """`spacesuite tune <model>`: each trial is a DVC experiment; Optuna chooses the next trial from those before.

    `space` maps a key of this demo's section (`model.lstm_units`, `train.learning_rate`) to a list of choices or
    a range. Trials are ranked by `metric` of `metrics/<model>/evaluate.json` (the val split: the test split stays
    for the final report).
    """

    trials: int = Field(10, ge=1)
    metric: str = Field("val.f1_macro", pattern=r"^(train|val|test)\.\w+$")
    direction: Literal["maximize", "minimize"] = "maximize"
    space: dict[str, list[float | int | str | bool] | TuneRange] = Field(min_length=1)


class DemoSection(Strict):
    """What every demo's section has: its data, its split, its export and the blessing thresholds, and what
    `spacesuite tune` may search."""

    data: DataParams
    prepare: PrepareParams
    export: ExportParams
    bless: BlessParams = BlessParams()
    tune: TuneParams | None = None


class KerasSection(DemoSection):
    """A Keras demo: its training settings and how closely its .tflite files must follow Keras."""

    train: TrainParams
    parity: ParityParams | RegressionParityParams


class SklearnSection(DemoSection):
    """A scikit-learn demo: candidate pipelines compared on the val split (each logged to MLflow), the best kept."""

    select_by: Literal["accuracy", "precision", "recall", "f1"] = "f1"
    mlflow_experiment: str = Field(min_length=1)


DeployMetric = Literal["accuracy", "f1_macro", "precision_macro", "recall_macro", "r2", "rmse", "mae"]


class SpaceParams(Strict):
    """How a Space appears on the Hub (bundle stage) and which models it carries."""

    title: str
    repo_id: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    models: list[str] = Field(min_length=1)
    deploy_when: dict[str, dict[DeployMetric, float]] = Field(
        default_factory=dict,
        description="model → test metric → threshold (a minimum; a maximum for rmse and mae) that deploy requires",
    )

    @model_validator(mode="after")
    def _deploy_when_names_own_models(self) -> SpaceParams:
        unknown = sorted(set(self.deploy_when) - set(self.models))
        if unknown:
            raise ValueError(f"deploy_when names {', '.join(unknown)}, not a model of this Space ({self.models})")
        return self


class ShiftParams(Strict):
    """How strong each injected shift of the drift job is."""

    mean_shift_std: float = Field(1.0, gt=0, description="a measurement's mean moves by this many standard deviations")
    flip_share: float = Field(0.5, gt=0, le=1, description="share of rows whose yes/no feature turns from 0 to 1")
    prior_share: float = Field(0.8, gt=0, lt=1, description="share of rows the rarest predicted class takes")
    length_factor: float = Field(2.0, gt=1, description="texts become this many times longer")


class DriftParams(Strict):
    """The drift job: synthetic inputs (SDV for feature rows) answered by each model, injected shifts, Evidently
    reports."""

    synthesizer: Literal["gaussian_copula", "ctgan", "tvae", "copula_gan"] = "gaussian_copula"
    distribution: Literal["auto", "beta", "truncnorm", "norm", "gamma", "uniform", "gaussian_kde"] = Field(
        "auto", description="the copula's marginals; auto: gaussian_kde up to 1,000 rows of a class, beta above"
    )
    reference_rows: int = Field(2000, ge=50, description="reference rows drawn from the held-out (val, test) rows")
    synthetic_rows: int = Field(2000, ge=50, description="rows of synthetic traffic per scenario")
    seeds: int = Field(3, ge=1, le=50, description="each scenario runs with this many seeds")
    num_method: Literal["wasserstein", "ks", "psi", "kl_div", "jensenshannon", "anderson", "ed", "cramer_von_mises"] = (
        "wasserstein"
    )
    cat_method: Literal["jensenshannon", "chisquare", "z", "psi", "kl_div", "TVD", "fisher_exact"] = "jensenshannon"
    num_threshold: float = Field(0.2, gt=0)
    cat_threshold: float = Field(0.1, gt=0)
    min_traffic_rows: int = Field(200, ge=10, description="logged answers a model needs before its traffic is checked")
    min_live_accuracy: float = Field(0.8, ge=0, le=1, description="live accuracy (from feedback) below this alerts")
    min_feedback_rows: int = Field(50, ge=1, description="answers with feedback a model needs before it is judged")
    html: bool = True
    shifts: ShiftParams = ShiftParams()


class Params(BaseModel):
    """The whole params.yaml. A demo's section is validated by that demo's schema when it is first asked for
    (`model(name)`), so a stage imports only the demo it works on; `check_all` validates every section."""

    model_config = ConfigDict(extra="allow", frozen=True)
    base: BaseParams
    drift: DriftParams = DriftParams()
    spaces: dict[str, SpaceParams]
    _sections: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _only_known_sections(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            known = {section_of(name) for name in names()}
            unknown = sorted(key for key in raw if key not in COMMON and key not in known)
            if unknown:
                raise ValueError(
                    f"params.yaml has no demo called {', '.join(unknown)} (demos: {', '.join(sorted(known))})"
                )
        return raw

    @model_validator(mode="after")
    def _spaces_name_known_models(self) -> Params:
        for space, section in self.spaces.items():
            for model in section.models:
                if model not in names():
                    raise ValueError(f"spaces.{space}.models names unknown model {model!r}")
                if section_of(model) not in (self.model_extra or {}):
                    raise ValueError(f"spaces.{space}.models names {model!r}, which has no section in params.yaml")
        return self

    def model(self, name: str) -> Any:
        """The validated section of one demo by its name (``sign-language``, ``digits``).

        Raises:
            KeyError: an unknown demo, or one without a section.
            pydantic.ValidationError: the section breaks the demo's schema (the message names the key).
        """
        section = section_of(demo(name).name)
        if section not in self._sections:
            raw = (self.model_extra or {}).get(section)
            if raw is None:
                raise KeyError(f"params.yaml has no section {section} for model {name!r}")
            self._sections[section] = demo(name).params.model_validate(raw)
        return self._sections[section]

    def models(self) -> list[str]:
        """The demos params.yaml has a section for."""
        return [name for name in names() if section_of(name) in (self.model_extra or {})]

    def space(self, name: str) -> SpaceParams:
        """Return the `spaces.<name>` section."""
        if name not in self.spaces:
            raise KeyError(f"params.yaml has no spaces.{name}; known: {', '.join(self.spaces)}")
        return self.spaces[name]

    def check_all(self) -> Params:
        """Validate every demo's section now (the loader otherwise validates each when it is first used)."""
        for name in self.models():
            self.model(name)
        return self


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml (each demo's section when it is first used).

    Raises:
        FileNotFoundError: the file does not exist.
        pydantic.ValidationError: a key is unknown, missing or out of range (the message names it).
    """
    with Path(path).open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    return Params.model_validate(raw)


__all__ = ["PARAMS_FILE", "Params", "ValidationError", "load_params"]
