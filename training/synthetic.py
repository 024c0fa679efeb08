"""Synthetic traffic for the drift job: an SDV synthesizer fitted on a model's reference descriptors, and the
named shifts injected into its samples (a mean moved, a yes/no feature flipped, a class prior changed, longer
texts)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shared.artifact import ImageInput, ModelSpec, TabularInput, TextInput
from shared.descriptors import PREDICTION
from training.params import ShiftParams

TABLE = "traffic"
KDE_MAX_ROWS = 500  # "auto": a kernel density below this many reference rows (cheap there, and it follows
# multimodal shapes such as the sample birds' few backgrounds), a beta distribution above (sampling a KDE costs
# reference rows × samples: 100k rows from 2,000 took 330 s against 0.7 s for beta)
SYNTHESIZERS = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
    "copula_gan": "CopulaGANSynthesizer",
}


class Synthesizer:
    """An SDV single-table synthesizer over one frame of descriptors (SDV 2: tables go in and out as dicts)."""

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


Shift = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True)
class Scenario:
    """One kind of synthetic traffic: its name, what it changes, the change, and the columns it shifts (which
    the drift report must flag for the shift to count as detected)."""

    name: str
    description: str
    shift: Shift
    columns: tuple[str, ...] = ()

    @property
    def injected(self) -> bool:
        """True for a shift the job must detect; False for `no_shift`, which it must not flag."""
        return self.name != NO_SHIFT


NO_SHIFT = "no_shift"


def _unchanged(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return frame


def mean_shift(column: str, delta: float, low: float, high: float) -> Shift:
    """Add `delta` to a column, kept inside [low, high] (the range the Space accepts or can produce)."""

    def shift(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        shifted = frame.copy()
        shifted[column] = (shifted[column].astype(float) + delta).clip(low, high)
        return shifted

    return shift


def scaled(columns: list[str], factor: float) -> Shift:
    """Multiply columns by `factor` (longer texts: more characters and more words)."""

    def shift(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        shifted = frame.copy()
        for column in columns:
            shifted[column] = shifted[column].astype(float) * factor
        return shifted

    return shift


def flipped(column: str, share: float) -> Shift:
    """Turn `share` of the rows whose yes/no `column` is 0 into 1 (one direction: flipping both ways at random
    would leave a 50/50 feature unchanged)."""

    def shift(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        shifted = frame.copy()
        values = shifted[column].astype(float).round()
        zeros = np.flatnonzero(values.to_numpy() == 0)
        chosen = rng.choice(zeros, size=round(share * len(zeros)), replace=False) if len(zeros) else zeros
        values.iloc[chosen] = 1.0
        shifted[column] = values.astype(frame[column].dtype)
        return shifted

    return shift


def class_prior(share: float) -> Shift:
    """Resample rows so the rarest predicted class makes up `share` of them (its rows keep their descriptors)."""

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


def marginal_distribution(choice: str, reference_rows: int) -> str:
    """The copula's marginal distribution for `choice` ("auto" picks by the number of reference rows)."""
    if choice != "auto":
        return choice
    return "gaussian_kde" if reference_rows <= KDE_MAX_ROWS else "beta"


def scenarios(spec: ModelSpec, reference: pd.DataFrame, shifts: ShiftParams) -> list[Scenario]:
    """The no-shift scenario and the shifts that make sense for this model's inputs and outputs."""
    found = [Scenario(NO_SHIFT, "synthetic traffic like the reference data", _unchanged)]
    k = shifts.mean_shift_std
    if isinstance(spec.input, ImageInput):
        shift = mean_shift("brightness", k * float(reference["brightness"].std()), 0, 1)
        found.append(Scenario("brighter_images", f"image brightness +{k:g} std", shift, ("brightness",)))
    elif isinstance(spec.input, TextInput):
        factor = shifts.length_factor
        shift = scaled(["characters", "words"], factor)
        found.append(Scenario("longer_texts", f"texts ×{factor:g} as long", shift, ("characters", "words")))
    elif isinstance(spec.input, TabularInput):
        numbers = [feature for feature in spec.input.features if feature.kind == "number"]
        binaries = [feature for feature in spec.input.features if feature.kind == "binary"]
        if numbers:
            feature = numbers[0]
            delta = k * float(reference[feature.name].std())
            shift = mean_shift(feature.name, delta, feature.minimum, feature.maximum)
            found.append(Scenario(f"{feature.name}_mean_shift", f"{feature.label} +{k:g} std", shift, (feature.name,)))
        if binaries:
            feature = binaries[0]
            description = f"{shifts.flip_share:.0%} of '{feature.label}' no → yes"
            shift = flipped(feature.name, shifts.flip_share)
            found.append(Scenario(f"{feature.name}_flipped", description, shift, (feature.name,)))
    if spec.labels:
        description = f"the rarest predicted class is {shifts.prior_share:.0%} of traffic"
        found.append(Scenario("class_prior", description, class_prior(shifts.prior_share), (PREDICTION,)))
    return found
