"""TF Serving REST adapters: how one JSON instance becomes what a model answers, for each kind of input, and how a
prediction goes back as JSON. Each adapter wraps the model's `Service`, so an instance goes through the same
decoding, checks and record whether it comes from the page or from the API.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shared.artifact import Feature, ImageInput, ModelSpec, TabularInput, TextInput
from shared.classifier import ModelInput
from shared.errors import InputError
from shared.feedback import parse_feedback
from shared.images import pixel_budget
from shared.prediction import Prediction
from shared.service import Service

SIGNATURE = "serving_default"
# Names in the exported SavedModel's serving_default signature (Keras `model.export`, one output).
OUTPUT_KEY, OUTPUT_TENSOR = "output_0", "StatefulPartitionedCall_1:0"


def tensor_info(dtype: str, shape: Sequence[int], name: str) -> dict:
    """A TensorInfo as TF Serving writes it in JSON (sizes are strings: int64 in proto3 JSON)."""
    dims = [{"size": str(size), "name": ""} for size in shape]
    return {"dtype": dtype, "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": name}


def float32_values(values: np.ndarray) -> list[float]:
    """A model output row as JSON numbers, written as float32's shortest form (0.1, not 0.10000000149011612)."""
    return [float(str(value)) for value in np.asarray(values, dtype=np.float32).reshape(-1)]


class Adapter:
    """A model served over REST: TF Serving's metadata, and `predict` for JSON instances through its Service.

    A subclass says what one instance is (`decode`), how it is sent (`instance_forms`) and what the signature's
    input tensor is (`input_tensor`).
    """

    instance_forms: tuple[str, ...] = ()

    def __init__(self, service: Service) -> None:
        self.service = service
        self.spec: ModelSpec = service.spec
        self.name = self.spec.name
        self.version = self.spec.version

    def decode(self, instance: object) -> Any:
        """What the model answers for one JSON instance.

        Raises:
            InputError: the instance is malformed (one sentence, without its index).
        """
        raise NotImplementedError

    def input_tensor(self) -> tuple[str, list[int]]:
        """The signature input's dtype and shape, batch first (-1), e.g. `("DT_FLOAT", [-1, 28, 28, 1])`."""
        raise NotImplementedError

    def output(self, prediction: Prediction) -> list[float]:
        """One prediction as TF Serving would return it: class probabilities in label order, or `[value]`."""
        if prediction.confidences is not None:
            return float32_values(np.array([prediction.confidences[label] for label in self.spec.labels]))
        return float32_values(np.array([prediction.value]))

    def output_shape(self) -> list[int]:
        """The output's shape, batch first: a probability per label, or one value."""
        return [-1, len(self.spec.labels) if self.spec.labels else 1]

    def output_row(self, prediction: Prediction) -> np.ndarray:
        """`output` as float32 (the model's own row when it kept one), which `orjson` writes in float32's shortest
        form."""
        if prediction.output is not None:
            return np.asarray(prediction.output, dtype=np.float32).reshape(-1)
        return np.asarray(self.output(prediction), dtype=np.float32)

    def request_scope(self) -> contextlib.AbstractContextManager:
        """A context around decoding one request's instances (an image model's pixel budget)."""
        return contextlib.nullcontext()

    def input_name(self) -> str:
        """The SavedModel signature's input name (TF Serving's `{"<input name>": value}` form uses it)."""
        return self.spec.signature_input

    def _unwrap(self, instance: object) -> Any:
        if isinstance(instance, dict) and list(instance) == [self.input_name()]:
            instance = instance[self.input_name()]  # TF Serving's {"<input name>": value} form
        return self.decode(instance)

    def predict(self, instances: list) -> list:
        """One prediction per instance, answered (and recorded) by the model's Service as endpoint `rest`.

        Raises:
            InputError: no instances, or an instance that cannot be answered (the message names its index).
        """
        if not isinstance(instances, list) or not instances:
            raise InputError("There is nothing to predict: send a non-empty list of instances.")
        with self.request_scope():
            predictions = self.service.answer("rest", instances, decode=self._unwrap, name_index=True)
        return [self.output(prediction) for prediction in predictions]

    async def predict_async(self, instances: list, *, in_thread: bool = False) -> tuple[list[np.ndarray], str]:
        """`predict` for the event loop: the instances are decoded there (in a worker thread with `in_thread`, or
        when one is too big), and the model call is shared with concurrent requests (`Service.answer_async`).
        Returns the output rows and the request's id (which feedback refers to).

        Raises:
            InputError: no instances, or an instance that cannot be answered (the message names its index).
        """
        if not isinstance(instances, list) or not instances:
            raise InputError("There is nothing to predict: send a non-empty list of instances.")
        predictions = await self.service.answer_async(
            "rest", instances, decode=self._unwrap, name_index=True, scope=self.request_scope, in_thread=in_thread
        )
        return [self.output_row(prediction) for prediction in predictions], predictions.request_id

    def feedback(self, payload: object) -> dict[str, Any]:
        """Record a `:feedback` body (`shared.feedback.parse_feedback`) as endpoint `rest`; the answer says what was
        recorded.

        Raises:
            UnknownRequest: the model answered no such request (404).
            InputError: a malformed body, an unknown label or one contradicting the verdict (400).
        """
        request, instance, correct, label = parse_feedback(payload)
        verdict = self.service.feedback("rest", request, correct=correct, label=label, instance=instance)
        return {
            "request_id": verdict.request,
            "instance": verdict.instance,
            "correct": verdict.correct,
            "label": verdict.label,
            "prediction": verdict.predicted,
        }

    def explain(self, instances: list) -> list[dict]:
        """One explanation per instance (its predicted label and the weights, `shared.explain`), answered and recorded
        by the model's Service as endpoint `rest_explain`.

        Raises:
            InputError: no instances, a model that is not a classifier, or an instance that cannot be answered (the
                message names its index).
        """
        if not isinstance(instances, list) or not instances:
            raise InputError("There is nothing to explain: send a non-empty list of instances.")
        with self.request_scope():
            answers = self.service.explain("rest_explain", instances, decode=self._unwrap, name_index=True)
        return [explanation.to_json() for _, explanation in answers]

    def details(self) -> dict:
        """What TF Serving's metadata cannot say: task, how to send an instance, labels or target, input ranges."""
        details: dict[str, Any] = {"task": self.spec.task, "instances": list(self.instance_forms)}
        if self.spec.labels:
            details["labels"] = self.spec.labels
        if self.spec.target is not None:
            details["target"] = self.spec.target.model_dump()
        details["input"] = self.spec.input.model_dump()
        details["data_source"] = self.spec.data.source
        details["metrics"] = self.spec.metrics
        return details

    def metadata(self) -> dict:
        """TF Serving's metadata of the `serving_default` signature, plus `details()` under `spacesuite`."""
        dtype, shape = self.input_tensor()
        name = self.input_name()
        signature = {
            "inputs": {name: tensor_info(dtype, shape, f"serving_default_{name}:0")},
            "outputs": {OUTPUT_KEY: tensor_info("DT_FLOAT", self.output_shape(), OUTPUT_TENSOR)},
            "method_name": "tensorflow/serving/predict",
        }
        return {"signature_def": {"signature_def": {SIGNATURE: signature}}, "spacesuite": self.details()}


def decode_base64(instance: Mapping) -> bytes:
    """The bytes of TF Serving's binary form `{"b64": "<base64>"}` (standard or web-safe alphabet, padding optional).

    Raises:
        InputError: another key, a non-string, invalid base64 or nothing encoded.
    """
    value = instance.get("b64")
    if len(instance) != 1 or not isinstance(value, str):
        raise InputError('Binary data must be sent as {"b64": "<base64 string>"} with no other key.')
    text = "".join(value.split()).replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InputError("The b64 value is not valid base64.") from error
    if not data:
        raise InputError("The b64 value is empty.")
    return data


def pixel_tensor(instance: list, shape: tuple[int, ...]) -> np.ndarray:
    """Check a nested list of numbers shaped like the model input (H, W, C) in [0, 1]; return it as float32.

    Raises:
        InputError: ragged, wrongly shaped, not all numbers, NaN or infinite, or outside [0, 1].
    """
    expected = "×".join(map(str, shape))
    try:
        array = np.asarray(instance)
    except (ValueError, TypeError, OverflowError, RecursionError) as error:  # ragged, or an integer of 400 digits
        raise InputError(f"The pixels are not a regular nested list: expected {expected} numbers.") from error
    if array.shape != shape:
        raise InputError(f"The pixels have shape {'×'.join(map(str, array.shape))}, expected {expected}.")
    if array.dtype.kind not in "iuf":
        raise InputError("The pixels must all be numbers.")
    if not np.isfinite(array).all():
        raise InputError("The pixels must be finite numbers (no NaN or infinity).")
    if array.min() < 0 or array.max() > 1:
        raise InputError(f"The pixels must lie in [0, 1], not {array.min():g} to {array.max():g}.")
    return array.astype(np.float32)


class ImageAdapter(Adapter):
    """An image classifier: an instance is an image file as `{"b64": ...}` or the model input as nested floats.

    A file is decoded and preprocessed exactly as the page does it; nested floats (H, W, C) in [0, 1] go to the
    model as they are (for a digit model, already framed like MNIST).
    """

    instance_forms = ('{"b64": "<base64 of a PNG, JPEG, WebP, GIF, BMP or TIFF file>"}', "[[[float]]]: H×W×C in [0, 1]")

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        spec_input = self.spec.input
        assert isinstance(spec_input, ImageInput)
        self.shape = (spec_input.height, spec_input.width, spec_input.channels)

    def request_scope(self) -> contextlib.AbstractContextManager:
        """The images of one request share `limits.MAX_REQUEST_PIXELS` decoded pixels."""
        return pixel_budget()

    def input_tensor(self) -> tuple[str, list[int]]:
        """Float32 pixels, (batch, height, width, channels)."""
        return "DT_FLOAT", [-1, *self.shape]

    def decode(self, instance: object) -> Any:
        """The bytes of a `{"b64": ...}` image file, or the checked pixels of a nested list."""
        if isinstance(instance, dict):
            return decode_base64(instance)
        if isinstance(instance, list):
            return ModelInput(pixel_tensor(instance, self.shape))
        raise InputError(
            'An image instance is {"b64": "<base64 of an image file>"} '
            f"or a {'×'.join(map(str, self.shape))} nested list of numbers in [0, 1]."
        )


def json_value(value: object, feature: Feature) -> object:
    """What `check_features` gets for one JSON value: a number or boolean as is, a category's choice as a string,
    null for an empty optional feature; anything else as None (reported as not a number; numbers written as
    strings are not accepted here)."""
    if isinstance(value, int | float) or (feature.kind == "category" and isinstance(value, str)):
        return value
    return None


def row_values(instance: object, features: list[Feature]) -> list[object]:
    """A feature row's values in order, from a list in order or an object by feature name.

    Raises:
        InputError: neither a list nor an object, or an object naming an unknown feature.
    """
    names = [feature.name for feature in features]
    if isinstance(instance, dict):
        unknown = sorted(str(key) for key in set(instance) - set(names))
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            shown = ", ".join(key[:40] for key in unknown[:5]) + more
            raise InputError(f"Unknown feature {shown}: the features are {', '.join(names)}.")
        instance = [instance.get(name) for name in names]
    if not isinstance(instance, list):
        raise InputError(f"A row is a list of {len(names)} values ({', '.join(names)}) or an object by name.")
    if len(instance) != len(features):
        return list(instance)  # check_features names the count
    return [json_value(value, feature) for value, feature in zip(instance, features, strict=True)]


class TabularAdapter(Adapter):
    """A tabular model (classifier or regressor): an instance is the features in order, or an object by name.

    Values are checked like the page's form (missing, not a number, NaN, infinite or outside the training range). A
    regressor's prediction is `[value]` in the model's own units (not multiplied by `target.scale`).
    """

    instance_forms = (
        "[value, ...]: every feature, in order (a number; a category's choice as a string; null when optional)",
        '{"<feature name>": value, ...}: every feature',
    )

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        assert isinstance(self.spec.input, TabularInput)
        self.features = self.spec.input.features

    def input_tensor(self) -> tuple[str, list[int]]:
        """Float32 features, (batch, features)."""
        return "DT_FLOAT", [-1, len(self.features)]

    def decode(self, instance: object) -> Any:
        """The row's values in feature order."""
        return row_values(instance, self.features)


class TextAdapter(Adapter):
    """A text classifier: an instance is a string, preprocessed by `shared.text` exactly as the page does it.

    The metadata describes the exported SavedModel's `serving_default`, what TF Serving answers: strings when its
    graph holds the text steps (`TextInput.saved_model_input`), else int32 token ids. This API takes strings either way.
    """

    instance_forms = ('"<text>": one string, at most 5,000 characters',)

    def _takes_text(self) -> bool:
        assert isinstance(self.spec.input, TextInput)
        return self.spec.input.saved_model_input == "text"

    def input_name(self) -> str:
        """`text` when the SavedModel takes strings, else the id input's name."""
        return "text" if self._takes_text() else self.spec.signature_input

    def input_tensor(self) -> tuple[str, list[int]]:
        """Strings, one per instance; or (batch, sequence_length) int32 ids when the SavedModel takes ids."""
        if self._takes_text():
            return "DT_STRING", [-1]
        assert isinstance(self.spec.input, TextInput)
        return "DT_INT32", [-1, self.spec.input.sequence_length]

    def details(self) -> dict:
        """The common details, plus what TF Serving's copy of the model takes."""
        details = super().details()
        details["tf_serving_instances"] = (
            "one string per instance (the SavedModel tokenizes)"
            if self._takes_text()
            else "token ids from shared.text.preprocess (its steps include one without a TF op, such as stemming)"
        )
        return details

    def decode(self, instance: object) -> Any:
        """The string itself."""
        if not isinstance(instance, str):
            raise InputError("A text instance is a JSON string.")
        return instance


ADAPTERS: dict[str, type[Adapter]] = {"image": ImageAdapter, "tabular": TabularAdapter, "text": TextAdapter}


def adapters(services: Mapping[str, Service]) -> dict[str, Adapter]:
    """A REST adapter for every service, chosen by the kind of its model's input."""
    return {name: ADAPTERS[service.spec.input.kind](service) for name, service in services.items()}
