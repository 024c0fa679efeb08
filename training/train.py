"""Train stage: fit a demo's Keras network, logging per-epoch curves with dvclive.

Classifiers minimise sparse cross-entropy (accuracy logged), regressors MSE (RMSE logged). A demo may bring a
training loop of its own (`Demo.fit`, e.g. bird-species' two phases); it drives the same `TrainingRun`, so curves
of every phase share one step axis. scikit-learn demos train in `sklearn_models.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.demos import Demo
from training.io import load_splits
from training.params import TrainParams
from training.paths import DemoPaths

CLASS_WEIGHT_POWER = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0}  # train.class_weight → power of the balanced weights


def class_weights(targets: np.ndarray, num_classes: int, power: float = 1.0) -> dict[int, float]:
    """scikit-learn's "balanced" weights, n / (classes × count of the class), so rare classes count as much; raised to
    `power` (0.5: half-way on a log scale, the rare classes' recall lifted without giving up as much precision)."""
    counts = np.bincount(targets.astype(np.int64), minlength=num_classes)
    return {index: float(len(targets) / (num_classes * count)) ** power for index, count in enumerate(counts) if count}


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


@dataclass
class TrainingRun:
    """One demo's network, its data and its settings, with the two moves a training loop makes: `compile` at a
    learning rate, `fit` up to an epoch (returning the epochs done)."""

    demo: Demo
    section: Any
    network: Any
    batches: Any
    x_train: np.ndarray
    validation: tuple[np.ndarray, np.ndarray]
    class_weight: dict[int, float] | None
    live: Any = None
    epochs_done: int = field(default=0)

    def compile(self, learning_rate: float) -> None:
        """Compile with Adam at `learning_rate`: cross-entropy and accuracy, or MSE and RMSE."""
        import keras

        if self.demo.is_classifier:
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        else:
            loss, metrics = "mse", [keras.metrics.RootMeanSquaredError(name="rmse")]
        self.network.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)

    def callbacks(self, extra: list) -> list:
        """Weight averaging, early stopping and learning-rate halving (when params turn them on), dvclive, and
        `extra`; the averaging comes first, so every later callback reads the average's val scores."""
        import keras

        train: TrainParams = self.section.train
        callbacks: list[Any] = []
        if train.average_weights:
            from training.weight_average import EpochWeightAverage

            callbacks.append(EpochWeightAverage(self.validation))
        callbacks += extra
        if train.early_stopping_patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(patience=train.early_stopping_patience, restore_best_weights=True)
            )
        if train.reduce_lr_patience:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=train.reduce_lr_patience, min_lr=1e-6)
            )
        if self.live is not None:
            from dvclive.keras import DVCLiveCallback

            callbacks.append(DVCLiveCallback(live=self.live))
        return callbacks

    def fit(self, epochs: int, *, initial_epoch: int = 0, extra: list | None = None) -> int:
        """Train up to epoch `epochs` (from `initial_epoch`); return the epochs done so far."""
        history = self.network.fit(
            self.batches,
            validation_data=self.validation,
            initial_epoch=initial_epoch,
            epochs=epochs,
            callbacks=self.callbacks(extra or []),
            class_weight=self.class_weight if initial_epoch == 0 else None,
            verbose=2,
        )
        self.epochs_done = initial_epoch + len(history.epoch)
        return self.epochs_done


def default_fit(run: TrainingRun) -> None:
    """Compile at `train.learning_rate` and train for `train.epochs`."""
    run.compile(run.section.train.learning_rate)
    run.fit(run.section.train.epochs)


def fit(demo: Demo, section: Any, splits: dict[str, np.ndarray], *, seed: int, live_dir: Path | None):
    """Fit a demo's network on the train split, watching val; return the fitted Keras model.

    Image rows go through the same `shared.images.normalize` the Spaces apply; training batches (only) are
    augmented as `section.train` says.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    network = demo.build(section, splits)
    train: TrainParams = section.train
    x_train, y_train = demo.inputs(splits["x_train"]), splits["y_train"]
    batches = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    batches = batches.shuffle(len(x_train), seed=seed).batch(train.batch_size)
    augmenter = _augmenter(train) if demo.channels else None
    if augmenter is not None:
        batches = batches.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    live = None
    if live_dir is not None:
        from dvclive import Live

        live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)
    power = CLASS_WEIGHT_POWER[train.class_weight]
    weights = class_weights(y_train, len(splits["labels"]), power) if power else None
    run = TrainingRun(
        demo, section, network, batches.prefetch(tf.data.AUTOTUNE), x_train,
        (demo.inputs(splits["x_val"]), splits["y_val"]), weights, live,
    )  # fmt: skip
    (demo.fit or default_fit)(run)
    if live is not None:
        live.end()
    return network


def main(demo: Demo, section: Any, seed: int) -> None:
    """Run the stage for a Keras demo: read splits.npz, fit, save model.keras."""
    paths = DemoPaths(demo.name)
    network = fit(demo, section, load_splits(paths.splits), seed=seed, live_dir=paths.live)
    paths.keras_model.parent.mkdir(parents=True, exist_ok=True)
    network.save(paths.keras_model)
    print(f"train {demo.name}: saved {paths.keras_model}")
