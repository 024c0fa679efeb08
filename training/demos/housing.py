"""keras-basics housing: California block groups (handson-ml `housing.csv` or scikit-learn's `.pkz`), a
deterministic sample in the CSV layout, and the regressor (Sequential or Functional wide & deep)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from shared.artifact import Feature, Target
from shared.errors import DataLayoutError
from training.demos import Demo, Ingested, RealCheck
from training.params import DataParams, KerasSection, RegressionParityParams, Strict
from training.tabular import read_csv_checked

CSV_FILE = "housing.csv"
PKZ_FILE = "cal_housing_py3.pkz"
CSV_COLUMNS = [
    "longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
    "population", "households", "median_income", "median_house_value", "ocean_proximity",
]  # fmt: skip
OCEAN_PROXIMITY = ["<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN"]
# scikit-learn's eight features, in its order, with what a form should show.
FEATURES = [
    Feature(name="MedInc", label="Median income", unit="× $10,000 per year"),
    Feature(name="HouseAge", label="Median house age", unit="years"),
    Feature(name="AveRooms", label="Average rooms", unit="per household"),
    Feature(name="AveBedrms", label="Average bedrooms", unit="per household"),
    Feature(name="Population", label="Population", unit="people in the block group"),
    Feature(name="AveOccup", label="Average occupancy", unit="people per household"),
    Feature(name="Latitude", label="Latitude", unit="° north"),
    Feature(name="Longitude", label="Longitude", unit="° east (negative: west)"),
]
TARGET_UNIT = 100_000  # dollars per target unit
TARGET_SPEC = Target(name="MedHouseVal", label="Median house value", unit="$", scale=TARGET_UNIT)


def read(folder: Path, data: DataParams) -> Ingested:
    """`housing.csv` (or the scikit-learn cache) as scikit-learn's 8 features and the price in $100,000."""
    path = find_source(folder)
    x, y, dropped = read_source(path)
    if dropped:
        print(f"ingest housing: dropped {dropped} rows of {path.name} with an empty total_bedrooms")
    return Ingested(x, y, [], np.zeros(len(y), dtype=np.int8), [path], {"rows": len(y), "dropped": dropped})


def find_source(folder: Path) -> Path:
    """`housing.csv` in `folder`, else `cal_housing_py3.pkz`.

    Raises:
        FileNotFoundError: neither exists.
    """
    for name in (CSV_FILE, f"{CSV_FILE}.gz", PKZ_FILE):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise FileNotFoundError(f"{Path(folder) / CSV_FILE} (or {PKZ_FILE}) not found")


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Read handson-ml's `housing.csv` into scikit-learn's 8 features and the target in units of $100,000.

    Rows with an empty `total_bedrooms` (207 in the real file) are dropped, and their count returned.

    Raises:
        DataLayoutError: wrong header, a non-number, an empty cell elsewhere or an out-of-range value;
            the message names the file, the row and the column.
    """
    positive = (0, 1e7)
    # fmt: off
    frame = read_csv_checked(
        path,
        columns=CSV_COLUMNS,
        dtypes={**dict.fromkeys(CSV_COLUMNS, "float64"), "ocean_proximity": "str"},
        ranges={
            "longitude": (-180, 180),
            "latitude": (-90, 90),
            "housing_median_age": (0, 200),
            "total_rooms": positive,
            "total_bedrooms": positive,
            "population": positive,
            "households": (1, 1e7),
            "median_income": (0, 100),
            "median_house_value": (1, 1e8),
        },
        allowed={"ocean_proximity": OCEAN_PROXIMITY},
        nullable=["total_bedrooms"],
    )
    # fmt: on
    complete = frame.dropna(subset=["total_bedrooms"])
    households = complete["households"]
    features = np.column_stack(
        [
            complete["median_income"],
            complete["housing_median_age"],
            complete["total_rooms"] / households,
            complete["total_bedrooms"] / households,
            complete["population"],
            complete["population"] / households,
            complete["latitude"],
            complete["longitude"],
        ]
    ).astype(np.float32)
    target = (complete["median_house_value"].to_numpy() / TARGET_UNIT).astype(np.float32)
    return features, target, len(frame) - len(complete)


def read_pkz(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Read scikit-learn's cached `cal_housing_py3.pkz` (no network: it must already be there).

    Raises:
        DataLayoutError: the file is not scikit-learn's California-housing cache.
    """
    from sklearn.datasets import fetch_california_housing

    try:
        bunch = fetch_california_housing(data_home=str(Path(path).parent), download_if_missing=False)
    except Exception as error:
        raise DataLayoutError(f"{path}: not scikit-learn's California-housing cache ({error})") from error
    return bunch.data.astype(np.float32), bunch.target.astype(np.float32), 0


def read_source(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Features (N, 8), target (N,) and dropped-row count from either file format."""
    return read_pkz(path) if path.name == PKZ_FILE else read_csv(path)


# scikit-learn's `fetch_california_housing` keeps `cal_housing.tgz`'s columns in this order in its cache.
SKLEARN_MEMBER = "CaliforniaHousing/cal_housing.data"
SKLEARN_COLUMNS = [8, 7, 2, 3, 4, 5, 6, 1, 0]


def write_sklearn_cache(archive: Path, folder: Path) -> Path:
    """Write `folder/cal_housing_py3.pkz` from scikit-learn's `cal_housing.tgz` exactly as
    `sklearn.datasets.fetch_california_housing` writes its cache (so `read_pkz` and scikit-learn load it offline).

    Raises:
        DataLayoutError: the archive lacks `CaliforniaHousing/cal_housing.data` or it is not 9 numeric columns.
    """
    import tarfile

    import joblib

    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            member = tar.extractfile(SKLEARN_MEMBER)
            if member is None:
                raise KeyError(SKLEARN_MEMBER)
            data = np.loadtxt(member, delimiter=",")
    except (tarfile.TarError, KeyError, ValueError, OSError) as error:
        raise DataLayoutError(f"{archive}: not scikit-learn's cal_housing.tgz ({error})") from error
    if data.ndim != 2 or data.shape[1] != len(SKLEARN_COLUMNS):
        raise DataLayoutError(f"{archive}: {SKLEARN_MEMBER} has shape {data.shape}, expected (N, 9)")
    path = Path(folder) / PKZ_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(data[:, SKLEARN_COLUMNS], path, compress=6)
    return path


def sample_frame(rows: int, seed: int):
    """Generated block groups in `housing.csv`'s layout: plausible ranges, prices driven by income,
    location, age and rooms (learnable, not real)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    coastal = rng.random(rows) < 0.55
    latitude = np.where(coastal, rng.uniform(32.6, 38.5, rows), rng.uniform(33.0, 41.8, rows))
    longitude = np.where(coastal, -117.0 - (latitude - 32.6) * 0.6, rng.uniform(-122.5, -114.5, rows))
    longitude += rng.normal(0, 0.15, rows)
    income = np.clip(rng.lognormal(1.25, 0.45, rows), 0.5, 15.0)
    age = np.clip(rng.normal(29, 12, rows).round(), 1, 52)
    households = np.clip(rng.lognormal(6.0, 0.5, rows), 10, 6000).round()
    rooms_per = np.clip(rng.normal(4.5 + 0.25 * income, 0.8), 1.5, 12)
    bedrooms_per = np.clip(rng.normal(1.05, 0.08, rows), 0.6, 2.0)
    occupancy = np.clip(rng.lognormal(1.0, 0.25, rows), 1.0, 8.0)
    value = 0.45 * income + 0.9 * coastal + 0.006 * age + 0.08 * (rooms_per - 5) - 0.05 * (latitude - 34) ** 2
    value = np.clip(value + rng.normal(0, 0.25, rows), 0.15, 5.0)
    frame = pd.DataFrame(
        {
            "longitude": longitude.round(2),
            "latitude": latitude.round(2),
            "housing_median_age": age,
            "total_rooms": (rooms_per * households).round(),
            "total_bedrooms": (bedrooms_per * households).round(),
            "population": (occupancy * households).round(),
            "households": households,
            "median_income": income.round(4),
            "median_house_value": (value * TARGET_UNIT).round(-2),
            "ocean_proximity": np.where(coastal, "NEAR OCEAN", "INLAND"),
        }
    )
    return frame[CSV_COLUMNS]


def write_sample(folder: Path, data: HousingData, seed: int) -> list[Path]:
    """Write `folder/housing.csv` with generated rows; return the file written."""
    path = Path(folder) / CSV_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_frame(data.sample_rows, seed).to_csv(path, index=False, float_format="%.4f", lineterminator="\n")
    return [path]


def build_regressor(*, features: np.ndarray, hidden_units: list[int], architecture: str):
    """Normalization (adapted to `features`) → Dense(relu) layers → Dense(1).

    `wide_deep` (Functional API) also concatenates the normalized inputs with the last hidden layer,
    so the output sees them directly. Input: the 8 raw features, float32.
    """
    import keras

    normalization = keras.layers.Normalization(name="normalize")
    normalization.adapt(features)
    inputs = keras.Input((features.shape[1],), name="features")
    normalized = normalization(inputs)
    hidden = normalized
    for units in hidden_units:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    if architecture == "wide_deep":
        hidden = keras.layers.Concatenate()([normalized, hidden])
    price = keras.layers.Dense(1, name="price")(hidden)
    return keras.Model(inputs, price, name=f"housing_{architecture}")


# --- the demo ----------------------------------------------------------------------------------------


class HousingData(DataParams):
    """California housing: `housing.csv` (handson-ml layout) or scikit-learn's `cal_housing_py3.pkz`."""

    sample_rows: int = Field(2000, ge=50, description="sample source only: generated block groups")


class RegressorParams(Strict):
    """Normalization → hidden Dense layers → Dense(1); `wide_deep` also feeds the inputs straight to the output."""

    hidden_units: list[int] = Field(default_factory=lambda: [50, 50], min_length=1)
    architecture: Literal["sequential", "wide_deep"] = "wide_deep"


class HousingParams(KerasSection):
    """keras-basics: the California-housing regressor."""

    data: HousingData
    model: RegressorParams
    parity: RegressionParityParams


DEMO = Demo(
    name="housing",
    task="regression",
    features=FEATURES,
    target=TARGET_SPEC,
    params=HousingParams,
    read=read,
    converters={"sklearn-cal-housing": lambda files, folder: [write_sklearn_cache(files[0], folder)]},
    write_sample=write_sample,
    build=lambda section, splits: build_regressor(features=splits["x_train"], **section.model.model_dump()),
    descriptions={
        "sample": "generated California-like block groups (deterministic, prices made up), so the pipeline runs "
        "offline",
        "kaggle": "California housing (1990 census): 20,640 block groups",
        "public": "California housing (1990 census): 20,640 block groups, fetched from scikit-learn's URL",
    },
    tiny={
        "data": {"sample_rows": 400},
        "model": {"hidden_units": [16]},
        "train": {"epochs": 100, "learning_rate": 0.01},
        "parity": {"max_abs_diff_quantized": 0.5},
    },
    floor={"r2": 0.5},
    real_check=RealCheck(goal={"rmse": 0.55}, params={"train": {"epochs": 25}}),
)
