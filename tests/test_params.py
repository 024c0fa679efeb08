"""The typed params loader: the real file loads, and mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from training.params import load_params

REPO = Path(__file__).resolve().parents[1]


def test_repo_params_load() -> None:
    params = load_params(REPO / "params.yaml")
    section = params.model("sign-language")
    assert section.prepare.train + section.prepare.val + section.prepare.test == pytest.approx(1.0)
    assert section.data.source == "sample"


def _write(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    change(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["sign_language"]["train"].update(epocs=3))
    with pytest.raises(ValidationError, match="epocs"):
        load_params(path).model("sign-language")  # each demo's section is checked by its own schema
    with pytest.raises(ValidationError, match="epocs"):
        load_params(path).check_all()


def test_split_must_sum_to_one(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["sign_language"]["prepare"].update(test=0.3))
    with pytest.raises(ValidationError, match="sum to 1"):
        load_params(path).model("sign-language")


def test_unknown_model_and_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown model 'base'"):
        load_params(REPO / "params.yaml").model("base")
    path = _write(tmp_path, lambda raw: raw.update(penguin={"data": {}}))
    with pytest.raises(ValidationError, match="no demo called penguin"):
        load_params(path)


def test_a_typo_in_a_choice_names_the_allowed_values(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["drift"].update(num_method="wasserstien"))
    with pytest.raises(ValidationError, match="'wasserstein'"):
        load_params(path)


def test_a_typo_in_the_base_weights_names_the_choices(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["bird_species"]["model"].update(base_weights="imagnet"))
    with pytest.raises(ValidationError, match="choose auto, imagenet, none or the path of a no-top"):
        load_params(path).model("bird-species")
    path = _write(tmp_path, lambda raw: raw["bird_species"]["model"].update(base_weights="~/weights/no_top.h5"))
    assert load_params(path).model("bird-species").model.base_weights == "~/weights/no_top.h5"


def test_space_must_name_known_models(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["spaces"]["keras-basics"].update(models=["digits", "housing", "mnist"]))
    with pytest.raises(ValidationError, match="unknown model 'mnist'"):
        load_params(path)


def test_deploy_thresholds_name_the_spaces_own_models_and_known_metrics(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["spaces"]["gender"].update(deploy_when={"emotion": {"accuracy": 0.5}}))
    with pytest.raises(ValidationError, match="deploy_when names emotion, not a model of this Space"):
        load_params(path)
    path = _write(tmp_path, lambda raw: raw["spaces"]["gender"].update(deploy_when={"gender": {"auc": 0.5}}))
    with pytest.raises(ValidationError, match="auc"):
        load_params(path)


def test_every_model_section_loads() -> None:
    params = load_params(REPO / "params.yaml")
    for space in params.spaces.values():
        for model in space.models:
            assert params.model(model).export.version >= 1
    assert params.model("digits").prepare.keep_file_test
    params.check_all()
