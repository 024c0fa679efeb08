"""Train stage: fit a model's Keras network, logging per-epoch curves with dvclive.

Classifiers minimise sparse cross-entropy (accuracy logged), the regressor MSE (RMSE logged). The
bird model trains in two phases: the head on a frozen MobileNetV2, then the top of the base at a
lower rate. Curves of both phases share one step axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training import birds, digits, emotion, housing, sign_language
from training.models import ModelInfo, model_info
from training.params import (
    BirdSpeciesParams,
    DigitsParams,
    EmotionParams,
    HousingParams,
    ModelParams,
    SignLanguageParams,
    TrainParams,
)
from training.paths import DemoPaths


def load_splits(path: Path) -> dict[str, np.ndarray]:
    """All arrays of splits.npz, loaded into memory."""
    with np.load(path) as splits:
        return {key: splits[key] for key in splits.files}


def _augmenter(train: TrainParams):
    import keras

    layers: list[Any] = []
    if train.augment_flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    if train.augment_shift > 0:
        layers.append(keras.layers.RandomTranslation(train.augment_shift, train.augment_shift, fill_mode="nearest"))
    if train.augment_rotation > 0:
        layers.append(keras.layers.RandomRotation(train.augment_rotation, fill_mode="nearest"))
    if train.augment_zoom > 0:
        layers.append(keras.layers.RandomZoom(train.augment_zoom, fill_mode="nearest"))
    return keras.Sequential(layers) if layers else None


def class_weights(targets: np.ndarray, num_classes: int) -> dict[int, float]:
    """scikit-learn's "balanced" weights: n / (classes × count of the class), so rare classes count as much."""
    counts = np.bincount(targets.astype(np.int64), minlength=num_classes)
    return {index: float(len(targets) / (num_classes * count)) for index, count in enumerate(counts) if count}


def build_network(name: str, section: ModelParams, splits: dict[str, np.ndarray]):
    """The untrained network of a model, from its params (returns the MobileNetV2 base too, else None)."""
    num_classes = len(splits["labels"])
    if isinstance(section, SignLanguageParams):
        return sign_language.build_cnn(num_classes=num_classes, **section.model.model_dump()), None
    if isinstance(section, BirdSpeciesParams):
        return birds.build_mobilenet(
            num_classes=num_classes,
            image_size=section.data.image_size,
            **{**section.model.model_dump(), "base_weights": section.base_weights},
        )
    if isinstance(section, DigitsParams):
        return digits.build_mlp(num_classes=num_classes, **section.model.model_dump()), None
    if isinstance(section, EmotionParams):
        return emotion.build_bilstm(
            vocab_size=int(splits["vocab_size"]),
            sequence_length=section.text.sequence_length,
            num_classes=num_classes,
            **section.model.model_dump(),
        ), None
    if isinstance(section, HousingParams):
        return housing.build_regressor(features=splits["x_train"], **section.model.model_dump()), None
    raise KeyError(f"no network is defined for model {name!r}")


def _compile(network, info: ModelInfo, learning_rate: float) -> None:
    import keras

    if info.is_classifier:
        network.compile(
            optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    else:
        network.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="mse",
            metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
        )


def _callbacks(train: TrainParams, live, extra: list) -> list:
    import keras

    callbacks: list[Any] = list(extra)
    if train.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=train.early_stopping_patience, restore_best_weights=True)
        )
    if train.reduce_lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=train.reduce_lr_patience, min_lr=1e-6))
    if live is not None:
        from dvclive.keras import DVCLiveCallback

        callbacks.append(DVCLiveCallback(live=live))
    return callbacks


def fit(name: str, section: ModelParams, splits: dict[str, np.ndarray], *, seed: int, live_dir: Path | None):
    """Fit a model on the train split, watching val; return the fitted Keras model.

    Image rows go through the same `shared.images.normalize` the Spaces apply.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    info = model_info(name)
    network, base = build_network(name, section, splits)
    train = section.train
    x_train, y_train = info.inputs(splits["x_train"]), splits["y_train"]
    x_val, y_val = info.inputs(splits["x_val"]), splits["y_val"]
    batches = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    batches = batches.shuffle(len(x_train), seed=seed).batch(train.batch_size)
    augmenter = _augmenter(train) if info.channels else None
    if augmenter is not None:
        batches = batches.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.prefetch(tf.data.AUTOTUNE)
    live = None
    if live_dir is not None:
        from dvclive import Live

        live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)
    pretrained = isinstance(section, BirdSpeciesParams) and section.base_weights != "none"
    extra = []
    if isinstance(section, BirdSpeciesParams) and not pretrained:
        extra.append(birds.recalibration_callback(base, x_train))
    _compile(network, info, train.learning_rate)
    weights = class_weights(y_train, len(splits["labels"])) if train.class_weight == "balanced" else None
    history = network.fit(
        batches,
        validation_data=(x_val, y_val),
        epochs=train.epochs,
        callbacks=_callbacks(train, live, extra),
        class_weight=weights,
        verbose=2,
    )
    if pretrained and base is not None and section.fine_tune.epochs:  # a random base trained whole in phase 1
        opened = birds.unfreeze_top(base, section.fine_tune.unfreeze_fraction)
        print(f"fine-tune {name}: {opened} of {len(base.layers)} base layers trainable")
        _compile(network, info, section.fine_tune.learning_rate)
        done = len(history.epoch)
        network.fit(
            batches,
            validation_data=(x_val, y_val),
            initial_epoch=done,
            epochs=done + section.fine_tune.epochs,
            callbacks=_callbacks(train, live, extra),
            verbose=2,
        )
    if isinstance(section, BirdSpeciesParams) and not pretrained and base is not None:
        birds.recalibrate_batch_norm(base, x_train)
        print(f"train {name}: batch-norm statistics recomputed on the training images (random base)")
    if live is not None:
        live.end()
    return network


def main(name: str, section: ModelParams, seed: int) -> None:
    """Run the stage for a model: read splits.npz, fit, save model.keras."""
    paths = DemoPaths(name)
    network = fit(name, section, load_splits(paths.splits), seed=seed, live_dir=paths.live)
    paths.keras_model.parent.mkdir(parents=True, exist_ok=True)
    network.save(paths.keras_model)
    print(f"train {name}: saved {paths.keras_model}")
