"""Parrot species: the Kaggle folder layout, a deterministic sample generator, the MobileNetV2 transfer model."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import Field, field_validator

from shared.errors import DataLayoutError, InputError
from shared.images import decode_image, to_pixels
from training.demos import Demo, Ingested
from training.params import DataParams, KerasSection, ParityParams, Strict, TrainParams
from training.paths import PUBLIC_DATA_DIR

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


def read(folder: Path, data: BirdData) -> Ingested:
    """Every image of `Birds dataset/<class>/`, decoded whatever its format and resized to `image_size`."""
    pixels, classes, names, files, skipped = read_folder(folder, data.image_size)
    for path in skipped:
        print(f"ingest bird-species: skipped {path} (not an image file name)")
    rows = {name: int(np.sum(classes == index)) for index, name in enumerate(names)}
    return Ingested(pixels, classes, names, np.zeros(len(classes), dtype=np.int8), files, rows)


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


def write_sample(folder: Path, data: BirdData, seed: int) -> list[Path]:
    """Write `Birds dataset/<species>/<n>.<ext>` pictures (JPEG, PNG and WebP); return the files written."""
    written = []
    for index, species in enumerate(SPECIES):
        rng = np.random.default_rng([seed, index])
        class_dir = Path(folder) / DATASET_FOLDER / species
        class_dir.mkdir(parents=True, exist_ok=True)
        for number in range(data.sample_per_class):
            image_format = _FORMATS[number % len(_FORMATS)]
            path = class_dir / f"{number:03d}.{image_format.lower().replace('jpeg', 'jpg')}"
            path.write_bytes(encode(render_bird(species, rng), image_format))
            written.append(path)
    return written


# --- the model ---------------------------------------------------------------------------------------


BASE_WEIGHTS = ("auto", "imagenet", "none")  # model.base_weights' choices besides a weights file
PRETRAINED_ALPHA = 1.0  # `alpha: auto` on pretrained weights: the width of the weights `data fetch` gets
RANDOM_INIT_ALPHA = 0.35  # ... and from random weights (the narrowest width Keras has ImageNet weights for)


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
    from random weights (`none`) the whole network trains.
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
    return keras.Model(pixels, probabilities, name="bird_species")


def mobilenet_base(network):
    """The MobileNetV2 base inside a network `build_mobilenet` made."""
    import keras

    return next(layer for layer in network.layers if isinstance(layer, keras.Model))


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


# --- the demo ----------------------------------------------------------------------------------------

WEIGHTS_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"


class BirdData(DataParams):
    """A `Birds dataset/<class>/*` folder; images are decoded and resized to `image_size` at ingest."""

    image_size: int = Field(224, ge=32, le=512)
    sample_per_class: int = Field(30, ge=4, description="sample source only: pictures per species")


class MobileNetParams(Strict):
    """MobileNetV2 base + classification head.

    `base_weights`: `auto` (the ImageNet weights `spacesuite data fetch` got, when the data source is public; else
    none), `imagenet` (Keras downloads them, or finds them in $KERAS_HOME/models), `none` (random init, trained end
    to end: works offline), or a path to a no-top weights file.

    `alpha`: the width multiplier, or `auto`: 1.0 on pretrained weights (the width of the fetched file), 0.35 from
    random weights, where nothing is gained from the full width on a few hundred pictures and one training step
    costs 3.7 times less (6.7 s against 1.8 s per 16 images of 224² on 2 cores).
    """

    base_weights: str = "auto"
    alpha: float | Literal["auto"] = "auto"
    dense_units: int = Field(256, ge=1)
    dropout: float = Field(0.5, ge=0, lt=1)

    @field_validator("alpha")
    @classmethod
    def _a_positive_width(cls, value: float | str) -> float | str:
        if value != "auto" and value <= 0:
            raise ValueError("alpha: a width multiplier > 0, or auto")
        return value

    @field_validator("base_weights")
    @classmethod
    def _a_choice_or_an_h5_file(cls, value: str) -> str:
        if value not in BASE_WEIGHTS and not value.endswith(".h5"):  # the file itself is checked where it is used
            raise ValueError(f"choose {', '.join(BASE_WEIGHTS)} or the path of a no-top MobileNetV2 .h5 file")
        return value


class FineTuneParams(Strict):
    """Second phase of transfer learning: unfreeze the top share of the base's layers at a lower rate."""

    epochs: int = Field(5, ge=0)
    unfreeze_fraction: float = Field(0.3, ge=0, le=1)
    learning_rate: float = Field(1e-4, gt=0)


class BirdTrainParams(TrainParams):
    """Phase 1 (the head on a frozen base, or the whole network from random weights), then `fine_tune`."""

    fine_tune: FineTuneParams = FineTuneParams()


class BirdSpeciesParams(KerasSection):
    """The bird-species MobileNetV2 transfer model."""

    data: BirdData
    model: MobileNetParams
    train: BirdTrainParams
    parity: ParityParams

    @property
    def base_weights(self) -> str:
        """`model.base_weights` with `auto` resolved: the fetched `.h5` with source public, else `none`."""
        if self.model.base_weights != "auto":
            return self.model.base_weights
        fetched = PUBLIC_DATA_DIR / "bird-species" / "weights" / WEIGHTS_FILE
        return str(fetched) if self.data.source == "public" else "none"

    @property
    def alpha(self) -> float:
        """`model.alpha` with `auto` resolved: the full width on pretrained weights, 0.35 from random weights."""
        if self.model.alpha != "auto":
            return float(self.model.alpha)
        return RANDOM_INIT_ALPHA if self.base_weights == "none" else PRETRAINED_ALPHA


def build(section: BirdSpeciesParams, splits: dict[str, np.ndarray]):
    """The network for these params: MobileNetV2 on the resolved base weights, and the head."""
    options = {**section.model.model_dump(), "base_weights": section.base_weights, "alpha": section.alpha}
    return build_mobilenet(num_classes=len(splits["labels"]), image_size=section.data.image_size, **options)


def fit(run) -> None:
    """Two phases: the head on the frozen base, then the top of the base at a lower rate. A random base (no
    weights) trains whole in phase 1, its batch-norm statistics recomputed before every validation and at the end
    (with a few hundred images the moving averages never catch up: the model would answer one class)."""
    section: BirdSpeciesParams = run.section
    base = mobilenet_base(run.network)
    pretrained = section.base_weights != "none"
    extra = [] if pretrained else [recalibration_callback(base, run.x_train)]
    run.compile(section.train.learning_rate)
    done = run.fit(section.train.epochs, extra=extra)
    fine_tune = section.train.fine_tune
    if pretrained and fine_tune.epochs:
        opened = unfreeze_top(base, fine_tune.unfreeze_fraction)
        print(f"fine-tune bird-species: {opened} of {len(base.layers)} base layers trainable")
        run.compile(fine_tune.learning_rate)
        run.fit(done + fine_tune.epochs, initial_epoch=done, extra=extra)
    if not pretrained:
        recalibrate_batch_norm(base, run.x_train)
        print("train bird-species: batch-norm statistics recomputed on the training images (random base)")


DEMO = Demo(
    name="bird-species",
    task="image-classification",
    channels=3,
    params=BirdSpeciesParams,
    read=read,
    write_sample=write_sample,
    build=build,
    fit=fit,
    notes=lambda section: {"base_weights": section.base_weights, "alpha": f"{section.alpha:g}"},
    descriptions={
        "sample": "generated parrot-like drawings of 4 species (deterministic, not photos), so the pipeline runs "
        "offline",
        "kaggle": "Birds dataset (Kaggle): photos of 4 parrot species (JPEG, PNG and WebP)",
        "public": "Birds dataset from the original project's repository: photos of 4 parrot species",
    },
    tiny={  # from random weights (none offline), small pictures, no augmentation: it learns the colours
        "data": {"image_size": 64, "sample_per_class": 24},
        "model": {"alpha": 0.35, "dense_units": 32, "dropout": 0.2},
        "train": {"epochs": 30, "batch_size": 8, "learning_rate": 0.002, "early_stopping_patience": 0}
        | {"reduce_lr_patience": 0, "augment_shift": 0, "augment_rotation": 0, "augment_zoom": 0}
        | {"augment_flip": False},
        "parity": {"min_agreement": 0.6, "min_agreement_quantized": 0.3},
    },
    floor={"accuracy": 0.6},
)
