"""`shared.text`'s steps as TensorFlow ops, so the SavedModel TF Serving loads takes raw strings.

The exported text SavedModel has three signatures: `serving_default` (strings → class probabilities: the
original project's Transform graph inside the model), `token_ids` (int32 ids → probabilities, what the .tflite
and TF.js models take) and `tokenize` (strings → the ids `serving_default` feeds the network, for the parity
check). `check_text`'s NFKC normalization and its spaces for control characters, case folding and punctuation
stripping are per-character maps, so they become one lookup table (every code point they change → what it becomes,
computed here from `shared.text` itself) applied to each character; then a whitespace split, the same vocabulary
(OOV 1), truncation and padding with 0. Differences left: NFKC also composes a letter with a following combining
mark ("e" + U+0301 → "é"), which a per-character map cannot, and code points unassigned in Python's Unicode
version, which `check_text` makes spaces, stay in their word; the parity stage compares both paths on every test
sentence. Stemming and stop-word removal have no TF op here: with either on, the SavedModel keeps
taking ids.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from pathlib import Path

from shared.text import KERAS_PUNCTUATION, TYPOGRAPHIC_PUNCTUATION, TextSteps, Vocabulary

TEXT_INPUT = "text"  # serving_default's input: one string per instance
IDS_SIGNATURE = "token_ids"  # ids → probabilities
TOKENIZE_SIGNATURE = "tokenize"  # strings → ids
_STRIP = str.maketrans("", "", KERAS_PUNCTUATION + TYPOGRAPHIC_PUNCTUATION)
_UNCHANGED = "\x00unchanged"  # the table's default: never a mapped value (U+0000 becomes a space)
_NOT_MAPPED = ("Cn", "Co", "Cs")  # unassigned, private use (a regular expression's job) and surrogates
_PRIVATE_USE = r"\p{Co}"


def _standardize_char(char: str, lowercase: bool) -> str:
    """What `check_text` + `tokenize` make of one character before the split (shared.text's own functions)."""
    text = unicodedata.normalize("NFKC", char)
    text = "".join(" " if c.isspace() or unicodedata.category(c).startswith("C") else c for c in text)
    return (text.casefold() if lowercase else text).translate(_STRIP)


@functools.cache
def character_map(lowercase: bool) -> dict[str, str]:
    """Every assigned code point that the text steps change, and what it becomes (6,561 with case folding).

    Private-use characters (which become spaces) are left to a regular expression: they are 137,468.
    """
    mapping = {}
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if unicodedata.category(char) in _NOT_MAPPED:
            continue
        if (standard := _standardize_char(char, lowercase)) != char:
            mapping[char] = standard
    return mapping


def steps_without_tf_ops(steps: TextSteps) -> list[str]:
    """The configured steps that have no TF op here (stemming, stop-word removal): with any, the SavedModel takes
    token ids."""
    return [name for name, on in (("stemming", steps.stem), ("stop-word removal", steps.remove_stopwords)) if on]


def tokenizer(vocabulary: Vocabulary, steps: TextSteps, sequence_length: int):
    """(tables, fn): fn maps a batch of strings to int32 ids of shape (batch, sequence_length), as
    `shared.text.preprocess` does; the lookup tables must be tracked by whatever saves fn."""
    import tensorflow as tf

    if steps_without_tf_ops(steps):
        raise ValueError(f"{', '.join(steps_without_tf_ops(steps))} cannot be written in TF ops")
    keys = list(vocabulary.tokens[2:])
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, dtype=tf.string), tf.range(2, len(keys) + 2, dtype=tf.int64)
        ),
        default_value=1,
    )
    mapping = character_map(steps.lowercase)
    chars = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(mapping)), tf.constant(list(mapping.values()))),
        default_value=_UNCHANGED,
    )

    def standardize(char):
        mapped = chars.lookup(char)
        return tf.where(tf.equal(mapped, _UNCHANGED), char, mapped)

    def to_ids(text):
        text = tf.strings.regex_replace(text, _PRIVATE_USE, " ")
        characters = tf.strings.unicode_split(text, "UTF-8", errors="replace")
        text = tf.strings.reduce_join(tf.ragged.map_flat_values(standardize, characters), axis=-1)
        ids = table.lookup(tf.strings.split(text))
        return tf.cast(ids.to_tensor(default_value=0, shape=[None, sequence_length]), tf.int32)

    return (table, chars), to_ids


def export_text_saved_model(network, vocabulary: Vocabulary, steps: TextSteps, path: Path) -> None:
    """Write a SavedModel whose `serving_default` takes raw strings (plus `token_ids` and `tokenize`)."""
    import keras
    import tensorflow as tf

    sequence_length = int(network.inputs[0].shape[1])
    tables, to_ids = tokenizer(vocabulary, steps, sequence_length)
    archive = keras.export.ExportArchive()
    archive.track(network)
    for table in tables:
        archive.track(table)
    strings = [tf.TensorSpec([None], tf.string, name=TEXT_INPUT)]

    def serve(text):
        return network(to_ids(text), training=False)

    def from_ids(token_ids):
        return network(token_ids, training=False)

    archive.add_endpoint("serving_default", serve, input_signature=strings)
    ids_spec = [tf.TensorSpec([None, sequence_length], tf.int32, name=IDS_SIGNATURE)]
    archive.add_endpoint(IDS_SIGNATURE, from_ids, input_signature=ids_spec)
    archive.add_endpoint(TOKENIZE_SIGNATURE, to_ids, input_signature=strings)
    archive.write_out(str(path), verbose=False)
