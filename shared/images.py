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


def decode_image(source: ImageSource, draft_size: tuple[int, int] | None = None, draft_mode: str = "L") -> DecodedImage:
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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(f"The image is too large: at most {MAX_PIXELS // 1_000_000} megapixels.") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:  # e.g. a WebP with a broken header
        raise InputError(f"This file is not an image we can read ({READABLE_FORMATS}).") from error
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
        image.draft(draft_mode, (draft_size[0] * 4, draft_size[1] * 4))
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


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB; transparent pixels are composited onto white."""
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return to_grayscale(image).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def to_pixels(image: Image.Image, size: tuple[int, int], channels: int = 1) -> np.ndarray:
    """Center-crop to the target aspect ratio, resize, and return uint8 pixels: (H, W) gray or (H, W, 3) RGB."""
    width, height = size
    converted = to_grayscale(image) if channels == 1 else to_rgb(image)
    source_w, source_h = converted.size
    crop_w, crop_h = min(source_w, source_h * width / height), min(source_h, source_w * height / width)
    left, top = (source_w - crop_w) / 2, (source_h - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    fitted = converted.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    return np.asarray(fitted, dtype=np.uint8)


def frame_digit(gray: np.ndarray, side: int = 28, box: int = 20, ink: int = 40) -> np.ndarray:
    """Frame a light-on-dark digit the way MNIST was made: its bounding box scaled to fit `box`×`box`
    (aspect kept), placed in a `side`×`side` square with its centre of mass in the middle.

    Training applies this to every MNIST row (a near no-op: MNIST is framed so) and serving to every
    sketch, so both see digits of the same size and position.

    Raises:
        InputError: nothing brighter than `ink` (an empty drawing).
    """
    from shared.errors import InputError

    rows, cols = np.nonzero(gray > ink)
    if rows.size == 0:
        raise InputError("No digit found: draw one (dark strokes on a light background, or light on dark).")
    crop = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = box / max(crop.shape)
    new_h, new_w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    fitted = np.asarray(Image.fromarray(crop).resize((new_w, new_h), Image.Resampling.LANCZOS), dtype=np.float64)
    total = fitted.sum()
    center_y, center_x = (
        (np.indices(fitted.shape) * fitted).reshape(2, -1).sum(axis=1) / total if total > 0 else (new_h / 2, new_w / 2)
    )
    top = int(np.clip(round(side / 2 - center_y), 0, side - new_h))
    left = int(np.clip(round(side / 2 - center_x), 0, side - new_w))
    framed = np.zeros((side, side), dtype=np.uint8)
    framed[top : top + new_h, left : left + new_w] = np.clip(fitted, 0, 255).round().astype(np.uint8)
    return framed


def dark_background(gray: np.ndarray) -> np.ndarray:
    """Invert a gray image whose border is mostly light, so strokes are light on dark (MNIST's convention)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 255 - gray if float(np.median(border)) > 127 else gray


def normalize(pixels: np.ndarray, channels: int = 1) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1], shaped (N, H, W, channels).

    Gray input is (N, H, W) or (H, W); RGB input is (N, H, W, 3) or (H, W, 3). Training applies this
    to every dataset row, serving to every upload.
    """
    single = pixels.ndim == (2 if channels == 1 else 3)
    batch = pixels[np.newaxis] if single else pixels
    scaled = batch.astype(np.float32) / 255.0
    return scaled[..., np.newaxis] if channels == 1 else scaled


def preprocess_image(
    source: ImageSource, size: tuple[int, int], *, channels: int = 1, framing: str = "center-crop"
) -> tuple[np.ndarray, DecodedImage]:
    """Decode, validate and turn an upload into the model input (1, H, W, channels); also return the decoded image.

    `framing` is `center-crop` (photos) or `digit` (a drawn digit, framed like MNIST by `frame_digit`).
    """
    if framing == "digit":
        decoded = decode_image(source)
        gray = dark_background(np.asarray(to_grayscale(decoded.image), dtype=np.uint8))
        return normalize(frame_digit(gray, side=size[0])), decoded
    decoded = decode_image(source, draft_size=size, draft_mode="L" if channels == 1 else "RGB")
    return normalize(to_pixels(decoded.image, size, channels), channels), decoded
