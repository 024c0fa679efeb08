"""Parrot species: the Kaggle folder layout, a deterministic sample generator, the MobileNetV2 transfer model."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from shared.errors import DataLayoutError, InputError
from shared.images import decode_image, to_pixels

DATASET_FOLDER = "Birds dataset"
SPECIES = ["amazon green parrot", "gray parrot", "macaw", "white parrot"]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


# --- the Kaggle layout -------------------------------------------------------------------------------


def dataset_root(folder: Path) -> Path:
    """`folder/Birds dataset` when it exists, else `folder` itself (holding one sub-folder per class)."""
    nested = Path(folder) / DATASET_FOLDER
    return nested if nested.is_dir() else Path(folder)


def list_images(folder: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Image files per class folder (sorted), and the other files that were skipped.

    Raises:
        FileNotFoundError: the folder does not exist or holds no class folders.
    """
    root = dataset_root(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} not found")
    classes: dict[str, list[Path]] = {}
    skipped: list[Path] = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in class_dir.rglob("*") if p.is_file())
        classes[class_dir.name] = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped += [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if not classes:
        raise FileNotFoundError(f"{root} holds no class folders (expected `{DATASET_FOLDER}/<class>/*.jpg`)")
    return classes, skipped


def read_image(path: Path, size: int) -> np.ndarray:
    """Decode one image file (any readable format) into RGB uint8 pixels (size, size, 3).

    Raises:
        DataLayoutError: the file is not a readable image (the message names it).
    """
    try:
        decoded = decode_image(path)
    except InputError as error:
        raise DataLayoutError(f"{path}: {error}") from error
    return to_pixels(decoded.image, (size, size), channels=3)


def read_folder(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str], list[Path], list[Path]]:
    """Every image of the layout as pixels (N, size, size, 3), class indices, class names, files, skipped files.

    Raises:
        FileNotFoundError, DataLayoutError: a missing folder, an empty class, an unreadable image.
    """
    classes, skipped = list_images(folder)
    names = list(classes)
    if len(names) < 2:
        raise DataLayoutError(f"{dataset_root(folder)}: need at least 2 class folders, found {names}")
    pixels, targets, files = [], [], []
    for index, name in enumerate(names):
        if not classes[name]:
            raise DataLayoutError(f"{dataset_root(folder) / name}: no image files")
        for path in classes[name]:
            pixels.append(read_image(path, size))
            targets.append(index)
            files.append(path)
    return np.stack(pixels), np.array(targets, dtype=np.int64), names, files, skipped


# --- deterministic sample data -----------------------------------------------------------------------

# Body, head, wing and beak colours per species (RGB); birds differ in colour and in the tail's length.
_LOOKS = {
    "amazon green parrot": dict(
        body=(60, 160, 60), head=(230, 200, 40), wing=(200, 40, 40), beak=(200, 190, 170), tail=0.9
    ),
    "gray parrot": dict(body=(130, 130, 135), head=(170, 170, 175), wing=(110, 110, 115), beak=(30, 30, 30), tail=0.7),
    "macaw": dict(body=(210, 30, 30), head=(220, 40, 30), wing=(30, 80, 200), beak=(235, 235, 225), tail=1.6),
    "white parrot": dict(body=(240, 240, 235), head=(245, 245, 240), wing=(225, 225, 220), beak=(50, 50, 55), tail=0.8),
}
_FORMATS = ("JPEG", "JPEG", "JPEG", "PNG", "WEBP")  # every format the real folder holds


def _jitter(color: tuple[int, int, int], rng: np.random.Generator, amount: int = 18) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)  # type: ignore[return-value]


def render_bird(species: str, rng: np.random.Generator) -> Image.Image:
    """Draw one parrot-like picture: a coloured body, head, wing, beak and tail on a leafy or sky background."""
    look = _LOOKS[species]
    width, height = int(rng.integers(180, 300)), int(rng.integers(180, 300))
    sky = rng.random() < 0.5
    background = _jitter((150, 190, 235) if sky else (70, 110, 60), rng, 30)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):  # clutter: leaves or clouds
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 30)
        draw.ellipse((x - r, y - r / 2, x + r, y + r / 2), fill=_jitter(background, rng, 40))
    scale = rng.uniform(0.5, 0.8) * min(width, height)
    cx, cy = width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.1, 0.1) * height
    facing = 1 if rng.random() < 0.5 else -1
    tail = look["tail"] * scale * 0.5
    tail_points = [
        (cx - facing * 0.15 * scale, cy + 0.2 * scale),
        (cx - facing * (0.15 * scale + tail * 0.5), cy + 0.25 * scale + tail),
        (cx - facing * 0.05 * scale, cy + 0.25 * scale + tail * 0.9),
    ]
    draw.polygon(tail_points, fill=_jitter(look["wing"], rng))
    draw.ellipse(
        (cx - 0.22 * scale, cy - 0.3 * scale, cx + 0.22 * scale, cy + 0.35 * scale), fill=_jitter(look["body"], rng)
    )
    draw.ellipse(
        (cx - 0.05 * scale, cy - 0.05 * scale, cx + 0.2 * scale, cy + 0.3 * scale), fill=_jitter(look["wing"], rng)
    )
    hx, hy, hr = cx + facing * 0.08 * scale, cy - 0.38 * scale, 0.16 * scale
    draw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=_jitter(look["head"], rng))
    beak_points = [
        (hx + facing * hr * 0.8, hy - hr * 0.3),
        (hx + facing * hr * 1.6, hy + hr * 0.2),
        (hx + facing * hr * 0.7, hy + hr * 0.5),
    ]
    draw.polygon(beak_points, fill=_jitter(look["beak"], rng))
    draw.ellipse(
        (hx + facing * hr * 0.3 - 3, hy - hr * 0.2 - 3, hx + facing * hr * 0.3 + 3, hy - hr * 0.2 + 3),
        fill=(10, 10, 10),
    )
    noise = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def encode(image: Image.Image, image_format: str) -> bytes:
    """The image's bytes in `image_format`, with no metadata that would change between runs."""
    buffer = io.BytesIO()
    options = {"JPEG": {"quality": 90}, "WEBP": {"quality": 85, "method": 4}, "PNG": {"optimize": False}}
    image.save(buffer, format=image_format, **options[image_format])
    return buffer.getvalue()


def write_sample(folder: Path, *, per_class: int, seed: int) -> list[Path]:
    """Write `Birds dataset/<species>/<n>.<ext>` pictures (JPEG, PNG and WebP); return the files written."""
    written = []
    for index, species in enumerate(SPECIES):
        rng = np.random.default_rng([seed, index])
        class_dir = Path(folder) / DATASET_FOLDER / species
        class_dir.mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            image_format = _FORMATS[number % len(_FORMATS)]
            path = class_dir / f"{number:03d}.{image_format.lower().replace('jpeg', 'jpg')}"
            path.write_bytes(encode(render_bird(species, rng), image_format))
            written.append(path)
    return written


# --- the model ---------------------------------------------------------------------------------------


def resolve_base_weights(base_weights: str) -> str | None:
    """Keras's `weights=` argument for a params value: 'imagenet', None, or an existing file path.

    Raises:
        FileNotFoundError: a path that does not exist.
    """
    if base_weights in ("imagenet", "none"):
        return None if base_weights == "none" else "imagenet"
    path = Path(base_weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"bird_species.model.base_weights: {path} not found (use imagenet, none, or a no-top MobileNetV2 .h5)"
        )
    return str(path)


def build_mobilenet(
    *, num_classes: int, image_size: int, base_weights: str, alpha: float, dense_units: int, dropout: float
):
    """MobileNetV2 (no top) + GlobalAveragePooling + Dense(relu) + Dropout + softmax; input RGB in [0, 1].

    The base is frozen and runs its batch norm in inference mode when it starts from trained weights;
    from random weights (`none`) the whole network trains. Returns (model, base).
    """
    import keras

    weights = resolve_base_weights(base_weights)
    pixels = keras.Input((image_size, image_size, 3), name="pixels")
    scaled = keras.layers.Rescaling(2.0, offset=-1.0, name="to_mobilenet_range")(pixels)  # [0, 1] → [-1, 1]
    base = keras.applications.MobileNetV2(
        input_shape=(image_size, image_size, 3), include_top=False, weights=weights, alpha=alpha
    )
    pretrained = weights is not None
    base.trainable = not pretrained
    features = base(scaled, training=None if not pretrained else False)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    hidden = keras.layers.Dense(dense_units, activation="relu")(pooled)
    hidden = keras.layers.Dropout(dropout)(hidden)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(hidden)
    return keras.Model(pixels, probabilities, name="bird_species"), base


def unfreeze_top(base, fraction: float) -> int:
    """Make the top `fraction` of the base's layers trainable (batch norm layers stay frozen); return how many."""
    import keras

    base.trainable = True
    cut = round(len(base.layers) * (1 - fraction))
    opened = 0
    for index, layer in enumerate(base.layers):
        layer.trainable = index >= cut and not isinstance(layer, keras.layers.BatchNormalization)
        opened += layer.trainable
    return opened


def recalibrate_batch_norm(base, pixels: np.ndarray, max_rows: int = 128) -> None:
    """Set every batch-norm layer's moving statistics to those of `pixels` (RGB in [0, 1]) in one pass.

    A base trained from random weights on a few hundred images barely moves its moving averages
    (momentum 0.99), so in inference mode it would see the wrong statistics and answer one class for
    everything. One forward pass in training mode with momentum 0 fixes that ("precise BN").
    """
    import keras

    norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    rows = pixels[np.random.default_rng(0).permutation(len(pixels))[:max_rows]]
    base(rows * 2.0 - 1.0, training=True)  # the same [-1, 1] scaling as the model's Rescaling layer
    for layer, momentum in zip(norms, saved, strict=True):
        layer.momentum = momentum


def recalibration_callback(base, pixels: np.ndarray):
    """A Keras callback running `recalibrate_batch_norm` before every validation pass, so the val
    metrics (and early stopping, which watches them) judge the model as it will be served."""
    import keras

    class RecalibrateBatchNorm(keras.callbacks.Callback):
        def on_test_begin(self, logs=None) -> None:
            recalibrate_batch_norm(base, pixels)

    return RecalibrateBatchNorm()
