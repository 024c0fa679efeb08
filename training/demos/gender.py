"""Gender from facial measurements: Kaggle's CSV (either target spelling), a deterministic sample, and the
two scikit-learn pipelines the original project compared (GaussianNB, LogisticRegression)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from shared.artifact import Feature
from training.demos import Demo, Ingested, RealCheck
from training.params import DataParams, SklearnSection, Strict
from training.tabular import read_csv_checked

FILE = "gender_classification_v7.csv"
BINARY = ["long_hair", "nose_wide", "nose_long", "lips_thin", "distance_nose_to_lip_long"]
FEATURE_COLUMNS = [
    "long_hair", "forehead_width_cm", "forehead_height_cm",
    "nose_wide", "nose_long", "lips_thin", "distance_nose_to_lip_long",
]  # fmt: skip
LABELS = ["Female", "Male"]  # class index 1 = Male, as the dataset author's `Male` column
FEATURES = [
    Feature(name="long_hair", label="Long hair", kind="binary"),
    Feature(name="forehead_width_cm", label="Forehead width", unit="cm"),
    Feature(name="forehead_height_cm", label="Forehead height", unit="cm"),
    Feature(name="nose_wide", label="Wide nose", kind="binary"),
    Feature(name="nose_long", label="Long nose", kind="binary"),
    Feature(name="lips_thin", label="Thin lips", kind="binary"),
    Feature(name="distance_nose_to_lip_long", label="Long nose-to-lip distance", kind="binary"),
]


def read(folder: Path, data: DataParams) -> Ingested:
    """`gender_classification_v7.csv`: 7 features and the class (1 = Male), whichever target column it has."""
    path = find_file(folder)
    x, y = read_csv(path)
    rows = {label: int(np.sum(y == index)) for index, label in enumerate(LABELS)}
    return Ingested(x, y, list(LABELS), np.zeros(len(y), dtype=np.int8), [path], rows)


def find_file(folder: Path) -> Path:
    """`folder/gender_classification_v7.csv` (or `.gz`), else the only CSV in `folder`.

    Raises:
        FileNotFoundError: no such file.
    """
    for candidate in (Path(folder) / FILE, Path(folder) / f"{FILE}.gz"):
        if candidate.is_file():
            return candidate
    csvs = sorted(Path(folder).glob("*.csv"))
    if len(csvs) == 1:
        return csvs[0]
    raise FileNotFoundError(f"{Path(folder) / FILE} not found")


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the 7 features (float32) and the class (1 = Male) from Kaggle's layout (`gender`: Male/Female)
    or the dataset author's (`Male`: 1/0).

    Raises:
        DataLayoutError: wrong header, a missing, non-numeric or out-of-range cell, or an unknown class;
            the message names the file, the row and the column.
    """
    with Path(path).open("rt", encoding="utf-8", errors="replace") if Path(path).suffix != ".gz" else _gz(path) as f:
        header = f.readline().strip().split(",")
    target = header[-1] if header and header[-1] in ("gender", "Male") else "gender"
    columns = [*FEATURE_COLUMNS, target]
    frame = read_csv_checked(
        path,
        columns=columns,
        dtypes={"forehead_width_cm": "float64", "forehead_height_cm": "float64", "gender": "str"},
        ranges={**dict.fromkeys(BINARY, (0, 1)), "forehead_width_cm": (1, 50), "forehead_height_cm": (1, 50)},
        allowed={"gender": LABELS, "Male": [0, 1]},
    )
    features = frame[FEATURE_COLUMNS].to_numpy(dtype=np.float32)
    classes = (frame[target] == "Male") if target == "gender" else frame[target] == 1
    return features, classes.to_numpy(dtype=np.int64)


def _gz(path: Path):
    import gzip

    return gzip.open(path, "rt", encoding="utf-8", errors="replace")


def sample_frame(rows: int, seed: int):
    """Generated rows in Kaggle's layout (target `gender`): men have wider, taller foreheads and more often
    wide/long noses, thin lips and a long nose-to-lip distance (learnable, not real)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    male = rng.random(rows) < 0.5

    def flag(p_male: float, p_female: float) -> np.ndarray:
        return (rng.random(rows) < np.where(male, p_male, p_female)).astype(int)

    frame = pd.DataFrame(
        {
            "long_hair": flag(0.85, 0.88),
            "forehead_width_cm": np.round(np.where(male, rng.normal(13.6, 1.0, rows), rng.normal(12.6, 0.9, rows)), 1),
            "forehead_height_cm": np.round(np.where(male, rng.normal(6.1, 0.5, rows), rng.normal(5.6, 0.5, rows)), 1),
            "nose_wide": flag(0.8, 0.15),
            "nose_long": flag(0.8, 0.2),
            "lips_thin": flag(0.8, 0.2),
            "distance_nose_to_lip_long": flag(0.8, 0.15),
            "gender": np.where(male, "Male", "Female"),
        }
    )
    frame["forehead_width_cm"] = frame["forehead_width_cm"].clip(10.0, 16.0)
    frame["forehead_height_cm"] = frame["forehead_height_cm"].clip(4.5, 7.5)
    return frame


def write_sample(folder: Path, data: GenderData, seed: int) -> list[Path]:
    """Write `folder/gender_classification_v7.csv` with generated rows; return the file written."""
    path = Path(folder) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_frame(data.sample_rows, seed).to_csv(path, index=False, float_format="%.1f", lineterminator="\n")
    return [path]


def build_pipelines(section: GenderParams, seed: int) -> dict:
    """The two scikit-learn pipelines to compare, by name: scaler + GaussianNB, scaler + LogisticRegression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    nb, logistic = section.candidates.gaussian_nb, section.candidates.logistic_regression
    return {
        "gaussian_nb": Pipeline([("scale", StandardScaler()), ("model", GaussianNB(var_smoothing=nb.var_smoothing))]),
        "logistic_regression": Pipeline(
            [
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=logistic.c, max_iter=logistic.max_iter, random_state=seed)),
            ]
        ),
    }


# --- the demo ----------------------------------------------------------------------------------------


class GenderData(DataParams):
    """Kaggle's `gender_classification_v7.csv` (target `gender` or `Male`)."""

    sample_rows: int = Field(1000, ge=50, description="sample source only: generated rows")


class GaussianNbParams(Strict):
    """scikit-learn GaussianNB (after a StandardScaler)."""

    var_smoothing: float = Field(1e-9, gt=0)


class LogisticRegressionParams(Strict):
    """scikit-learn LogisticRegression (after a StandardScaler)."""

    c: float = Field(1.0, gt=0, description="inverse regularisation strength (scikit-learn's C)")
    max_iter: int = Field(1000, ge=10)


class CandidatesParams(Strict):
    """The pipelines the train stage fits and compares."""

    gaussian_nb: GaussianNbParams
    logistic_regression: LogisticRegressionParams


class GenderParams(SklearnSection):
    """gender: GaussianNB against LogisticRegression, logged to MLflow, the best one kept."""

    data: GenderData
    candidates: CandidatesParams


DEMO = Demo(
    name="gender",
    task="tabular-classification",
    framework="sklearn",
    features=FEATURES,
    params=GenderParams,
    read=read,
    write_sample=write_sample,
    build=build_pipelines,
    descriptions={
        "sample": "generated rows of 7 facial measurements (deterministic, made up), so the pipeline runs offline",
        "kaggle": "Gender classification (Kaggle, v7): 7 facial measurements of 5,001 people",
        "public": "Gender classification, fetched from Kaggle: 7 facial measurements of 5,001 people",
    },
    tiny={"data": {"sample_rows": 300}},
    floor={"accuracy": 0.85},
    real_check=RealCheck(goal={"accuracy": 0.96}),
)
