"""A CSV of rows for every tabular model: the Spaces started for real on 127.0.0.1 and called through gradio_client
(`/<endpoint>_csv`), the answered file read back and compared with the form's own answers; the page's upload guard
served as a Space serves it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import running_space, serving
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from shared.artifact import ModelSpec
from shared.csv_rows import ERROR_COLUMN, MAX_CSV_BYTES, MAX_CSV_ROWS, prediction_columns, read_csv_rows
from shared.errors import InputError
from shared.features import form_values, read_examples_csv
from shared.server import space_app
from shared.service import load_services
from shared.suite import load_space
from shared.ui import format_amount

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# every tabular model: its Space, its folder in the Space's model/ ("" for the only one), its page endpoint
TABULAR = {
    "gender": ("gender", "", "/predict"),
    "penguins": ("penguins", "", "/predict"),
    "housing": ("keras-basics", "housing", "/price"),
}


def _paths(spaces_dir: Path, model: str) -> tuple[Path, Path, Path]:
    space, folder, _ = TABULAR[model]
    bundle = spaces_dir / space
    examples = bundle / "examples" / (folder or "") / "examples.csv"
    return bundle, bundle / "model" / folder if folder else bundle / "model", examples


@pytest.fixture(scope="module")
def clients(spaces_dir: Path) -> Iterator[dict[str, Client]]:
    """Each Space with a tabular model, running (keras-basics once for housing)."""
    import contextlib

    with contextlib.ExitStack() as stack:
        started = {space: stack.enter_context(running_space(spaces_dir / space)) for space, _, _ in TABULAR.values()}
        yield {model: started[space] for model, (space, _, _) in TABULAR.items()}


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return path


def _read(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("model", sorted(TABULAR))
def test_good_rows_are_answered_as_the_form_answers_them_and_a_bad_row_is_named(
    model: str, clients: dict[str, Client], spaces_dir: Path, tmp_path: Path
) -> None:
    _, folder, examples_file = _paths(spaces_dir, model)
    spec = ModelSpec.load(folder)
    features = spec.input.features  # type: ignore[union-attr]
    examples = read_examples_csv(examples_file)
    assert len(examples) >= 2
    number = next(i for i, feature in enumerate(features) if feature.kind == "number")
    bad = list(examples[0])
    bad[number] = "lots"
    rows = [*examples, bad, examples[1]]  # the bad row between good ones: the one after it is answered too
    header = [feature.name for feature in features]
    upload = _write(tmp_path / "rows.csv", ["id", *header], [[f"r{i}", *row] for i, row in enumerate(rows)])
    client, endpoint = clients[model], TABULAR[model][2]

    answered, report = client.predict(handle_file(str(upload)), api_name=f"{endpoint}_csv")

    back = _read(answered)
    assert Path(answered).name == "rows-predictions.csv"
    assert list(back[0]) == ["id", *header, *prediction_columns(spec)]  # the extra column kept, in place
    assert [row["id"] for row in back] == [f"r{i}" for i in range(len(rows))]
    bad_number = len(examples) + 1
    assert f"row {bad_number}, column {features[number].name}: {features[number].label}" in report
    assert "not a number" in back[bad_number - 1][ERROR_COLUMN]
    predicted = prediction_columns(spec)[0]
    assert back[bad_number - 1][predicted] == ""
    for row, written in zip(rows, back, strict=True):
        if row is bad:
            continue
        try:
            form = client.predict(*form_values(row, features), api_name=endpoint)
        except AppError as refusal:  # outside the training ranges: refused in the file too, with the same reason
            assert written[predicted] == "" and str(refusal.message)[:20] in written[ERROR_COLUMN]
            continue
        assert written[ERROR_COLUMN] == ""
        if spec.labels:
            assert written[predicted] == form["label"]
            confidence = next(c["confidence"] for c in form["confidences"] if c["label"] == form["label"])
            assert float(written["probability"]) == pytest.approx(confidence, abs=1e-4)
        else:
            assert spec.target is not None
            assert format_amount(float(written[predicted]), spec.target.unit) in form
    answered_rows = sum(1 for written in back if written[predicted])
    assert f"**{answered_rows:,} rows answered**" in report


ONLY_CSV = r"(Upload a \.csv file|one of these formats: \['\.csv'\])"  # ours, or gr.File's own check first


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.txt", b"a,b\n1,2\n", ONLY_CSV),
        ("rows.xlsx", b"PK\x03\x04binary", ONLY_CSV),
        ("empty.csv", b"", "empty"),
        ("binary.csv", b"long_hair\x00\x01\x02\n", "not a text CSV"),
        ("latin.csv", "long_hair,caf\u00e9\n".encode("latin-1"), "not UTF-8"),
        ("header.csv", b"long_hair\n1\n", "lacks the column"),
        ("only-header.csv", None, "no rows"),
    ],
)
def test_a_file_that_is_not_a_csv_of_rows_gets_a_clear_error(
    clients: dict[str, Client], spaces_dir: Path, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    _, folder, _ = _paths(spaces_dir, "gender")
    header = ",".join(feature.name for feature in ModelSpec.load(folder).input.features)  # type: ignore[union-attr]
    path = tmp_path / name
    path.write_bytes(content if content is not None else header.encode() + b"\n\n")
    with pytest.raises(AppError, match=message):
        clients["gender"].predict(handle_file(str(path)), api_name="/predict_csv")


def test_the_header_is_checked_before_the_rows_and_the_budget_is_kept(spaces_dir: Path, tmp_path: Path) -> None:
    _, folder, examples_file = _paths(spaces_dir, "gender")
    spec = ModelSpec.load(folder)
    header = examples_file.read_text(encoding="utf-8").splitlines()[0]
    many = "\n".join([header, *["1,12.4,6,0,0,1,0"] * (MAX_CSV_ROWS + 1)]) + "\n"
    (tmp_path / "many.csv").write_text(many, encoding="utf-8")
    with pytest.raises(InputError, match=f"more than {MAX_CSV_ROWS:,} rows"):
        read_csv_rows(tmp_path / "many.csv", spec)
    # the same rows under a wrong header: refused for its header, before a row is counted
    (tmp_path / "wrong.csv").write_text("name" + many[len(header) :], encoding="utf-8")
    with pytest.raises(InputError, match="lacks the column"):
        read_csv_rows(tmp_path / "wrong.csv", spec)
    (tmp_path / "large.csv").write_bytes(b"x" * (MAX_CSV_BYTES + 1))
    with pytest.raises(InputError, match="too large"):
        read_csv_rows(tmp_path / "large.csv", spec)
    # the columns are found by name or label in any order and case; an optional one may be left out
    reordered = [feature.label.upper() for feature in reversed(spec.input.features)]  # type: ignore[union-attr]
    (tmp_path / "labels.csv").write_text(",".join(reordered) + "\n" + "0,1,0,0,6,12.4,1\n", encoding="utf-8")
    table = read_csv_rows(tmp_path / "labels.csv", spec)
    assert table.columns["long_hair"] == len(reordered) - 1 and len(table.rows) == 1


def test_the_served_page_takes_a_csv_upload_and_refuses_other_files(spaces_dir: Path) -> None:
    bundle = spaces_dir / "gender"
    services = load_services(bundle / "model")
    with serving(space_app(load_space(bundle, services), services), guarded=True) as base:
        examples = (bundle / "examples" / "examples.csv").read_bytes()

        def upload(name: str, content: bytes) -> httpx.Response:
            files = {"files": (name, io.BytesIO(content), "application/octet-stream")}
            return httpx.post(f"{base}/gradio_api/upload", files=files, timeout=30)

        assert upload("rows.csv", examples).status_code == 200
        refused = upload("rows.csv", b"long_hair\x00\n")
        assert refused.status_code == 415 and "not a text CSV" in refused.text
        refused = upload("rows.txt", b"long_hair\n1\n")
        assert refused.status_code == 415 and "takes a .csv file of rows" in refused.text
