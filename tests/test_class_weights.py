"""`train.class_weight`: how much a rare class counts in the loss."""

from __future__ import annotations

import numpy as np
import pytest

from training.params import TrainParams
from training.train import CLASS_WEIGHT_POWER, class_weights


def test_balanced_weights_even_out_the_classes_and_sqrt_goes_half_way() -> None:
    targets = np.array([0] * 80 + [1] * 20)  # of 3 classes: class 2 never occurs
    balanced = class_weights(targets, 3)
    assert balanced == pytest.approx({0: 100 / (3 * 80), 1: 100 / (3 * 20)})  # a class never seen gets no weight
    assert 80 * balanced[0] == pytest.approx(20 * balanced[1])  # each seen class weighs as much in all
    halfway = class_weights(targets, 3, CLASS_WEIGHT_POWER["sqrt"])
    assert halfway == pytest.approx({label: weight**0.5 for label, weight in balanced.items()})


@pytest.mark.parametrize("choice", ["none", "sqrt", "balanced"])
def test_every_class_weight_choice_has_its_power(choice: str) -> None:
    assert TrainParams(class_weight=choice).class_weight in CLASS_WEIGHT_POWER
