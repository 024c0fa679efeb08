"""shared.images: every upload becomes the model input, or a clear InputError."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_images import animated_gif, declared_size_png, hand_like, jpeg_bytes, png_bytes
from PIL import Image

from shared.errors import InputError
from shared.images import decode_image, normalize, preprocess_image, to_grayscale, to_pixels


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "1", "I;16", "I", "F"])
def test_every_mode_becomes_28x28_gray(mode: str) -> None:
    image = (
        hand_like(mode=mode)
        if mode not in ("I;16", "I", "F")
        else Image.fromarray(
            (np.asarray(hand_like(mode="L"), dtype=np.uint16) * 257).astype(np.uint16 if mode == "I;16" else np.int32)
        ).convert(mode)
    )
    inputs, _ = preprocess_image(image, (28, 28))
    assert inputs.shape == (1, 28, 28, 1)
    assert inputs.dtype == np.float32
    assert inputs.min() >= 0.0 and inputs.max() <= 1.0
    assert inputs.std() > 0.05, f"{mode}: contrast lost"


def test_sixteen_bit_keeps_the_picture() -> None:
    gray = np.asarray(hand_like(mode="L"))
    sixteen = Image.fromarray(gray.astype(np.uint16) * 257)
    assert np.abs(np.asarray(to_grayscale(sixteen), dtype=int) - gray).max() <= 1


def test_transparent_pixels_show_as_white() -> None:
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    assert np.asarray(to_grayscale(image)).min() == 255


def test_exact_size_gray_image_is_unchanged() -> None:
    """Serving a 28×28 dataset image gives exactly the pixels training used (no train/serve skew)."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(28, 28), dtype=np.uint8)
    decoded = decode_image(png_bytes(Image.fromarray(pixels)))
    assert np.array_equal(to_pixels(decoded.image, (28, 28)), pixels)
    assert np.allclose(normalize(pixels), pixels[np.newaxis, ..., np.newaxis] / 255.0)


def test_center_crop_keeps_aspect_ratio() -> None:
    wide = np.zeros((20, 60), dtype=np.uint8)
    wide[:, 20:40] = 255  # a white square in the middle of a wide black image
    pixels = to_pixels(Image.fromarray(wide), (28, 28))
    assert pixels.mean() > 200


def test_exif_orientation_is_applied() -> None:
    tall = hand_like(size=(40, 80))
    decoded = decode_image(jpeg_bytes(tall, exif_orientation=6))  # 6: rotate 90° clockwise to view
    assert decoded.image.size == (80, 40)


def test_animated_gif_uses_first_frame_and_says_so() -> None:
    decoded = decode_image(animated_gif())
    assert decoded.notes == ["Animated image: its first frame was used."]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"definitely not an image", "not an image we can read"),
        (b"", "not an image we can read"),
        (png_bytes(Image.new("L", (1, 1))), "too small (1×1)"),
        (declared_size_png(20000, 20000), "too large"),
        (declared_size_png(8000, 6000), "too large (8000×6000)"),
        (png_bytes(hand_like())[:200], "truncated or corrupt"),
    ],
)
def test_bad_uploads_get_a_clear_error(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_image(payload)


def test_missing_file_and_none() -> None:
    with pytest.raises(InputError, match="could not be found"):
        decode_image("/nonexistent/upload.png")
    with pytest.raises(InputError, match="No image"):
        decode_image(None)  # type: ignore[arg-type]
