"""Image preprocessing shared by training and every image Space (no train/serve skew).

`decode_image` turns any upload into a validated PIL image; `to_pixels` crops and resizes it to the model's input
size; `normalize` is the last step both training and serving apply to uint8 pixels. `preprocess_image`, what a
Space runs per request, keeps to the budgets of `shared.limits`: the header is checked before a pixel is decoded
(format, declared size, the request's pixel budget), a JPEG is decoded at a reduced scale, a big decode waits for
memory (`DECODE_GATE`), and an image is reduced to a few times the model's size before it is converted (16-bit,
alpha, palette, CMYK), strip by strip, so no full-size converted copy and no float64 image is ever made.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

import shared.limits as limits
from shared.errors import InputError, NeedsWorkerThread

MAX_PIXELS = limits.MAX_IMAGE_PIXELS
MIN_SIDE = limits.MIN_SIDE
READABLE_FORMATS = limits.READABLE_FORMATS
REDUCING_GAP = 3.0  # reduce to at least 3× the model's size before Lanczos (Pillow's own `reducing_gap`)
DIGIT_WORK_SIDE = 10  # a drawn digit is found and framed on an image at least 10× the model's side
STRIP_PIXELS = 1 << 20  # modes converted before reducing are converted in strips of about this many pixels
NATIVE_MODES = ("L", "RGB", "I", "F")  # reduced as they are; others are converted first (alpha premultiplied)
# PNG text chunks are inflated while the header is read; Pillow allows 64 MiB of them per image by default. Pillow's
# own size check (a warning above 89 MP, an error above twice that) is left as it is: ours, right after it, is
# stricter, and silencing its warning per call (warnings.catch_warnings) cost more than the rest of a small decode.
PngImagePlugin.MAX_TEXT_MEMORY = limits.PNG_TEXT_BYTES

ImageSource = str | Path | bytes | Image.Image | np.ndarray


@dataclass
class DecodedImage:
    """A validated image plus notes to show the user (e.g. 'animated: first frame used')."""

    image: Image.Image
    notes: list[str] = field(default_factory=list)


class MemoryGate:
    """A semaphore counted in bytes, first come first served: a decode waits until its pixels fit beside the
    decodes in flight, so concurrent big images queue instead of stacking up in memory."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._changed = threading.Condition()
        self._line: deque[object] = deque()

    @contextlib.contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        """Hold `amount` bytes (at most the capacity) for the duration of the block."""
        amount = min(amount, self.capacity)
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            while self._line[0] is not ticket or self.used + amount > self.capacity:
                self._changed.wait()
            self._line.popleft()
            self.used += amount
            self._changed.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self._changed:
                self.used -= amount
                self._changed.notify_all()


DECODE_GATE = MemoryGate(limits.DECODE_MEMORY_BYTES)
_pixels_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("image_pixels_left", default=None)


@contextlib.contextmanager
def pixel_budget(pixels: int = limits.MAX_REQUEST_PIXELS) -> Iterator[None]:
    """Within this block (one request), the images decoded in this context may hold `pixels` decoded pixels in all;
    the image that would exceed them is refused before it is decoded."""
    token = _pixels_left.set([pixels, pixels])
    try:
        yield
    finally:
        _pixels_left.reset(token)


def _spend(pixels: int) -> None:
    budget = _pixels_left.get()
    if budget is None:
        return
    if pixels > budget[0]:
        raise InputError(
            f"The images of this request are too large together: at most {budget[1] / 1e6:g} megapixels per "
            "request. Send fewer or smaller images."
        )
    budget[0] -= pixels


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow allocates per pixel once decoded (multi-band images take 4 bytes, RGB included)."""
    return 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4


def _too_large(width: int, height: int, limit: int) -> InputError:
    return InputError(f"The image is too large ({width}×{height}): at most {limit / 1e6:g} megapixels.")


def _unreadable() -> InputError:
    return InputError(f"This file is not an image we can read ({READABLE_FORMATS}).")


def _open(source: ImageSource) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            array = _scale_to_uint8(array.astype(np.float32))
        return Image.fromarray(array)
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else Path(source)
    return Image.open(stream, formats=limits.IMAGE_FORMATS)


def open_image(source: ImageSource) -> Image.Image:
    """Open an image and check what its header declares, decoding no pixel: a readable format, at most
    `limits.MAX_DECLARED_PIXELS` (and `MAX_IMAGE_PIXELS` unless it is a JPEG, which decodes reduced), at least
    `MIN_SIDE` on each side.

    Raises:
        InputError: no image, a missing file, not a readable image, too large or too small (one sentence).
    """
    if source is None:
        raise InputError("No image was given: upload, take or draw one first.")
    try:
        image = _open(source)
    except FileNotFoundError as error:
        raise InputError("The uploaded file could not be found on the server; please upload it again.") from error
    except Image.DecompressionBombError as error:
        raise InputError(f"The image is too large: at most {MAX_PIXELS / 1e6:g} megapixels.") from error
    except Exception as error:  # Pillow raises many kinds on hostile headers; each means an unreadable file
        raise _unreadable() from error
    width, height = image.size
    limit = limits.MAX_DECLARED_PIXELS if image.format in ("JPEG", "MPO") else MAX_PIXELS
    if width * height > limit:
        image.close()
        raise _too_large(width, height, limit)
    if min(width, height) < MIN_SIDE:
        image.close()
        raise InputError(f"The image is too small ({width}×{height}): at least {MIN_SIDE}×{MIN_SIDE} pixels.")
    return image


def _draft(image: Image.Image, draft_size: tuple[int, int] | None, draft_mode: str) -> None:
    """Let a JPEG decode at the smallest scale (1/2, 1/4, 1/8) that still covers 4× `draft_size`."""
    if draft_size is not None and image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L"):
        image.draft(draft_mode, (draft_size[0] * 4, draft_size[1] * 4))


def _load(image: Image.Image) -> list[str]:
    """Decode the first frame (checked against the pixel limits and the request's budget first); its notes."""
    width, height = image.size  # after a JPEG's draft: what will be decoded
    if width * height > MAX_PIXELS:
        raise _too_large(width, height, MAX_PIXELS)
    _spend(width * height)
    notes = []
    try:
        if getattr(image, "is_animated", False):  # only looks for a second frame (n_frames would read them all)
            image.seek(0)
            notes.append("Animated image: its first frame was used.")
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # a full-size copy only when the image is rotated
    except Exception as error:  # Pillow raises many kinds on hostile data; each means a broken file
        raise InputError("The image data is truncated or corrupt; please upload the file again.") from error
    return notes


def decode_image(source: ImageSource, draft_size: tuple[int, int] | None = None, draft_mode: str = "L") -> DecodedImage:
    """Open, validate and decode an image from a path, bytes, a PIL image or an array.

    EXIF orientation is applied; an animated image gives its first frame. With `draft_size`, a JPEG is
    decoded at the smallest scale that still covers that size (much faster for camera photos).

    Raises:
        InputError: not a readable image, truncated, too small, or too large a declared size.
    """
    image = open_image(source)
    _draft(image, draft_size, draft_mode)
    return DecodedImage(image=image, notes=_load(image))


def _scale_to_uint8(values: np.ndarray, high: float | None = None) -> np.ndarray:
    """Map 16-bit, 32-bit or float pixels (float32) to 0..255 by their dtype's or data's range (`high`: the data's
    maximum, when `values` is only part of it)."""
    if values.size == 0:
        return values.astype(np.uint8)
    high = float(np.nanmax(values)) if high is None else float(high)
    if high <= 1.0:
        scale = 255.0
    elif high <= 255.0:
        scale = 1.0
    elif high <= 65535.0:
        scale = 255.0 / 65535.0
    else:
        scale = 255.0 / high
    scaled = np.nan_to_num(values, copy=False) * np.float32(scale)
    return np.clip(scaled, 0, 255, out=scaled).round().astype(np.uint8)


def _flatten(image: Image.Image, high: float | None = None) -> Image.Image:
    """A small image in any mode as 8-bit 'L' or 'RGB' (alpha composited onto white, as a viewer shows it)."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.array(image, dtype=np.float32), high))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA"))
    return image


def to_grayscale(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGB, RGBA, LA, P, CMYK, 1, I;16, I, F) to 8-bit gray 'L'.

    Transparent pixels are composited onto white, as a viewer would show them.
    """
    return _flatten(image).convert("L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB; transparent pixels are composited onto white."""
    return image if image.mode == "RGB" else _flatten(image).convert("RGB")


def _reducible(strip: Image.Image) -> Image.Image:
    """A strip in a mode `Image.reduce` averages correctly: alpha premultiplied, palette and 16-bit expanded."""
    if strip.mode == "P":
        strip = strip.convert("RGBA" if "transparency" in strip.info else "RGB")
    if strip.mode in ("RGBA", "PA"):
        return strip.convert("RGBA").convert("RGBa")
    if strip.mode == "LA":
        return strip.convert("La")
    if strip.mode.startswith("I;16"):
        return strip.convert("I")
    if strip.mode in ("1",):
        return strip.convert("L")
    if strip.mode in NATIVE_MODES or strip.mode in ("RGBa", "La"):
        return strip
    return strip.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def reduce_image(image: Image.Image, factor: int, channels: int = 1) -> Image.Image:
    """`image` shrunk `factor` times by averaging (`Image.reduce`), as 8-bit gray (`channels` 1) or RGB (3).

    Gray and RGB images are reduced as they are; other modes are converted strip by strip first (alpha
    premultiplied, so transparent pixels do not darken their neighbours), never as a full-size copy.
    """
    high = image.getextrema()[1] if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F") else None
    if factor <= 1:
        small = image
    elif image.mode in NATIVE_MODES:
        small = image.reduce(factor)
    else:
        width, height = image.size
        rows = max(1, STRIP_PIXELS // (width * factor)) * factor  # whole blocks per strip: same as one reduce
        small = None
        for top in range(0, height, rows):
            part = _reducible(image.crop((0, top, width, min(height, top + rows)))).reduce(factor)
            if small is None:
                small = Image.new(part.mode, (-(-width // factor), -(-height // factor)))
            small.paste(part, (0, top // factor))
        assert small is not None
    return _flatten(small, high).convert("L" if channels == 1 else "RGB")


def to_pixels(image: Image.Image, size: tuple[int, int], channels: int = 1) -> np.ndarray:
    """Center-crop to the target aspect ratio, resize, and return uint8 pixels: (H, W) gray or (H, W, 3) RGB.

    Gray and RGB images are resized as they are (Pillow reduces the crop first); an image in another mode that is
    many times the target's size is reduced before it is converted (`reduce_image`).
    """
    width, height = size
    source_w, source_h = image.size
    crop_w, crop_h = min(source_w, source_h * width / height), min(source_h, source_w * height / width)
    factor = int(min(crop_w / width, crop_h / height) / REDUCING_GAP)
    if image.mode != ("L" if channels == 1 else "RGB") and factor >= 2:
        converted = reduce_image(image, factor, channels)
        crop_w, crop_h = crop_w / factor, crop_h / factor
        source_w, source_h = source_w / factor, source_h / factor
    else:
        converted = to_grayscale(image) if channels == 1 else to_rgb(image)
    left, top = (source_w - crop_w) / 2, (source_h - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    fitted = converted.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
    return np.asarray(fitted, dtype=np.uint8)


def frame_digit(gray: np.ndarray, side: int = 28, box: int = 20, ink: int = 40) -> np.ndarray:
    """Frame a light-on-dark digit the way MNIST was made: its bounding box scaled to fit `box`×`box`
    (aspect kept), placed in a `side`×`side` square with its centre of mass in the middle.

    Training applies this to every MNIST row (a near no-op: MNIST is framed so) and serving to every
    sketch, so both see digits of the same size and position.

    Raises:
        InputError: nothing brighter than `ink` (an empty drawing).
    """
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


def _digit_pixels(image: Image.Image, side: int) -> np.ndarray:
    """A drawing framed like MNIST; found on the image reduced to about DIGIT_WORK_SIDE× the model's side."""
    factor = int(min(image.size) / (side * DIGIT_WORK_SIDE))
    gray = reduce_image(image, factor, 1) if factor >= 2 else to_grayscale(image)
    return frame_digit(dark_background(np.asarray(gray, dtype=np.uint8)), side=side)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def preprocess_image(
    source: ImageSource, size: tuple[int, int], *, channels: int = 1, framing: str = "center-crop"
) -> tuple[np.ndarray, list[str]]:
    """Decode, validate and turn an upload into the model input (1, H, W, channels); also return notes for the user.

    `framing` is `center-crop` (photos) or `digit` (a drawn digit, framed like MNIST by `frame_digit`). The
    decode counts against the request's `pixel_budget`, waits for memory in `DECODE_GATE` when it is big, and
    the full-size image is released before this returns.

    Raises:
        InputError: the image cannot be read, is too small or too large, or nothing is drawn.
        NeedsWorkerThread: called on an event loop's thread for an image too big to decode there.
    """
    image = open_image(source)
    try:
        if framing == "digit":
            _draft(image, (size[0] * DIGIT_WORK_SIDE // 4, size[1] * DIGIT_WORK_SIDE // 4), "L")
        else:
            _draft(image, size, "L" if channels == 1 else "RGB")
        width, height = image.size
        cost = width * height * _bytes_per_pixel(image.mode)
        if cost > limits.SMALL_DECODE_BYTES and _on_event_loop():
            raise NeedsWorkerThread(f"a {width}×{height} image is decoded in a worker thread")
        with DECODE_GATE.hold(cost) if cost > limits.SMALL_DECODE_BYTES else contextlib.nullcontext():
            notes = _load(image)
            if framing == "digit":
                return normalize(_digit_pixels(image, size[0])), notes
            return normalize(to_pixels(image, size, channels), channels), notes
    finally:
        if image is not source:
            image.close()
