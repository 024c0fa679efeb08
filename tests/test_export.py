"""Export → LiteRT: a real (tiny) Keras model is exported and served by shared.predictor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared.artifact import DataProvenance, ModelSpec
from shared.classifier import ImageClassifier
from shared.errors import ArtifactError, InputError
from shared.predictor import Predictor, batch_sizes
from training.demos import sign_language

REPO = Path(__file__).resolve().parents[1]


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


def test_any_batch_runs_on_interpreters_allocated_once(exported) -> None:
    out, inputs, expected = exported
    predictor = Predictor.from_artifact(out)
    assert predictor.batch_sizes == (1, 2, 4, 8)
    rows = np.random.default_rng(2).random((13, 28, 28, 1), dtype=np.float32)
    rows[:5] = inputs
    one_by_one = np.concatenate([predictor.predict(rows[i : i + 1]) for i in range(13)])
    for batch in (13, 7, 3, 8):
        assert np.abs(predictor.predict(rows[:batch]) - one_by_one[:batch]).max() < 1e-6
    assert np.abs(one_by_one[:5] - expected).max() < 1e-5
    for size, runner in predictor._runners.items():  # never resized: each keeps the batch it was allocated for
        assert runner.get_input_details()["pixels"]["shape"][0] == size


def test_large_rows_run_one_at_a_time() -> None:
    assert batch_sizes(224 * 224 * 3) == (1,)  # a MobileNetV2's input: batching it saves nothing on a CPU
    assert batch_sizes(28 * 28) == (1, 2, 4, 8)


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


@pytest.fixture(scope="module")
def text_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A small emotion model trained for a few epochs on generated sentences (no stemming), exported."""
    import keras

    from shared.text import TextSteps, Vocabulary, preprocess, tokenize
    from training.demos import emotion
    from training.export import export_model

    keras.utils.set_random_seed(0)
    rows = emotion.sample_rows(60, seed=1)
    train, test = rows["train.txt"], rows["test.txt"] + rows["val.txt"]
    steps = TextSteps()
    vocabulary = Vocabulary.build([tokenize(text, steps) for text, _ in train], 300)
    x = np.concatenate([preprocess(text, steps, vocabulary, 16)[0] for text, _ in train])
    y = np.array([emotion.LABELS.index(label) for _, label in train])
    network = emotion.build_bilstm(
        vocab_size=len(vocabulary), sequence_length=16, embedding_dim=16, lstm_units=8, dropout=0.1, pooling="max"
    )
    network.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    network.fit(x, y, epochs=12, batch_size=32, verbose=0)
    out = tmp_path_factory.mktemp("text-export")
    vocabulary.save(out / "vocabulary.json")
    export_model(
        network,
        demo=emotion.DEMO,
        version=1,
        provenance=DataProvenance(source="sample", description="test", rows={"train": len(train)}),
        splits={"labels": np.array(emotion.LABELS)},
        out=out,
        serving=out / "serving" / "1",
        text_steps=steps.model_dump(),
        vocabulary=vocabulary,
    )
    # typed the way people type: capitals, punctuation, typographic quotes, tabs and no-break spaces
    texts = [text for text, _ in test] + ["I’M SO happy!!! — Really.", "i feel\tscared,\u00a0honestly…", "WHY?! angry"]
    return out, texts


@pytest.mark.slow
def test_saved_model_takes_raw_text_and_answers_like_the_space(text_export) -> None:
    import tensorflow as tf

    from shared.text_classifier import TextClassifier
    from training.parity import saved_model_text_parity

    out, texts = text_export
    spec = ModelSpec.load(out)
    assert spec.input.saved_model_input == "text" and spec.signature_input == "token_ids"
    model = tf.saved_model.load(str(out / "serving" / "1"))
    serving = model.signatures["serving_default"]
    assert list(serving.structured_input_signature[1]) == ["text"]
    (probabilities,) = serving(text=tf.constant(texts)).values()
    space = TextClassifier.from_artifact(out)
    expected = np.array([[space.classify(text).confidences[label] for label in spec.labels] for text in texts])
    assert np.array_equal(probabilities.numpy().argmax(axis=1), expected.argmax(axis=1))
    assert np.abs(probabilities.numpy() - expected).max() < 1e-5
    report = saved_model_text_parity(out / "serving" / "1", texts, spec.input, space.vocabulary, space.predictor)
    assert report["ids_differ"] == 0 and report["agreement"] == 1.0


@pytest.mark.slow
def test_a_model_that_takes_text_still_converts_to_tfjs(text_export, tmp_path: Path) -> None:
    """The string ops and lookup tables of the text SavedModel are not TF.js's: the tfjs stage converts the network
    alone (ids in), which export writes beside it; the converter runs in its own environment, for real."""
    from training.tfjs import TOKEN_IDS_MODEL, convert_to_tfjs

    out, _ = text_export
    convert_to_tfjs(out / TOKEN_IDS_MODEL, tmp_path / "tfjs", python=REPO / ".venv-tfjs" / "bin" / "python")
    graph = json.loads((tmp_path / "tfjs" / "model.json").read_text())
    assert graph["format"] == "graph-model" and graph["weightsManifest"]


@pytest.mark.slow
def test_rest_metadata_says_what_tf_serving_takes(text_export) -> None:
    from shared.adapters import TextAdapter
    from shared.service import load_services

    out, _ = text_export
    adapter = TextAdapter(load_services(out)["emotion"])
    signature = adapter.metadata()["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["text"]["dtype"] == "DT_STRING"
    assert adapter.predict([{"text": "i feel so happy"}])[0] == adapter.predict(["i feel so happy"])[0]
    ids_spec = ModelSpec.load(out).model_copy(deep=True)
    ids_spec.input.saved_model_input = "token_ids"  # what a stemmed model's spec says
    adapter.spec = ids_spec
    signature = adapter.metadata()["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["token_ids"]["dtype"] == "DT_INT32"
    assert "token ids" in adapter.metadata()["spacesuite"]["tf_serving_instances"]


@pytest.mark.slow
def test_stemmed_text_model_keeps_the_id_signature(tmp_path: Path) -> None:
    import tensorflow as tf

    from shared.text import TextSteps, Vocabulary
    from training.demos import emotion
    from training.export import export_model

    network = emotion.build_bilstm(vocab_size=20, sequence_length=8, embedding_dim=4, lstm_units=2, dropout=0.1)
    spec = export_model(
        network,
        demo=emotion.DEMO,
        version=1,
        provenance=DataProvenance(source="sample", description="test", rows={"train": 1}),
        splits={"labels": np.array(emotion.LABELS)},
        out=tmp_path,
        serving=tmp_path / "serving" / "1",
        text_steps=TextSteps(stem=True).model_dump(),
        vocabulary=Vocabulary(["", "[UNK]", *[f"w{i}" for i in range(18)]]),
    )
    assert spec.input.saved_model_input == "token_ids"
    serving = tf.saved_model.load(str(tmp_path / "serving" / "1")).signatures["serving_default"]
    assert list(serving.structured_input_signature[1]) == ["token_ids"]
