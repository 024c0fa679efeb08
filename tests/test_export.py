"""Export → LiteRT: a real (tiny) Keras model is exported and served by shared.predictor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.artifact import DataProvenance, ModelSpec
from shared.classifier import ImageClassifier
from shared.errors import ArtifactError, InputError
from shared.predictor import Predictor
from training.demos import sign_language


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, object]:
    import keras

    from training.export import export_model

    keras.utils.set_random_seed(0)
    network = sign_language.build_cnn(num_classes=24, conv_filters=[4], kernel_size=3, dense_units=8, dropout=0.1)
    out = tmp_path_factory.mktemp("export")
    provenance = DataProvenance(source="sample", description="test", rows={"train": 1})
    export_model(
        network,
        demo=sign_language.DEMO,
        version=3,
        provenance=provenance,
        splits={"labels": np.array(sign_language.LETTERS)},
        out=out,
        serving=out / "serving" / "3",
    )
    inputs = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    return out, inputs, network(inputs).numpy()


def test_spec_describes_the_model(exported) -> None:
    out, _, _ = exported
    spec = ModelSpec.load(out)
    assert spec.labels == sign_language.LETTERS
    assert spec.signature_input == "pixels"
    assert (out / "serving" / "3" / "saved_model.pb").is_file()


@pytest.mark.parametrize("quantized", [False, True])
def test_litert_matches_keras_on_any_batch_size(exported, quantized: bool) -> None:
    out, inputs, expected = exported
    predictor = Predictor.from_artifact(out, quantized=quantized)
    for batch in (1, 5):
        got = predictor.predict(inputs[:batch])
        assert got.shape == (batch, 24)
        assert np.allclose(got.sum(axis=1), 1.0, atol=1e-4)
        assert np.abs(got - expected[:batch]).max() < (2e-2 if quantized else 1e-5)


def test_classifier_answers_and_refuses_flat_images(exported) -> None:
    out, _, _ = exported
    classifier = ImageClassifier.from_artifact(out)
    image = np.random.default_rng(1).integers(0, 256, size=(50, 40, 3), dtype=np.uint8)
    prediction = classifier.classify(image)
    assert set(prediction.confidences) == set(sign_language.LETTERS)
    assert prediction.view.shape == (140, 140)
    with pytest.raises(InputError, match="flat color"):
        classifier.classify(np.full((30, 30), 200, dtype=np.uint8))


def test_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="run the pipeline"):
        Predictor.from_artifact(tmp_path)
