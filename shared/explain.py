"""Why a classifier gave its answer, from forward passes only: the models run as they are (LiteRT, scikit-learn).

- images: occlusion. The model input is cut into a grid of patches; each patch in turn is painted over with the
  image's mean colour, and its weight is how much the predicted class's probability drops then (all the occluded
  copies and the original run as one batch);
- texts: leave one word out. Each word the model read is dropped in turn (the rest re-encoded, so a word beyond the
  model's length may move in, as it would); its weight is the drop in the predicted class's probability;
- tabular: for a LogisticRegression or a GaussianNB at the end of a scikit-learn pipeline whose every step maps each
  input column to its own output columns (scaler, imputer, one-hot), the exact log-odds terms: the predicted class's
  linear logit (or Gaussian log-likelihood) minus the mean of the other classes', per output column, summed back per
  feature, so that `baseline + sum(weights)` is `log p(class) - mean(log p(other class))` (the log-odds, for two
  classes). Any other model: each feature replaced by its typical value (spec.json's default), the probability drop.

A positive weight speaks for the predicted class, a negative one against it.

The budgets of an explanation live here rather than in `shared.limits`, which every training stage depends on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.artifact import TabularInput, TextInput
from shared.errors import InputError
from shared.prediction import Prediction, Prepared

# --- budgets: each patch, word or feature costs one forward pass ------------------------------------------------
MAX_EXPLAIN_INSTANCES = 4  # per REST `:explain` request (a 224×224 image costs 26 forward passes)
EXPLAIN_CONCURRENCY = 2  # REST `:explain` requests explained at once (in worker threads); more wait their turn
SMALL_SIDE = 64  # images up to this side are cut into GRID_SMALL² patches ...
GRID_SMALL = 7  # ... 28×28: 4-pixel patches, 50 forward passes
GRID_LARGE = 5  # ... larger ones into GRID_LARGE²: 224×224 in 26 forward passes
EXPLAIN_BATCH = 32  # rows per model call while explaining


@dataclass
class Explanation:
    """The weights behind one answer: per image patch (a grid, rows × columns), word or feature."""

    label: str  # the class explained: the predicted one
    probability: float
    method: str  # occlusion, leave-one-word-out, log-odds terms, typical-value replacement
    unit: str  # what a weight measures: "probability" (a drop) or "log-odds" (a term)
    weights: np.ndarray = field(repr=False)  # (rows, cols) for an image; one per name otherwise
    names: list[str] = field(default_factory=list)  # the words read, or the features; empty for an image
    baseline: float | None = None  # log-odds terms: what the weights add to (the intercepts' or priors' term)

    def to_json(self) -> dict[str, Any]:
        """The explanation as JSON values (the REST `:explain` answer per instance, and the page's numbers)."""
        body: dict[str, Any] = {
            "label": self.label,
            "probability": round(self.probability, 6),
            "method": self.method,
            "unit": self.unit,
            "weights": np.round(self.weights.astype(np.float64), 6).tolist(),
        }
        if self.weights.ndim == 2:
            body["grid"] = list(self.weights.shape)
        if self.names:
            body["names"] = list(self.names)
        if self.baseline is not None:
            body["baseline"] = round(self.baseline, 6)
        return body

    def top(self) -> int:
        """The index (flat, for a grid) of the weight that speaks most for the predicted class."""
        return int(np.argmax(self.weights.reshape(-1)))


def image_grid(height: int, width: int) -> tuple[int, int]:
    """Patches per column and per row: `GRID_SMALL` up to `SMALL_SIDE` pixels, else
    `GRID_LARGE` (each patch costs a forward pass of the model)."""
    grid = GRID_SMALL if max(height, width) <= SMALL_SIDE else GRID_LARGE
    return min(grid, height), min(grid, width)


def patch_edges(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The patches' row and column edges (grid + 1 each), as even as the sides allow."""
    rows, cols = image_grid(height, width)
    return np.linspace(0, height, rows + 1).round().astype(int), np.linspace(0, width, cols + 1).round().astype(int)


def occluded(pixels: np.ndarray) -> np.ndarray:
    """The image (H, W, C) first, then one copy per patch with that patch painted the image's mean colour."""
    ys, xs = patch_edges(*pixels.shape[:2])
    batch = np.repeat(pixels[np.newaxis], 1 + (len(ys) - 1) * (len(xs) - 1), axis=0)
    fill = pixels.mean(axis=(0, 1))
    index = 1
    for top, bottom in itertools.pairwise(ys):
        for left, right in itertools.pairwise(xs):
            batch[index, top:bottom, left:right] = fill
            index += 1
    return batch


def run_batches(run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> np.ndarray:
    """`run` over a batch in chunks of at most `EXPLAIN_BATCH` rows, the outputs stacked."""
    step = EXPLAIN_BATCH
    return np.concatenate([np.asarray(run(batch[start : start + step])) for start in range(0, len(batch), step)])


def _drops(outputs: np.ndarray) -> tuple[int, np.ndarray]:
    """The predicted class (of row 0) and how much its probability drops in every other row."""
    label = int(np.argmax(outputs[0]))
    return label, (outputs[0, label] - outputs[1:, label]).astype(np.float32)


def explain_image(model: Any, prepared: Prepared) -> tuple[np.ndarray, Explanation]:
    """Occlusion over the model input's patch grid: the output row of the image itself, and the explanation."""
    pixels = prepared.inputs[0]
    outputs = run_batches(model.run, occluded(pixels))
    label, drops = _drops(outputs)
    rows, cols = image_grid(*pixels.shape[:2])
    explanation = Explanation(
        model.spec.labels[label], float(outputs[0, label]), "occlusion", "probability", drops.reshape(rows, cols)
    )
    return outputs[0], explanation


def explain_text(model: Any, prepared: Prepared) -> tuple[np.ndarray, Explanation]:
    """Leave one word out, for every word the model read: the output row of the text itself, and the explanation."""
    spec_input = model.spec.input
    assert isinstance(spec_input, TextInput)
    _, tokens = prepared.context
    read = tokens[: spec_input.sequence_length]
    others = [tokens[:index] + tokens[index + 1 :] for index in range(len(read))]
    batch = np.concatenate([prepared.inputs, model.vocabulary.encode_batch(others, spec_input.sequence_length)])
    outputs = run_batches(model.run, batch)
    label, drops = _drops(outputs)
    explanation = Explanation(
        model.spec.labels[label], float(outputs[0, label]), "leave-one-word-out", "probability", drops, list(read)
    )
    return outputs[0], explanation


def column_sources(step: Any, inputs: int) -> list[int] | None:
    """For each output column of a fitted scikit-learn step, the input column it comes from; None when a step mixes
    columns or is not known here (then no exact terms)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if isinstance(step, Pipeline):
        sources: list[int] | None = list(range(inputs))
        for _, inner in step.steps:
            mapped = column_sources(inner, len(sources)) if sources is not None else None
            sources = [sources[i] for i in mapped] if mapped is not None and sources is not None else None
        return sources
    if isinstance(step, ColumnTransformer):
        out: list[int | None] = [None] * sum(s.stop - s.start for s in step.output_indices_.values())
        for name, inner, columns in step.transformers_:
            if inner == "drop":
                continue
            picked = list(np.arange(inputs)[columns])
            mapped = list(range(len(picked))) if inner == "passthrough" else column_sources(inner, len(picked))
            where = step.output_indices_[name]
            if mapped is None or len(mapped) != where.stop - where.start:
                return None
            out[where] = [int(picked[i]) for i in mapped]
        return None if any(source is None for source in out) else [int(s) for s in out if s is not None]
    if isinstance(step, OneHotEncoder):
        if step.drop_idx_ is not None:
            return None
        return [column for column, choices in enumerate(step.categories_) for _ in choices]
    if isinstance(step, StandardScaler | SimpleImputer) and step.n_features_in_ == inputs:
        kept = getattr(step, "statistics_", None)
        if kept is not None and not step.keep_empty_features and kept.dtype.kind == "f":
            return [i for i in range(inputs) if not np.isnan(kept[i])]  # all-empty training columns are dropped
        return list(range(inputs))
    return None


def class_terms(estimator: Any, row: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per class, the terms that add up to its unnormalized log-probability (K, columns), and the constant per class
    (K,), for a fitted LogisticRegression or GaussianNB on one transformed row; None for another estimator."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    if isinstance(estimator, LogisticRegression):
        coef, intercept = estimator.coef_, estimator.intercept_
        if coef.shape[0] == 1:  # two classes: one logit for class 1 against a zero logit for class 0
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
        return coef * row, intercept
    if isinstance(estimator, GaussianNB):
        variance = estimator.var_
        terms = -0.5 * np.log(2 * np.pi * variance) - (row - estimator.theta_) ** 2 / (2 * variance)
        return terms, np.log(estimator.class_prior_)
    return None


def log_odds_terms(pipeline: Any, row: np.ndarray, features: int) -> tuple[int, np.ndarray, float] | None:
    """The predicted class, its exact log-odds term per input feature and the constant term, for a scikit-learn
    Pipeline ending in a LogisticRegression or GaussianNB after column-wise steps; None when there are none."""
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
        return None
    preparation, estimator = pipeline[:-1], pipeline.steps[-1][1]
    sources = column_sources(preparation, features)
    transformed = np.asarray(preparation.transform(row), dtype=np.float64)[0]
    terms = class_terms(estimator, transformed)
    if sources is None or terms is None or len(sources) != transformed.shape[0]:
        return None
    per_column, constant = terms
    label = int(np.argmax(per_column.sum(axis=1) + constant))
    others = np.arange(len(constant)) != label
    against = per_column[label] - per_column[others].mean(axis=0)
    weights = np.bincount(np.asarray(sources), weights=against, minlength=features)
    return label, weights.astype(np.float32), float(constant[label] - constant[others].mean())


def explain_tabular(model: Any, prepared: Prepared) -> tuple[np.ndarray, Explanation]:
    """Exact log-odds terms where the pipeline allows, else typical-value replacement per feature: the output row of
    the form itself, and the explanation."""
    spec_input = model.spec.input
    assert isinstance(spec_input, TabularInput)
    names = [feature.name for feature in spec_input.features]
    row = prepared.inputs
    exact = log_odds_terms(getattr(model, "model", None), row, len(names))
    if exact is not None:
        output = model.run(row)[0]
        label, weights, baseline = exact
        explanation = Explanation(
            model.spec.labels[label], float(output[label]), "log-odds terms", "log-odds", weights, names, baseline
        )
        return output, explanation
    batch = np.repeat(row, 1 + len(names), axis=0)
    for index, feature in enumerate(spec_input.features):
        batch[1 + index, index] = np.nan if feature.default is None else feature.default
    outputs = run_batches(model.run, batch)
    label, drops = _drops(outputs)
    explanation = Explanation(
        model.spec.labels[label], float(outputs[0, label]), "typical-value replacement", "probability", drops, names
    )
    return outputs[0], explanation


EXPLAINERS: dict[str, Callable[[Any, Prepared], tuple[np.ndarray, Explanation]]] = {
    "image": explain_image,
    "text": explain_text,
    "tabular": explain_tabular,
}


def explain(model: Any, instance: Any) -> tuple[Prediction, Explanation]:
    """Answer one instance and explain the answer, with the explainer of the model's kind of input.

    Raises:
        InputError: the model is not a classifier, or the instance cannot be answered as it is.
    """
    spec = model.spec
    if not spec.labels:
        raise InputError(f"{spec.name} is a {spec.task} model: explanations are given for classifiers only.")
    prepared = model.prepare(instance)
    output, explanation = EXPLAINERS[spec.input.kind](model, prepared)
    return model.finish(prepared, output), explanation


def heat_map(pixels: np.ndarray, weights: np.ndarray, side: int = 224) -> np.ndarray:
    """The model input (H, W, C) in [0, 1] as an RGB uint8 picture about `side` pixels wide, dimmed, with the
    patches that speak for the answer in red (the strongest fully) and those against it in blue."""
    ys, xs = patch_edges(*pixels.shape[:2])
    rows = np.repeat(np.arange(len(ys) - 1), np.diff(ys))
    cols = np.repeat(np.arange(len(xs) - 1), np.diff(xs))
    strongest = float(np.abs(weights).max()) or 1.0
    heat = (weights / strongest)[rows][:, cols]  # (H, W) in [-1, 1]
    gray = pixels.mean(axis=2) if pixels.shape[2] == 3 else pixels[..., 0]
    base = np.repeat((0.35 + 0.5 * gray)[..., np.newaxis], 3, axis=2)
    red, blue = np.clip(heat, 0, 1)[..., np.newaxis], np.clip(-heat, 0, 1)[..., np.newaxis]
    picture = (
        base * (1 - 0.7 * (red + blue)) + 0.7 * red * np.array([1.0, 0.1, 0.1]) + 0.7 * blue * np.array([0.1, 0.3, 1.0])
    )
    scale = max(1, side // max(pixels.shape[:2]))
    picture = (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)
    return picture.repeat(scale, axis=0).repeat(scale, axis=1)
