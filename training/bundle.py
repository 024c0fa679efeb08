"""Bundle stage: a self-contained Space folder (app, shared/, models, examples, pinned requirements, card).

A Space carrying one model keeps it in `model/`; one carrying several keeps each in `model/<model>/`
(keras-basics: `model/digits/`, `model/housing/`). The folder is built beside the old one and swapped
in only when complete, so a failed bundle never leaves a half-written Space.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Callable, Sequence
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shared.artifact import CONFUSION_IMAGE, PREDICTIONS_IMAGE, Feature, ImageInput, ModelSpec, TabularInput, TextInput
from shared.errors import InputError
from shared.network import NETWORK_FILE
from training.cards import LICENSE_FILE, check_card
from training.io import load_splits, read_json
from training.params import SpaceParams
from training.paths import DIST_DIR, SPACES_SRC_DIR, DemoPaths
from training.progress import Step, no_steps
from training.spec import CLASS_INDICES

# What a Space imports at run time; pinned to the versions the pipeline was tested with.
RUNTIME_PACKAGES = [
    "gradio",
    "ai-edge-litert",
    "numpy",
    "pillow",
    "pydantic",
    "fastapi",
    "uvicorn",
    "prometheus-client",
    "orjson",
]
SKLEARN_PACKAGES = ["scikit-learn", "skops"]  # Spaces carrying a skops model
STEMMER_PACKAGES = ["snowballstemmer"]  # Spaces whose text model stems its words


class NotBlessedError(RuntimeError):
    """The evaluate stage did not bless the model: it is not bundled (the last bundle stays)."""


CARD_MARKERS = ("<!-- model-card -->", "<!-- /model-card -->")
EXAMPLES_PER_MODEL = 6
TABULAR_EXAMPLES = "examples.csv"
TEXT_EXAMPLES = "examples.json"


def pinned_requirements(packages: list[str] = RUNTIME_PACKAGES) -> str:
    """`name==version` lines for the installed versions of `packages`."""
    return "".join(f"{name}=={package_version(name)}\n" for name in packages)


def _input_line(spec: ModelSpec) -> str:
    if isinstance(spec.input, ImageInput):
        color = "gray" if spec.input.channels == 1 else "RGB"
        return f"{spec.input.height}×{spec.input.width} {color}; {spec.input.preprocessing}"
    if isinstance(spec.input, TextInput):
        steps = spec.input.steps
        done = ["case folding" if steps.lowercase else "", "stop words removed" if steps.remove_stopwords else "",
                "Snowball stemming" if steps.stem else ""]  # fmt: skip
        return (
            f"{spec.input.language} text → `shared.text.preprocess` ({', '.join(filter(None, done)) or 'as typed'}, "
            f"punctuation stripped) → up to {spec.input.sequence_length} token ids"
        )
    assert isinstance(spec.input, TabularInput)
    names = ", ".join(feature.name for feature in spec.input.features)
    where = "by the pipeline's StandardScaler" if "skops" in spec.files else "inside the model"
    return f"{len(spec.input.features)} numbers ({names}), standardized {where}"


SPLIT_ORDER = ("train", "val", "test")


def _target_unit(spec: ModelSpec) -> str:
    target = spec.target
    if target is None:
        return ""
    if target.unit == "$":
        return f"${target.scale:,.0f}"
    return f"{target.scale:g} {target.unit}" if target.scale != 1 else target.unit


def _metrics_table(spec: ModelSpec, evaluation: dict) -> list[str]:
    if spec.task == "regression":
        unit = _target_unit(spec)
        lines = [f"| split | rows | RMSE ({unit}) | MAE ({unit}) | R² |", "|---|---:|---:|---:|---:|"]
        for split in SPLIT_ORDER:
            m = evaluation[split]
            lines.append(f"| {split} | {int(m['rows']):,} | {m['rmse']:.4f} | {m['mae']:.4f} | {m['r2']:.4f} |")
        return lines
    lines = [
        "| split | rows | accuracy | macro precision | macro recall | macro F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split in SPLIT_ORDER:
        m = evaluation[split]
        lines.append(
            f"| {split} | {int(m['rows']):,} | {m['accuracy']:.4f} | {m['precision_macro']:.4f} "
            f"| {m['recall_macro']:.4f} | {m['f1_macro']:.4f} |"
        )
    return lines


def _comparison_table(evaluation: dict) -> list[str]:
    lines = [
        "| candidate | val F1 | test accuracy | test precision | test recall | test F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, metrics in evaluation["candidates"].items():
        kept = " (kept)" if name == evaluation.get("selected") else ""
        test = metrics["test"]
        lines.append(
            f"| {name}{kept} | {metrics['val']['f1_macro']:.4f} | {test['accuracy']:.4f} | "
            f"{test['precision_macro']:.4f} | {test['recall_macro']:.4f} | {test['f1_macro']:.4f} |"
        )
    return lines


def _parity_line(spec: ModelSpec, parity: dict | None) -> str:
    if parity is None:
        return f"Runtime check: the Space loads this exact `{spec.files.get('skops', '')}` file (skops, no pickle)."
    if spec.task == "regression":
        return (
            f"TFLite parity on the test split: the float model differs from Keras by at most "
            f"{parity['float']['max_abs_diff']:.2g}, the dynamic-range quantized one by "
            f"{parity['quantized']['max_abs_diff']:.2g} (in {_target_unit(spec)})."
        )
    return (
        f"TFLite parity on the test split: float model agrees with Keras on {parity['float']['agreement']:.2%} of "
        f"rows, dynamic-range quantized on {parity['quantized']['agreement']:.2%}."
    )


def model_card(
    spec: ModelSpec,
    evaluation: dict,
    parity: dict | None,
    folder: str = "model",
    heading: str = "##",
    *,
    runtime: str | None = None,
) -> str:
    """The Markdown model card of one model: data provenance, metrics per split, TFLite parity, plot.

    `runtime` replaces the line saying what runs the model (LiteRT or scikit-learn, from its files)."""
    what = f"{len(spec.labels)} classes ({', '.join(spec.labels)})" if spec.labels else f"predicts {spec.target.label}"  # type: ignore[union-attr]
    lines = [
        f"{heading} Model card: `{spec.name}`",
        "",
        f"- **Model**: `{spec.name}` v{spec.version}, {what}.",
        f"- **Input**: {_input_line(spec)}.",
        f"- **Training data**: {spec.data.source} — {spec.data.description}.",
        f"- **Rows**: {', '.join(f'{k} {v:,}' for k, v in spec.data.rows.items())}.",
    ]
    if "base_weights" in spec.trained_with:
        lines.append(f"- **Base weights**: MobileNetV2 `{spec.trained_with['base_weights']}`.")
    versions, trained = spec.versions, spec.trained_with
    if runtime is not None:
        lines.append(f"- **Runtime**: {runtime}")
    elif "skops" in spec.files:
        lines.append(
            f"- **Runtime**: scikit-learn {versions.get('scikit-learn')} pipeline `{trained.get('pipeline')}` "
            f"(`{spec.files['skops']}`, kept by {trained.get('selected_by')}; every candidate is logged to MLflow)."
        )
    else:
        tensorflow = versions.get("tensorflow")
        lines.append(f"- **Runtime**: LiteRT (`{spec.files['tflite']}`); trained with TensorFlow {tensorflow}.")
    lines += ["", *_metrics_table(spec, evaluation), ""]
    if "blessing" in evaluation:
        thresholds = evaluation["blessing"]["thresholds"]
        met = " and ".join(f"test {key} ≥ {value:g}" for key, value in thresholds.items())
        lines += [
            f"Blessed by the evaluate stage: {met} (`bless` in params.yaml); an unblessed model is not bundled.",
            "",
        ]
    if "candidates" in evaluation:
        lines += ["Both candidates on the same splits:", "", *_comparison_table(evaluation), ""]
    lines += [_parity_line(spec, parity), ""]
    if spec.task == "regression":
        lines.append(f"![Predicted against actual, test split]({folder}/{PREDICTIONS_IMAGE})")
    else:
        lines.append(f"![Confusion matrix of the test split]({folder}/{CONFUSION_IMAGE})")
    if spec.data.source == "sample":
        lines += ["", "> Trained on the offline sample data: retrain on the real dataset before trusting its answers."]
    return "\n".join(lines)


SAMPLE_NOTICE = (
    "> **Trained on generated sample data, not on the real dataset.** Its answers on real inputs mean little; "
    "the Spaces that matter are retrained on the public data before they are deployed."
)


def render_readme(
    template: str, card: str, gradio_version: str, *, datasets: Sequence[str] = (), sample: bool = False
) -> str:
    """Fill the model-card section of a Space README, pin its `sdk_version`, name the Hub `datasets` the models
    were trained on in the front matter, and (for a model trained on sample data) say so at the top."""
    start, end = CARD_MARKERS
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(template):
        raise ValueError(f"README template lacks the {start} ... {end} section")
    readme = pattern.sub(lambda _: f"{start}\n{card}\n{end}", template)
    readme = re.sub(r"(?m)^sdk_version:.*$", f"sdk_version: {gradio_version}", readme)
    if datasets:
        listed = "".join(f"  - {repo}\n" for repo in datasets)
        readme = re.sub(r"(?m)^tags:$", lambda _: f"datasets:\n{listed}tags:", readme, count=1)
    if sample:
        front, separator, body = readme.partition("\n---\n")
        readme = f"{front}{separator}\n{SAMPLE_NOTICE}\n{body}"
    return readme


def example_rows(
    model, instances: list, classes: np.ndarray, labels: list[str], key: Callable[[int], Any] | None = None
) -> list[int]:
    """One test row per class, for the first EXAMPLES_PER_MODEL classes: the first (by `key`) that the bundled
    `model` answers with its own label, else the class's first row (an example shown wrong tells of a weak model)."""

    def right(row: int, label: str) -> bool:
        try:
            return model.predict_one(instances[row]).top[0] == label
        except InputError:  # a row the Space would refuse (a flat image) is no example
            return False

    chosen = []
    for class_index in range(min(len(labels), EXAMPLES_PER_MODEL)):
        rows = sorted((int(row) for row in np.flatnonzero(classes == class_index)), key=key)
        if rows:
            chosen.append(next((row for row in rows[:50] if right(row, labels[class_index])), rows[0]))
    return chosen


def write_image_examples(folder: Path, pixels: np.ndarray, rows: list[int], labels: list[str], y: np.ndarray) -> None:
    """Save the chosen test images, each named after its label (PNG; JPEG for photos)."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".jpg" if pixels.ndim == 4 else ".png"
    for row in rows:
        Image.fromarray(pixels[row]).save(folder / f"{labels[int(y[row])]}{suffix}", quality=90)


def write_tabular_examples(path: Path, rows: np.ndarray, features: list[Feature]) -> None:
    """Save test rows as a CSV with a header of feature names, as a form takes them: numbers, a category's choice,
    an empty cell for a missing value."""

    def cell(value: float, feature: Feature) -> str:
        if np.isnan(value):
            return ""
        return feature.choices[int(value)] if feature.kind == "category" else f"{value:.4g}"

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([feature.name for feature in features])
        writer.writerows([[cell(v, f) for v, f in zip(row, features, strict=True)] for row in rows])


def write_examples(model_dir: Path, examples_dir: Path, spec: ModelSpec, splits: dict[str, np.ndarray]) -> None:
    """The Space's examples of one model, from the test split: a regressor's first rows; for a classifier one per
    class (its label in class order: file names for images), each answered right by the bundled model if one is."""
    from shared.service import load_model

    x, y = splits["x_test"], splits["y_test"]
    if isinstance(spec.input, TabularInput) and not spec.labels:
        write_tabular_examples(examples_dir / TABULAR_EXAMPLES, x[:EXAMPLES_PER_MODEL], spec.input.features)
        return
    model = load_model(model_dir)
    if isinstance(spec.input, TextInput):
        texts = [str(text) for text in splits["text_test"]]
        readable = lambda row: (len(texts[row]) < 25, len(texts[row]))  # noqa: E731 - short, but not a fragment
        rows = example_rows(model, texts, y, spec.labels, key=readable)
        examples_dir.mkdir(parents=True, exist_ok=True)
        chosen = json.dumps([texts[row] for row in rows], indent=2, ensure_ascii=False)
        (examples_dir / TEXT_EXAMPLES).write_text(chosen + "\n", encoding="utf-8")
    elif isinstance(spec.input, TabularInput):
        rows = example_rows(model, [list(row) for row in x], y, spec.labels)
        write_tabular_examples(examples_dir / TABULAR_EXAMPLES, x[rows], spec.input.features)
    else:
        write_image_examples(examples_dir, x, example_rows(model, list(x), y, spec.labels), spec.labels, y)


def evaluated_spec(paths: DemoPaths) -> tuple[ModelSpec, dict, dict | None]:
    """A model's spec with its test metrics, its evaluation (with the blessing) and its TFLite parity.

    Raises:
        NotBlessedError: the evaluate stage did not bless it.
    """
    evaluation = read_json(paths.metrics / "evaluate.json")
    blessing_file = paths.metrics / "blessing.json"
    if blessing_file.is_file():
        blessing = read_json(blessing_file)
        if not blessing["blessed"]:
            failures = "; ".join(blessing["failures"])
            raise NotBlessedError(f"{paths.name} is not blessed ({failures}): not bundled, the last bundle is kept")
        evaluation = {**evaluation, "blessing": blessing}
    parity_file = paths.metrics / "parity.json"
    parity = read_json(parity_file) if parity_file.is_file() else None
    spec = ModelSpec.load(paths.export)
    spec = spec.model_copy(update={"metrics": {k: float(v) for k, v in evaluation["test"].items()}})
    return spec, evaluation, parity


def add_model(paths: DemoPaths, model_dir: Path, examples_dir: Path) -> tuple[ModelSpec, dict, dict | None]:
    """Copy one model's files, spec (with its test metrics), plot and examples into a staging Space."""
    spec, evaluation, parity = evaluated_spec(paths)
    model_dir.mkdir(parents=True)
    for filename in spec.files.values():
        shutil.copy2(paths.export / filename, model_dir / filename)
    spec.save(model_dir)
    splits = load_splits(paths.splits)
    if spec.task == "regression":
        shutil.copy2(paths.plots / PREDICTIONS_IMAGE, model_dir / PREDICTIONS_IMAGE)
    else:
        shutil.copy2(paths.plots / CONFUSION_IMAGE, model_dir / CONFUSION_IMAGE)
        shutil.copy2(paths.export / CLASS_INDICES, model_dir / CLASS_INDICES)
    if (paths.export / NETWORK_FILE).is_file():  # a Keras model's layers and curves, which its Space shows
        shutil.copy2(paths.export / NETWORK_FILE, model_dir / NETWORK_FILE)
    write_examples(model_dir, examples_dir, spec, splits)
    return spec, evaluation, parity


def bundle_space(space: str, section: SpaceParams, shared_dir: Path = Path("shared"), step: Step = no_steps) -> Path:
    """Assemble `dist/spaces/<space>/` from the Space source, shared/, each model's export and metrics; `step` hears
    of each model added."""
    source, target = SPACES_SRC_DIR / space, DIST_DIR / space
    staging = staging_folder(target)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi", "model", "README.md")
    shutil.copytree(source, staging, ignore=ignore)
    shutil.copytree(shared_dir, staging / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi"))
    single = len(section.models) == 1
    cards = []
    specs = []
    packages = list(RUNTIME_PACKAGES)
    step(f"bundle {space} (models)", 0, len(section.models))
    for done, model in enumerate(section.models, start=1):
        folder = "model" if single else f"model/{model}"
        examples = staging / ("examples" if single else f"examples/{model}")
        spec, evaluation, parity = add_model(DemoPaths(model), staging / folder, examples)
        specs.append(spec)
        cards.append(model_card(spec, evaluation, parity, folder=folder, heading="##" if single else "###"))
        if "skops" in spec.files:
            packages += [name for name in SKLEARN_PACKAGES if name not in packages]
        if isinstance(spec.input, TextInput) and spec.input.steps.stem:
            packages += [name for name in STEMMER_PACKAGES if name not in packages]
        step(f"bundle {space} (models)", done, len(section.models))
    card = "\n\n".join(cards) if single else "## Model cards\n\n" + "\n\n".join(cards)
    (staging / "requirements.txt").write_text(pinned_requirements(packages), encoding="utf-8")
    finish_bundle(source, staging, target, card, specs)
    return target


def staging_folder(target: Path) -> Path:
    """An empty folder beside `target` to build its new bundle in."""
    staging = target.with_name(f".{target.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)
    return staging


def finish_bundle(source: Path, staging: Path, target: Path, card: str, specs: list[ModelSpec]) -> None:
    """Add the LICENSE and the README with its model `card` (checked as the Hub would) to `staging`, then swap it in
    for `target`."""
    shutil.copy2(LICENSE_FILE, staging / LICENSE_FILE.name)
    template = (source / "README.md").read_text(encoding="utf-8")
    gradio_version = package_version("gradio")
    datasets = sorted({repo for spec in specs for repo in spec.data.hub_datasets})
    sample = any(spec.data.source == "sample" for spec in specs)
    readme = render_readme(template, card, gradio_version, datasets=datasets, sample=sample)
    (staging / "README.md").write_text(readme, encoding="utf-8")
    check_card(staging / "README.md", gradio_version=gradio_version)  # refused here, not by the Hub at upload
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def main(space: str, section: SpaceParams, step: Step = no_steps) -> None:
    """Run the stage for a Space: write dist/spaces/<space>/ (`step` hears of each model added)."""
    report(space, bundle_space(space, section, step=step), f"`cd {DIST_DIR / space} && python app.py`")


def report(space: str, folder: Path, how: str) -> None:
    """Print where the bundle went, its size, and `how` to run it."""
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1024
    print(f"bundle {space}: {folder} ({size:.0f} KiB) — run it with {how}")
