"""A text classifier service: loads once, answers one text at a time (what the emotion Space calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.artifact import ModelSpec, TextInput
from shared.descriptors import text_descriptors
from shared.errors import ArtifactError, InputError
from shared.prediction import Prediction, Prepared
from shared.predictor import Predictor
from shared.text import Vocabulary, preprocess


class TextClassifier:
    """`shared.text.preprocess` (the steps training used, from spec.json) → LiteRT → labelled probabilities."""

    def __init__(self, predictor: Predictor, vocabulary: Vocabulary) -> None:
        if not isinstance(predictor.spec.input, TextInput):
            raise ArtifactError(f"{predictor.model_path} is not a text model (input {predictor.spec.input.kind})")
        self.predictor = predictor
        self.vocabulary = vocabulary

    @classmethod
    def from_artifact(cls, folder: Path, *, quantized: bool = False) -> TextClassifier:
        """Load the model folder written by the pipeline (spec.json, .tflite and the vocabulary)."""
        predictor = Predictor.from_artifact(folder, quantized=quantized)
        spec_input = predictor.spec.input
        if not isinstance(spec_input, TextInput):
            raise ArtifactError(f"{folder} is not a text model (input {spec_input.kind})")
        return cls(predictor, Vocabulary.load(Path(folder) / spec_input.vocabulary))

    @property
    def spec(self) -> ModelSpec:
        """The model's self-description."""
        return self.predictor.spec

    @property
    def folder(self) -> Path:
        """The model folder (spec.json, the model file, its card's picture)."""
        return self.predictor.model_path.parent

    def prepare(self, text: object) -> Prepared:
        """A text checked, tokenized and encoded: token ids (1, length); the text and its tokens kept for `finish`.

        Raises:
            InputError: empty, whitespace-only, too long or not valid Unicode, or text without a single word the
                model knows (emoji only, another script): one sentence saying so.
        """
        spec_input = self.spec.input
        assert isinstance(spec_input, TextInput)  # checked in __init__
        ids, tokens = preprocess(text, spec_input.steps, self.vocabulary, spec_input.sequence_length)
        if not tokens or self.vocabulary.known_share(tokens) == 0:
            raise InputError(
                f"None of these words is known to the model: it reads {spec_input.language} "
                "(emoji, symbols and other scripts carry no signal for it)."
            )
        notes = []
        if len(tokens) > spec_input.sequence_length:
            notes.append(f"Only the first {spec_input.sequence_length} words were read.")
        return Prepared(ids, notes, (str(text), tokens))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of token ids."""
        return self.predictor.predict(batch)

    def finish(self, prepared: Prepared, output: np.ndarray) -> Prediction:
        """The prediction for one prepared text and its row of probabilities."""
        text, tokens = prepared.context
        inputs = {"text": text, **text_descriptors(text, tokens, self.vocabulary)}
        confidences = self.predictor.confidences(output)
        notes = list(prepared.notes)
        return Prediction(confidences=confidences, inputs=inputs, notes=notes, tokens=tokens, output=output)

    def predict_one(self, text: object) -> Prediction:
        """Answer one text (see `classify`)."""
        return self.classify(text)

    def classify(self, text: object) -> Prediction:
        """Classify one text: probabilities, the words the model read, notes.

        Raises:
            InputError: empty, whitespace-only, too long or not valid Unicode text, or text without a single word
                the model knows (emoji only, another script): one sentence saying so.
        """
        prepared = self.prepare(text)
        return self.finish(prepared, self.run(prepared.inputs)[0])
