"""Run an exported .tflite model on LiteRT: loaded once, called per request.

An interpreter is never resized while serving: LiteRT reallocates its tensors (and XNNPACK re-plans) whenever an
input's shape changes, which cost a MobileNetV2 more than the call itself when micro-batches of every size came.
Instead, each model gets interpreters allocated once for a few fixed batch sizes (`batch_sizes`), and a batch runs
as chunks of those sizes, largest first, so no row is padded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from shared.artifact import ModelSpec
from shared.errors import ArtifactError

MAX_FIXED_BATCH = 8  # the largest batch an interpreter is allocated for
# Rows of more input values than this run one at a time: batching them saves nothing on a CPU (a MobileNetV2's
# 150,528 values per row: 8 rows take 8× as long as one), and each further interpreter would hold its own tensors.
BATCHED_ROW_VALUES = 32_768


def batch_sizes(row_values: int) -> tuple[int, ...]:
    """The batch sizes a model's interpreters are allocated for, given the input values of one row."""
    if row_values > BATCHED_ROW_VALUES:
        return (1,)
    return tuple(2**power for power in range(MAX_FIXED_BATCH.bit_length()))


class Predictor:
    """A LiteRT model plus its spec; `predict` takes a batch shaped like the model input."""

    def __init__(self, spec: ModelSpec, model_path: Path, *, num_threads: int = 2) -> None:
        if not Path(model_path).is_file():
            raise ArtifactError(f"{model_path} is missing: run the pipeline (dvc repro) to build the model.")
        self.spec = spec
        self.model_path = Path(model_path)
        self._num_threads = num_threads
        first = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._output_name = first.get_signature_list()["serving_default"]["outputs"][0]
        details = first.get_signature_runner("serving_default").get_input_details()[spec.signature_input]
        self._input_dtype = np.dtype(details["dtype"])
        self._row_shape = [int(side) for side in details["shape_signature"][1:]]
        self.batch_sizes = batch_sizes(int(np.prod(self._row_shape)))
        self._runners = {size: self._allocated(size, first if size == 1 else None) for size in self.batch_sizes}
        self._lock = threading.Lock()  # an interpreter must not be invoked from two threads at once

    def _allocated(self, size: int, interpreter: Interpreter | None = None) -> Any:
        """A signature runner whose interpreter (`interpreter`, or a new one) holds tensors for batches of `size`."""
        interpreter = interpreter or Interpreter(model_path=str(self.model_path), num_threads=self._num_threads)
        index = interpreter.get_signature_runner("serving_default").get_input_details()[self.spec.signature_input]
        interpreter.resize_tensor_input(index["index"], [size, *self._row_shape])
        interpreter.allocate_tensors()
        return interpreter.get_signature_runner("serving_default")

    @classmethod
    def from_artifact(cls, folder: Path, *, quantized: bool = False, num_threads: int = 2) -> Predictor:
        """Load `folder/spec.json` and the float (or dynamic-range quantized) .tflite it names."""
        spec = ModelSpec.load(folder)
        role = "tflite_quantized" if quantized else "tflite"
        if role not in spec.files:
            raise ArtifactError(f"{folder}/spec.json names no {role} file")
        return cls(spec, Path(folder) / spec.files[role], num_threads=num_threads)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """The model's output for a batch (float32 pixels or features, int32 token ids): class probabilities
        (N, classes) or values (N, 1). The batch runs as chunks of the allocated sizes, largest first."""
        batch = np.ascontiguousarray(inputs, dtype=self._input_dtype)
        outputs, start = [], 0
        with self._lock:
            while start < len(batch):
                size = max(size for size in self.batch_sizes if size <= len(batch) - start)
                result = self._runners[size](**{self.spec.signature_input: batch[start : start + size]})
                outputs.append(np.asarray(result[self._output_name]))
                start += size
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def confidences(self, probabilities: np.ndarray) -> dict[str, float]:
        """Map one row of probabilities to {label: probability}, the shape gr.Label shows."""
        return {label: float(p) for label, p in zip(self.spec.labels, probabilities, strict=True)}
