"""Bundle stage: a self-contained Space folder (app, shared/, model, examples, pinned requirements, card).

The folder is built beside the old one and swapped in only when complete, so a failed bundle never
leaves a half-written Space.
"""

from __future__ import annotations

import re
import shutil
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
from PIL import Image

from shared.artifact import ModelSpec
from shared.ui import CONFUSION_IMAGE
from training.io import read_json
from training.paths import DemoPaths
from training.train import load_splits

# What a Space imports at run time; pinned to the versions the pipeline was tested with.
RUNTIME_PACKAGES = ["gradio", "ai-edge-litert", "numpy", "pillow", "pydantic"]
CARD_MARKERS = ("<!-- model-card -->", "<!-- /model-card -->")
EXAMPLES_PER_SPACE = 6


def pinned_requirements(packages: list[str] = RUNTIME_PACKAGES) -> str:
    """`name==version` lines for the installed versions of `packages`."""
    return "".join(f"{name}=={package_version(name)}\n" for name in packages)


def model_card(spec: ModelSpec, evaluation: dict, parity: dict) -> str:
    """The Markdown model card: data provenance, metrics per split, TFLite parity, files."""
    lines = [
        "## Model card",
        "",
        f"- **Model**: `{spec.name}` v{spec.version}, {len(spec.labels)} classes ({', '.join(spec.labels)}).",
        f"- **Input**: {spec.input.height}×{spec.input.width} gray; {spec.input.preprocessing}.",
        f"- **Training data**: {spec.data.source} — {spec.data.description}.",
        f"- **Rows**: {', '.join(f'{k} {v:,}' for k, v in spec.data.rows.items())} (Kaggle files, pooled, "
        "then split 80/10/10 stratified).",
        f"- **Runtime**: LiteRT (`{spec.files['tflite']}`); trained with TensorFlow {spec.versions.get('tensorflow')}.",
        "",
        "| split | rows | accuracy | macro precision | macro recall | macro F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split, m in evaluation.items():
        lines.append(
            f"| {split} | {int(m['rows']):,} | {m['accuracy']:.4f} | {m['precision_macro']:.4f} "
            f"| {m['recall_macro']:.4f} | {m['f1_macro']:.4f} |"
        )
    lines += [
        "",
        f"TFLite parity on the test split: float model agrees with Keras on {parity['float']['agreement']:.2%} of "
        f"images, dynamic-range quantized on {parity['quantized']['agreement']:.2%}.",
        "",
        f"![Confusion matrix of the test split](model/{CONFUSION_IMAGE})",
    ]
    if spec.data.source == "sample":
        lines += ["", "> Trained on generated sample data: retrain on the real dataset before trusting it on photos."]
    return "\n".join(lines)


def render_readme(template: str, card: str, gradio_version: str) -> str:
    """Fill the model-card section of a Space README and pin its `sdk_version`."""
    start, end = CARD_MARKERS
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(template):
        raise ValueError(f"README template lacks the {start} ... {end} section")
    readme = pattern.sub(lambda _: f"{start}\n{card}\n{end}", template)
    return re.sub(r"(?m)^sdk_version:.*$", f"sdk_version: {gradio_version}", readme)


def write_examples(folder: Path, pixels: np.ndarray, classes: np.ndarray, labels: list[str]) -> None:
    """Save one test image for each of the first few classes, named after its label."""
    folder.mkdir(parents=True, exist_ok=True)
    for class_index in range(min(EXAMPLES_PER_SPACE, len(labels))):
        row = int(np.flatnonzero(classes == class_index)[0])
        Image.fromarray(pixels[row]).save(folder / f"{labels[class_index]}.png")


def bundle_space(paths: DemoPaths, shared_dir: Path = Path("shared")) -> Path:
    """Assemble `dist/spaces/<demo>/` from the Space source, shared/, the export and the metrics."""
    evaluation = read_json(paths.metrics / "evaluate.json")
    parity = read_json(paths.metrics / "parity.json")
    spec = ModelSpec.load(paths.export)
    spec = spec.model_copy(update={"metrics": {k: float(v) for k, v in evaluation["test"].items()}})
    staging = paths.bundle.with_name(f".{paths.bundle.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "model", "README.md")
    shutil.copytree(paths.space_src, staging, ignore=ignore)
    shutil.copytree(shared_dir, staging / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi"))
    model_dir = staging / "model"
    model_dir.mkdir()
    for filename in spec.files.values():
        shutil.copy2(paths.export / filename, model_dir / filename)
    spec.save(model_dir)
    shutil.copy2(paths.plots / "confusion.png", model_dir / CONFUSION_IMAGE)
    splits = load_splits(paths.splits)
    write_examples(staging / "examples", splits["x_test"], splits["y_test"], spec.labels)
    (staging / "requirements.txt").write_text(pinned_requirements(), encoding="utf-8")
    template = (paths.space_src / "README.md").read_text(encoding="utf-8")
    readme = render_readme(template, model_card(spec, evaluation, parity), package_version("gradio"))
    (staging / "README.md").write_text(readme, encoding="utf-8")
    if paths.bundle.exists():
        shutil.rmtree(paths.bundle)
    staging.rename(paths.bundle)
    return paths.bundle


def main(demo: str) -> None:
    """Run the stage for `demo`: write dist/spaces/<demo>/."""
    folder = bundle_space(DemoPaths(demo))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1024
    print(f"bundle {demo}: {folder} ({size:.0f} KiB) — run it with `cd {folder} && python app.py`")
