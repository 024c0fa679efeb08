"""Run an exported .tflite model on LiteRT: loaded once, called per request."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from shared.artifact import ModelSpec
from shared.errors import ArtifactError


class Predictor:
    """A LiteRT model plus its spec; `predict` takes a batch shaped like the model input."""

    def __init__(self, spec: ModelSpec, model_path: Path, *, num_threads: int = 2) -> None:
        if not Path(model_path).is_file():
            raise ArtifactError(f"{model_path} is missing: run the pipeline (dvc repro) to build the model.")
        self.spec = spec
        self.model_path = Path(model_path)
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._runner = self._interpreter.get_signature_runner("serving_default")
        outputs = self._interpreter.get_signature_list()["serving_default"]["outputs"]
        self._output_name = outputs[0]
        inputs = self._runner.get_input_details()
        self._input_dtype = np.dtype(next(iter(inputs.values()))["dtype"]) if inputs else np.dtype(np.float32)
        self._lock = threading.Lock()  # an interpreter must not be invoked from two threads at once

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
        (N, classes) or values (N, 1)."""
        batch = np.ascontiguousarray(inputs, dtype=self._input_dtype)
        with self._lock:
            result = self._runner(**{self.spec.signature_input: batch})
        return np.asarray(result[self._output_name])

    def confidences(self, probabilities: np.ndarray) -> dict[str, float]:
        """Map one row of probabilities to {label: probability}, the shape gr.Label shows."""
        return {label: float(p) for label, p in zip(self.spec.labels, probabilities, strict=True)}
