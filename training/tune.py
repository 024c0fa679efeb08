"""`spacesuite tune <model>`: a hyperparameter search in which every trial is a DVC experiment.

The space is `<section>.tune.space` in params.yaml: keys of the demo's own section (`model.lstm_units`,
`train.learning_rate`), each a list of choices or a range. Optuna (TPE, seeded with `base.seed`) asks for a trial,
its values are written into params.yaml in place (every other byte kept: DVC's own `-S` would rewrite the whole
file in its own layout), `dvc exp run <evaluate stage> --name <model>-<session>-<k>` runs it in the workspace
(only the stages that model's evaluation needs; DVC records the params, metrics and outputs as an experiment), the
trial's `tune.metric` from `metrics/<model>/evaluate.json` goes back to Optuna, and the next trial is asked for.
Trials are ranked on the val split: the test split stays for the report. `dvc exp show` ranks them, and the best is
applied to the workspace at the end (`dvc exp apply <name>`), ready to be committed with `params.yaml`.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.demos import Demo
from training.fetch import set_yaml_values
from training.params import PARAMS_FILE, TuneParams, TuneRange
from training.paths import DemoPaths


@dataclass(frozen=True)
class Trial:
    """One finished trial: its DVC experiment's name, the values it tried and its score."""

    name: str
    values: dict[str, Any]
    score: float


def stage_of(demo: Demo) -> str:
    """The DVC stage whose metrics rank a trial (it runs everything it depends on, nothing else)."""
    return f"{'sklearn-evaluate' if demo.framework == 'sklearn' else 'evaluate'}@{demo.name}"


def with_values(section: dict, values: dict[str, Any], name: str) -> dict:
    """A copy of the demo's raw params section with each dotted key of `values` set.

    Raises:
        KeyError: a key names nothing there (the message names it).
    """
    changed = copy.deepcopy(section)
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node: Any = changed
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise KeyError(f"{name}.tune.space names {key!r}, which is not a key of params.yaml's {name}")
        node[leaf] = value
    return changed


def suggest(trial: Any, key: str, spec: list | TuneRange) -> Any:
    """Optuna's choice for one key: a choice of the list, or a value of the range (3 significant digits)."""
    if isinstance(spec, list):
        return trial.suggest_categorical(key, spec)
    if spec.integer:
        return trial.suggest_int(key, int(spec.low), int(spec.high), log=spec.log)
    return float(f"{trial.suggest_float(key, spec.low, spec.high, log=spec.log):.3g}")


def write_values(params_file: Path, section: str, values: dict[str, Any]) -> None:
    """Set each dotted key of `section` in params.yaml to its value, leaving every other byte of the file as it was."""
    edits = {(section, *key.split(".")): value for key, value in values.items()}
    params_file.write_text(set_yaml_values(params_file.read_text(encoding="utf-8"), edits), encoding="utf-8")


def read_metric(metrics_file: Path, metric: str) -> float:
    """`split.name` of an evaluate.json."""
    split, name = metric.split(".", 1)
    return float(json.loads(Path(metrics_file).read_text(encoding="utf-8"))[split][name])


def tune(
    demo: Demo, section_name: str, raw_section: dict, tune_params: TuneParams, seed: int, *, trials: int
) -> list[Trial]:
    """Run `trials` trials as DVC experiments in the workspace; return them best first.

    Raises:
        KeyError: a key of the space is not a key of the demo's section.
        pydantic.ValidationError: a value of the space breaks the demo's params schema (before it runs).
        RuntimeError: a trial's `dvc exp run` failed (the trials before it stay in `dvc exp show`).
    """
    import optuna

    with_values(raw_section, dict.fromkeys(tune_params.space), section_name)  # every key is one, before any run
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=tune_params.direction, sampler=optuna.samplers.TPESampler(seed=seed))
    session = time.strftime("%m%d-%H%M%S")
    metrics_file = DemoPaths(demo.name).metrics / "evaluate.json"
    done: list[Trial] = []
    for number in range(1, trials + 1):
        trial = study.ask()
        values = {key: suggest(trial, key, spec) for key, spec in tune_params.space.items()}
        demo.params.model_validate(with_values(raw_section, values, section_name))
        name = f"{demo.name}-{session}-{number}"
        shown = ", ".join(f"{key}={value}" for key, value in values.items())
        print(f"tune {demo.name}: trial {number}/{trials} {name}: {shown}", flush=True)
        write_values(PARAMS_FILE, section_name, values)
        command = ["dvc", "exp", "run", stage_of(demo), "--name", name]
        if subprocess.run(command, check=False).returncode != 0:
            raise RuntimeError(
                f"tune {demo.name}: trial {number} failed (`{' '.join(command)}`, output above); "
                f"{len(done)} finished trials are in `dvc exp show`"
            )
        score = read_metric(metrics_file, tune_params.metric)
        study.tell(trial, score)
        print(f"tune {demo.name}: trial {number}: {tune_params.metric} {score:.4f}", flush=True)
        done.append(Trial(name, values, score))
    return sorted(done, key=lambda row: row.score, reverse=tune_params.direction == "maximize")


def main(
    demo: Demo, section_name: str, raw_section: dict, tune_params: TuneParams, seed: int, *, trials: int, apply: bool
) -> None:
    """Run the search, print the trials best first, and apply the best to the workspace (unless not `apply`).

    Raises:
        RuntimeError: a trial or `dvc exp apply` failed.
    """
    ranked = tune(demo, section_name, raw_section, tune_params, seed, trials=trials)
    print(f"\ntune {demo.name}: {len(ranked)} trials by {tune_params.metric} ({tune_params.direction}):")
    for row in ranked:
        print(f"  {row.score:.4f}  {row.name}  " + ", ".join(f"{k}={v}" for k, v in row.values.items()))
    metrics_file = DemoPaths(demo.name).metrics / "evaluate.json"
    order = "desc" if tune_params.direction == "maximize" else "asc"
    best = ranked[0].name
    print(f"compare: dvc exp show --sort-by {metrics_file.as_posix()}:{tune_params.metric} --sort-order {order}")
    if apply:
        if subprocess.run(["dvc", "exp", "apply", best], check=False).returncode != 0:
            raise RuntimeError(
                f"tune {demo.name}: `dvc exp apply {best}` failed (output above): it checks out every output the "
                "experiment's dvc.lock names, so the cache must hold them (`dvc pull`, or `dvc repro` first)"
            )
        print(f"tune {demo.name}: applied the best, {best}: `dvc repro`, then commit params.yaml, dvc.lock, metrics/")
    else:
        print(f"take the best: dvc exp apply {best}   (then dvc repro, and commit params.yaml, dvc.lock, metrics/)")
