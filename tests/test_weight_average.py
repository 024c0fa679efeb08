"""`train.average_weights`: the model each epoch ends with is the mean of the epochs' weights, and val scores,
early stopping and the next epoch's start follow from that (a real Keras fit of a small network)."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from training.params import TrainParams
from training.train import TrainingRun
from training.weight_average import EpochWeightAverage


class Record(keras.callbacks.Callback):
    """What the model holds when each epoch starts, and the val loss each epoch's logs carry."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[list[np.ndarray]] = []
        self.val_losses: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.starts.append(self.model.get_weights())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.val_losses.append(logs["val_loss"])


class Ends(keras.callbacks.Callback):
    """The weights training reached at each epoch's end (runs before the averaging swaps them)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.weights.append(self.model.get_weights())


def small_problem(seed: int = 0) -> tuple[keras.Model, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A 2-layer classifier with dropout, 256 noisy rows to train on and 64 to validate."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(320, 8)).astype("float32")
    y = ((x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=320)) > 0).astype("int64")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.2), keras.layers.Dense(2)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model, (x[:256], y[:256]), (x[256:], y[256:])


def mean_of(epochs: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several epochs' weight lists."""
    return [np.mean(weights, axis=0) for weights in zip(*epochs, strict=True)]


def assert_weights_close(held: list[np.ndarray], expected: list[np.ndarray]) -> None:
    for a, b in zip(held, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_each_epoch_ends_on_the_mean_and_the_next_trains_on_from_its_own_weights() -> None:
    model, (x, y), validation = small_problem()
    ends, record = Ends(), Record()
    model.fit(x, y, validation_data=validation, epochs=4, batch_size=32, verbose=0,
              callbacks=[ends, EpochWeightAverage(validation), record])  # fmt: skip

    assert len(ends.weights) == 4
    mean = mean_of(ends.weights)
    assert_weights_close(model.get_weights(), mean)
    # epoch k+1 starts from where epoch k's training got, not from the average
    for start, end in zip(record.starts[1:], ends.weights[:-1], strict=True):
        for a, b in zip(start, end, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(mean, ends.weights[-1], strict=True))
    # the logs carry the average's val loss
    assert record.val_losses[-1] == pytest.approx(model.evaluate(*validation, verbose=0, return_dict=True)["loss"])


def test_early_stopping_restores_the_best_average() -> None:
    model, (x, y), validation = small_problem(seed=1)
    record = Record()
    stop = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model.fit(x, y, validation_data=validation, epochs=40, batch_size=32, verbose=0,
              callbacks=[EpochWeightAverage(validation), record, stop])  # fmt: skip

    assert stop.stopped_epoch > 0 and stop.best_epoch < len(record.val_losses) - 1  # a later average was put back
    best = min(record.val_losses)
    assert model.evaluate(*validation, verbose=0, return_dict=True)["loss"] == pytest.approx(best, rel=1e-5)


def test_a_second_fit_starts_a_fresh_average() -> None:
    model, (x, y), validation = small_problem(seed=2)
    averaging, ends = EpochWeightAverage(validation), Ends()
    model.fit(x, y, validation_data=validation, epochs=2, batch_size=32, verbose=0, callbacks=[averaging])
    model.fit(x, y, validation_data=validation, epochs=2, batch_size=32, verbose=0, callbacks=[ends, averaging])

    assert averaging.epochs_averaged == 2
    assert_weights_close(model.get_weights(), mean_of(ends.weights))


def test_the_train_stage_puts_the_averaging_before_every_callback_that_reads_val_scores() -> None:
    train = TrainParams(average_weights=True, early_stopping_patience=3, reduce_lr_patience=1)
    validation = (np.zeros((2, 8), "float32"), np.zeros(2, "int64"))
    run = TrainingRun(None, SimpleNamespace(train=train), None, None, validation[0], validation, None)  # type: ignore[arg-type]
    extra = Record()

    callbacks = run.callbacks([extra])

    assert isinstance(callbacks[0], EpochWeightAverage) and callbacks[0].validation is validation
    expected = [Record, keras.callbacks.EarlyStopping, keras.callbacks.ReduceLROnPlateau]
    assert [type(each) for each in callbacks[1:]] == expected
    plain = TrainingRun(None, SimpleNamespace(train=TrainParams()), None, None, validation[0], validation, None)  # type: ignore[arg-type]
    assert not any(isinstance(each, EpochWeightAverage) for each in plain.callbacks([]))


@pytest.mark.parametrize("frozen", [False, True])
def test_trainable_batch_norm_is_refused_and_a_frozen_one_is_not(frozen: bool) -> None:
    _, (x, y), validation = small_problem(seed=3)
    norm = keras.layers.BatchNormalization(name="norm")
    norm.trainable = not frozen
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), norm, keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    fit = lambda: model.fit(x, y, validation_data=validation, epochs=1, verbose=0,  # noqa: E731
                            callbacks=[EpochWeightAverage(validation)])  # fmt: skip
    if frozen:
        fit()
    else:
        with pytest.raises(ValueError, match=r"norm \(1 trainable BatchNormalization"):
            fit()
