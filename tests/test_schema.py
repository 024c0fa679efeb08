"""Schema and validation at ingest (a new file is checked against the last accepted schema), and the statistics
stage's report of what ingest kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run

from training.demos import demo
from training.ingest import main as ingest
from training.params import load_params
from training.schema import SchemaAnomalies, load_schema, schema_path
from training.statistics import main as statistics_stage


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the repo's params.yaml and kept schemas, and the sample data of penguins and gender."""
    monkeypatch.chdir(tmp_path)
    shutil.copy2(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    params = load_params()
    for name in ("penguins", "gender"):
        demo(name).write_sample(Path("data/sample") / name, params.model(name).data, params.base.seed)
    return tmp_path


def data(name: str):
    """The model's data params from the copied params.yaml."""
    return load_params().model(name).data


def test_kept_schema_takes_the_sample_and_the_statistics_stage_reports_it(workdir: Path) -> None:
    ingest(demo("penguins"), data("penguins"))
    statistics_stage(demo("penguins"))
    folder = workdir / "build" / "penguins" / "statistics"
    assert (folder / "statistics.html").stat().st_size > 100_000  # Evidently's report
    statistics = json.loads((folder / "statistics.json").read_text())
    assert statistics["RowCount()"] == 300
    assert set(statistics["UniqueValueCount(column=label)"]["counts"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert statistics["MissingValueCount(column=sex)"]["count"] > 0


def test_a_new_label_stops_ingest_until_accepted(workdir: Path) -> None:
    csv = workdir / "data" / "sample" / "penguins" / "penguins.csv"
    with csv.open("a") as handle:
        handle.write("Emperor,Dream,45.0,17.0,200.0,4000.0,male,2009\n")
    kept = schema_path("penguins", "sample").read_text()
    with pytest.raises(SchemaAnomalies) as refused:
        ingest(demo("penguins"), data("penguins"))
    message = str(refused.value)
    assert "column 'label': new value(s) 'Emperor' in 1 rows; the schema knows Adelie, Chinstrap, Gentoo" in message
    assert "--accept-schema" in message and not (workdir / "build" / "penguins" / "ingest").exists()
    assert schema_path("penguins", "sample").read_text() == kept

    result = run(["spacesuite", "ingest", "penguins", "--accept-schema"], workdir)
    assert result.returncode == 0, result.stderr
    assert "schema accepted" in result.stdout
    assert "Emperor" in load_schema(schema_path("penguins", "sample"))["columns"]["label"]["isin"]
    with np.load(workdir / "build" / "penguins" / "ingest" / "dataset.npz") as dataset:
        assert dataset["labels"].tolist() == ["Adelie", "Chinstrap", "Gentoo", "Emperor"]
    ingest(demo("penguins"), data("penguins"))  # the accepted schema now takes it


def test_a_renamed_column_stops_ingest_until_accepted(workdir: Path) -> None:
    csv = workdir / "data" / "sample" / "gender" / "gender_classification_v7.csv"
    lines = csv.read_text().splitlines()
    rows = [line.rsplit(",", 1) for line in lines[1:]]  # the dataset author's layout: `Male` 1/0 for `gender`
    csv.write_text("\n".join([lines[0].replace(",gender", ",Male")] + [f"{a},{int(b == 'Male')}" for a, b in rows]))
    result = run(["spacesuite", "ingest", "gender"], workdir)
    assert result.returncode == 1
    assert "gender_classification_v7.csv: column 'gender' is missing" in result.stderr
    assert "gender_classification_v7.csv: new column 'Male'" in result.stderr
    ingest(demo("gender"), data("gender"), accept_schema=True)
    assert "Male" in load_schema(schema_path("gender", "sample"))["files"]["gender_classification_v7.csv"]


def test_values_far_outside_the_ranges(workdir: Path) -> None:
    csv = workdir / "data" / "sample" / "penguins" / "penguins.csv"
    lines = csv.read_text().splitlines()
    lines[1] = "Gentoo,Biscoe,46.6,14.9,215.4,9900.0,male,2008"  # the reader's sanity range allows it
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaAnomalies) as refused:
        ingest(demo("penguins"), data("penguins"))
    assert "column 'body_mass_g': 1 values outside [809.45, 7990.05], e.g. 9900" in str(refused.value)
