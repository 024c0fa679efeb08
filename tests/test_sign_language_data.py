"""Sample generator and Kaggle CSV reader: deterministic, exact layout, and errors naming file/row/column."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from shared.errors import DataLayoutError
from training.demos import sign_language
from training.io import sha256

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sign-language-mnist"


@pytest.fixture
def sample_csv(tmp_path: Path) -> Path:
    pixels, labels = sign_language.generate_sample(3, seed=1)
    path = tmp_path / "sign_mnist_train.csv"
    sign_language.write_kaggle_csv(path, pixels, labels)
    return path


def test_sample_is_deterministic_and_in_kaggle_layout(tmp_path: Path) -> None:
    first = sign_language.write_sample(
        tmp_path / "a",
        sign_language.SignLanguageData.model_construct(sample_train_per_class=3, sample_test_per_class=2),
        7,
    )
    second = sign_language.write_sample(
        tmp_path / "b",
        sign_language.SignLanguageData.model_construct(sample_train_per_class=3, sample_test_per_class=2),
        7,
    )
    assert [sha256(p) for p in first] == [sha256(p) for p in second]
    header = first[0].read_text().splitlines()[0].split(",")
    assert header == ["label"] + [f"pixel{i}" for i in range(1, 785)]
    pixels, labels = sign_language.read_kaggle_csv(first[0])
    assert pixels.shape == (72, 28, 28) and pixels.dtype == np.uint8
    assert sorted(set(labels.tolist())) == sign_language.LABEL_IDS  # 24 letters, no 9 (J)
    assert np.bincount(labels, minlength=25)[9] == 0


def test_sample_classes_differ() -> None:
    pixels, labels = sign_language.generate_sample(20, seed=0)
    means = np.stack([pixels[labels == label].mean(axis=0) for label in sign_language.LABEL_IDS])
    distances = np.abs(means[:, None] - means[None]).mean(axis=(2, 3))
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 2.0, "two letters look alike on average: the sample would not be learnable"


def test_letters_skip_j_and_z() -> None:
    assert len(sign_language.LETTERS) == 24
    assert "J" not in sign_language.LETTERS and "Z" not in sign_language.LETTERS
    assert sign_language.LETTERS[9] == "K"


def test_gzip_is_read_like_plain(sample_csv: Path) -> None:
    gz = sample_csv.with_suffix(".csv.gz")
    gz.write_bytes(gzip.compress(sample_csv.read_bytes()))
    sample_csv.unlink()
    found = sign_language.find_file(sample_csv.parent, "sign_mnist_train.csv")
    assert found == gz
    assert sign_language.read_kaggle_csv(found)[0].shape == (72, 28, 28)


def _corrupt(path: Path, line: int, column: int, value: str) -> None:
    lines = path.read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("line", "column", "value", "expected"),
    [
        (5, 10, "abc", r"row 4 \(line 5\), column 'pixel10'"),
        (3, 784, "300", r"row 2 \(line 3\), column 'pixel784'"),
        (7, 1, "-1", r"row 6 \(line 7\), column 'pixel1'"),
        (2, 0, "9", r"row 1 \(line 2\), column 'label'"),
        (4, 0, "25", r"row 3 \(line 4\), column 'label'"),
        (6, 300, "", r"row 5 \(line 6\), column 'pixel300'"),
    ],
)
def test_bad_cells_name_file_row_and_column(sample_csv: Path, line: int, column: int, value: str, expected: str):
    _corrupt(sample_csv, line, column, value)
    with pytest.raises(DataLayoutError, match=expected) as caught:
        sign_language.read_kaggle_csv(sample_csv)
    assert str(sample_csv) in str(caught.value)


def test_ragged_row_and_wrong_header(sample_csv: Path) -> None:
    lines = sample_csv.read_text().splitlines()
    ragged = sample_csv.with_name("ragged.csv")
    ragged.write_text("\n".join([*lines[:3], lines[3] + ",7,7", *lines[4:]]) + "\n")
    with pytest.raises(DataLayoutError, match=r"ragged.csv: row 3 \(line 4\) has 787 cells, expected 785"):
        sign_language.read_kaggle_csv(ragged)
    renamed = sample_csv.with_name("renamed.csv")
    renamed.write_text("\n".join([lines[0].replace("pixel5,", "px5,"), *lines[1:]]) + "\n")
    with pytest.raises(DataLayoutError, match=r"renamed\.csv: header does not match.*px5"):
        sign_language.read_kaggle_csv(renamed)


def test_empty_and_binary_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataLayoutError, match=r"empty\.csv: the file is empty"):
        sign_language.read_kaggle_csv(empty)
    binary = tmp_path / "binary.csv.gz"
    binary.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DataLayoutError, match=r"binary\.csv\.gz: not a readable CSV"):
        sign_language.read_kaggle_csv(binary)


@pytest.mark.skipif(not REAL.is_dir(), reason="real datasets folder not beside the repo")
def test_real_kaggle_files_pass_the_schema() -> None:
    pixels, labels = sign_language.read_kaggle_csv(sign_language.find_file(REAL, "sign_mnist_test.csv"))
    assert pixels.shape == (7172, 28, 28)
    assert set(labels.tolist()) == set(sign_language.LABEL_IDS)
