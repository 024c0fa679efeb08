"""Bundle stage for a static Space (`sdk: static` in its card): a page that runs its model's TF.js graph model in
the browser, with no server.

The Space folder holds the page (index.html and the scripts and styles it loads) and a package.json whose `vendor`
maps each file the page loads from npm (TF.js itself) to where `npm ci` put it; the bundle copies those, the TF.js
model (`build/<model>/tfjs/`) with its spec (test metrics) and confusion matrix into `model/`, the examples of the
Gradio Space (the same test rows, chosen by LiteRT) into `examples/` with their list in `examples/examples.json`,
and the README with the model card.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from shared.artifact import CONFUSION_IMAGE
from training.bundle import evaluated_spec, finish_bundle, model_card, report, staging_folder, write_examples
from training.io import load_splits
from training.params import SpaceParams
from training.paths import DIST_DIR, SPACES_SRC_DIR, DemoPaths
from training.spec import CLASS_INDICES

NPM_MANIFEST = "package.json"
EXAMPLES_LIST = "examples.json"
PAGE_FILES = ("*.html", "*.js", "*.css")  # what of the Space folder is the page (package files and node_modules stay)
TFJS_RUNTIME = "TensorFlow.js in the browser (`model/model.json`, converted from the SavedModel by the tfjs stage)."


def vendor_files(source: Path) -> dict[str, Path]:
    """Each npm file the page loads: its path in the Space → where `npm ci` in the Space folder put it.

    Raises:
        FileNotFoundError: a file is missing (the message says to run npm ci).
    """
    manifest = source / NPM_MANIFEST
    vendor = json.loads(manifest.read_text(encoding="utf-8")).get("vendor", {}) if manifest.is_file() else {}
    files = {target: source / origin for target, origin in vendor.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found: run `npm ci` in {source} (scripts/bootstrap.sh does)")
    return files


def bundle_web_space(space: str, section: SpaceParams) -> Path:
    """Assemble `dist/spaces/<space>/`: the page, its npm files, the TF.js model and the examples.

    Raises:
        ValueError: the Space carries more than one model (a page runs one).
        NotBlessedError: the model is not blessed (the last bundle stays).
    """
    if len(section.models) != 1:
        raise ValueError(f"the static Space {space} runs one model in the page, not {section.models}")
    source, target = SPACES_SRC_DIR / space, DIST_DIR / space
    paths = DemoPaths(section.models[0])
    spec, evaluation, parity = evaluated_spec(paths)
    if spec.task != "image-classification":
        raise ValueError(f"the static Space {space} runs an image classifier, not {spec.name} ({spec.task})")
    vendor = vendor_files(source)
    staging = staging_folder(target)
    staging.mkdir(parents=True)
    for pattern in PAGE_FILES:
        for page_file in source.glob(pattern):
            shutil.copy2(page_file, staging / page_file.name)
    for name, origin in vendor.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, staging / name)
    shutil.copytree(paths.tfjs, staging / "model")
    spec.model_copy(update={"files": {"tfjs": "model.json"}}).save(staging / "model")
    shutil.copy2(paths.export / CLASS_INDICES, staging / "model" / CLASS_INDICES)
    card = model_card(spec, evaluation, parity, runtime=TFJS_RUNTIME)
    shutil.copy2(paths.plots / CONFUSION_IMAGE, staging / "model" / CONFUSION_IMAGE)  # the picture the card shows
    examples = staging / "examples"
    write_examples(paths.export, examples, spec, load_splits(paths.splits))
    listed = sorted(p.name for p in examples.iterdir() if p.is_file())
    (examples / EXAMPLES_LIST).write_text(json.dumps(listed, indent=2) + "\n", encoding="utf-8")
    finish_bundle(source, staging, target, card, [spec])
    return target


def main(space: str, section: SpaceParams) -> None:
    """Run the stage for a static Space: write dist/spaces/<space>/."""
    folder = bundle_web_space(space, section)
    report(space, folder, f"`python -m http.server -d {folder}`, then open http://127.0.0.1:8000/")
