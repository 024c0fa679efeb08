"""Palmer penguins: species from bill, flipper, body mass, island and sex — categories and missing values.

scikit-learn (impute, one-hot, scale; LogisticRegression against GaussianNB), not Keras: on 344 rows a linear
model is exact enough (≥ 97 %). The real CSV ships in PyPI's `palmerpenguins` wheel (its sha256 pinned in params).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from shared.artifact import Feature
from training.demos import Demo, Ingested, RealCheck
from training.params import DataParams, SklearnSection, Strict
from training.tabular import read_csv_checked

FILE = "penguins.csv"
COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]
LABELS = ["Adelie", "Chinstrap", "Gentoo"]
ISLANDS, SEXES = ["Biscoe", "Dream", "Torgersen"], ["female", "male"]
FEATURES = [
    Feature(name="island", label="Island", kind="category", choices=ISLANDS),
    Feature(name="bill_length_mm", label="Bill length", unit="mm", optional=True),
    Feature(name="bill_depth_mm", label="Bill depth", unit="mm", optional=True),
    Feature(name="flipper_length_mm", label="Flipper length", unit="mm", optional=True),
    Feature(name="body_mass_g", label="Body mass", unit="g", optional=True),
    Feature(name="sex", label="Sex", kind="category", choices=SEXES, optional=True),
]
NUMBERS = [1, 2, 3, 4]  # the measurements' positions in FEATURES; 0 and 5 are categories
# The sample: per species, the mean and spread of the four measurements (like the real birds), its islands' shares.
_LOOKS = {
    "Adelie": ([38.8, 18.3, 190.0, 3700.0], [2.7, 1.2, 6.5, 460.0], [0.3, 0.37, 0.33]),
    "Chinstrap": ([48.8, 18.4, 196.0, 3730.0], [3.3, 1.1, 7.1, 380.0], [0.0, 1.0, 0.0]),
    "Gentoo": ([47.5, 15.0, 217.0, 5080.0], [3.1, 1.0, 6.5, 500.0], [1.0, 0.0, 0.0]),
}


def read(folder: Path, data: DataParams) -> Ingested:
    """`penguins.csv` (`NA` for a missing value): the six features (a category as its choice's index, missing as
    NaN) and the species. A species beyond the three known ones is read as a new class after them: the data's schema
    (`training.schema`) stops ingest on it until the change is accepted."""
    path = Path(folder) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    numbers = [FEATURES[i].name for i in NUMBERS]
    frame = read_csv_checked(
        path, columns=COLUMNS, missing=("", "NA"), nullable=[*numbers, "sex"],
        dtypes={**dict.fromkeys(numbers, "float64"), "species": "str", "island": "str", "sex": "str"},
        ranges={"bill_length_mm": (10, 100), "bill_depth_mm": (5, 40), "flipper_length_mm": (100, 300),
                "body_mass_g": (1000, 10000), "year": (2000, 2100)},
        allowed={"island": ISLANDS, "sex": SEXES},
    )  # fmt: skip
    labels = LABELS + sorted(set(frame["species"]) - set(LABELS))

    def code(column: str, choices: list[str]):  # a choice's index; a missing value stays NaN
        return frame[column].map({choice: index for index, choice in enumerate(choices)})

    x = np.column_stack([code("island", ISLANDS), *(frame[n] for n in numbers), code("sex", SEXES)]).astype(np.float32)
    y = code("species", labels).to_numpy(np.int64)
    rows = {label: int((y == index).sum()) for index, label in enumerate(labels)}
    return Ingested(x, y, labels, np.zeros(len(y), dtype=np.int8), [path], rows)


def write_sample(folder: Path, data: PenguinData, seed: int) -> list[Path]:
    """Write `penguins.csv` with generated birds in the real layout, a few measurements and sexes missing (`NA`)."""
    rng = np.random.default_rng(seed)
    species = rng.choice(LABELS, size=data.sample_rows, p=[0.44, 0.2, 0.36])
    rows = []
    for name in species:
        means, spreads, islands = _LOOKS[name]
        values = [round(float(v), 1) for v in rng.normal(means, spreads)]
        sex = str(rng.choice(SEXES)) if rng.random() > 0.03 else "NA"
        measured = values if rng.random() > 0.01 else ["NA"] * 4
        rows.append([name, rng.choice(ISLANDS, p=islands), *measured, sex, int(rng.integers(2007, 2010))])
    path = Path(folder) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False, lineterminator="\n")
    return [path]


def from_wheel(files: list[Path], folder: Path) -> list[Path]:
    """The `palmerpenguins` wheel → its `penguins.csv`, the layout `read` takes."""
    with zipfile.ZipFile(files[0]) as wheel:
        (folder / FILE).write_bytes(wheel.read("palmerpenguins/data/penguins.csv"))
    return [folder / FILE]


def build_pipelines(section: PenguinsParams, seed: int) -> dict:
    """Impute, scale the measurements and one-hot the categories, then LogisticRegression or GaussianNB."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def prepared(model) -> Pipeline:
        numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        categories = Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("onehot", onehot)])
        columns = ColumnTransformer([("numbers", numbers, NUMBERS), ("categories", categories, [0, 5])])
        return Pipeline([("prepare", columns), ("model", model)])

    c = section.candidates.logistic_regression_c
    return {
        "logistic_regression": prepared(LogisticRegression(C=c, max_iter=1000, random_state=seed)),
        "gaussian_nb": prepared(GaussianNB()),
    }


class PenguinData(DataParams):
    """`penguins.csv`; the sample's size."""

    sample_rows: int = Field(300, ge=30, description="sample source only: generated penguins")


class PenguinCandidates(Strict):
    """The candidates' settings: LogisticRegression's inverse regularisation strength (scikit-learn's C)."""

    logistic_regression_c: float = Field(1.0, gt=0)


class PenguinsParams(SklearnSection):
    """penguins: LogisticRegression against GaussianNB on imputed, one-hot features."""

    data: PenguinData
    candidates: PenguinCandidates


DEMO = Demo(
    name="penguins",
    task="tabular-classification",
    framework="sklearn",
    features=FEATURES,
    params=PenguinsParams,
    read=read,
    write_sample=write_sample,
    build=build_pipelines,
    converters={"penguins-from-wheel": from_wheel},
    descriptions={
        "sample": "generated penguins of 3 species (deterministic, made up), so the pipeline runs offline",
        "kaggle": "Palmer penguins: 344 penguins of 3 species from 3 islands of the Palmer Archipelago",
        "public": "Palmer penguins, fetched from PyPI's palmerpenguins wheel: 344 penguins of 3 species",
    },
    tiny={"data": {"sample_rows": 150}},
    floor={"accuracy": 0.85},
    real_check=RealCheck(goal={"accuracy": 0.97}),
)
