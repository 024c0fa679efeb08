"""A CSV of rows for a tabular model: read within its budget, each row checked field by field as the form's values
are (`shared.features`), the good rows answered in one request through the model's `Service`, and the file written
back with the predictions appended. A bad row is named with what is wrong with it and never fails the others.

The budget (MAX_CSV_BYTES, MAX_CSV_ROWS) is checked before the expensive step it protects: the file's size before
reading it, its header before any row, the row count while the rows are read. It lives here rather than in
`shared.limits`, which every training stage depends on (as `shared.explain`'s budgets do).
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import shared.limits as limits  # CACHE_MAX_AGE_S: how long an answered file is kept
from shared.artifact import Feature, ModelSpec, TabularInput
from shared.errors import InputError
from shared.features import checked_row
from shared.service import Service

MAX_CSV_BYTES = 2**20  # a CSV of rows, 1 MiB (checked before it is read)
MAX_CSV_ROWS = 5_000  # rows of one CSV, counted as they are read (the header is checked before any)
OUTPUT_DIR = Path(tempfile.gettempdir()) / "spacesuite-csv"  # answered files, deleted after CACHE_MAX_AGE_S
ERROR_COLUMN = "error"
SHOWN_ERRORS = 20  # row errors listed on the page; every one is in the answered file's error column


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: its number (1 = the first row under the header), a column ("" for the whole row)."""

    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class CsvRows:
    """A CSV's header and rows as text, with the column of each feature (None: an optional feature left out)."""

    header: list[str]
    rows: list[list[str]]
    columns: dict[str, int | None]


def _features(spec: ModelSpec) -> list[Feature]:
    if not isinstance(spec.input, TabularInput):
        raise InputError(f"{spec.name} does not take rows of a table.")
    return spec.input.features


def read_csv_text(path: Path) -> str:
    """The file's text, once its name, size and encoding are within what a CSV of rows may be.

    Raises:
        InputError: not a .csv, empty, over `MAX_CSV_BYTES`, binary, or not UTF-8 (one sentence).
    """
    if path.suffix.lower() != ".csv":
        raise InputError(f"Upload a .csv file (comma-separated rows with a header), not {path.suffix or 'a file'}.")
    size = path.stat().st_size
    if size == 0:
        raise InputError("The CSV file is empty: it needs a header and at least one row.")
    if size > MAX_CSV_BYTES:
        raise InputError(f"The CSV file is too large ({size:,} bytes): at most {MAX_CSV_BYTES:,} bytes.")
    raw = path.read_bytes()
    if b"\0" in raw:
        raise InputError("The file is not a text CSV (it holds binary data): save the sheet as CSV first.")
    try:
        return raw.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as error:
        raise InputError(f"The CSV file is not UTF-8 text (byte {error.start:,}): save it as CSV UTF-8.") from None


def _columns(header: list[str], features: list[Feature]) -> dict[str, int | None]:
    """Each feature's column in `header`, matched by its name or its label (any case)."""
    names = [cell.strip().lower() for cell in header]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise InputError(f"The CSV header repeats the column {', '.join(repeated)}.")
    columns: dict[str, int | None] = {}
    for feature in features:
        found = [index for index, name in enumerate(names) if name in (feature.name.lower(), feature.label.lower())]
        columns[feature.name] = found[0] if found else None
    missing = [feature.name for feature in features if columns[feature.name] is None and not feature.optional]
    if missing:
        expected = ",".join(feature.name for feature in features)
        raise InputError(
            f"The CSV header lacks the column {', '.join(missing)}: its first line names the columns, e.g. {expected}."
        )
    return columns


def read_csv_rows(path: Path, spec: ModelSpec) -> CsvRows:
    """The header and rows of an uploaded CSV for a tabular model, within `MAX_CSV_BYTES` and
    `MAX_CSV_ROWS`; blank lines are skipped, extra columns kept.

    Raises:
        InputError: not a .csv, empty, too large, not UTF-8 text, a header without a feature's column (or with one
            twice), no rows, or more than MAX_CSV_ROWS of them (one sentence saying which).
    """
    features = _features(spec)
    reader = csv.reader(io.StringIO(read_csv_text(Path(path)), newline=""))
    try:
        header = next(reader)
        columns = _columns(header, features)  # before any row is read
        rows: list[list[str]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) == MAX_CSV_ROWS:
                raise InputError(f"The CSV file has more than {MAX_CSV_ROWS:,} rows: split it into several.")
            rows.append(row)
    except StopIteration:
        raise InputError("The CSV file is empty: it needs a header and at least one row.") from None
    except csv.Error as error:
        raise InputError(f"The file is not a readable CSV: {error}.") from None
    if not rows:
        raise InputError("The CSV file has a header but no rows.")
    return CsvRows(header, rows, columns)


YES, NO = {"true", "yes", "y"}, {"false", "no", "n"}  # a spreadsheet's TRUE/FALSE in a yes/no column


def _cell(feature: Feature, text: str) -> str:
    """A cell as the form's field takes it: a yes/no feature's TRUE/FALSE (or yes/no) as 1/0."""
    if feature.kind == "binary" and text.strip().lower() in YES | NO:
        return "1" if text.strip().lower() in YES else "0"
    return text


def _row_values(table: CsvRows, features: list[Feature], number: int, row: list[str]) -> dict | list[RowError]:
    """One row's values by feature name, or what is wrong with it."""
    if len(row) != len(table.header):
        return [RowError(number, "", f"it has {len(row)} cells, the header {len(table.header)}")]
    columns = table.columns
    values = {
        feature.name: "" if columns[feature.name] is None else _cell(feature, row[columns[feature.name]])
        for feature in features
    }
    _, problems = checked_row(features, list(values.values()))
    if problems:
        return [RowError(number, feature.name, problem) for feature, problem in problems]
    return values


def _prune_outputs(now: float) -> None:
    if not OUTPUT_DIR.is_dir():
        return
    for folder in OUTPUT_DIR.iterdir():
        try:
            if now - folder.stat().st_mtime > limits.CACHE_MAX_AGE_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # another worker pruned it first
            continue


def _output_path(upload: Path) -> Path:
    _prune_outputs(time.time())
    folder = OUTPUT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder / f"{upload.stem[:80] or 'rows'}-predictions.csv"


def prediction_columns(spec: ModelSpec) -> list[str]:
    """The columns appended to an answered CSV: the class and its probability, or the value in the target's unit."""
    if spec.labels:
        return ["prediction", "probability", ERROR_COLUMN]
    assert spec.target is not None, f"{spec.name} has neither labels nor a target"
    unit = f" ({spec.target.unit})" if spec.target.unit else ""
    return [f"predicted {spec.target.name}{unit}", ERROR_COLUMN]


def predict_csv(service: Service, endpoint: str, upload: Path) -> tuple[Path, list[RowError], int]:
    """Answer every good row of an uploaded CSV in one request through `service` (recorded like a form's answer) and
    write the file back with `prediction_columns` appended; return its path, the row errors and the rows answered.

    Raises:
        InputError: the file as a whole cannot be read as rows for the model (see `read_csv_rows`).
    """
    spec = service.spec
    features = _features(spec)
    upload = Path(upload)
    table = read_csv_rows(upload, spec)
    errors: list[RowError] = []
    good: list[tuple[int, dict]] = []
    for number, row in enumerate(table.rows, start=1):
        values = _row_values(table, features, number, row)
        if isinstance(values, list):
            errors.extend(values)
        else:
            good.append((number, values))
    answers = service.answer_many(endpoint, [values for _, values in good]) if good else []
    answered = {number: prediction for (number, _), prediction in zip(good, answers, strict=True)}
    problems: dict[int, str] = {}
    for error in errors:
        problems[error.row] = f"{problems[error.row]}; {error}" if error.row in problems else str(error)
    path = _output_path(upload)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*table.header, *prediction_columns(spec)])
        for number, row in enumerate(table.rows, start=1):
            prediction = answered.get(number)
            if prediction is None:
                cells = ["", ""] if spec.labels else [""]
            elif spec.labels:
                cells = [str(prediction.answer), f"{prediction.top[1]:.4f}"]
            else:
                cells = [f"{float(prediction.value) * spec.target.scale:.6g}"]  # type: ignore[union-attr, arg-type]
            writer.writerow([*row, *cells, problems.get(number, "")])
    return path, errors, len(answered)


def errors_markdown(errors: list[RowError], answered: int) -> str:
    """A short Markdown report: how many rows were answered, and the first SHOWN_ERRORS row errors."""
    rows = len({error.row for error in errors})
    summary = f"**{answered:,} row{'s' * (answered != 1)} answered**"
    if not errors:
        return summary + ", none refused."
    lines = [f"{summary}; {rows:,} refused (their reason is in the file's `{ERROR_COLUMN}` column):", ""]
    lines += [f"- {error}" for error in errors[:SHOWN_ERRORS]]
    if len(errors) > SHOWN_ERRORS:
        lines.append(f"- ... and {len(errors) - SHOWN_ERRORS:,} more")
    return "\n".join(lines)
