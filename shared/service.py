"""One serving path for every request, from the page or the REST API: a model's `Service` answers instances and
produces one `Record` per request, which every sink consumes — the Prometheus metrics and the traffic log alike.

The model classes (image, text, tabular classifiers, the regressor) answer one instance with a
`shared.prediction.Prediction`, in three steps (`prepare`, `run`, `finish`) so that `answer_async` (REST) can run
the model inputs of concurrent requests in one model call (`shared.batching`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shared.artifact import SPEC_FILE, ModelSpec
from shared.batching import MicroBatcher
from shared.errors import ArtifactError, InputError, NeedsWorkerThread
from shared.explain import Explanation, explain
from shared.feedback import Feedback, RecentAnswers, judged
from shared.prediction import Prediction, Prepared

logger = logging.getLogger(__name__)


class Model(Protocol):
    """What a Service serves: a spec and an answer per instance."""

    spec: ModelSpec
    folder: Path

    def predict_one(self, instance: Any) -> Prediction:
        """Answer one instance (InputError when it cannot be answered as it is)."""

    def prepare(self, instance: Any) -> Prepared:
        """One instance made ready for the model (InputError when it cannot be answered as it is)."""

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's outputs for a batch of prepared inputs, row for row."""

    def finish(self, prepared: Prepared, output: np.ndarray) -> Prediction:
        """The prediction for one prepared instance and its output row."""


def new_request_id() -> str:
    """A fresh request id (16 hex digits)."""
    return uuid.uuid4().hex[:16]


@dataclass
class Record:
    """One request, as every sink sees it: the model, the endpoint, how it ended, how long it took, the answers."""

    spec: ModelSpec
    endpoint: str
    outcome: str  # ok, input_error (the user's), error (ours)
    latency_s: float
    predictions: list[Prediction]
    error: str = ""
    explanation: bool = False  # an `explain` request: its answers were (or will be) counted by a `predict` too
    id: str = field(default_factory=new_request_id)  # links the log's lines of one request, and feedback on it

    @property
    def model(self) -> str:
        """The model's name."""
        return self.spec.name


class Answers(list[Prediction]):
    """The predictions of one request, with the request's id (which feedback on them refers to)."""

    def __init__(self, predictions: Sequence[Prediction] = (), request_id: str = "") -> None:
        super().__init__(predictions)
        self.request_id = request_id


Sink = Callable[[Record], None]
FeedbackSink = Callable[[Feedback], None]
SINKS: list[Sink] = []
FEEDBACK_SINKS: list[FeedbackSink] = []


def add_sink(sink: Sink, feedback: FeedbackSink | None = None) -> None:
    """Let `sink` see every request's record, and `feedback` every feedback (once each; the metrics and the traffic
    log register themselves)."""
    if sink not in SINKS:
        SINKS.append(sink)
    if feedback is not None and feedback not in FEEDBACK_SINKS:
        FEEDBACK_SINKS.append(feedback)


def publish(record: Record | Feedback) -> None:
    """Hand a record (or a feedback) to every sink of its kind; a failing sink is logged and never turns an answer
    into an error."""
    sinks: Sequence[Callable[[Any], None]] = FEEDBACK_SINKS if isinstance(record, Feedback) else SINKS
    for sink in sinks:
        try:
            sink(record)
        except Exception:
            logger.exception("%s failed on a record of %s", getattr(sink, "__qualname__", sink), record.model)


class Service:
    """A model answering requests: `answer` is the one call the page and the REST API both make."""

    def __init__(self, model: Model) -> None:
        self.model = model
        # concurrent REST requests share model calls (a model class without `run` answers one instance at a time)
        self.batcher = MicroBatcher(model.run, name=model.spec.name) if hasattr(model, "run") else None
        self.answered = RecentAnswers()  # what feedback may refer to (classifiers)
        from shared import metrics, traffic  # the two sinks; imported here so that they can import this module

        add_sink(metrics.observe, metrics.count_feedback)
        add_sink(traffic.log_record, traffic.log_feedback)

    @property
    def spec(self) -> ModelSpec:
        """The served model's self-description."""
        return self.model.spec

    @property
    def folder(self) -> Path:
        """The served model's folder."""
        return self.model.folder

    @contextlib.contextmanager
    def _recorded(self, endpoint: str, *, explanation: bool = False, for_feedback: bool = True) -> Iterator[Answers]:
        """Time the block, and publish one record of how it ended with the predictions it appended; an answered
        classifier request is remembered `for_feedback`."""
        start = time.perf_counter()
        predictions = Answers(request_id=new_request_id())
        outcome, error = "error", ""
        try:
            yield predictions
            outcome = "ok"
        except InputError as refusal:
            outcome, error = "input_error", str(refusal)
            raise
        except Exception as failure:
            error = type(failure).__name__  # the details go to the server log, never to the record
            raise
        finally:
            answered = predictions if outcome == "ok" else []  # a refused request is one record, without answers
            if answered and self.spec.labels and for_feedback:
                self.answered.remember(predictions.request_id, [str(p.answer) for p in answered])
            latency = time.perf_counter() - start
            answer = list(answered)
            publish(Record(self.spec, endpoint, outcome, latency, answer, error, explanation, predictions.request_id))

    def feedback(
        self, endpoint: str, request_id: str, *, correct: bool, label: str | None = None, instance: int = 0
    ) -> Feedback:
        """Record a user's verdict on one answered instance (published to the metrics and the traffic log).

        Raises:
            UnknownRequest: the model did not answer that request (or too long ago to remember it).
            InputError: not a classifier, no such instance, an unknown label, or a label contradicting the verdict.
        """
        if not self.spec.labels:
            raise InputError(f"{self.spec.name} answers with a number: feedback takes a classifier's answers only.")
        predicted = self.answered.predicted(request_id, instance)
        true_label = judged(self.spec, predicted, correct, label)
        verdict = Feedback(self.spec, endpoint, request_id, instance, correct, true_label, predicted)
        publish(verdict)
        return verdict

    def refuse(self, endpoint: str, message: str, seconds: float = 0.0) -> None:
        """Record a request refused before any instance was read (malformed JSON, too large, too many instances)."""
        publish(Record(self.spec, endpoint, "input_error", seconds, [], message))

    def answer(
        self,
        endpoint: str,
        instances: Sequence[Any],
        decode: Callable[[Any], Any] | None = None,
        *,
        name_index: bool = False,
    ) -> Answers:
        """Answer every instance (each decoded first, when `decode` is given) and record the request; the answers
        carry the request's id.

        Raises:
            InputError: an instance cannot be answered; the message names its index with `name_index` (REST).
        """
        with self._recorded(endpoint) as predictions:
            _each(self.model.predict_one, instances, decode, name_index, into=predictions)
        return predictions

    def answer_many(self, endpoint: str, instances: Sequence[Any]) -> Answers:
        """`answer` for many instances at once (a CSV of rows): each is prepared (checked) in turn, then all of them
        go through the model in one `run` (a scikit-learn pipeline costs ~10 ms a call, whatever its rows); recorded
        as one request, which feedback cannot refer to (thousands of answers per id would crowd out the remembered
        requests, 64 answers at most each).

        Raises:
            InputError: an instance cannot be answered; the message names its index.
        """
        with self._recorded(endpoint, for_feedback=False) as predictions:
            prepared = self.prepare(instances, name_index=True)
            if prepared:
                outputs = self.model.run(np.concatenate([p.inputs for p in prepared]))
                predictions.extend(self.model.finish(p, row) for p, row in zip(prepared, outputs, strict=True))
        return predictions

    def explain(
        self,
        endpoint: str,
        instances: Sequence[Any],
        decode: Callable[[Any], Any] | None = None,
        *,
        name_index: bool = False,
    ) -> list[tuple[Prediction, Explanation]]:
        """Answer and explain every instance (`shared.explain`: forward passes only), recorded as one explanation
        request (counted, timed and logged, but not counted again in the class mix or the drift job).

        Raises:
            InputError: the model is not a classifier, or an instance cannot be answered; the message names its index
                with `name_index` (REST).
        """
        answers: list[tuple[Prediction, Explanation]] = []
        with self._recorded(endpoint, explanation=True) as predictions:
            _each(functools.partial(explain, self.model), instances, decode, name_index, into=answers)
            predictions.extend(prediction for prediction, _ in answers)
        return answers

    def prepare(
        self,
        instances: Sequence[Any],
        decode: Callable[[Any], Any] | None = None,
        *,
        name_index: bool = False,
        scope: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> list[Prepared]:
        """Every instance decoded and made ready for the model, inside `scope()` (a request's budget).

        Raises:
            InputError: an instance cannot be answered; the message names its index with `name_index` (REST).
            NeedsWorkerThread: called on the event loop, and an instance is too big to prepare there.
        """
        prepared: list[Prepared] = []
        with scope():
            _each(self.model.prepare, instances, decode, name_index, into=prepared)
        return prepared

    async def answer_async(
        self,
        endpoint: str,
        instances: Sequence[Any],
        decode: Callable[[Any], Any] | None = None,
        *,
        name_index: bool = False,
        scope: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        in_thread: bool = False,
    ) -> Answers:
        """`answer` for a caller on the event loop: the instances are prepared right there (in a worker thread with
        `in_thread`, or when one is too big for the loop), and their model inputs join the concurrent requests' in
        one model call; the request is recorded once, as `answer` does.

        Raises:
            InputError: an instance cannot be answered; the message names its index with `name_index` (REST).
        """
        with self._recorded(endpoint) as predictions:
            prepared = None
            if not in_thread:
                with contextlib.suppress(NeedsWorkerThread):
                    prepared = self.prepare(instances, decode, name_index=name_index, scope=scope)
            if prepared is None:
                prepared = await asyncio.to_thread(self.prepare, instances, decode, name_index=name_index, scope=scope)
            inputs = prepared[0].inputs if len(prepared) == 1 else np.concatenate([p.inputs for p in prepared])
            assert self.batcher is not None, f"{self.spec.name}: its model class has no `run`"
            outputs = await self.batcher.submit(inputs)
            predictions.extend(self.model.finish(p, row) for p, row in zip(prepared, outputs, strict=True))
        return predictions


def load_model(folder: Path) -> Model:
    """The model class a model folder's task needs (its spec.json says which), loaded once.

    Raises:
        ArtifactError: the folder holds no model, or a task no class serves.
    """
    spec = ModelSpec.load(folder)
    if spec.task == "image-classification":
        from shared.classifier import ImageClassifier

        return ImageClassifier.from_artifact(folder)
    if spec.task == "text-classification":
        from shared.text_classifier import TextClassifier

        return TextClassifier.from_artifact(folder)
    if spec.task == "regression":
        from shared.regressor import TabularRegressor

        return TabularRegressor.from_artifact(folder)
    if spec.task == "tabular-classification":
        from shared.sklearn_classifier import TabularClassifier  # scikit-learn: only Spaces that carry such a model

        return TabularClassifier.from_artifact(folder)
    raise ArtifactError(f"{folder}: no model class serves task {spec.task}")


def load_services(model_dir: Path) -> dict[str, Service]:
    """A Service per model of a Space's model folder (`model/spec.json`, or `model/<model>/spec.json` each).

    Raises:
        ArtifactError: no model in the folder, or a task no class serves.
    """
    model_dir = Path(model_dir)
    if (model_dir / SPEC_FILE).is_file():
        folders = [model_dir]
    else:
        folders = sorted(p for p in model_dir.iterdir() if (p / SPEC_FILE).is_file()) if model_dir.is_dir() else []
    if not folders:
        raise ArtifactError(f"{model_dir} holds no model (spec.json): run the pipeline (dvc repro) to build it.")
    services = [Service(load_model(folder)) for folder in folders]
    return {service.spec.name: service for service in services}


def _each(
    step: Callable[[Any], Any],
    instances: Sequence[Any],
    decode: Callable[[Any], Any] | None,
    name_index: bool,
    *,
    into: list,
) -> None:
    """Append `step` of every instance (decoded first, when `decode` is given) to `into`, as far as it gets; a
    refusal names the instance's index when `name_index` (REST)."""
    for index, instance in enumerate(instances):
        try:
            into.append(step(decode(instance) if decode else instance))
        except InputError as refusal:
            raise InputError(f"Instance {index}: {refusal}" if name_index else str(refusal)) from None
