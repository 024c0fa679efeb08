"""Reading raw CSV files with a schema: any layout error names the file, the row and the column."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from shared.errors import DataLayoutError


def _schema(
    columns: list[str],
    ranges: dict[str, tuple[float, float]],
    allowed: dict[str, set],
    dtypes: dict[str, str],
    nullable: set[str],
):
    checks: dict[str, pa.Column] = {}
    for name in columns:
        column_checks = []
        if name in ranges:
            low, high = ranges[name]
            column_checks.append(pa.Check.in_range(low, high))
        if name in allowed:
            column_checks.append(pa.Check.isin(sorted(allowed[name])))
        checks[name] = pa.Column(dtypes.get(name, "int64"), column_checks, nullable=name in nullable, coerce=True)
    return pa.DataFrameSchema(checks, strict=True, ordered=True)


def _first_failure(path: Path, errors: SchemaErrors) -> DataLayoutError:
    cases = errors.failure_cases
    located = cases[cases["index"].notna()]
    if located.empty:  # a whole-table problem (column names or order)
        case = cases.iloc[0]
        return DataLayoutError(f"{path}: column {case['failure_case']!r}: {case['check']}")
    located = located.assign(_row=located["index"].astype(int)).sort_values("_row", kind="stable")
    case = located.iloc[0]
    row = int(case["_row"])
    value = case["failure_case"]
    return DataLayoutError(
        f"{path}: row {row + 1} (line {row + 2}), column {case['column']!r}: value {value!r} fails {case['check']}"
    )


def read_csv_checked(
    path: Path,
    *,
    columns: list[str],
    ranges: dict[str, tuple[float, float]] | None = None,
    allowed: dict[str, Iterable[int | str]] | None = None,
    dtypes: dict[str, str] | None = None,
    nullable: Iterable[str] = (),
    missing: Iterable[str] = ("",),
) -> pd.DataFrame:
    """Read a CSV (plain or .gz) whose header must be exactly `columns`; cells are integers unless
    `dtypes` names another type (float64, str), and empty only in `nullable` columns. A cell is empty when it is
    one of `missing` (by default: blank; R's writers say `NA`).

    Raises:
        FileNotFoundError: the file does not exist.
        DataLayoutError: empty file, wrong header, ragged row, non-integer, missing or out-of-range cell;
            the message names the file, the 1-based data row (and file line) and the column.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(missing))
    except pd.errors.EmptyDataError as error:
        raise DataLayoutError(f"{path}: the file is empty; expected a header {','.join(columns[:3])},...") from error
    except pd.errors.ParserError as error:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if match:
            expected, line, seen = (int(g) for g in match.groups())
            raise DataLayoutError(
                f"{path}: row {line - 1} (line {line}) has {seen} cells, expected {expected}; "
                f"the extra ones start at column {expected + 1}"
            ) from error
        raise DataLayoutError(f"{path}: not a readable CSV file ({error})") from error
    except (UnicodeDecodeError, OSError, EOFError) as error:  # binary garbage, a bad gzip stream
        raise DataLayoutError(f"{path}: not a readable CSV file ({error})") from error
    if list(frame.columns) != columns:
        unexpected = [c for c in frame.columns if c not in columns]
        missing = [c for c in columns if c not in frame.columns]
        detail = f"unexpected {unexpected[:3]}" if unexpected else f"missing {missing[:3]}"
        if not unexpected and not missing:
            detail = "columns are in the wrong order"
        raise DataLayoutError(f"{path}: header does not match the expected layout ({detail}); row 0, the header line")
    if frame.empty:
        raise DataLayoutError(f"{path}: the file has a header but no rows")
    schema = _schema(
        columns, ranges or {}, {k: set(v) for k, v in (allowed or {}).items()}, dtypes or {}, set(nullable)
    )
    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        raise _first_failure(path, errors) from errors
