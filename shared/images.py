"""Image preprocessing shared by training and every image Space (no train/serve skew).

`decode_image` turns any upload into a validated PIL image; `to_pixels` crops and resizes it to the
model's input size; `normalize` is the last step both training and serving apply to uint8 pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger declared sizes are refused before any pixel is decoded
MIN_SIDE = 8
READABLE_FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF"

ImageSource = str | Path | bytes | Image.Image | np.ndarray


@dataclass
class DecodedImage:
    """A validated image plus notes to show the user (e.g. 'animated: first frame used')."""

    image: Image.Image
    notes: list[str] = field(default_factory=list)


def _open(source: ImageSource) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            array = _scale_to_uint8(array.astype(np.float64))
        return Image.fromarray(array)
    stream = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(stream)


def decode_image(source: ImageSource, draft_size: tuple[int, int] | None = None) -> DecodedImage:
    """Open and validate an image from a path, bytes, a PIL image or an array.

    EXIF orientation is applied; an animated image gives its first frame. With `draft_size`, a JPEG is
    decoded at the smallest scale that still covers that size (much faster for camera photos).

    Raises:
        InputError: not a readable image, truncated, too small, or too large a declared size.
    """
    from shared.errors import InputError

    if source is None:
        raise InputError("No image was given: upload, take or draw one first.")
    try:
        image = _open(source)
    except FileNotFoundError as error:
        raise InputError("The uploaded file could not be found on the server; please upload it again.") from error
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        if isinstance(error, UnidentifiedImageError):
            raise InputError(f"This file is not an image we can read ({READABLE_FORMATS}).") from error
        raise InputError(f"The image is too large: at most {MAX_PIXELS // 1_000_000} megapixels.") from error
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(f"The image is too large ({width}×{height}): at most {MAX_PIXELS // 1_000_000} megapixels.")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"The image is too small ({width}×{height}): at least {MIN_SIDE}×{MIN_SIDE} pixels.")
    notes = []
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
        notes.append("Animated image: its first frame was used.")
    if draft_size is not None and image.format == "JPEG" and image.mode in ("RGB", "L"):
        image.draft("L", (draft_size[0] * 4, draft_size[1] * 4))
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError("The image data is truncated or corrupt; please upload the file again.") from error
    return DecodedImage(image=image, notes=notes)


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map 16-bit, 32-bit or float pixels to 0..255 by their dtype's or data's range."""
    if values.size == 0:
        return values.astype(np.uint8)
    high = float(np.nanmax(values))
    if high <= 1.0:
        scale = 255.0
    elif high <= 255.0:
        scale = 1.0
    elif high <= 65535.0:
        scale = 255.0 / 65535.0
    else:
        scale = 255.0 / high
    return np.clip(np.nan_to_num(values) * scale, 0, 255).round().astype(np.uint8)


def to_grayscale(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGB, RGBA, LA, P, CMYK, 1, I;16, I, F) to 8-bit gray 'L'.

    Transparent pixels are composited onto white, as a viewer would show them.
    """
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(image, dtype=np.float64)))
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("L")


def to_pixels(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Center-crop to the target aspect ratio, resize, and return uint8 gray pixels of shape (H, W)."""
    width, height = size
    gray = to_grayscale(image)
    source_w, source_h = gray.size
    crop_w, crop_h = min(source_w, source_h * width / height), min(source_h, source_w * height / width)
    left, top = (source_w - crop_w) / 2, (source_h - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    fitted = gray.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    return np.asarray(fitted, dtype=np.uint8)


def normalize(pixels: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels (N, H, W) or (H, W) to float32 in [0, 1] with a channel axis: (N, H, W, 1).

    Training applies this to every dataset row, serving to every upload.
    """
    batch = pixels[np.newaxis] if pixels.ndim == 2 else pixels
    return (batch.astype(np.float32) / 255.0)[..., np.newaxis]


def preprocess_image(source: ImageSource, size: tuple[int, int]) -> tuple[np.ndarray, DecodedImage]:
    """Decode, validate and turn an upload into the model input (1, H, W, 1); also return the decoded image."""
    decoded = decode_image(source, draft_size=size)
    return normalize(to_pixels(decoded.image, size)), decoded
