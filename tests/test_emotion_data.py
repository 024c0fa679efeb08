"""Emotion data: dair-ai's and Kaggle's layouts, bad lines named by file and line, the deterministic sample,
and the BiLSTM served on LiteRT with builtin ops only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import DataLayoutError
from shared.text import TextSteps, Vocabulary, check_text, preprocess, tokenize
from training.demos import emotion
from training.export import unroll_recurrent

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "emotion"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def dair_folder(folder: Path) -> Path:
    write(folder / "train.txt", "i feel sad;sadness\ni am happy;joy\ni love you;love\n")
    write(folder / "val.txt", "\ni am so angry;anger\n\n")  # the real val.txt starts with a blank line
    write(folder / "test.txt", "i am scared;fear\nwow;surprise\n")
    return folder


def test_dair_files_read_with_folds(tmp_path: Path) -> None:
    texts, labels, folds, rows = emotion.read_folder(dair_folder(tmp_path))
    assert emotion.find_layout(tmp_path) == "dair-ai"
    assert texts == ["i feel sad", "i am happy", "i love you", "i am so angry", "i am scared", "wow"]
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert folds.dtype == np.int8 and folds.tolist() == [0, 0, 0, 1, 2, 2]
    assert rows == {"train.txt": 3, "val.txt": 1, "test.txt": 2}


def test_dair_line_details(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", "a; semicolon;joy\r\nspaces around ; fear \n\n   \nlast;love")
    texts, labels = emotion.read_dair_file(path)
    assert texts == ["a; semicolon", "spaces around", "last"]
    assert [emotion.LABELS[i] for i in labels] == ["joy", "fear", "love"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "i feel sad;sadness\n\ni feel odd;boredom\n",
            r"train\.txt: line 3: unknown label 'boredom' \(expected one of",
        ),
        ("i feel sad;sadness\ni feel sad sadness\n", r"train\.txt: line 2: no ';' between the text and the label"),
        ("\n\n  ;joy\n", r"train\.txt: line 3: empty text before ';joy'"),
        ("i feel sad;\n", r"train\.txt: line 1: unknown label ''"),
        ("i feel sad;Sadness\n", r"train\.txt: line 1: unknown label 'Sadness'"),
        ("\n \n", r"train\.txt: the file has no rows"),
        ("", r"train\.txt: the file has no rows"),
    ],
)
def test_bad_dair_line_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "train.txt", content)
    with pytest.raises(DataLayoutError, match=message) as raised:
        emotion.read_dair_file(path)
    assert str(raised.value).startswith(str(path))


def test_non_utf8_dair_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "val.txt"
    path.write_bytes(b"i feel sad;sadness\ni feel \xff;joy\n")
    with pytest.raises(DataLayoutError, match=r"val\.txt: line 2: not UTF-8 text"):
        emotion.read_dair_file(path)


def test_bad_line_in_a_folder_names_its_file(tmp_path: Path) -> None:
    dair_folder(tmp_path)
    write(tmp_path / "test.txt", "i am scared;fear\nwow;surprised\n")
    with pytest.raises(DataLayoutError, match=r"test\.txt: line 2: unknown label 'surprised'"):
        emotion.read_folder(tmp_path)


def test_kaggle_csv(tmp_path: Path) -> None:
    write(tmp_path / "text.csv", ',text,label\n0,i feel sad,0\n1,"i feel happy, really",1\n\n2,"so\nangry",3\n')
    assert emotion.find_layout(tmp_path) == "kaggle"
    texts, labels, folds, rows = emotion.read_folder(tmp_path)
    assert texts == ["i feel sad", "i feel happy, really", "so\nangry"]
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 3]
    assert folds.dtype == np.int8 and folds.tolist() == [0, 0, 0]
    assert rows == {"text.csv": 3}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (",text,label\n0,a,0\n1,b,9\n", r"text\.csv: row 2 \(line 3\), column 'label': '9' is not a label id 0\.\.5"),
        (",text,label\n0,a,0\n1,b,joy\n", r"text\.csv: row 2 \(line 3\), column 'label': 'joy' is not a label id"),
        (",text,label\n0,a,0\n1,b,-1\n", r"text\.csv: row 2 \(line 3\), column 'label': '-1' is not a label id"),
        (",text,label\n0,a,0\n1,b,\n", r"text\.csv: row 2 \(line 3\), column 'label': '' is not a label id"),
        (",text,label\n0,a,0\n\n1,,2\n", r"text\.csv: row 2 \(line 4\), column 'text': empty text"),
        (",text,label\n0,a,0\n1,b,2\n2,   ,2\n", r"text\.csv: row 3 \(line 4\), column 'text': empty text"),
        (',text,label\n0,"two\nlines",0\nx,b,2\n', r"text\.csv: row 2 \(line 4\), column 1 \(the index\): 'x'"),
        (",text,label\n0,a,0,extra\n", r"text\.csv: row 1 \(line 2\) has 4 cells, expected 3"),
        (",text,label\n0,a,0\n1,b\n", r"text\.csv: row 2 \(line 3\) has 2 cells, expected 3"),
        (",text,label\n,,\n", r"text\.csv: row 1 \(line 2\), column 1 \(the index\): '' is not an integer"),
        ("text,label\na,0\n", r"text\.csv: header 'text,label' does not match the expected layout ',text,label'"),
        (",text,label\n\n", r"text\.csv: the file has a header but no rows"),
        ("", r"text\.csv: the file is empty"),
    ],
)
def test_bad_kaggle_row_is_named(tmp_path: Path, content: str, message: str) -> None:
    write(tmp_path / "text.csv", content)
    with pytest.raises(DataLayoutError, match=message):
        emotion.read_folder(tmp_path)


def test_find_layout_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"neither train\.txt, val\.txt, test\.txt \(dair-ai\) nor text\.csv"):
        emotion.find_layout(tmp_path)
    write(tmp_path / "train.txt", "i feel sad;sadness\n")
    with pytest.raises(FileNotFoundError, match=r"holds train\.txt but not val\.txt, test\.txt"):
        emotion.find_layout(tmp_path)
    dair_folder(tmp_path)
    write(tmp_path / "text.csv", ",text,label\n0,a,0\n")
    assert emotion.find_layout(tmp_path) == "dair-ai"  # the three files win when both layouts are there


def test_sample_is_deterministic_balanced_and_reads_back(tmp_path: Path) -> None:
    first = emotion.write_sample(tmp_path / "a", emotion.EmotionData.model_construct(sample_per_class=40), 5)
    second = emotion.write_sample(tmp_path / "b", emotion.EmotionData.model_construct(sample_per_class=40), 5)
    other = emotion.write_sample(tmp_path / "c", emotion.EmotionData.model_construct(sample_per_class=40), 6)
    assert [p.name for p in first] == ["train.txt", "val.txt", "test.txt"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert first[0].read_bytes() != other[0].read_bytes()
    texts, labels, folds, rows = emotion.read_folder(tmp_path / "a")
    assert rows == {"train.txt": 192, "val.txt": 24, "test.txt": 24}
    for fold, per_class in [(0, 32), (1, 4), (2, 4)]:
        assert np.bincount(labels[folds == fold], minlength=6).tolist() == [per_class] * 6
    assert len(set(texts)) == len(texts)  # no sentence twice, so no test sentence is also in train
    assert all(check_text(text) == text and tokenize(text, TextSteps()) == text.split() for text in texts)


def test_sample_is_learnable_but_not_trivial(tmp_path: Path) -> None:
    """Multinomial naive Bayes on word counts: far above chance (1/6), yet short of perfect."""
    texts, labels, folds, _ = emotion.read_folder(
        emotion.write_sample(tmp_path, emotion.EmotionData.model_construct(sample_per_class=200), 0)[0].parent
    )
    steps = TextSteps()
    tokens = [tokenize(text, steps) for text in texts]
    vocabulary = Vocabulary.build([t for t, f in zip(tokens, folds, strict=True) if f == 0])
    counts = np.zeros((len(texts), len(vocabulary)))
    for row, ids in enumerate(vocabulary.encode_batch(tokens, 40)):
        np.add.at(counts[row], ids, 1.0)
    counts[:, :2] = 0.0  # padding and unknown words
    train = folds == 0
    per_class = np.stack([counts[train & (labels == k)].sum(axis=0) + 1.0 for k in range(6)])
    log_likelihood = np.log(per_class / per_class.sum(axis=1, keepdims=True))
    predicted = (counts[folds == 2] @ log_likelihood.T).argmax(axis=1)
    accuracy = float(np.mean(predicted == labels[folds == 2]))
    assert 0.6 < accuracy < 0.97, accuracy


@pytest.mark.skipif(not (REAL / "train.txt").is_file(), reason="real dair-ai emotion copy not present")
def test_real_dair_files() -> None:
    texts, labels, folds, rows = emotion.read_folder(REAL)
    assert rows == {"train.txt": 16_000, "val.txt": 2_000, "test.txt": 2_000}
    assert np.bincount(folds).tolist() == [16_000, 2_000, 2_000]
    counts = np.bincount(labels[folds == 0], minlength=6)
    assert counts.argmax() == emotion.LABELS.index("joy") and counts.argmin() == emotion.LABELS.index("surprise")
    assert counts.tolist() == [4666, 5362, 1304, 2159, 1937, 572]
    steps = TextSteps()
    vocabulary = Vocabulary.build([tokenize(t, steps) for t, f in zip(texts, folds, strict=True) if f == 0], 5000)
    ids, tokens = preprocess(texts[-1], steps, vocabulary, 64)
    assert tokens == texts[-1].split() and ids.shape == (1, 64)
    assert all(check_text(text) == text for text in texts)  # plain lowercase ASCII: cleaning changes nothing


@pytest.mark.slow
def test_bilstm_converts_to_builtin_tflite_and_matches_keras(tmp_path: Path) -> None:
    import keras
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(0)
    length = 12
    model = emotion.build_bilstm(vocab_size=50, sequence_length=length, embedding_dim=8, lstm_units=4, dropout=0.2)
    assert model.input.name == "token_ids" and model.output.shape == (None, 6)
    rng = np.random.default_rng(0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(rng.integers(0, 50, size=(8, length)), np.arange(8) % 6, epochs=1, verbose=0)  # trains with its loop
    batches = [rng.integers(0, 50, size=(batch, length)).astype(np.int32) for batch in (1, 3)]
    for ids in batches:
        ids[:, 7:] = 0  # padded tail, as `Vocabulary.encode` writes
    looped = [np.asarray(model(ids, training=False)) for ids in batches]
    unroll_recurrent(model)  # as the export stage does
    model.export(str(tmp_path / "saved"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved"))
    (tmp_path / "model.tflite").write_bytes(converter.convert())  # builtin ops only: the default op set

    runner = Interpreter(model_path=str(tmp_path / "model.tflite"), num_threads=2).get_signature_runner(
        "serving_default"
    )
    assert list(runner.get_input_details()) == ["token_ids"]
    for ids, expected in zip(batches, looped, strict=True):
        (got,) = runner(token_ids=ids).values()
        assert got.shape == (len(ids), 6)
        assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
        assert np.max(np.abs(got - expected)) < 1e-5
