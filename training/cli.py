"""`spacesuite`: one command per pipeline stage, plus sample data, serving and the main job (`up`).

Known errors print one line; set SPACESUITE_DEBUG=1 for the traceback.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from shared import constants
from shared.errors import SpacesuiteError
from training.models import MODELS, SPACES, model_info
from training.params import BirdSpeciesParams, EmotionParams, GenderParams, load_params
from training.paths import DIST_DIR, DemoPaths

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Raw data in Kaggle layout under data/.", no_args_is_help=True)
app.add_typer(data_app, name="data")
err = Console(stderr=True)


@app.callback()
def _quiet_tensorflow() -> None:
    # TensorFlow's C++ INFO lines (oneDNN, CPU features) drown the stage output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Local runs send no usage analytics (gradio, DVC, dvclive); set them to "True"/"0" to opt in.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")


Model = Annotated[str, typer.Argument(help=f"one of: {', '.join(MODELS)}")]
Space = Annotated[str, typer.Argument(help=f"one of: {', '.join(SPACES)}")]


def _known_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (SpacesuiteError, FileNotFoundError, ValidationError, RuntimeError, KeyError) as error:
            if os.environ.get("SPACESUITE_DEBUG"):
                raise
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _check_space(space: str) -> str:
    if space not in SPACES:
        raise KeyError(f"unknown Space {space!r}; choose one of {', '.join(SPACES)}")
    return space


@data_app.command("sample")
@_known_errors
def data_sample() -> None:
    """Write the deterministic sample data of every model into data/sample/ (what data.dvc records)."""
    from training import birds, digits, emotion, gender, housing, sign_language

    params = load_params()
    seed = params.base.seed
    written = [
        *sign_language.write_sample(
            DemoPaths("sign-language").sample_data,
            train_per_class=params.sign_language.data.sample_train_per_class,
            test_per_class=params.sign_language.data.sample_test_per_class,
            seed=seed,
        ),
        *birds.write_sample(
            DemoPaths("bird-species").sample_data, per_class=params.bird_species.data.sample_per_class, seed=seed
        ),
        *digits.write_sample(
            DemoPaths("digits").sample_data, test_fraction=params.digits.data.sample_test_fraction, seed=seed
        ),
        *housing.write_sample(DemoPaths("housing").sample_data, rows=params.housing.data.sample_rows, seed=seed),
        *gender.write_sample(DemoPaths("gender").sample_data, rows=params.gender.data.sample_rows, seed=seed),
        *emotion.write_sample(
            DemoPaths("emotion").sample_data, per_class=params.emotion.data.sample_per_class, seed=seed
        ),
    ]
    for model in MODELS:
        folder = DemoPaths(model).sample_data
        typer.echo(f"wrote {sum(folder in path.parents for path in written)} files under {folder}")


@app.command()
@_known_errors
def ingest(model: Model) -> None:
    """Validate the raw files of a model and keep them as one array file."""
    from training import ingest as stage

    stage.main(model_info(model).name, load_params().model(model).data)


@app.command()
@_known_errors
def prepare(model: Model) -> None:
    """Split a model's rows into train/val/test (stratified for classifiers)."""
    from training import prepare as stage

    params = load_params()
    section = params.model(model_info(model).name)
    stage.main(
        model, section.split, params.base.seed, text=section.text if isinstance(section, EmotionParams) else None
    )


@app.command()
@_known_errors
def train(model: Model) -> None:
    """Fit a model (curves logged with dvclive)."""
    from training import train as stage

    params = load_params()
    section = params.model(model_info(model).name)
    if isinstance(section, GenderParams):
        from training import compare

        compare.train(section, params.base.seed)
        return
    stage.main(model, section, params.base.seed)


@app.command()
@_known_errors
def evaluate(model: Model) -> None:
    """Score a model on every split; write metrics and the test split's plots."""
    from training import evaluate as stage

    if model_info(model).framework == "sklearn":
        from training import compare

        compare.evaluate()
        return
    section = load_params().model(model)
    stage.main(model, bless=section.bless if isinstance(section, EmotionParams) else None)


@app.command()
@_known_errors
def export(model: Model) -> None:
    """Export SavedModel (TF Serving layout), float and quantized .tflite, and spec.json."""
    from training import export as stage

    section = load_params().model(model_info(model).name)
    if isinstance(section, GenderParams):
        from training import compare

        compare.export(section.export.version)
        return
    notes = {}
    if isinstance(section, BirdSpeciesParams):
        notes["base_weights"] = section.model.base_weights
    steps = None
    if isinstance(section, EmotionParams):
        steps = section.text.model_dump(include={"lowercase", "remove_stopwords", "stem"})
    stage.main(model, section.export.version, notes, text_steps=steps)


@app.command()
@_known_errors
def tfjs(model: Model) -> None:
    """Convert the SavedModel to a TF.js graph model (in its own environment)."""
    from training import tfjs as stage

    stage.main(model_info(model).name, load_params().model(model).export.version)


@app.command()
@_known_errors
def parity(model: Model) -> None:
    """Compare the .tflite models with Keras on the test split; fail beyond the params thresholds."""
    from training import parity as stage

    stage.main(model_info(model).name, load_params().model(model).parity)


@app.command()
@_known_errors
def bundle(space: Space) -> None:
    """Assemble the self-contained Space folder in dist/spaces/<space>/."""
    from training import bundle as stage

    stage.main(_check_space(space), load_params().space(space))


@app.command()
@_known_errors
def drift(
    models: Annotated[list[str] | None, typer.Argument(help="models to check (default: all)")] = None,
    traffic: Annotated[
        Path | None, typer.Option(help="folder of traffic logs (*.jsonl) to check too; drift there exits 1")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="reports folder (default build/drift)")] = None,
    metrics: Annotated[Path | None, typer.Option(help="metrics JSON (default metrics/drift.json)")] = None,
) -> None:
    """Drift job: SDV synthetic traffic with injected shifts, Evidently reports, and (with --traffic) real traffic.

    Exit status 1 when real traffic has drifted, after an alert to DISCORD_WEBHOOK_URL (or the log).
    """
    from training import drift as job
    from training.alerts import send_alert

    chosen = [model_info(model).name for model in (models or MODELS)]
    if traffic is not None and not traffic.is_dir():
        raise FileNotFoundError(f"no traffic folder {traffic}")
    params = load_params()
    out = out or job.DRIFT_DIR
    verdicts, figures = job.run(
        chosen,
        params.drift,
        seed=params.base.seed,
        out=out,
        metrics_path=metrics or job.DRIFT_METRICS,
        traffic=traffic,
        progress=err.print,
    )
    overall = figures["all"]
    err.print(
        f"detection rate {overall['detection_rate']:.0%}, false alarms {overall['false_alarm_rate']:.0%}; "
        f"summary: {out / 'summary.md'}"
    )
    if any(v.drift for v in verdicts if v.scenario == job.TRAFFIC):
        send_alert(job.alert_text(verdicts, out))
        err.print("[bold red]drift in live traffic[/] (alert sent; see the summary)")
        raise typer.Exit(1)


@app.command()
@_known_errors
def deploy(
    spaces: Annotated[list[str] | None, typer.Argument(help="Spaces to consider (default: all)")] = None,
    since: Annotated[
        str, typer.Option(help="git revision last deployed: Spaces whose bundle changed since")
    ] = "HEAD~1",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be pushed and why; push nothing")] = False,
    against: Annotated[str, typer.Option(help="the revision to deploy (its dvc.lock), or `worktree`")] = "HEAD",
    force: Annotated[bool, typer.Option("--force", help="push the named Spaces even if unchanged")] = False,
    bundles: Annotated[Path, typer.Option(help="folder of bundled Spaces")] = DIST_DIR,
) -> None:
    """Push to the Hub the Spaces whose bundle changed since a revision, if their models pass `deploy_when`.

    Uses HF_TOKEN; SPACESUITE_HUB_OWNER replaces the owner of every repo_id. Exit 1 when a Space that should go
    out is blocked (under a threshold, unblessed, or not built).
    """
    from rich.table import Table

    from training import deploy as tool

    chosen = [_check_space(space) for space in (spaces or SPACES)]
    params = load_params()
    plans = tool.plan(
        params, chosen, since=since, against=against, force=force, bundles=bundles, owner=tool.hub_owner()
    )
    table = Table(title=f"deploy: {since} → {against}" + (" (dry run)" if dry_run else ""))
    for column in ("Space", "repo", "action", "why", "metrics", "gate"):
        table.add_column(column, overflow="fold")
    for p in plans:
        why = "forced" if p.forced and not p.changes else "\n".join(p.changes) or "-"
        metrics = "\n".join(f"{name} {value:.4f}" for name, value in p.metrics.items()) or "-"
        table.add_row(p.space, p.repo_id, p.action, why, metrics, "blessed" if p.blessed else "\n".join(p.failures))
    Console(width=160).print(table)
    if not dry_run:
        token = os.environ.get("HF_TOKEN", "").strip()
        if any(p.action == "push" for p in plans) and not token:
            raise RuntimeError("HF_TOKEN is not set: create a write token at https://huggingface.co/settings/tokens")
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
        for p in plans:
            if p.action == "push":
                typer.echo(f"pushed {p.space}: {tool.push(p, token, revision.strip() or 'a local tree')}")
    blocked = [p.space for p in plans if p.action == "blocked"]
    if blocked:
        err.print(f"[bold red]blocked:[/] {', '.join(blocked)} (see the gate column)")
        raise typer.Exit(1)


@app.command()
@_known_errors
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = constants.SERVER_NAME,
    port: Annotated[int, typer.Option(help="port to listen on")] = constants.SERVER_PORT,
    bundles: Annotated[Path, typer.Option(help="folder of bundled Spaces")] = DIST_DIR,
) -> None:
    """Serve every bundled Space in one process, with an index page at /."""
    import uvicorn

    from shared.suite import build_suite
    from shared.traffic import configure

    suite = build_suite(bundles)
    log = configure("suite")
    err.print(f"Spacesuite on http://{host}:{port}/ (Ctrl+C to stop)")
    err.print(f"Traffic log: {log.path if log else 'off'}; Prometheus metrics at http://{host}:{port}/metrics/")
    uvicorn.run(suite, host=host, port=port, log_level="warning")


@app.command()
@_known_errors
def up(
    host: Annotated[str, typer.Option(help="address to listen on")] = constants.SERVER_NAME,
    port: Annotated[int, typer.Option(help="port to listen on")] = constants.SERVER_PORT,
) -> None:
    """The main job: sample data if missing, `dvc repro`, then serve every Space locally."""
    if not all(DemoPaths(model).sample_data.is_dir() for model in MODELS):
        data_sample()
    # dvc.yaml's commands call `spacesuite`: make this environment's scripts visible to them
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "dvc", "repro"], check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError("dvc repro failed (see its output above)")
    serve(host=host, port=port, bundles=DIST_DIR)
