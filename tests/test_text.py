"""Text preprocessing shared by training and the Space: refused inputs with one clear sentence, a tokenizer that
matches Keras's TextVectorization on ASCII text, stop words, stemming and a deterministic vocabulary."""

from __future__ import annotations

import json
import string
import threading
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from shared.errors import ArtifactError, InputError
from shared.text import (
    KERAS_PUNCTUATION,
    MAX_CHARS,
    STOP_WORDS,
    TextSteps,
    Vocabulary,
    check_text,
    preprocess,
    tokenize,
)

PLAIN = TextSteps()
SENTENCES = [
    "I feel SO happy today!!!",
    "i didn't expect that... at all?",
    "Well, (honestly) I'm [really] angry: #furious @work",
    "e-mail me at joe@example.com; it's 5:30 p.m.",
    'She said "love" & {care} are ~everything~ | right\\wrong',
    "  multiple   spaces\tand\ttabs\nand newlines  ",
    "unknownword1 zebra quantum feel happy",
    "back`tick under_score caret^ plus+equals=percent% dollar$ star*",
]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "No text was given"),
        (42, "The input must be text, not int"),
        (b"i feel sad", "The input must be text, not bytes"),
        ("", "The text is empty"),
        ("   \n\t  \r\n", "The text is empty"),
        ("\u200b\u200b\x00", "The text is empty"),  # only invisible characters
        ("a" * 1_000_000, r"The text is too long \(1,000,000 characters\): at most 5,000 characters\."),
        ("a" * (MAX_CHARS + 1), "at most 5,000 characters"),
    ],
)
def test_bad_text_gets_one_clear_sentence(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        check_text(value)
    assert str(raised.value).count(". ") == 0 and str(raised.value).endswith(".")


def test_text_at_the_limit_is_accepted() -> None:
    assert check_text("a" * MAX_CHARS) == "a" * MAX_CHARS


def test_control_characters_and_odd_spaces_become_plain_spaces() -> None:
    assert check_text("i\x00feel\x07sad\r\nnow") == "i feel sad  now"
    assert check_text("tab\there\u2028line\u2029para") == "tab here line para"
    assert check_text("no\u00a0break\u3000ideographic") == "no break ideographic"  # NFKC makes them " "
    assert check_text("zero\u200bwidth\ufeffbom") == "zero width bom"  # format characters (Cf)
    assert check_text("private \ue000 use") == "private   use"


def test_a_lone_surrogate_is_refused_in_one_sentence() -> None:
    with pytest.raises(InputError, match="lone surrogate"):  # not valid Unicode: it could not even be logged
        check_text("lone \ud800 surrogate")


def test_text_that_normalizing_lengthens_too_much_is_refused() -> None:
    with pytest.raises(InputError, match="once normalized"):
        check_text("\ufdfa" * 1_000)  # NFKC turns each into 18 characters


def test_nfkc_folds_compatibility_characters() -> None:
    assert check_text("ｆｕｌｌ ｗｉｄｔｈ！") == "full width!"
    assert check_text("ﬁne…") == "fine..."
    assert tokenize(check_text("Ｉ ＦＥＥＬ ｆｉｎｅ！"), PLAIN) == ["i", "feel", "fine"]


def test_emoji_and_other_scripts_pass_check_but_are_unknown() -> None:
    vocabulary = Vocabulary.build([tokenize(s, PLAIN) for s in SENTENCES])
    for text in ["😀😢🔥", "Я очень счастлив", "我今天很高兴", "أنا سعيد جدا", "😀 !!! 😢"]:
        tokens = tokenize(check_text(text), PLAIN)
        assert tokens, text
        assert vocabulary.known_share(tokens) == 0.0
    assert vocabulary.known_share(tokenize("i feel 😀", PLAIN)) == pytest.approx(2 / 3)
    assert vocabulary.known_share(tokenize("?!...", PLAIN)) == 0.0  # punctuation only: no tokens at all


def test_punctuation_is_keras_default_set() -> None:
    assert set(KERAS_PUNCTUATION) == set(string.punctuation)
    assert tokenize(string.punctuation, PLAIN) == []
    assert tokenize("I’m “so” happy — really", PLAIN) == ["im", "so", "happy", "really"]


def test_tokenize_matches_keras_text_vectorization() -> None:
    import keras

    length = 12
    ours = [tokenize(check_text(s), PLAIN) for s in SENTENCES]
    vocabulary = Vocabulary.build(ours[:-2], max_tokens=30)  # the last two sentences bring unknown words
    layer = keras.layers.TextVectorization(
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        output_mode="int",
        output_sequence_length=length,
        vocabulary=list(vocabulary.tokens[2:]),
    )
    assert layer.get_vocabulary() == vocabulary.to_json()
    expected = np.asarray(layer(SENTENCES))
    assert np.array_equal(vocabulary.encode_batch(ours, length), expected)
    assert (expected == 1).any() and (expected == 0).any()  # unknown words and padding both exercised


def test_casefold_goes_further_than_keras_on_non_ascii() -> None:
    # Keras lowercases ASCII only ("ÉCOLE" → "École"); we casefold, and training and serving both use this.
    assert tokenize("ÉCOLE Straße", PLAIN) == ["école", "strasse"]
    assert tokenize("ÉCOLE", TextSteps(lowercase=False)) == ["ÉCOLE"]


def test_stop_words_are_dropped() -> None:
    steps = TextSteps(remove_stopwords=True)
    assert tokenize("I am not feeling the best, don't you think?", steps) == ["feeling", "best", "think"]
    assert tokenize("The Best", TextSteps(lowercase=False, remove_stopwords=True)) == ["Best"]
    assert {"i", "the", "dont", "didnt", "not", "youre"} <= STOP_WORDS
    assert "don't" not in STOP_WORDS  # tokens never keep an apostrophe


def test_stemming() -> None:
    steps = TextSteps(stem=True)
    assert tokenize("Feeling feelings felt happiness running loved", steps) == [
        "feel",
        "feel",
        "felt",
        "happi",
        "run",
        "love",
    ]
    both = TextSteps(remove_stopwords=True, stem=True)
    assert tokenize("I was running and feeling loved", both) == ["run", "feel", "love"]


def test_stemming_is_thread_safe() -> None:
    words = ["connected", "connecting", "connection", "connections", "running", "runner", "happily", "happiness"]
    expected = tokenize(" ".join(words), TextSteps(stem=True))
    results: list[bool] = []

    def work() -> None:
        results.extend(tokenize(" ".join(words), TextSteps(stem=True)) == expected for _ in range(300))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2400 and all(results)


def test_text_steps_are_frozen_and_strict() -> None:
    with pytest.raises(ValidationError):
        TextSteps(lowercase=True, stemming=True)
    with pytest.raises(ValidationError):
        PLAIN.stem = True
    assert TextSteps.model_validate_json(TextSteps(stem=True).model_dump_json()) == TextSteps(stem=True)


def test_vocabulary_is_frequency_ordered_with_alphabetical_ties() -> None:
    lists = [["b", "a", "c"], ["c", "b", "d"], ["c", "e"]]
    vocabulary = Vocabulary.build(lists)
    assert vocabulary.to_json() == ["", "[UNK]", "c", "b", "a", "d", "e"]
    assert Vocabulary.build(reversed(lists)) == vocabulary
    assert Vocabulary.build(lists, max_tokens=4).to_json() == ["", "[UNK]", "c", "b"]
    assert len(Vocabulary.build(lists, max_tokens=4)) == 4
    assert Vocabulary.build([["[UNK]", "x"]]).to_json() == ["", "[UNK]", "x"]


def test_encode_pads_truncates_and_marks_unknown() -> None:
    vocabulary = Vocabulary.build([["i", "feel", "happy"]])
    ids = vocabulary.encode(["i", "feel", "very", "happy"], 6)
    assert ids.dtype == np.int32 and ids.shape == (6,)
    assert [vocabulary.tokens[i] for i in ids] == ["i", "feel", "[UNK]", "happy", "", ""]
    assert vocabulary.encode(["i", "feel", "very", "happy"], 2).tolist() == ids[:2].tolist()
    assert vocabulary.encode([], 3).tolist() == [0, 0, 0]
    batch = vocabulary.encode_batch([["happy"], ["i", "i", "i", "i"]], 3)
    assert batch.shape == (2, 3) and batch.dtype == np.int32
    assert vocabulary.encode_batch([], 3).shape == (0, 3)


def test_vocabulary_json_round_trip(tmp_path: Path) -> None:
    vocabulary = Vocabulary.build([tokenize(s, PLAIN) for s in [*SENTENCES, "naïve café 😀"]])
    assert Vocabulary.from_json(json.loads(json.dumps(vocabulary.to_json()))) == vocabulary
    path = vocabulary.save(tmp_path / "model" / "vocabulary.json")
    assert Vocabulary.load(path) == vocabulary
    assert "café" in path.read_text(encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == vocabulary.to_json()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": 1}, "must be a JSON list"),
        (["a", "b"], 'must start with ""'),
        (["", "[UNK]", "a", "a"], "'a' more than once"),
        (["", "[UNK]", 3], "only non-empty strings"),
        (["", "[UNK]", ""], "only non-empty strings"),
    ],
)
def test_bad_vocabulary_is_refused(data: object, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        Vocabulary.from_json(data)


def test_bad_vocabulary_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.json"
    with pytest.raises(ArtifactError, match=r"vocabulary\.json is missing"):
        Vocabulary.load(path)
    path.write_text("[not json")
    with pytest.raises(ArtifactError, match=r"vocabulary\.json is not a JSON vocabulary"):
        Vocabulary.load(path)
    path.write_text('["a"]')
    with pytest.raises(ArtifactError, match=r'vocabulary\.json: A vocabulary must start with ""'):
        Vocabulary.load(path)


def test_preprocess_is_check_tokenize_encode() -> None:
    vocabulary = Vocabulary.build([tokenize(s, PLAIN) for s in SENTENCES])
    ids, tokens = preprocess("  I feel\tSO happy!! 😀", PLAIN, vocabulary, 8)
    assert ids.shape == (1, 8) and ids.dtype == np.int32
    assert tokens == ["i", "feel", "so", "happy", "😀"]
    assert ids[0].tolist() == vocabulary.encode(tokens, 8).tolist()
    assert ids[0, 4] == 1 and ids[0, 5:].tolist() == [0, 0, 0]
    with pytest.raises(InputError, match="The text is empty"):
        preprocess(" \n ", PLAIN, vocabulary, 8)
