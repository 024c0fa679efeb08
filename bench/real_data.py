"""Quality of a model trained on its real dataset, through the real pipeline on a temporary copy of the
repository whose params point at the real files.

What it measures: the tracked files are copied into a temporary git repository (as in
``pipeline_walltime.py``), ``params.yaml`` is changed to ``<model>.data.source: kaggle`` with ``path``
set to ``--data`` plus any ``--set key=value`` overrides, then ``spacesuite data sample`` and
``dvc repro`` of the model's evaluate and parity stages (``evaluate@<model>``) run there. It prints the
test-split metrics (``metrics/<model>/evaluate.json``), the TFLite parity (``parity.json``) and the wall time of
each stage. Nothing is written inside the repository (except ``--json`` if asked).

Goals: digits test accuracy ≥ 98 %, housing test RMSE ≤ 0.55 (units of $100,000), emotion macro-F1 ≥ 0.89
on dair-ai's test file, gender accuracy ≥ 96 % on a held-out split.

With ``--public`` the data comes the way CI gets it for the public Spaces: ``source: public`` and
``spacesuite data fetch <model>`` with each publisher's own client (kagglehub, huggingface_hub, the Keras and
scikit-learn URLs, the birds repository's archive), pointed offline at caches and file:// copies that
``bench/public_cache.py`` fills from ../shared/datasets (rebuilt copies get their checksum overridden there; the
check still runs). Bird-species then trains on the fetched ImageNet weights (``base_weights: auto``)::

    .venv/bin/python bench/real_data.py gender --public   # any model

Run from the repository root (real copies in ../shared/datasets; a few minutes each on 2 CPU cores)::

    .venv/bin/python bench/real_data.py digits --data ../shared/datasets/mnist
    .venv/bin/python bench/real_data.py housing --data ../shared/datasets/california-housing
    .venv/bin/python bench/real_data.py emotion --data ../shared/datasets/emotion
    .venv/bin/python bench/real_data.py gender --data ../shared/datasets/gender
    WEIGHTS=$PWD/../shared/datasets/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
    .venv/bin/python bench/real_data.py bird-species --data ../shared/datasets/birds \\
        --set bird_species.model.base_weights=$WEIGHTS
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_walltime import GIT_IDENTITY, REPO, copy_tracked, pipeline_env, run_timed, stage_times

sys.path.insert(0, str(REPO))
from training.demos import demo, names


def set_param(params: dict, dotted: str, raw: str) -> None:
    """Set `a.b.c` in nested `params` to `raw` parsed as YAML (numbers, lists, booleans stay typed)."""
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = yaml.safe_load(raw)


def read_if_there(path: Path) -> dict:
    """The JSON in `path`, or {} when the file does not exist."""
    return json.loads(path.read_text()) if path.is_file() else {}


def run(model: str, data: Path | None, overrides: list[str], keep: bool, evaluate_only: bool = False) -> dict[str, Any]:
    """Train and score `model` on the files in `data` (None: fetched from the public sources, offline) in a
    temporary copy (up to evaluate only, without export and TFLite parity, when asked); return the figures."""
    return run_many([model], data, overrides, keep, evaluate_only)[model]


def run_many(
    models: list[str], data: Path | None, overrides: list[str], keep: bool, evaluate_only: bool = False
) -> dict[str, dict[str, Any]]:
    """`run` for several models in one temporary copy and one `dvc repro` (one copy, sample and cache fill for all);
    `data` names one model's folder, so it needs a single model. Returns the figures by model (with `folder`, the
    copy's path, when it is kept)."""
    if data is not None and len(models) != 1:
        raise ValueError("--data is one model's folder: give one model")
    folder = Path(tempfile.mkdtemp(prefix=f"spacesuite-real-{'-'.join(models)}-"))
    try:
        copy_tracked(REPO, folder, None)
        params_file = folder / "params.yaml"
        env = pipeline_env(folder, REPO / ".venv-tfjs" / "bin" / "python")
        log = folder / "bench.log"
        if data is None:
            from public_cache import fill

            from training.fetch import set_yaml_values

            caches = fill(folder / ".public-cache", params_path=params_file)
            params_file.write_text(set_yaml_values(params_file.read_text(), caches.edits))
            env.update(caches.env)
        params = yaml.safe_load(params_file.read_text())
        for model in models:
            section = demo(model).section
            if data is None:
                params[section]["data"]["source"] = "public"
            else:
                params[section]["data"].update(source="kaggle", path=str(data.resolve()))
        for item in overrides:
            key, _, value = item.partition("=")
            set_param(params, key, value)
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True)
        run_timed(["spacesuite", "data", "sample"], folder, env, log)
        if data is None:
            run_timed(["spacesuite", "data", "fetch", *models], folder, env, log)
        subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
        subprocess.run(["git", *GIT_IDENTITY, "commit", "-q", "-m", "real data"], cwd=folder, check=True)
        start = time.perf_counter()
        stages = []
        for model in models:
            ours = [f"evaluate@{model}", f"parity@{model}"]  # Keras; a scikit-learn demo has no TFLite to compare
            if demo(model).framework == "sklearn":
                ours = [f"sklearn-evaluate@{model}", f"sklearn-export@{model}"]
            stages += ours[:1] if evaluate_only else ours
        try:
            total, lines = run_timed(["dvc", "repro", *stages], folder, env, log)
        except subprocess.CalledProcessError:
            print(log.read_text()[-6000:], file=sys.stderr)
            raise
        times = stage_times(lines, total)
        return {
            model: {
                "model": model,
                "data": str(data) if data is not None else "public sources (offline caches)",
                "overrides": overrides,
                "evaluate": json.loads((folder / "metrics" / model / "evaluate.json").read_text()),
                "parity": json.loads(parity.read_text())
                if (parity := folder / "metrics" / model / "parity.json").is_file()
                else {},
                "sizes": json.loads((folder / "build" / model / "prepare" / "sizes.json").read_text()),
                "stages_s": {stage: seconds for stage, seconds in times.items() if stage.endswith(f"@{model}")},
                "total_s": time.perf_counter() - start,
                **({"folder": str(folder)} if keep else {}),
            }
            for model in models
        }
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            subprocess.run(["rm", "-rf", str(folder)], check=False)


def print_report(report: dict[str, Any]) -> None:
    """Print the test metrics, parity and stage times."""
    print(f"\n{report['model']} on {report['data']} {' '.join(report['overrides'])}")
    print("split sizes: " + ", ".join(f"{k} {v}" for k, v in report["sizes"].items()))
    for split in ("train", "val", "test"):
        metrics = report["evaluate"][split]
        figures = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "rows")
        print(f"  {split:<6} ({int(metrics['rows'])} rows): {figures}")
    for name, candidate in report["evaluate"].get("candidates", {}).items():
        test = candidate["test"]
        print(f"  candidate {name}: test accuracy {test['accuracy']:.4f}, F1 {test['f1_macro']:.4f}")
    for kind in report["parity"].keys() & {"float", "quantized"}:
        print(f"  TFLite {kind}: " + ", ".join(f"{k} {v:.6g}" for k, v in report["parity"][kind].items()))
    print("stage wall times: " + ", ".join(f"{k} {v:.0f} s" for k, v in report["stages_s"].items()))
    print(f"total {report['total_s']:.0f} s")


def main(argv: list[str] | None = None) -> None:
    """Parse options, run, print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=names())
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", type=Path, help="folder holding the real files")
    where.add_argument("--public", action="store_true", help="fetch them from the public sources (offline caches)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="params override key=value")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    report = run(args.model, args.data, args.overrides, args.keep)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
