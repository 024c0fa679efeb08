"""The one typed loader of params.yaml: every stage reads its settings through `load_params`.

Sections are per model (the unit a pipeline stage works on); `spaces` says which models each Space
bundles. A Space with one model has the same name as it (sign-language, bird-species); keras-basics
bundles two (digits, housing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from training.paths import PUBLIC_DATA_DIR
from training.sources import Source

PARAMS_FILE = Path("params.yaml")
NOT_MODELS = ("base", "drift", "spaces")  # the sections of params.yaml that are not a model's


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseParams(_Strict):
    """Settings shared by every stage."""

    seed: int = 42


DataSource = Literal["sample", "kaggle", "public"]


class DataParams(_Strict):
    """Where a model's raw data comes from (ingest stage): generated sample data, a folder of real files you copied
    (`kaggle`, in `path`), or the files `spacesuite data fetch` got from their publishers (`public`)."""

    source: DataSource = "sample"
    path: Path
    public: list[Source] = Field(
        default_factory=list, description="where `spacesuite data fetch` gets the real files (training/sources.py)"
    )


class SignLanguageData(DataParams):
    """Sign-language MNIST files; sizes of the generated sample."""

    sample_train_per_class: int = Field(100, ge=5)
    sample_test_per_class: int = Field(25, ge=2)


class BirdData(DataParams):
    """A `Birds dataset/<class>/*` folder; images are decoded and resized to `image_size` at ingest."""

    image_size: int = Field(224, ge=32, le=512)
    sample_per_class: int = Field(30, ge=4)


class DigitData(DataParams):
    """`mnist.npz` with Keras keys; the sample is scikit-learn's real 8×8 digits, scaled to 28×28."""

    sample_test_fraction: float = Field(0.2, gt=0, lt=1)


class HousingData(DataParams):
    """California housing: `housing.csv` (handson-ml layout) or scikit-learn's `cal_housing_py3.pkz`."""

    sample_rows: int = Field(2000, ge=50)


class GenderData(DataParams):
    """Kaggle's `gender_classification_v7.csv` (target `gender` or `Male`)."""

    sample_rows: int = Field(1000, ge=50)


class EmotionData(DataParams):
    """dair-ai's `train.txt`/`val.txt`/`test.txt` (`text;label`) or Kaggle's `text.csv` (`,text,label`)."""

    sample_per_class: int = Field(300, ge=10)


class SplitParams(_Strict):
    """Stratified train/val/test fractions (prepare stage).

    With `keep_file_test`, the dataset's own test file is the test split and train/val share its
    training file in the ratio train:val (`test` is then ignored).
    """

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    keep_file_test: bool = False

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitParams:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:.4f}")
        if self.test == 0 and not self.keep_file_test:
            raise ValueError("split.test may be 0 only with keep_file_test: true")
        return self


class TrainParams(_Strict):
    """Optimizer, epochs, early stopping and augmentation (train stage)."""

    epochs: int = Field(12, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    early_stopping_patience: int = Field(0, ge=0, description="0: off; else epochs without val improvement")
    reduce_lr_patience: int = Field(0, ge=0, description="0: off; else halve the rate after this many flat epochs")
    augment_shift: float = Field(0.0, ge=0, lt=0.5)
    augment_rotation: float = Field(0.0, ge=0, lt=0.5)
    augment_zoom: float = Field(0.0, ge=0, lt=0.5)
    augment_flip: bool = False
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="balanced: weight each class by n / (classes × its count), for macro scores"
    )


class FineTuneParams(_Strict):
    """Second phase of transfer learning: unfreeze the top share of the base's layers at a lower rate."""

    epochs: int = Field(5, ge=0)
    unfreeze_fraction: float = Field(0.3, ge=0, le=1)
    learning_rate: float = Field(1e-4, gt=0)


class CnnParams(_Strict):
    """Layer sizes of the small image CNN."""

    conv_filters: list[int] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: int = Field(3, ge=1)
    dense_units: int = Field(128, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)


class MobileNetParams(_Strict):
    """MobileNetV2 base + classification head.

    `base_weights`: `auto` (the ImageNet weights `spacesuite data fetch` got, when the data source is public; else
    none), `imagenet` (Keras downloads them, or finds them in $KERAS_HOME/models), `none` (random init, trained end
    to end: works offline), or a path to a no-top weights file.
    """

    base_weights: str = "auto"
    alpha: float = Field(1.0, gt=0)
    dense_units: int = Field(256, ge=1)
    dropout: float = Field(0.5, ge=0, lt=1)


class MlpParams(_Strict):
    """A Dense stack: Flatten → hidden layers (relu) → softmax (digits)."""

    hidden_units: list[int] = Field(default_factory=lambda: [300, 100], min_length=1)
    api: Literal["sequential", "functional"] = "sequential"


class RegressorParams(_Strict):
    """Normalization → hidden Dense layers → Dense(1); `wide_deep` also feeds the inputs straight to the output."""

    hidden_units: list[int] = Field(default_factory=lambda: [50, 50], min_length=1)
    architecture: Literal["sequential", "wide_deep"] = "wide_deep"


class TextParams(_Strict):
    """`shared.text.preprocess`: the steps (training and the Space apply the same), vocabulary and length."""

    lowercase: bool = True
    remove_stopwords: bool = False
    stem: bool = False
    max_tokens: int = Field(10000, ge=10, description="vocabulary size, padding and OOV included")
    sequence_length: int = Field(64, ge=4)


class BiLstmParams(_Strict):
    """Embedding → Bidirectional(LSTM) → Dropout → softmax."""

    embedding_dim: int = Field(64, ge=2)
    lstm_units: int = Field(64, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)
    pooling: Literal["last", "max"] = "last"


class BlessParams(_Strict):
    """The evaluate stage blesses a model only at or above these test-split scores; bundle refuses others."""

    min_accuracy: float = Field(0.0, ge=0, le=1)
    min_f1_macro: float = Field(0.0, ge=0, le=1)


class ExportParams(_Strict):
    """Serving layout of the exported model (export stage)."""

    version: int = Field(1, ge=1)


class ParityParams(_Strict):
    """How closely the .tflite classifiers must agree with Keras on the test split (parity stage)."""

    min_agreement: float = Field(0.99, ge=0, le=1)
    min_agreement_quantized: float = Field(0.97, ge=0, le=1)


class RegressionParityParams(_Strict):
    """How far the .tflite regressors may stray from Keras on the test split (parity stage), in target units."""

    max_abs_diff: float = Field(1e-3, gt=0)
    max_abs_diff_quantized: float = Field(0.1, gt=0)


class _ModelSection(_Strict):
    split: SplitParams
    export: ExportParams


class _KerasSection(_ModelSection):
    train: TrainParams


class SignLanguageParams(_KerasSection):
    """The sign-language CNN."""

    data: SignLanguageData
    model: CnnParams
    parity: ParityParams


class BirdSpeciesParams(_KerasSection):
    """The bird-species MobileNetV2 transfer model."""

    data: BirdData
    model: MobileNetParams
    fine_tune: FineTuneParams
    parity: ParityParams

    @property
    def base_weights(self) -> str:
        """`model.base_weights` with `auto` resolved: the fetched `.h5` of the public source, or `none`."""
        if self.model.base_weights != "auto":
            return self.model.base_weights
        if self.data.source == "public":
            for source in self.data.public:
                if getattr(source, "to", "").endswith(".h5"):
                    return str(PUBLIC_DATA_DIR / "bird-species" / source.to)
        return "none"


class DigitsParams(_KerasSection):
    """keras-basics: the MNIST MLP."""

    data: DigitData
    model: MlpParams
    parity: ParityParams


class HousingParams(_KerasSection):
    """keras-basics: the California-housing regressor."""

    data: HousingData
    model: RegressorParams
    parity: RegressionParityParams


class GaussianNbParams(_Strict):
    """scikit-learn GaussianNB (after a StandardScaler)."""

    var_smoothing: float = Field(1e-9, gt=0)


class LogisticRegressionParams(_Strict):
    """scikit-learn LogisticRegression (after a StandardScaler)."""

    c: float = Field(1.0, gt=0, description="inverse regularisation strength (scikit-learn's C)")
    max_iter: int = Field(1000, ge=10)


class CandidatesParams(_Strict):
    """The pipelines the train stage fits and compares."""

    gaussian_nb: GaussianNbParams
    logistic_regression: LogisticRegressionParams


class GenderParams(_ModelSection):
    """gender: GaussianNB against LogisticRegression, logged to MLflow, the best one kept."""

    data: GenderData
    candidates: CandidatesParams
    select_by: Literal["accuracy", "precision", "recall", "f1"] = "f1"
    mlflow_experiment: str = "gender"


class EmotionParams(_KerasSection):
    """The emotion BiLSTM."""

    data: EmotionData
    text: TextParams
    model: BiLstmParams
    bless: BlessParams
    parity: ParityParams


DeployMetric = Literal["accuracy", "f1_macro", "precision_macro", "recall_macro", "r2", "rmse", "mae"]


class SpaceParams(_Strict):
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


ModelParams = SignLanguageParams | BirdSpeciesParams | DigitsParams | HousingParams | GenderParams | EmotionParams


class ShiftParams(_Strict):
    """How strong each injected shift of the drift job is."""

    mean_shift_std: float = Field(1.0, gt=0, description="a measurement's mean moves by this many standard deviations")
    flip_share: float = Field(0.5, gt=0, le=1, description="share of rows whose yes/no feature turns from 0 to 1")
    prior_share: float = Field(0.8, gt=0, lt=1, description="share of rows the rarest predicted class takes")
    length_factor: float = Field(2.0, gt=1, description="texts become this many times longer")


class DriftParams(_Strict):
    """The drift job: an SDV synthesizer on each model's reference data, injected shifts, Evidently reports."""

    synthesizer: Literal["gaussian_copula", "ctgan", "tvae", "copula_gan"] = "gaussian_copula"
    distribution: Literal["auto", "beta", "truncnorm", "norm", "gamma", "uniform", "gaussian_kde"] = Field(
        "auto", description="the copula's marginals; auto: gaussian_kde up to 500 reference rows, beta above"
    )
    reference_rows: int = Field(2000, ge=50, description="reference rows drawn from the ingested data")
    synthetic_rows: int = Field(2000, ge=50, description="rows of synthetic traffic per scenario")
    seeds: int = Field(3, ge=1, le=50, description="each scenario runs with this many seeds")
    num_method: str = "wasserstein"
    cat_method: str = "jensenshannon"
    num_threshold: float = Field(0.2, gt=0)
    cat_threshold: float = Field(0.1, gt=0)
    min_traffic_rows: int = Field(200, ge=10, description="logged answers a model needs before its traffic is checked")
    html: bool = True
    shifts: ShiftParams = ShiftParams()


class Params(_Strict):
    """The whole params.yaml."""

    base: BaseParams
    sign_language: SignLanguageParams
    bird_species: BirdSpeciesParams
    digits: DigitsParams
    housing: HousingParams
    gender: GenderParams
    emotion: EmotionParams
    drift: DriftParams = DriftParams()
    spaces: dict[str, SpaceParams]

    @model_validator(mode="after")
    def _spaces_name_known_models(self) -> Params:
        for space, section in self.spaces.items():
            for model in section.models:
                if model.replace("-", "_") not in type(self).model_fields or model in NOT_MODELS:
                    raise ValueError(f"spaces.{space}.models names unknown model {model!r}")
        return self

    def model(self, name: str) -> ModelParams:
        """Return the section of one model by its pipeline name (``sign-language``, ``digits``)."""
        section = getattr(self, name.replace("-", "_"), None) if name not in NOT_MODELS else None
        if not isinstance(section, _ModelSection):
            raise KeyError(f"params.yaml has no section for model {name!r}")
        return section

    def space(self, name: str) -> SpaceParams:
        """Return the `spaces.<name>` section."""
        if name not in self.spaces:
            raise KeyError(f"params.yaml has no spaces.{name}; known: {', '.join(self.spaces)}")
        return self.spaces[name]


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml.

    Raises:
        FileNotFoundError: the file does not exist.
        pydantic.ValidationError: a key is unknown, missing or out of range (the message names it).
    """
    with Path(path).open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    return Params.model_validate(raw)
