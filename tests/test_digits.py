"""Digits: the sample from scikit-learn's real digits, mnist.npz validation, and MNIST-style framing of a drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from shared.errors import DataLayoutError, InputError
from shared.images import dark_background, frame_digit, preprocess_image
from training.demos import digits


def test_sample_is_deterministic_and_in_keras_layout(tmp_path: Path) -> None:
    first = digits.write_sample(tmp_path / "a", digits.DigitData.model_construct(sample_test_fraction=0.2), 1)[0]
    second = digits.write_sample(tmp_path / "b", digits.DigitData.model_construct(sample_test_fraction=0.2), 1)[0]
    assert first.read_bytes() == second.read_bytes()
    arrays = digits.read_npz(first)
    assert arrays["x_train"].shape[1:] == (28, 28) and arrays["x_train"].dtype == np.uint8
    assert len(arrays["y_train"]) + len(arrays["y_test"]) == 1797
    assert set(arrays["y_test"].tolist()) == set(range(10))


def test_bad_npz_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mnist.npz"
    images = np.zeros((2, 28, 28), np.uint8)
    np.savez(path, x_train=images, y_train=np.array([1, 12]), x_test=images, y_test=np.array([0, 1]))
    with pytest.raises(DataLayoutError, match="y_train row 1 is 12"):
        digits.read_npz(path)
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataLayoutError, match="missing arrays"):
        digits.read_npz(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(DataLayoutError, match=r"not a readable \.npz"):
        digits.read_npz(path)


def _drawn_seven(size: int = 400, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))  # a sketchpad layer: transparent background
    draw = ImageDraw.Draw(image)
    ox, oy = offset
    draw.line([(100 + ox, 80 + oy), (260 + ox, 80 + oy), (150 + ox, 320 + oy)], fill=(0, 0, 0, 255), width=24)
    return image


def test_a_drawing_is_framed_like_mnist_wherever_it_is_drawn() -> None:
    centred, _ = preprocess_image(_drawn_seven(), (28, 28), framing="digit")
    shifted, _ = preprocess_image(_drawn_seven(offset=(-90, 60)), (28, 28), framing="digit")
    assert centred.shape == (1, 28, 28, 1)
    assert np.abs(centred - shifted).max() < 0.05  # position on the pad does not matter
    ink = centred[0, ..., 0] > 0.2
    rows, cols = np.nonzero(ink)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21  # fits the 20×20 box
    assert centred[0, 0].max() == 0.0  # strokes are light on a dark background, as in MNIST


def test_light_background_is_inverted_and_empty_drawings_refused() -> None:
    gray = np.full((50, 50), 255, dtype=np.uint8)
    gray[20:30, 20:30] = 0
    assert dark_background(gray)[0, 0] == 0 and dark_background(gray)[25, 25] == 255
    with pytest.raises(InputError, match="No digit found"):
        frame_digit(np.zeros((28, 28), dtype=np.uint8))


def test_framing_an_mnist_style_digit_changes_little() -> None:
    arrays = digits.sample_digits(0.2, seed=0)
    image = arrays["x_train"][0]
    assert np.abs(frame_digit(image).astype(int) - image.astype(int)).mean() < 3
