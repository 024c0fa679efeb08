"""Gender: both target spellings, schema errors, the skops model loaded only with trusted types, and a form
that refuses bad values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.artifact import DataProvenance, ModelSpec, TabularInput
from shared.errors import ArtifactError, DataLayoutError, InputError
from shared.sklearn_classifier import TabularClassifier, load_skops
from training.demos import gender
from training.export import feature_ranges

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "gender" / gender.FILE


def test_sample_is_deterministic_and_reads_back(tmp_path: Path) -> None:
    first = gender.write_sample(tmp_path / "a", gender.GenderData.model_construct(sample_rows=80), 3)[0]
    second = gender.write_sample(tmp_path / "b", gender.GenderData.model_construct(sample_rows=80), 3)[0]
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text().splitlines()[0].endswith(",gender")
    features, classes = gender.read_csv(first)
    assert features.shape == (80, 7) and set(classes.tolist()) == {0, 1}


def test_the_authors_male_column_is_accepted(tmp_path: Path) -> None:
    kaggle = gender.write_sample(tmp_path, gender.GenderData.model_construct(sample_rows=20), 0)[0]
    lines = kaggle.read_text().splitlines()
    author = tmp_path / "author.csv"
    converted = [lines[0].replace(",gender", ",Male")]
    for line in lines[1:]:
        features, label = line.rsplit(",", 1)
        converted.append(f"{features},{int(label == 'Male')}")
    author.write_text("\n".join(converted) + "\n")
    assert np.array_equal(gender.read_csv(author)[1], gender.read_csv(kaggle)[1])


@pytest.mark.parametrize(
    ("column", "value"), [("nose_wide", "2"), ("forehead_width_cm", "wide"), ("gender", "Other"), ("lips_thin", "")]
)
def test_a_bad_cell_is_named(tmp_path: Path, column: str, value: str) -> None:
    path = gender.write_sample(tmp_path, gender.GenderData.model_construct(sample_rows=20), 0)[0]
    lines = path.read_text().splitlines()
    cells = lines[4].split(",")
    cells[[*gender.FEATURE_COLUMNS, "gender"].index(column)] = value
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match=rf"row 4 \(line 5\), column '{column}'"):
        gender.read_csv(path)


@pytest.mark.skipif(not REAL.is_file(), reason="real gender copy not present")
def test_real_file_reads() -> None:
    features, classes = gender.read_csv(REAL)
    assert features.shape == (5001, 7) and 0.45 < classes.mean() < 0.55


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> TabularClassifier:
    import skops.io as sio

    folder = tmp_path_factory.mktemp("gender")
    features, classes = gender.read_csv(
        gender.write_sample(folder / "data", gender.GenderData.model_construct(sample_rows=200), 1)[0]
    )
    candidates = {"gaussian_nb": {"var_smoothing": 1e-9}, "logistic_regression": {"c": 1.0, "max_iter": 200}}
    section = gender.GenderParams.model_construct(candidates=gender.CandidatesParams.model_validate(candidates))
    pipeline = gender.build_pipelines(section, seed=0)["logistic_regression"]
    pipeline.fit(features, classes)
    sio.dump(pipeline, folder / "model.skops")
    ModelSpec(
        name="gender",
        version=1,
        task="tabular-classification",
        labels=gender.LABELS,
        input=TabularInput(features=feature_ranges(gender.FEATURES, features)),
        files={"skops": "model.skops"},
        data=DataProvenance(source="sample", description="test"),
    ).save(folder)
    return TabularClassifier.from_artifact(folder)


def test_classifier_answers_by_list_and_by_name(classifier: TabularClassifier) -> None:
    defaults = [feature.default for feature in classifier.features]
    answer = classifier.predict_one(defaults).confidences
    assert set(answer) == {"Female", "Male"} and sum(answer.values()) == pytest.approx(1.0)
    by_name = classifier.predict_one(
        {f.name: v for f, v in zip(classifier.features, defaults, strict=True)}
    ).confidences
    assert by_name == answer
    as_checkboxes = [bool(v) if f.kind == "binary" else v for f, v in zip(classifier.features, defaults, strict=True)]
    assert classifier.predict_one(as_checkboxes).confidences == answer


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (1, float("nan"), "Forehead width must be a finite number"),
        (2, 99.0, "Forehead height = 99 is outside"),
        (0, 0.5, "Long hair must be yes \\(1\\) or no \\(0\\)"),
        (3, None, "Wide nose is missing"),
        (1, True, "Forehead width is missing or not a number"),
    ],
)
def test_bad_values_get_one_sentence(classifier: TabularClassifier, index: int, value: object, message: str) -> None:
    values: list[object] = [feature.default for feature in classifier.features]
    values[index] = value
    with pytest.raises(InputError, match=message):
        classifier.predict_one(values)


def test_untrusted_types_are_refused(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=2).fit(np.eye(4), [0, 1, 0, 1])
    sio.dump(model, tmp_path / "forest.skops")
    with pytest.raises(ArtifactError, match="does not trust"):
        load_skops(tmp_path / "forest.skops")
    # scikit-learn types skops itself trusts by default, but this app does not: refused all the same
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    pipeline = Pipeline([("scale", MinMaxScaler()), ("model", KNeighborsClassifier(1))]).fit(np.eye(4), [0, 1, 0, 1])
    sio.dump(pipeline, tmp_path / "knn.skops")
    assert not {"sklearn.neighbors._classification.KNeighborsClassifier"} & set(
        sio.get_untrusted_types(file=tmp_path / "knn.skops")
    )
    with pytest.raises(ArtifactError, match=r"KNeighborsClassifier.*MinMaxScaler|MinMaxScaler.*KNeighbors"):
        load_skops(tmp_path / "knn.skops")
    (tmp_path / "garbage.skops").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a readable skops file"):
        load_skops(tmp_path / "garbage.skops")
