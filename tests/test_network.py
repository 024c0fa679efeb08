"""A Keras model's network.json (its layers and training curves), written by the tiny pipeline's export stage and
bundled beside spec.json: true to dvclive's curves and to its own parameter counts, and on the keras-basics page."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
from conftest import running_space

from shared.network import NETWORK_FILE, NetworkSummary
from shared.suite import model_specs
from training.demos import demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KERAS_SPACES = ("sign-language", "bird-species", "keras-basics", "emotion")


def _folders(spaces_dir: Path) -> dict[str, Path]:
    """Every bundled model folder of the Keras Spaces, by model name."""
    folders = {}
    for space in KERAS_SPACES:
        bundle = spaces_dir / space
        single = (bundle / "model" / "spec.json").is_file()
        for spec in model_specs(bundle):
            folders[spec.name] = bundle / "model" if single else bundle / "model" / spec.name
    return folders


def test_every_keras_model_carries_its_layers_and_curves(spaces_dir: Path, tiny_repo: Path) -> None:
    folders = _folders(spaces_dir)
    assert {name for name in folders if demo(name).framework == "keras"} == set(folders)
    for name, folder in folders.items():
        network = NetworkSummary.load(folder)
        assert network is not None, f"{name}: no {NETWORK_FILE}"
        assert network.layers and sum(layer.params for layer in network.layers) == network.total_params, name
        assert 0 < network.trainable_params <= network.total_params, name
        live = tiny_repo / "dvclive" / name / "plots" / "metrics"
        with (live / "eval" / "loss.tsv").open(encoding="utf-8", newline="") as handle:
            validation = [float(row["loss"]) for row in csv.DictReader(handle, delimiter="\t")]
        curve = [p.value for p in network.curves if p.metric == "loss" and p.split == "validation"]
        assert curve == pytest.approx(validation), name
        epochs = [p.epoch for p in network.curves if p.metric == "loss" and p.split == "train"]
        assert epochs == list(range(1, len(validation) + 1)), name
        assert "learning_rate" not in {p.metric for p in network.curves}  # logged for training only


def test_a_scikit_learn_model_has_no_network(spaces_dir: Path) -> None:
    assert NetworkSummary.load(spaces_dir / "gender" / "model") is None


def test_the_keras_basics_page_carries_both_networks(spaces_dir: Path) -> None:
    bundle = spaces_dir / "keras-basics"
    with running_space(bundle) as client:
        config = httpx.get(client.src.rstrip("/") + "/config", timeout=30).text
    for spec in model_specs(bundle):
        network = NetworkSummary.load(bundle / "model" / spec.name)
        assert network is not None
        assert f"**{network.total_params:,} parameters** ({network.trainable_params:,} trainable" in config
        for layer in network.layers:
            assert f'"{layer.name}"' in config and f'"{layer.output_shape}"' in config
