"""Statistics, schema and validation of a demo's data (TFX's StatisticsGen, SchemaGen and ExampleValidator).

Every ingest describes the rows it read as one table, the same for every demo of a task: a tabular demo's features by
name (a category as its choice) and its label or target; a text demo's label, characters and words; an image demo's
label, brightness and contrast (`shared.descriptors`, what the traffic log keeps). Beside it, the columns of each raw
CSV file and whether each holds numbers or text.

The schema is inferred from that table by pandera (`pandera.infer_schema`): each column's type, whether it may be
missing, the known values of a label or category, and numeric ranges widened by `RANGE_MARGIN` of their span on each
side, never below 0 for what was never negative (a new file of another size drawn from the same data stays inside;
a value far outside does not). Row counts are not part of it. The last accepted schema is kept in git, one per data
source (sample, public and your own copy hold different files), in `schemas/<model>/<source>.yaml`: a change of the
data's shape is then reviewed like a change of code. A new dataset is validated against it by pandera: each anomaly
(a new label or category, a missing or new column or file, a type change, values outside the ranges, missing values
where there were none) is one line, and ingest stops unless it is run with `--accept-schema`, which writes the
schema of the new data. A source without a schema yet gets one inferred (ingest says so: commit it).

Statistics of the same table (counts, ranges, missing values, label mix) come from Evidently's data summary: an HTML
report a person can open and its values as JSON, in `build/<model>/statistics/` (the statistics stage).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from shared.descriptors import image_descriptors
from training.demos import Demo, Ingested

SCHEMAS_DIR = Path("schemas")
RANGE_MARGIN = 0.5  # a range is widened by this share of its span on each side
MAX_CATEGORIES = 100  # a text column with more distinct values is free text: no list of known values
RAW_SAMPLE_ROWS = 2000  # rows of a raw CSV read to tell numbers from text (the reader checks every row)
HEADER = "# Written by `spacesuite ingest {model}` (--accept-schema, or the first run on {source} data): review it\n"


class SchemaAnomalies(RuntimeError):
    """The new data breaks the last accepted schema (one line per anomaly)."""


def schema_path(model: str, source: str) -> Path:
    """Where the last accepted schema of a model's data from one source is kept (in git)."""
    return SCHEMAS_DIR / model / f"{source}.yaml"


def profile(demo: Demo, ingested: Ingested) -> pd.DataFrame:
    """The ingested rows as one table: features and label or target (tabular), label, characters and words (text),
    label, brightness and contrast (images)."""
    labels = np.array(ingested.labels, dtype=object)
    columns: dict[str, object] = {}
    if demo.task == "text-classification":
        texts = [str(text) for text in ingested.x]
        columns = {"characters": [len(text) for text in texts], "words": [len(text.split()) for text in texts]}
    elif demo.channels:
        from shared.images import normalize

        described = [image_descriptors(normalize(row, demo.channels)) for row in ingested.x]
        columns = {key: [item[key] for item in described] for key in ("brightness", "contrast")}
    else:
        for index, feature in enumerate(demo.features):
            values = ingested.x[:, index].astype(np.float64)
            if feature.kind == "category":
                known = ~np.isnan(values)
                names = np.full(len(values), None, dtype=object)
                names[known] = np.array(feature.choices, dtype=object)[values[known].astype(int)]
                columns[feature.name] = pd.Series(names, dtype="object")
            else:
                columns[feature.name] = values
    table = pd.DataFrame(columns)
    if demo.is_classifier:
        table.insert(0, "label", pd.Series(labels[ingested.y.astype(int)], dtype="object"))
    else:
        table["target"] = ingested.y.astype(np.float64)
    return table


def raw_columns(folder: Path) -> dict[str, dict[str, str]]:
    """Each raw CSV file of `folder` (`.csv`, `.csv.gz`) → its columns → `number` or `text` (from its first rows)."""
    files = {}
    for path in sorted([*Path(folder).glob("*.csv"), *Path(folder).glob("*.csv.gz")]):
        try:
            head = pd.read_csv(path, nrows=RAW_SAMPLE_ROWS)
        except (ValueError, OSError, UnicodeDecodeError):
            continue  # not a readable CSV: the reader says what is wrong with it
        files[path.name] = {
            str(name): "number" if pd.api.types.is_numeric_dtype(dtype) else "text"
            for name, dtype in head.dtypes.items()
        }
    return files


def infer(table: pd.DataFrame, files: dict[str, dict[str, str]]) -> dict:
    """The schema of `table` (pandera's inference: types, missing values, ranges widened by `RANGE_MARGIN`, the
    values of label and category columns) and of the raw files, as a YAML-ready mapping."""
    import pandera

    inferred = yaml.safe_load(pandera.infer_schema(_typed(table)).to_yaml())
    columns = {}
    for name, column in inferred["columns"].items():
        column = {key: value for key, value in column.items() if value is not None}
        if column.get("dtype") == "category":
            column["dtype"] = "str"  # the values are checked by `isin`, not by a categorical dtype
        elif "greater_than_or_equal_to" in column and "less_than_or_equal_to" in column:
            low, high = column.pop("greater_than_or_equal_to"), column.pop("less_than_or_equal_to")
            margin = RANGE_MARGIN * max(high - low, abs(high) * 0.01, 1e-6)
            floor = low - margin if low < 0 else max(0.0, low - margin)  # what is never negative stays so
            column["in_range"] = {"min_value": _round(floor), "max_value": _round(high + margin)}
        column["nullable"] = bool(column.get("nullable", False))
        columns[name] = column
    return {"columns": columns, "files": files}


def _round(value: float) -> float:
    return float(f"{value:.6g}")  # float32 data reads as 17.800000190734863: the bounds have a margin anyway


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Text columns with few distinct values as categories, so pandera lists their values."""
    typed = table.copy()
    for name in typed.columns:
        if typed[name].dtype == object and typed[name].nunique(dropna=True) <= MAX_CATEGORIES:
            typed[name] = typed[name].astype("category")
    return typed


def anomalies(schema: dict, table: pd.DataFrame, files: dict[str, dict[str, str]]) -> list[str]:
    """One line per way the new data breaks `schema`: its raw files, then its table."""
    return file_anomalies(schema, files) + _table_anomalies(schema["columns"], table)


def file_anomalies(schema: dict, files: dict[str, dict[str, str]], *, types: bool = True) -> list[str]:
    """One line per raw CSV file or column missing, new, or (with `types`) holding text instead of numbers (or the
    reverse)."""
    lines = []
    for file, expected in schema.get("files", {}).items():
        if file not in files:
            lines.append(f"file {file} is missing")
            continue
        got = files[file]
        lines += [f"{file}: column {name!r} is missing" for name in expected if name not in got]
        lines += [f"{file}: new column {name!r}" for name in got if name not in expected]
        lines += [
            f"{file}: column {name!r} holds {kind}, the schema says {expected[name]}"
            for name, kind in got.items()
            if types and name in expected and kind != expected[name]
        ]
    lines += [f"new file {file}" for file in files if file not in schema.get("files", {})]
    return lines


def pandera_schema(columns: dict):
    """The kept schema's columns as a pandera DataFrameSchema (strict: no column more or less)."""
    import pandera.pandas as pa

    checks = {}
    for name, rule in columns.items():
        column_checks = []
        if "isin" in rule:
            column_checks.append(pa.Check.isin(rule["isin"]))
        if "in_range" in rule:
            column_checks.append(pa.Check.in_range(rule["in_range"]["min_value"], rule["in_range"]["max_value"]))
        checks[name] = pa.Column(rule["dtype"], column_checks, nullable=rule.get("nullable", False))
    return pa.DataFrameSchema(checks, strict=True)


def _table_anomalies(columns: dict, table: pd.DataFrame) -> list[str]:
    """pandera's validation of the table, its failure cases summed up as one line per column and check."""
    from pandera.errors import SchemaErrors

    try:
        pandera_schema(columns).validate(table, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return []
    lines = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        failures = group["failure_case"]
        if check == "column_in_dataframe":
            lines.append(f"column {column!r} is missing")
        elif check == "column_in_schema":
            lines += [f"new column {value!r}" for value in failures.unique()]
        elif str(check).startswith("dtype"):
            lines.append(f"column {column!r}: type {failures.iloc[0]}, the schema says {columns[column]['dtype']}")
        elif check == "not_nullable":
            lines.append(f"column {column!r}: {len(failures)} missing values, the schema allows none")
        elif str(check).startswith("isin"):
            new = sorted({str(value) for value in failures})
            shown = ", ".join(repr(value) for value in new[:5]) + (" ..." if len(new) > 5 else "")
            known = ", ".join(str(value) for value in columns[column]["isin"])
            lines.append(f"column {column!r}: new value(s) {shown} in {len(failures)} rows; the schema knows {known}")
        elif str(check).startswith("in_range"):
            bounds = columns[column]["in_range"]
            low, high = bounds["min_value"], bounds["max_value"]
            values = pd.to_numeric(failures, errors="coerce").to_numpy(dtype=np.float64)
            example = values[int(np.nanargmax(np.abs(values - (low + high) / 2)))] if len(values) else float("nan")
            lines.append(
                f"column {column!r}: {len(failures)} values outside [{low:.6g}, {high:.6g}], e.g. {example:.6g}"
            )
        else:
            lines.append(f"column {column!r}: {len(failures)} rows fail {check}")
    return lines


def load_schema(path: Path) -> dict | None:
    """The schema kept at `path`, or None when there is none yet."""
    path = Path(path)
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def save_schema(schema: dict, path: Path, *, model: str, source: str) -> Path:
    """Write `schema` to `path` as YAML under a header saying where it came from; return `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    path.write_text(HEADER.format(model=model, source=source) + text, encoding="utf-8")
    return path


def write_statistics(table: pd.DataFrame, folder: Path) -> dict:
    """Evidently's data summary of `table`: `statistics.html` (a report to open) and `statistics.json` (each
    metric's value: counts, missing values, ranges and quantiles, the label mix) in `folder`; return the values."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataSummaryPreset

    numerical = [name for name in table if table[name].dtype != object]
    categorical = [name for name in table if table[name].dtype == object]
    dataset = Dataset.from_pandas(
        table, data_definition=DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    )
    snapshot = Report([DataSummaryPreset()]).run(dataset, None)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(folder / "statistics.html"))
    values = {metric["metric_name"]: _plain(metric["value"]) for metric in snapshot.dict()["metrics"]}
    (folder / "statistics.json").write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return values


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
