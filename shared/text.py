"""Text preprocessing shared by training and every text Space (no train/serve skew).

`check_text` validates and cleans what a user typed; `tokenize` standardizes and splits it like Keras's
`TextVectorization(standardize="lower_and_strip_punctuation", split="whitespace")` (optionally without
stop words, optionally stemmed); `Vocabulary` maps tokens to ids (0 padding, 1 out of vocabulary).
`preprocess` chains the three: training runs it on every dataset row and the Space on every request.
Runtime dependencies: the standard library, numpy, pydantic and the pure-Python `snowballstemmer`.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

import shared.limits as limits
from shared.artifact import TextSteps
from shared.errors import ArtifactError, InputError

__all__ = ["TextSteps", "Vocabulary", "check_text", "preprocess", "tokenize"]  # TextSteps lives in the spec

MAX_CHARS = limits.MAX_TEXT_CHARS
PADDING = ""
OOV = "[UNK]"
# Exactly what Keras's `lower_and_strip_punctuation` removes: r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'.
KERAS_PUNCTUATION = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'"
# Typographic quotes, apostrophes and dashes (phone keyboards type them): removed too, so "I’m" gives "im" as
# "I'm" does. Keras keeps them; the datasets this serves are plain ASCII, so ASCII text tokenizes identically.
TYPOGRAPHIC_PUNCTUATION = "‘’‚‛“”„‟′″«»‹›‐‑‒–—―¡¿"
_STRIP = str.maketrans("", "", KERAS_PUNCTUATION + TYPOGRAPHIC_PUNCTUATION)

# NLTK's classic English stop-word list (179 words), kept here so serving needs no nltk download.
_NLTK_ENGLISH = """
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had having do does did doing a an the and but
if or because as until while of at by for with about against between into through during before after above below
to from up down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't
"""
NLTK_ENGLISH_STOP_WORDS = tuple(_NLTK_ENGLISH.split())
# Compared after punctuation stripping, so the list holds "dont", not "don't".
STOP_WORDS = frozenset(word.translate(_STRIP) for word in NLTK_ENGLISH_STOP_WORDS)

_stemmers = threading.local()  # snowballstemmer's stemmers keep state while stemming: one per thread


def check_text(text: object) -> str:
    """Validate user text and return it NFKC-normalized, every control/format character and every kind of
    whitespace (tabs, newlines, no-break spaces) replaced by a plain space.

    Raises:
        InputError: no text, not a string, not valid Unicode (a lone surrogate), empty or only whitespace/invisible
            characters, or longer than `MAX_CHARS` characters as typed or twice that once normalized (one sentence
            saying which).
    """
    if text is None:
        raise InputError("No text was given: type or paste a sentence first.")
    if not isinstance(text, str):
        raise InputError(f"The input must be text, not {type(text).__name__}.")
    if len(text) > MAX_CHARS:
        raise InputError(f"The text is too long ({len(text):,} characters): at most {MAX_CHARS:,} characters.")
    try:
        text.encode("utf-8")  # at most 4 bytes a character: MAX_CHARS bounds the bytes too
    except UnicodeEncodeError as error:
        raise InputError(
            f"The text is not valid Unicode: it holds a lone surrogate ({text[error.start]!a}) at character "
            f"{error.start}."
        ) from None
    cleaned = unicodedata.normalize("NFKC", text)
    if len(cleaned) > limits.MAX_NORMALIZED_CHARS:  # a few characters (ligatures, ﷺ) expand to many
        limit = limits.MAX_NORMALIZED_CHARS
        raise InputError(f"The text is too long once normalized ({len(cleaned):,} characters): at most {limit:,}.")
    if not cleaned.isprintable():  # str.isprintable is False for categories C* and Z* other than " "
        cleaned = "".join(
            " " if char.isspace() or unicodedata.category(char).startswith("C") else char for char in cleaned
        )
    if not cleaned.strip():
        raise InputError("The text is empty: type or paste a sentence first.")
    return cleaned


def _stemmer():
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer


def tokenize(text: str, steps: TextSteps) -> list[str]:
    """Casefold (if `steps.lowercase`), strip punctuation like Keras's `lower_and_strip_punctuation`, split on
    whitespace, then drop English stop words and Snowball-stem (English) each token if asked."""
    if steps.lowercase:
        text = text.casefold()
    tokens = text.translate(_STRIP).split()
    if steps.remove_stopwords:
        tokens = [token for token in tokens if token.casefold() not in STOP_WORDS]
    if steps.stem and tokens:
        tokens = _stemmer().stemWords(tokens)
    return tokens


class Vocabulary:
    """Tokens and their ids: 0 is padding (""), 1 out of vocabulary ("[UNK]"), then the known tokens."""

    def __init__(self, tokens: Sequence[str]) -> None:
        """Wrap a full token list as `to_json` writes it (padding and OOV first).

        Raises:
            ArtifactError: the list does not start with "" and "[UNK]", or holds duplicates or non-strings.
        """
        tokens = list(tokens)
        if tokens[:2] != [PADDING, OOV]:
            raise ArtifactError(f'A vocabulary must start with "" (padding) and "{OOV}" (unknown), not {tokens[:2]}.')
        if not all(isinstance(token, str) and token for token in tokens[2:]):
            raise ArtifactError("A vocabulary may hold only non-empty strings after its first two entries.")
        self.tokens: tuple[str, ...] = tuple(tokens)
        self._ids = {token: index for index, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            duplicate = next(token for token, count in Counter(self.tokens).items() if count > 1)
            raise ArtifactError(f"The vocabulary lists {duplicate!r} more than once.")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], max_tokens: int | None = None) -> Vocabulary:
        """The `max_tokens` (padding and OOV included, as in Keras) most frequent tokens, most frequent first,
        ties in alphabetical order, so the same data always gives the same vocabulary."""
        if max_tokens is not None and max_tokens < 2:
            raise ValueError(f"max_tokens must be at least 2 (padding and OOV), not {max_tokens}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for reserved in (PADDING, OOV):
            counts.pop(reserved, None)
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        if max_tokens is not None:
            ranked = ranked[: max_tokens - 2]
        return cls([PADDING, OOV, *ranked])

    def __len__(self) -> int:
        """Number of ids, padding and OOV included (the model's embedding size)."""
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        """Same tokens in the same order."""
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        """Size and the first few tokens."""
        return f"Vocabulary({len(self)} tokens: {list(self.tokens[2:7])}...)"

    def encode(self, tokens: Sequence[str], length: int) -> np.ndarray:
        """Ids of `tokens` as int32 of shape (length,): unknown tokens are 1, truncated or padded with 0 at the end."""
        ids = np.zeros(length, dtype=np.int32)
        for index, token in enumerate(tokens[:length]):
            ids[index] = self._ids.get(token, 1)
        return ids

    def encode_batch(self, token_lists: Sequence[Sequence[str]], length: int) -> np.ndarray:
        """`encode` for each token list: int32 of shape (len(token_lists), length)."""
        ids = np.zeros((len(token_lists), length), dtype=np.int32)
        for row, tokens in enumerate(token_lists):
            ids[row] = self.encode(tokens, length)
        return ids

    def known_share(self, tokens: Sequence[str]) -> float:
        """Share of `tokens` in the vocabulary (0.0 for no tokens): 0 means the model sees nothing it knows."""
        if not tokens:
            return 0.0
        known = sum(1 for token in tokens if self._ids.get(token, 1) > 1)
        return known / len(tokens)

    def to_json(self) -> list[str]:
        """The tokens in id order (padding and OOV first), like Keras's `get_vocabulary()`."""
        return list(self.tokens)

    @classmethod
    def from_json(cls, data: object) -> Vocabulary:
        """Inverse of `to_json`.

        Raises:
            ArtifactError: `data` is not a list of strings starting with "" and "[UNK]".
        """
        if not isinstance(data, list):
            raise ArtifactError(f"A vocabulary must be a JSON list of tokens, not {type(data).__name__}.")
        return cls(data)

    def save(self, path: Path) -> Path:
        """Write the tokens as a UTF-8 JSON list, one token per line; return `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """Read a vocabulary written by `save`.

        Raises:
            ArtifactError: the file is missing, not JSON, or not a vocabulary (the message names the file).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ArtifactError(f"{path} is missing: run the pipeline (dvc repro) to build the model.") from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ArtifactError(f"{path} is not a JSON vocabulary: {error}") from error
        try:
            return cls.from_json(data)
        except ArtifactError as error:
            raise ArtifactError(f"{path}: {error}") from error


def preprocess(text: object, steps: TextSteps, vocabulary: Vocabulary, length: int) -> tuple[np.ndarray, list[str]]:
    """`check_text` → `tokenize` → `Vocabulary.encode`: int32 ids of shape (1, length), and the tokens.

    The one path from raw text to model input, used for every training row and every request.

    Raises:
        InputError: the text fails `check_text`.
    """
    tokens = tokenize(check_text(text), steps)
    return vocabulary.encode(tokens, length)[np.newaxis, :], tokens
