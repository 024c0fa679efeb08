"""Train stage: fit the demo's Keras model, logging per-epoch curves with dvclive."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.images import normalize
from training import sign_language
from training.params import CnnParams, TrainParams
from training.paths import DemoPaths


def load_splits(path: Path) -> dict[str, np.ndarray]:
    """All arrays of splits.npz, loaded into memory."""
    with np.load(path) as splits:
        return {key: splits[key] for key in splits.files}


def _augmenter(train: TrainParams):
    import keras

    layers = []
    if train.augment_shift > 0:
        layers.append(keras.layers.RandomTranslation(train.augment_shift, train.augment_shift, fill_mode="nearest"))
    if train.augment_rotation > 0:
        layers.append(keras.layers.RandomRotation(train.augment_rotation, fill_mode="nearest"))
    return keras.Sequential(layers) if layers else None


def train_classifier(
    splits: dict[str, np.ndarray], model: CnnParams, train: TrainParams, *, seed: int, live_dir: Path | None
):
    """Fit the CNN on the train split, watching val; return the fitted Keras model.

    The same `shared.images.normalize` the Spaces apply turns pixels into model input.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    num_classes = len(splits["labels"])
    network = sign_language.build_cnn(num_classes=num_classes, **model.model_dump())
    network.compile(
        optimizer=keras.optimizers.Adam(train.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x_train, y_train = normalize(splits["x_train"]), splits["y_train"]
    x_val, y_val = normalize(splits["x_val"]), splits["y_val"]
    batches = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    batches = batches.shuffle(len(x_train), seed=seed).batch(train.batch_size)
    augmenter = _augmenter(train)
    if augmenter is not None:
        batches = batches.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    callbacks = []
    if live_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)

        callbacks.append(DVCLiveCallback(live=live))
    network.fit(
        batches.prefetch(tf.data.AUTOTUNE),
        validation_data=(x_val, y_val),
        epochs=train.epochs,
        callbacks=callbacks,
        verbose=2,
    )
    return network


def main(demo: str, model: CnnParams, train: TrainParams, seed: int) -> None:
    """Run the stage for `demo`: read splits.npz, fit, save model.keras."""
    paths = DemoPaths(demo)
    network = train_classifier(load_splits(paths.splits), model, train, seed=seed, live_dir=paths.live)
    paths.keras_model.parent.mkdir(parents=True, exist_ok=True)
    network.save(paths.keras_model)
    print(f"train {demo}: saved {paths.keras_model}")
