"""Synthetic traffic for the drift job, made as a Space meets traffic: model inputs, which the Space's own model
class then answers, so the prediction and confidence come from the model and never from a synthesizer.

Where the inputs come from depends on their kind (`spec.input.kind`):

- tabular: an SDV synthesizer (`drift.synthesizer`) fitted on the reference's raw feature rows; categories and
  yes/no features stay categories.
- text and images: SDV cannot synthesize raw text or pixels, and a synthesizer over their descriptors invents
  descriptors no input has (a copula smeared emotion's `known_share`, most of it exactly 1, into false alarms on
  every seed). Their traffic is a seeded bootstrap of real held-out inputs that the reference did not draw: inputs
  the model never trained on, which is what a Space sees.

The named shifts change the inputs before the model answers (a feature's mean moved, a yes/no feature flipped,
texts joined into longer ones, images brightened), except the class prior, which resamples the answered rows by
the model's predicted class.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from shared.artifact import Feature, ImageInput, ModelSpec, TabularInput, TextInput
from shared.descriptors import PREDICTION
from training.params import DriftParams, ShiftParams

TABLE = "traffic"
KDE_MAX_ROWS = 1000  # "auto": a kernel density up to this many rows of a class, a beta distribution above
# (sampling a KDE costs rows × samples: 100k rows from 2,000 took 330 s against 0.7 s for beta). On the real
# gender rows (about 750 a class) beta false-alarmed on forehead width: score 0.18 on average over 10 draws,
# threshold 0.2, against 0.03 for a KDE; on housing's quarters (500 rows) beta scored up to 0.37, a KDE 0.14
MIN_STRATUM_ROWS = 20  # fewer rows of a class than this, and one synthesizer is fitted on every row
SYNTHESIZERS = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
    "copula_gan": "CopulaGANSynthesizer",
}


class Synthesizer:
    """An SDV single-table synthesizer over one frame (SDV 2: tables go in and out as dicts)."""

    def __init__(
        self,
        kind: str,
        reference: pd.DataFrame,
        numerical: list[str],
        categorical: list[str],
        *,
        distribution: str = "beta",
    ) -> None:
        from sdv import single_table
        from sdv.metadata import Metadata

        if kind not in SYNTHESIZERS:
            raise ValueError(f"unknown synthesizer {kind!r}: choose one of {', '.join(SYNTHESIZERS)}")
        try:
            synthesizer_class = getattr(single_table, SYNTHESIZERS[kind])
        except (AttributeError, ImportError) as error:  # ctgan and friends need torch
            raise RuntimeError(f"the {kind} synthesizer needs torch and ctgan: pip install torch ctgan") from error
        frame = reference[numerical + categorical].copy()
        for column in categorical:
            frame[column] = frame[column].astype(str)
        metadata = Metadata.detect_from_dataframes({TABLE: frame})
        for column in numerical:
            metadata.update_column(column, sdtype="numerical", table_name=TABLE)
        for column in categorical:
            metadata.update_column(column, sdtype="categorical", table_name=TABLE)
        self.categorical = categorical
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "save the metadata to JSON" advice and fit-time chatter
            options = {"default_distribution": distribution} if kind in ("gaussian_copula", "copula_gan") else {}
            self.model = synthesizer_class(metadata, **options)
            self.model.fit({TABLE: frame})
            self.model.reset_sampling()  # the same samples on every run: the job's metrics are reproducible

    def sample(self, rows: int) -> pd.DataFrame:
        """`rows` new synthetic rows (each call continues the same seeded stream)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.sample(num_rows=rows)[TABLE].reset_index(drop=True)


@dataclass(frozen=True)
class Draw:
    """`rows` of synthetic traffic as its distinct raw inputs (feature rows, texts or pixel arrays) and, for each
    row, which of them it is: a bootstrap repeats inputs, and 100k draws of 224×224 images would be 15 GB as rows."""

    distinct: np.ndarray
    rows: np.ndarray


class InputSource(Protocol):
    """Where a model's synthetic inputs come from."""

    def sample(self, rows: int, rng: np.random.Generator) -> Draw:
        """`rows` inputs of synthetic traffic."""


class FeatureRowSynthesizer:
    """SDV fitted on raw feature rows (float, NaN when missing, a category by its index); samples new rows alike.
    Numbers are numerical columns, yes/no features and categories categorical ones.

    One synthesizer per stratum (a class, or a quarter of a regressor's targets), sampled in the reference's
    proportions: a single Gaussian copula blurs how features go together within a class, and the model then
    answers its rows less surely than real ones (gender's confidence false-alarmed on every seed)."""

    def __init__(
        self, kind: str, features: list[Feature], rows: np.ndarray, strata: np.ndarray, *, distribution: str
    ) -> None:
        self.features = features
        frame = pd.DataFrame(np.asarray(rows, dtype=np.float64), columns=[feature.name for feature in features])
        numerical = [feature.name for feature in features if feature.kind == "number"]
        categorical = [feature.name for feature in features if feature.kind != "number"]
        groups, counts = np.unique(strata, return_counts=True)
        if counts.min() < MIN_STRATUM_ROWS:  # too few rows to fit a copula on: one for all
            groups, counts, strata = np.zeros(1), np.array([len(frame)]), np.zeros(len(frame))
        self.shares = counts / counts.sum()
        self.synthesizers = [
            Synthesizer(
                kind,
                frame[strata == group].reset_index(drop=True),
                numerical,
                categorical,
                distribution=marginal_distribution(distribution, count),
            )
            for group, count in zip(groups, counts, strict=True)
        ]

    def sample(self, rows: int, rng: np.random.Generator) -> Draw:
        """`rows` synthetic feature rows: how many from each stratum drawn with `rng`, the rows themselves from
        SDV's own seeded streams."""
        sizes = rng.multinomial(rows, self.shares)
        parts = [synthesizer.sample(int(size)) for synthesizer, size in zip(self.synthesizers, sizes, strict=True)]
        frame = pd.concat([part for part in parts if len(part)], ignore_index=True)
        frame = frame.iloc[rng.permutation(len(frame))]
        columns = [pd.to_numeric(frame[feature.name], errors="coerce") for feature in self.features]  # "nan" → NaN
        return Draw(np.column_stack([column.to_numpy(dtype=np.float64) for column in columns]), np.arange(rows))


def strata_of(targets: np.ndarray, classifier: bool) -> np.ndarray:
    """The stratum of each reference row: its class, or for a regressor the quarter of the targets it falls in."""
    if classifier:
        return np.asarray(targets)
    edges = np.quantile(np.asarray(targets, dtype=np.float64), [0.25, 0.5, 0.75])
    return np.searchsorted(edges, targets)


@dataclass(frozen=True)
class Bootstrap:
    """Real inputs drawn with replacement from a pool (texts and images, which SDV cannot synthesize)."""

    pool: np.ndarray

    def sample(self, rows: int, rng: np.random.Generator) -> Draw:
        """`rows` inputs of the pool, drawn with `rng`."""
        if not len(self.pool):
            raise ValueError("no inputs to draw synthetic traffic from")
        chosen, rows_of = np.unique(rng.integers(0, len(self.pool), size=rows), return_inverse=True)
        return Draw(self.pool[chosen], rows_of)


def marginal_distribution(choice: str, reference_rows: int) -> str:
    """The copula's marginal distribution for `choice` ("auto" picks by the number of reference rows)."""
    if choice != "auto":
        return choice
    return "gaussian_kde" if reference_rows <= KDE_MAX_ROWS else "beta"


def input_source(
    spec: ModelSpec, params: DriftParams, reference: np.ndarray, targets: np.ndarray, pool: np.ndarray
) -> InputSource:
    """The synthetic inputs for a model: SDV fitted on the `reference` feature rows (stratified by their true
    `targets`) for tabular models, a bootstrap of the held-out `pool` for texts and images."""
    if isinstance(spec.input, TabularInput):
        strata = strata_of(targets, classifier=bool(spec.labels))
        return FeatureRowSynthesizer(
            params.synthesizer, spec.input.features, reference, strata, distribution=params.distribution
        )
    return Bootstrap(pool)


InputShift = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AnswerShift = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True)
class Scenario:
    """One kind of synthetic traffic: its name, what it changes, the columns it shifts (which the drift report must
    flag for the shift to count as detected), and the change: to the inputs before the model answers, or to the
    answered rows."""

    name: str
    description: str
    columns: tuple[str, ...] = ()
    inputs: InputShift | None = None
    answers: AnswerShift | None = None

    @property
    def injected(self) -> bool:
        """True for a shift the job must detect; False for `no_shift`, which it must not flag."""
        return self.name != NO_SHIFT


NO_SHIFT = "no_shift"


def mean_shift(index: int, delta: float, low: float | None, high: float | None) -> InputShift:
    """Add `delta` to feature `index` of each row, kept inside [low, high] (what the Space accepts); NaN stays."""

    def shift(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shifted = np.array(rows, dtype=np.float64)
        bottom, top = -np.inf if low is None else low, np.inf if high is None else high
        shifted[:, index] = np.clip(shifted[:, index] + delta, bottom, top)
        return shifted

    return shift


def flipped(index: int, share: float) -> InputShift:
    """Turn `share` of the rows whose yes/no feature `index` is 0 into 1 (one direction: flipping both ways at
    random would leave a 50/50 feature unchanged)."""

    def shift(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shifted = np.array(rows, dtype=np.float64)
        zeros = np.flatnonzero(np.round(shifted[:, index]) == 0)
        chosen = rng.choice(zeros, size=round(share * len(zeros)), replace=False) if len(zeros) else zeros
        shifted[chosen, index] = 1.0
        return shifted

    return shift


def longer_texts(factor: float) -> InputShift:
    """Each text followed by other texts of the batch until it is at least `factor` times as long."""

    def shift(texts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        longer = []
        for text in texts:
            joined = str(text)
            while len(joined) < factor * len(str(text)):
                joined += " " + str(texts[rng.integers(len(texts))])
            longer.append(joined)
        return np.array(longer, dtype=object)

    return shift


def brighter(delta: float) -> InputShift:
    """Raise every pixel by `delta` of the full range (0–255 for integer pixels, 0–1 for floats), clipped."""

    def shift(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        full = 255.0 if np.issubdtype(images.dtype, np.integer) else 1.0
        pixels = np.clip(images.astype(np.float32) + delta * full, 0, full)
        return pixels.round().astype(images.dtype) if full == 255.0 else pixels.astype(images.dtype)

    return shift


def class_prior(share: float) -> AnswerShift:
    """Resample answered rows so the rarest predicted class makes up `share` of them (its rows keep their
    descriptors)."""

    def shift(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        counts = frame[PREDICTION].value_counts()
        if len(counts) < 2:
            return frame
        rare = counts.index[-1]
        is_rare = (frame[PREDICTION] == rare).to_numpy()
        n_rare = round(share * len(frame))
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(is_rare), size=n_rare, replace=True),
                rng.choice(np.flatnonzero(~is_rare), size=len(frame) - n_rare, replace=True),
            ]
        )
        return frame.iloc[rng.permutation(rows)].reset_index(drop=True)

    return shift


def scenarios(
    spec: ModelSpec, reference: pd.DataFrame, reference_inputs: np.ndarray, shifts: ShiftParams
) -> list[Scenario]:
    """The no-shift scenario and the shifts that make sense for this model's inputs and outputs; their sizes come
    from the `reference` descriptors (images) or raw `reference_inputs` (a feature's spread)."""
    found = [Scenario(NO_SHIFT, "synthetic traffic like the reference data")]
    k = shifts.mean_shift_std
    if isinstance(spec.input, ImageInput):
        delta = k * float(reference["brightness"].std())
        found.append(Scenario("brighter_images", f"pixels +{k:g} std of brightness", ("brightness",), brighter(delta)))
    elif isinstance(spec.input, TextInput):
        factor = shifts.length_factor
        description = f"texts ×{factor:g} as long (other texts joined on)"
        found.append(Scenario("longer_texts", description, ("characters", "words"), longer_texts(factor)))
    elif isinstance(spec.input, TabularInput):
        features = spec.input.features
        numbers = [index for index, feature in enumerate(features) if feature.kind == "number"]
        binaries = [index for index, feature in enumerate(features) if feature.kind == "binary"]
        if numbers:
            feature = features[numbers[0]]
            delta = k * float(np.nanstd(np.asarray(reference_inputs, dtype=np.float64)[:, numbers[0]]))
            shift = mean_shift(numbers[0], delta, feature.minimum, feature.maximum)
            found.append(Scenario(f"{feature.name}_mean_shift", f"{feature.label} +{k:g} std", (feature.name,), shift))
        if binaries:  # the most evenly split one: turning half the no's of a 90 %-yes feature into yes moves little
            values = np.asarray(reference_inputs, dtype=np.float64)[:, binaries]
            balanced = binaries[int(np.argmin(np.abs(np.nanmean(values, axis=0) - 0.5)))]
            feature = features[balanced]
            description = f"{shifts.flip_share:.0%} of '{feature.label}' no → yes"
            shift = flipped(balanced, shifts.flip_share)
            found.append(Scenario(f"{feature.name}_flipped", description, (feature.name,), shift))
    if spec.labels:
        description = f"the rarest predicted class is {shifts.prior_share:.0%} of traffic"
        found.append(Scenario("class_prior", description, (PREDICTION,), answers=class_prior(shifts.prior_share)))
    return found


@dataclass
class Answered:
    """Inputs the model answered (those it refused left out), their positions in the batch it was given, and the
    descriptors of each answer, row for row."""

    inputs: np.ndarray
    kept: np.ndarray
    frame: pd.DataFrame
    refused: int = 0


Describe = Callable[[np.ndarray], Answered]


@dataclass
class Traffic:
    """One scenario's synthetic traffic: the distinct inputs sent (shifted, when the scenario shifts inputs), the
    model's answers row by row (`answers`; `sent[rows[i]]` is the input of answer i; rows the model refused are
    left out and counted), and what the drift report compares (`frame`: the answers, resampled when the scenario
    shifts the answers)."""

    scenario: Scenario
    sent: np.ndarray
    rows: np.ndarray
    answers: pd.DataFrame
    refused: int
    frame: pd.DataFrame


def synthetic_traffic(
    planned: list[Scenario], source: InputSource, describe: Describe, rows: int, rng: np.random.Generator
) -> Iterator[Traffic]:
    """Each scenario's traffic from one draw of `rows` inputs: shifted inputs are answered anew by the model;
    scenarios that shift nothing before the model share the unshifted answers. Each distinct input is answered
    once per scenario and its answer repeated for every row that drew it."""
    draw = source.sample(rows, rng)
    unshifted = _answer_rows(draw.distinct, draw.rows, describe)
    for scenario in planned:
        sent, answers, kept_rows, refused = (
            _answer_rows(scenario.inputs(draw.distinct, rng), draw.rows, describe) if scenario.inputs else unshifted
        )
        frame = scenario.answers(answers, rng) if scenario.answers else answers
        yield Traffic(scenario, sent, kept_rows, answers, refused, frame)


def _answer_rows(
    distinct: np.ndarray, rows: np.ndarray, describe: Describe
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, int]:
    """The model's answers to `distinct` inputs, one per row of traffic: (inputs, answers, each answer's input,
    rows refused)."""
    answered = describe(distinct)
    answer_of = np.full(len(distinct), -1)
    answer_of[answered.kept] = np.arange(len(answered.kept))
    per_row = answer_of[rows]
    taken = per_row >= 0
    frame = answered.frame.iloc[per_row[taken]].reset_index(drop=True)
    return distinct, frame, np.asarray(rows)[taken], int((~taken).sum())


def memoized(describe: Describe, known: Answered | None = None) -> Describe:
    """`describe` answering each distinct input once (and never those `known` answers hold already): the model's
    answer to an input does not change, and a bootstrap of a few hundred held-out images otherwise costs a model
    call per row, seed and scenario."""
    answers: dict[bytes, dict | None] = {}  # an input's bytes → its descriptors (None: the model refused it)
    columns: list[str] = list(known.frame.columns) if known is not None else []
    if known is not None:
        records = known.frame.to_dict("records")
        answers.update({np.asarray(raw).tobytes(): record for raw, record in zip(known.inputs, records, strict=True)})

    def describe_once(inputs: np.ndarray) -> Answered:
        keys = [np.asarray(raw).tobytes() for raw in inputs]
        first_seen: dict[bytes, int] = {}
        for position, key in enumerate(keys):
            if key not in answers:
                first_seen.setdefault(key, position)
        if first_seen:
            positions = np.fromiter(first_seen.values(), dtype=int, count=len(first_seen))
            answered = describe(inputs[positions])
            columns[:] = list(answered.frame.columns)
            answers.update(dict.fromkeys(first_seen))
            for row, record in zip(answered.kept, answered.frame.to_dict("records"), strict=True):
                answers[keys[positions[row]]] = record
        kept = np.array([position for position, key in enumerate(keys) if answers[key] is not None], dtype=int)
        frame = pd.DataFrame.from_records([answers[keys[position]] for position in kept], columns=columns)
        return Answered(inputs[kept], kept, frame, len(inputs) - len(kept))

    return describe_once
