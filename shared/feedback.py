"""Feedback on answers: a user says an answer was right, or wrong and which label it was. A feedback refers to the
request it judges by the id the answer carried (`request_id` in a REST answer, kept by the page), so the drift job
can join it to the logged answer and measure live accuracy.

A model's `Service` remembers which labels it predicted for its last `FEEDBACK_REQUESTS` answered requests
(`RecentAnswers`): feedback on an id it does not know, on an instance the request did not have, or naming a label the
model does not know is refused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import InputError

if TYPE_CHECKING:
    from shared.artifact import ModelSpec

FEEDBACK = "feedback"  # the outcome of a feedback line in the traffic log
RIGHT, WRONG = "right", "wrong"  # verdicts (the Prometheus label)
MAX_ID_CHARS = 64
# budgets of feedback (here, not in shared.limits, which every pipeline stage depends on)
FEEDBACK_REQUESTS = 10_000  # answered request ids a model remembers for feedback (~1 MB); older ones are refused
MAX_FEEDBACK_BYTES = 4 * 1024  # a :feedback body (an id, a verdict and a label)


class UnknownRequest(InputError):
    """Feedback names a request id this model has not answered (or answered too long ago to remember)."""


@dataclass(frozen=True)
class Feedback:
    """One user's verdict on one answered instance: the request and instance it judges, whether the prediction was
    right, the true label and the label predicted."""

    spec: ModelSpec
    endpoint: str  # where the feedback came from: rest, or the page's event
    request: str
    instance: int
    correct: bool
    label: str  # the true label: the prediction when correct, the one the user named otherwise
    predicted: str

    @property
    def model(self) -> str:
        """The model's name."""
        return self.spec.name

    @property
    def verdict(self) -> str:
        """`right` or `wrong`."""
        return RIGHT if self.correct else WRONG


class RecentAnswers:
    """The predicted labels of a model's last `capacity` answered requests, by request id (thread-safe)."""

    def __init__(self, capacity: int = FEEDBACK_REQUESTS) -> None:
        self.capacity = capacity
        self._labels: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, request: str, labels: list[str]) -> None:
        """Keep the labels predicted for a request's instances (the oldest request is forgotten beyond capacity)."""
        with self._lock:
            self._labels[request] = labels
            while len(self._labels) > self.capacity:
                self._labels.popitem(last=False)

    def predicted(self, request: str, instance: int) -> str:
        """The label predicted for one instance of a request.

        Raises:
            UnknownRequest: no such request (or it was forgotten).
            InputError: the request had no such instance.
        """
        with self._lock:
            labels = self._labels.get(request)
        if labels is None:
            raise UnknownRequest(
                f"No answer with request_id {request[:MAX_ID_CHARS]!r}: send the id an answer of this model returned "
                f"(the last {self.capacity:,} are remembered)."
            )
        if not 0 <= instance < len(labels):
            last = len(labels) - 1
            raise InputError(f"Request {request} had {len(labels)} instance(s): instance must be 0 to {last}.")
        return labels[instance]


def judged(spec: ModelSpec, predicted: str, correct: bool, label: str | None) -> str:
    """The true label a verdict says: the prediction when correct, the named label when wrong.

    Raises:
        InputError: a label the model does not know, no label with a wrong verdict, or a label contradicting it.
    """
    if label is not None and label not in spec.labels:
        raise InputError(f"Unknown label {label[:100]!r}: {spec.name} knows {', '.join(spec.labels)}.")
    if correct:
        if label is not None and label != predicted:
            raise InputError(f"The answer was {predicted!r}: correct feedback cannot name another label ({label!r}).")
        return predicted
    if label is None:
        raise InputError('Say which label it was: "label" is required when "correct" is false.')
    if label == predicted:
        raise InputError(f"The answer was {label!r}: wrong feedback must name another label.")
    return label


def parse_feedback(payload: Any) -> tuple[str, int, bool, str | None]:
    """(request id, instance, correct, label) of a `:feedback` body
    `{"request_id": str, "correct": bool, "label": str (required when wrong), "instance": int (default 0)}`.

    Raises:
        InputError: not such an object (one sentence saying which field is wrong).
    """
    if not isinstance(payload, dict):
        raise InputError('The feedback must be a JSON object: {"request_id": ..., "correct": true|false}.')
    unknown = sorted(set(payload) - {"request_id", "correct", "label", "instance"})
    if unknown:
        raise InputError(f"Unknown feedback field(s): {', '.join(str(key)[:50] for key in unknown)}.")
    request, correct = payload.get("request_id"), payload.get("correct")
    label, instance = payload.get("label"), payload.get("instance", 0)
    if not isinstance(request, str) or not request or len(request) > MAX_ID_CHARS:
        raise InputError('"request_id" must be the id (a string) an answer returned.')
    if not isinstance(correct, bool):
        raise InputError('"correct" must be true or false.')
    if label is not None and not isinstance(label, str):
        raise InputError('"label" must be a string: one of the model\'s labels.')
    if isinstance(instance, bool) or not isinstance(instance, int):
        raise InputError('"instance" must be an integer: which instance of the request (default 0).')
    return request, instance, correct, label
