"""California housing: both file layouts, schema errors that name the cell, the regressor served on LiteRT,
and a form that refuses NaN, infinite, negative, huge and missing numbers with one clear sentence."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from shared.artifact import DataProvenance
from shared.errors import DataLayoutError, InputError
from shared.features import check_features
from shared.regressor import TabularRegressor
from training.demos import housing

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "california-housing"


def test_sample_is_deterministic_and_reads_back(tmp_path: Path) -> None:
    first = housing.write_sample(tmp_path / "a", housing.HousingData.model_construct(sample_rows=120), 3)[0]
    second = housing.write_sample(tmp_path / "b", housing.HousingData.model_construct(sample_rows=120), 3)[0]
    assert first.read_bytes() == second.read_bytes()
    features, target, dropped = housing.read_csv(first)
    assert features.shape == (120, 8) and target.shape == (120,) and dropped == 0
    assert target.min() > 0.1 and target.max() <= 5.0  # units of $100,000


def test_empty_total_bedrooms_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    path = housing.write_sample(tmp_path, housing.HousingData.model_construct(sample_rows=50), 0)[0]
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[housing.CSV_COLUMNS.index("total_bedrooms")] = ""
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    features, _, dropped = housing.read_csv(path)
    assert dropped == 1 and len(features) == 49


@pytest.mark.parametrize(
    ("column", "value", "fails"),
    [("median_income", "abc", "median_income"), ("households", "0", "households"), ("latitude", "nan", "latitude")],
)
def test_a_bad_cell_is_named_by_row_and_column(tmp_path: Path, column: str, value: str, fails: str) -> None:
    path = housing.write_sample(tmp_path, housing.HousingData.model_construct(sample_rows=30), 0)[0]
    lines = path.read_text().splitlines()
    cells = lines[7].split(",")
    cells[housing.CSV_COLUMNS.index(column)] = value
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match=rf"housing.csv: row 7 \(line 8\), column '{fails}'"):
        housing.read_csv(path)


@pytest.mark.skipif(not (REAL / "housing.csv").is_file(), reason="real California housing copy not present")
def test_real_csv_and_pkz_give_the_same_rows() -> None:
    csv_features, csv_target, dropped = housing.read_csv(REAL / "housing.csv")
    pkz_features, pkz_target, _ = housing.read_pkz(REAL / "cal_housing_py3.pkz")
    assert dropped == 207 and len(csv_features) == 20_640 - 207
    assert pkz_features.shape == (20_640, 8)
    assert np.allclose(np.median(csv_features, axis=0), np.median(pkz_features, axis=0), rtol=0.02)
    assert abs(float(np.median(csv_target)) - float(np.median(pkz_target))) < 0.02


@pytest.fixture(scope="module")
def regressor(tmp_path_factory: pytest.TempPathFactory) -> tuple[TabularRegressor, object, np.ndarray]:
    import keras

    from training.export import export_model

    keras.utils.set_random_seed(0)
    features, target, _ = housing.read_csv(
        housing.write_sample(tmp_path_factory.mktemp("data"), housing.HousingData.model_construct(sample_rows=200), 1)[
            0
        ]
    )
    network = housing.build_regressor(features=features, hidden_units=[8], architecture="wide_deep")
    out = tmp_path_factory.mktemp("export")
    export_model(
        network,
        demo=housing.DEMO,
        version=1,
        provenance=DataProvenance(source="sample", description="test"),
        splits={"labels": np.array([]), "x_train": features[:150], "x_val": features[150:], "y_train": target},
        out=out,
        serving=out / "serving" / "1",
    )
    return TabularRegressor.from_artifact(out), network, features


def test_litert_regressor_matches_keras(regressor) -> None:
    model, network, features = regressor
    expected = network(features[:5]).numpy().reshape(-1) * housing.TARGET_UNIT
    got = [model.display(model.predict_one(list(row)).value) for row in features[:5]]
    assert np.allclose(got, expected, rtol=1e-4, atol=1.0)
    by_name = model.display(
        model.predict_one({f.name: float(v) for f, v in zip(model.features, features[0], strict=True)}).value
    )
    assert by_name == pytest.approx(got[0])


def test_spec_holds_ranges_and_defaults(regressor) -> None:
    model, _, features = regressor
    income = model.features[0]
    assert income.name == "MedInc" and "10,000" in income.unit
    assert income.minimum == pytest.approx(features[:, 0].min(), abs=1e-3)
    assert income.minimum <= income.default <= income.maximum
    assert model.spec.target is not None and model.spec.target.unit == "$"


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (0, math.nan, "Median income must be a finite number"),
        (0, math.inf, "Median income must be a finite number"),
        (1, -5.0, "Median house age = -5 is outside"),
        (4, 1e12, "Population = 1e\\+12 is outside"),
        (2, None, "Average rooms is missing"),
        (3, "lots", "Average bedrooms is missing or not a number"),
    ],
)
def test_bad_form_values_get_one_clear_sentence(regressor, index: int, value: object, message: str) -> None:
    model, _, _ = regressor
    values: list[object] = [feature.default for feature in model.features]
    values[index] = value
    with pytest.raises(InputError, match=message):
        model.predict_one(values)


def test_every_problem_is_named_at_once(regressor) -> None:
    model, _, _ = regressor
    with pytest.raises(InputError) as error:
        check_features(model.features, [None] * len(model.features))
    assert str(error.value).count("is missing") == len(model.features)
    with pytest.raises(InputError, match="Expected 8 values"):
        check_features(model.features, [1.0, 2.0])
