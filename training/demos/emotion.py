"""Emotion: dair-ai's `train.txt`/`val.txt`/`test.txt` (`text;label`) or Kaggle's `text.csv` (`,text,label`),
a deterministic sample of generated sentences in the dair-ai layout, and the BiLSTM classifier."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from shared.errors import DataLayoutError
from training.demos import Demo, Ingested
from training.params import DataParams, KerasSection, ParityParams, Strict

LABELS = ["sadness", "joy", "love", "anger", "fear", "surprise"]
DAIR_FILES = {"train.txt": 0, "val.txt": 1, "test.txt": 2}  # file name → fold id
FOLDS = ["train", "val", "test"]
KAGGLE_FILE = "text.csv"
KAGGLE_HEADER = ["", "text", "label"]  # the first column is an unnamed row index
SAMPLE_SPLIT = (0.8, 0.1, 0.1)

Layout = Literal["dair-ai", "kaggle"]


def read(folder: Path, data: DataParams) -> Ingested:
    """dair-ai's three files (fold 0 train, 1 val, 2 test) or Kaggle's `text.csv` (fold 0), texts kept as is."""
    texts, labels, folds, rows = read_folder(folder)
    files = [Path(folder) / name for name in rows]
    return Ingested(np.array(texts, dtype=str), labels, list(LABELS), folds, files, rows)


def find_layout(folder: Path) -> Layout:
    """ "dair-ai" when `folder` holds train.txt, val.txt and test.txt, else "kaggle" when it holds text.csv.

    Raises:
        FileNotFoundError: neither layout is complete (the message says which files are missing).
    """
    folder = Path(folder)
    present = [name for name in DAIR_FILES if (folder / name).is_file()]
    if len(present) == len(DAIR_FILES):
        return "dair-ai"
    if (folder / KAGGLE_FILE).is_file():
        return "kaggle"
    if present:
        missing = [name for name in DAIR_FILES if name not in present]
        raise FileNotFoundError(f"{folder} holds {', '.join(present)} but not {', '.join(missing)} (dair-ai layout)")
    raise FileNotFoundError(f"{folder} holds neither {', '.join(DAIR_FILES)} (dair-ai) nor {KAGGLE_FILE} (Kaggle)")


def read_dair_file(path: Path) -> tuple[list[str], np.ndarray]:
    """Read one dair-ai file: a `text;label` per line, label one of `LABELS`; blank lines are skipped.

    The label follows the last `;`, so a text may itself hold one. Returns the texts and int64 label ids.

    Raises:
        FileNotFoundError: the file does not exist.
        DataLayoutError: not UTF-8, no rows, or a line with no `;`, an empty text or an unknown label;
            the message names the file and the 1-based line.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataLayoutError(f"{path}: line {line}: not UTF-8 text (byte {error.start})") from error
    ids = {label: index for index, label in enumerate(LABELS)}
    texts: list[str] = []
    labels: list[int] = []
    for number, line in enumerate(content.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        text, separator, label = line.rpartition(";")
        if not separator:
            raise DataLayoutError(f"{path}: line {number}: no ';' between the text and the label in {line[:60]!r}")
        label = label.strip()
        if label not in ids:
            raise DataLayoutError(
                f"{path}: line {number}: unknown label {label!r} (expected one of {', '.join(LABELS)})"
            )
        if not text.strip():
            raise DataLayoutError(f"{path}: line {number}: empty text before ';{label}'")
        texts.append(text.strip())
        labels.append(ids[label])
    if not texts:
        raise DataLayoutError(f"{path}: the file has no rows; expected a 'text;label' per line")
    return texts, np.array(labels, dtype=np.int64)


def read_kaggle_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Read Kaggle's `text.csv`: header `,text,label`, then an integer index, a text and a label id 0..5 per row.

    Blank lines are skipped; a quoted text may hold commas and newlines. Returns the texts and int64 label ids.

    Raises:
        FileNotFoundError: the file does not exist.
        DataLayoutError: not UTF-8, wrong header, no rows, a row without exactly 3 cells, a non-integer index,
            an empty text or a label that is not an integer 0..5; the message names the file, the 1-based data
            row (and the file line it starts on) and the column.
    """
    path = Path(path)
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise DataLayoutError(f"{path}: the file is empty; expected a header {','.join(KAGGLE_HEADER)}")
            if [cell.strip() for cell in header] != KAGGLE_HEADER:
                raise DataLayoutError(
                    f"{path}: header {','.join(header)!r} does not match the expected layout "
                    f"{','.join(KAGGLE_HEADER)!r}; row 0, the header line"
                )
            row = 0
            line = reader.line_num + 1
            for cells in reader:
                if cells:  # csv yields [] for a blank line
                    row += 1
                    where = f"{path}: row {row} (line {line})"
                    if len(cells) != len(KAGGLE_HEADER):
                        raise DataLayoutError(f"{where} has {len(cells)} cells, expected {len(KAGGLE_HEADER)}")
                    index, text, label = (cell.strip() for cell in cells)
                    if not _is_int(index):
                        raise DataLayoutError(f"{where}, column 1 (the index): {index!r} is not an integer")
                    if not text:
                        raise DataLayoutError(f"{where}, column 'text': empty text")
                    if not _is_int(label) or not 0 <= int(label) < len(LABELS):
                        raise DataLayoutError(
                            f"{where}, column 'label': {label!r} is not a label id 0..{len(LABELS) - 1}"
                        )
                    texts.append(text)
                    labels.append(int(label))
                line = reader.line_num + 1
        except UnicodeDecodeError as error:
            raise DataLayoutError(f"{path}: after line {reader.line_num}: not UTF-8 text ({error.reason})") from error
        except csv.Error as error:
            raise DataLayoutError(f"{path}: line {reader.line_num}: not a readable CSV row ({error})") from error
    if not texts:
        raise DataLayoutError(f"{path}: the file has a header but no rows")
    return texts, np.array(labels, dtype=np.int64)


def _is_int(cell: str) -> bool:
    return cell.removeprefix("-").isdecimal() and cell.isascii()


def read_folder(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, int]]:
    """Every row of either layout: texts, int64 label ids, int8 folds (0 train, 1 val, 2 test; Kaggle's single
    file is all 0) and the rows read per file name.

    Raises:
        FileNotFoundError: no complete layout in `folder`.
        DataLayoutError: a malformed line (see `read_dair_file` and `read_kaggle_csv`).
    """
    folder = Path(folder)
    if find_layout(folder) == "kaggle":
        texts, labels = read_kaggle_csv(folder / KAGGLE_FILE)
        return texts, labels, np.zeros(len(texts), dtype=np.int8), {KAGGLE_FILE: len(texts)}
    all_texts: list[str] = []
    parts: list[np.ndarray] = []
    folds: list[np.ndarray] = []
    rows: dict[str, int] = {}
    for name, fold in DAIR_FILES.items():
        texts, labels = read_dair_file(folder / name)
        all_texts += texts
        parts.append(labels)
        folds.append(np.full(len(texts), fold, dtype=np.int8))
        rows[name] = len(texts)
    return all_texts, np.concatenate(parts), np.concatenate(folds), rows


# The Hub's dair-ai/emotion `split` config: one parquet file per split (columns text, label id 0..5).
HUB_SPLITS = {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}  # file-name prefix → dair file


def write_dair_files_from_parquet(parquets: list[Path], folder: Path) -> list[Path]:
    """Write dair-ai's `train.txt`, `val.txt`, `test.txt` (`text;label` with label names) into `folder` from the
    Hub's parquet files (`train-…`, `validation-…`, `test-…`; columns `text` and `label` id 0..5).

    Raises:
        DataLayoutError: a split is missing or doubled, a column is missing, a label id is outside 0..5, or a
            text is empty or spans lines (the dair layout is one row per line); the message names file and row.
    """
    import pyarrow.parquet as pq

    by_split: dict[str, Path] = {}
    for path in parquets:
        split = Path(path).name.split("-")[0]
        if split not in HUB_SPLITS or split in by_split:
            raise DataLayoutError(f"{path}: expected one parquet file per split {list(HUB_SPLITS)}, by name prefix")
        by_split[split] = Path(path)
    if missing := [split for split in HUB_SPLITS if split not in by_split]:
        raise DataLayoutError(f"no parquet file for the split(s) {missing} among {[p.name for p in parquets]}")
    written = []
    for split, name in HUB_SPLITS.items():
        path = by_split[split]
        try:
            table = pq.read_table(path, columns=["text", "label"]).to_pydict()
        except Exception as error:  # pyarrow raises several types for a bad file or a missing column
            raise DataLayoutError(f"{path}: not a parquet file with columns text and label ({error})") from error
        lines = []
        for row, (text, label) in enumerate(zip(table["text"], table["label"], strict=True)):
            if not isinstance(label, int) or not 0 <= label < len(LABELS):
                raise DataLayoutError(f"{path}: row {row}, column 'label': {label!r} is not a label id 0..5")
            if not text or not text.strip() or "\n" in text or "\r" in text:
                raise DataLayoutError(f"{path}: row {row}, column 'text': empty, or spans lines ({text!r})")
            lines.append(f"{text};{LABELS[label]}\n")
        target = Path(folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
        written.append(target)
    return written


# Sample sentences: a shared template (with neutral words every class uses) filled with an emotion's words.
# Adjectives of neighbouring emotions overlap a little (joy/love, fear/surprise, sadness/anger), and some
# sentences borrow a neighbour's adjective, so the sample is learnable but not trivially separable.
_ADJECTIVES = {
    "sadness": [
        "sad", "lonely", "miserable", "hopeless", "gloomy", "heartbroken", "depressed", "empty", "defeated",
        "unhappy", "low", "discouraged", "homesick", "drained", "useless", "gutted",
    ],
    "joy": [
        "happy", "cheerful", "delighted", "glad", "content", "excited", "joyful", "pleased", "thrilled", "proud",
        "energetic", "satisfied", "relieved", "confident", "amused", "grateful",
    ],
    "love": [
        "loving", "affectionate", "tender", "caring", "devoted", "romantic", "passionate", "fond", "sweet",
        "adoring", "sentimental", "supportive", "nostalgic", "loyal", "gentle", "warm",
    ],
    "anger": [
        "angry", "furious", "irritated", "annoyed", "resentful", "bitter", "outraged", "mad", "frustrated",
        "hostile", "cranky", "offended", "insulted", "fed up", "jealous", "grumpy",
    ],
    "fear": [
        "afraid", "scared", "anxious", "nervous", "terrified", "worried", "uneasy", "frightened", "panicky",
        "insecure", "tense", "shaky", "paranoid", "helpless", "restless", "alarmed",
    ],
    "surprise": [
        "surprised", "amazed", "astonished", "shocked", "stunned", "curious", "startled", "impressed",
        "speechless", "dazed", "bewildered", "taken aback", "overwhelmed", "puzzled", "awestruck", "blown away",
    ],
}  # fmt: skip
_NEIGHBOURS = {
    "sadness": "anger",
    "joy": "love",
    "love": "joy",
    "anger": "sadness",
    "fear": "surprise",
    "surprise": "fear",
}
_CLAUSES = {
    "sadness": [
        "and i just want to cry", "and nothing seems to matter", "and i miss how things used to be",
        "and i stayed in bed all day",
    ],
    "joy": [
        "and i cant stop smiling", "and everything went right", "and i want to celebrate",
        "and the sun is finally out",
    ],
    "love": [
        "and i want to hold them close", "and my heart is full", "because they mean the world to me",
        "and i cherish every moment together",
    ],
    "anger": [
        "and i want to scream", "and i slammed the door", "because nobody listens to me",
        "and it is so unfair",
    ],
    "fear": [
        "and my hands are shaking", "and i cant sleep at night", "in case something goes wrong",
        "and my heart is racing",
    ],
    "surprise": [
        "and i did not see it coming", "and i had to read it twice", "out of nowhere",
        "and i cant believe it happened",
    ],
}  # fmt: skip
_THINGS = [
    "my job", "the new house", "my family", "school", "the weekend", "my friends", "the trip", "this city",
    "my exams", "the news", "my sister", "our neighbours", "the party", "my health", "the meeting", "my garden",
    "the holidays", "my brother", "the project", "this year",
]  # fmt: skip
_EVENTS = [
    "i moved", "the call", "my birthday", "we talked", "the results came out", "i got home", "the wedding",
    "the interview", "my mom visited", "the game ended", "we met again", "the letter arrived",
]  # fmt: skip
_PEOPLE = ["my partner", "my boss", "my friend", "my dad", "my mom", "the teacher", "my roommate", "my kids"]
_ACTIONS = [
    "calls me", "looks at me", "talks about it", "leaves the room", "sends a message", "walks in",
    "mentions the past", "comes home late",
]  # fmt: skip
_TIMES = ["today", "tonight", "this morning", "right now", "lately", "all week", "again", "these days"]
_ADVERBS = ["really", "so", "very", "a little", "quite", "honestly", "kind of", "incredibly"]
_TEMPLATES = [
    "i feel so {adj} about {thing}",
    "i have been feeling {adj} since {event}",
    "im {adverb} {adj} {time}",
    "when {event} i felt {adj}",
    "i feel {adj} whenever i think about {thing}",
    "{time} i am feeling {adj} and {adj2}",
    "i cant help feeling {adj} when {person} {action}",
    "i feel {adverb} {adj} {clause}",
    "i was {adj} about {thing} {clause}",
    "honestly {thing} makes me feel {adj}",
    "i feel {adj} because {person} {action}",
    "i am left feeling {adj} {time} {clause}",
]
_BORROW = 0.12  # share of sentences whose main adjective comes from the neighbouring emotion


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def sample_sentence(label: str, rng: np.random.Generator) -> str:
    """One generated sentence for `label` (lowercase, no punctuation, like dair-ai's texts)."""
    source = _NEIGHBOURS[label] if rng.random() < _BORROW else label
    return _pick(rng, _TEMPLATES).format(
        adj=_pick(rng, _ADJECTIVES[source]),
        adj2=_pick(rng, _ADJECTIVES[label]),
        thing=_pick(rng, _THINGS),
        event=_pick(rng, _EVENTS),
        person=_pick(rng, _PEOPLE),
        action=_pick(rng, _ACTIONS),
        time=_pick(rng, _TIMES),
        adverb=_pick(rng, _ADVERBS),
        clause=_pick(rng, _CLAUSES[label]),
    )


def sample_rows(per_class: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """`per_class` distinct sentences per emotion, split 80/10/10 per class, each file's rows shuffled."""
    if per_class < 10:
        raise ValueError(f"per_class must be at least 10 so every file holds every emotion, not {per_class}")
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    files: dict[str, list[tuple[str, str]]] = {name: [] for name in DAIR_FILES}
    for label in LABELS:
        sentences: list[str] = []
        for _ in range(per_class * 50):
            if len(sentences) == per_class:
                break
            sentence = sample_sentence(label, rng)
            if sentence not in seen:
                seen.add(sentence)
                sentences.append(sentence)
        else:
            raise ValueError(f"could not generate {per_class} distinct {label} sentences; ask for fewer")
        n_val = n_test = max(1, round(per_class * SAMPLE_SPLIT[1]))
        n_train = per_class - n_val - n_test
        files["train.txt"] += [(text, label) for text in sentences[:n_train]]
        files["val.txt"] += [(text, label) for text in sentences[n_train : n_train + n_val]]
        files["test.txt"] += [(text, label) for text in sentences[n_train + n_val :]]
    return {name: [rows[i] for i in rng.permutation(len(rows))] for name, rows in files.items()}


def write_sample(folder: Path, data: EmotionData, seed: int) -> list[Path]:
    """Write generated `train.txt`, `val.txt` and `test.txt` (dair-ai layout, 80/10/10 per emotion) to `folder`;
    the same bytes for the same arguments. Returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in sample_rows(data.sample_per_class, seed).items():
        path = folder / name
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(f"{text};{label}\n" for text, label in rows)
        written.append(path)
    return written


def build_bilstm(
    *,
    vocab_size: int,
    sequence_length: int,
    embedding_dim: int,
    lstm_units: int,
    dropout: float,
    pooling: str = "last",
    num_classes: int = 6,
):
    """token ids → Embedding → Bidirectional(LSTM) → (last states, or max over time) → Dropout → softmax.

    Input: int32 ids of shape (sequence_length,) named `token_ids` (`shared.text.preprocess`; 0 is padding,
    1 unknown; padding is masked). The LSTM runs a symbolic loop while it trains: its graph builds in seconds,
    where the unrolled one took a minute. Export unrolls it (`training.export.unroll_recurrent`), which is what lets
    TFLite convert it with builtin ops only (the loop needs `TensorListReserve`, a Flex op LiteRT cannot run); the
    mask converts too.
    """
    import keras

    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    # mask_zero: the LSTMs skip the padding after a text (unmasked, 40 pad steps wash out the forward state)
    embedded = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(token_ids)
    recurrent = keras.layers.LSTM(lstm_units, return_sequences=pooling == "max")
    encoded = keras.layers.Bidirectional(recurrent, name="bilstm")(embedded)
    if pooling == "max":  # the strongest signal anywhere in the text (an emotion word), not only the last state
        encoded = keras.layers.GlobalMaxPooling1D(name="max_over_time")(encoded)
    dropped = keras.layers.Dropout(dropout)(encoded)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(dropped)
    return keras.Model(token_ids, probabilities, name="emotion")


# --- the demo ----------------------------------------------------------------------------------------


class EmotionData(DataParams):
    """dair-ai's `train.txt`/`val.txt`/`test.txt` (`text;label`) or Kaggle's `text.csv` (`,text,label`)."""

    sample_per_class: int = Field(300, ge=10, description="sample source only: sentences per emotion")


class BiLstmParams(Strict):
    """Embedding → Bidirectional(LSTM) → Dropout → softmax."""

    embedding_dim: int = Field(64, ge=2)
    lstm_units: int = Field(64, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)
    pooling: Literal["last", "max"] = "last"


class EmotionParams(KerasSection):
    """The emotion BiLSTM (its texts become token ids as `prepare.text` says)."""

    data: EmotionData
    model: BiLstmParams
    parity: ParityParams

    @model_validator(mode="after")
    def _has_text_steps(self) -> EmotionParams:
        if self.prepare.text is None:
            raise ValueError("emotion.prepare.text is required: how texts become token ids")
        return self


DEMO = Demo(
    name="emotion",
    task="text-classification",
    params=EmotionParams,
    read=read,
    converters={"dair-ai-parquet": write_dair_files_from_parquet},
    write_sample=write_sample,
    build=lambda section, splits: build_bilstm(
        vocab_size=int(splits["vocab_size"]),
        sequence_length=splits["x_train"].shape[1],
        num_classes=len(splits["labels"]),
        **section.model.model_dump(),
    ),
    descriptions={
        "sample": "generated English sentences for 6 emotions (deterministic, templates), so the pipeline runs offline",
        "kaggle": "dair-ai emotion: 20,000 English tweets labelled with 6 emotions",
        "public": "dair-ai emotion, fetched from the Hugging Face Hub: 20,000 English tweets, 6 emotions",
    },
    tiny={
        "data": {"sample_per_class": 150},
        "prepare": {"text": {"max_tokens": 500, "sequence_length": 24, "stem": True}},  # stemming, end to end
        "model": {"embedding_dim": 32, "lstm_units": 16, "pooling": "max"},
        "train": {"epochs": 20, "learning_rate": 0.01},
        "parity": {"min_agreement": 0.9, "min_agreement_quantized": 0.8},
        "tune": {"trials": 2, "space": {"model.lstm_units": [8, 16]}},  # two cheap trials (tests/test_tune.py)
    },
    floor={"accuracy": 0.6},
)
