"""What a model class answers for one instance: its `top` is the one place the top label is computed, and
`inputs` the one place what is kept about the input (image statistics, text, form values).

A model class answers in three steps, so that concurrent requests can share one model call: `prepare` (an
instance → a `Prepared` model input), `run` (a batch of inputs → a batch of outputs) and `finish` (a `Prepared`
and its output row → a `Prediction`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Prediction:
    """One answered instance: the model's answer, and what is safe to keep about its input."""

    confidences: dict[str, float] | None = None  # classifiers: {label: probability}, in label order
    value: float | None = None  # regressors: the model's own output (e.g. in $100,000)
    inputs: dict[str, Any] = field(default_factory=dict)  # descriptors, text or form values for the traffic log
    notes: list[str] = field(default_factory=list)  # what the user should know (first frame of a GIF, ...)
    view: np.ndarray | None = field(default=None, repr=False)  # images: what the model saw, enlarged
    tokens: list[str] | None = None  # texts: the words the model read
    pixels: np.ndarray | None = field(default=None, repr=False)  # images: the model input (logged only on request)
    output: np.ndarray | None = field(default=None, repr=False)  # the model's raw output row (float32), for REST

    @property
    def top(self) -> tuple[str, float]:
        """The most likely label and its probability (classifiers)."""
        assert self.confidences, "a regressor's prediction has no top label"
        label = max(self.confidences, key=self.confidences.__getitem__)
        return label, self.confidences[label]

    @property
    def answer(self) -> str | float:
        """The prediction as the log and the metrics see it: the top label, or the value."""
        return self.top[0] if self.confidences else float(self.value if self.value is not None else np.nan)

    @property
    def confidence(self) -> float | None:
        """The top label's probability (None for a regressor)."""
        return self.top[1] if self.confidences else None


@dataclass
class Prepared:
    """One instance made ready for the model: its input (batch of one), and what `finish` needs besides the output."""

    inputs: np.ndarray  # (1, ...) as the model takes it
    notes: list[str] = field(default_factory=list)  # for the user (first frame of a GIF, words cut, ...)
    context: Any = None  # what the model class keeps for `finish` (the text and its tokens, ...)
