"""`spacesuite`: one command per pipeline stage, plus sample data, serving and the main job (`up`).

Known errors print one line; set SPACESUITE_DEBUG=1 for the traceback (and debug logging).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from shared import constants
from shared.errors import SpacesuiteError
from training.demos import demo, names
from training.extras import install_hint
from training.params import PARAMS_FILE, DataSource, load_params
from training.paths import DIST_DIR, SPACES_SRC_DIR, DemoPaths
from training.progress import bars

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Raw data in Kaggle layout under data/.", no_args_is_help=True)
app.add_typer(data_app, name="data")
err = Console(stderr=True)


def configure_logging(console: Console, *, debug: bool = False) -> None:
    """Send log records to `console` through rich, once per process: this project's loggers from INFO (DEBUG with
    `debug`), everyone else's (httpx, dvc, mlflow) from WARNING only."""
    root = logging.getLogger()
    if not any(isinstance(handler, RichHandler) for handler in root.handlers):
        root.addHandler(RichHandler(console=console, show_path=False, show_time=False, markup=False))
        root.setLevel(logging.WARNING)
    for name in ("training", "shared", "spacesuite"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)


@app.callback()
def _setup() -> None:
    configure_logging(err, debug=bool(os.environ.get("SPACESUITE_DEBUG")))
    # TensorFlow's C++ INFO lines (oneDNN, CPU features) drown the stage output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Local runs send no usage analytics (gradio, DVC, dvclive); set them to "True"/"0" to opt in.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")


Model = Annotated[str, typer.Argument(help=f"one of: {', '.join(names())}")]
Space = Annotated[str, typer.Argument(help="a Space of params.yaml's `spaces`")]
Split = Literal["train", "val", "test"]


def validation_lines(error: ValidationError) -> str:
    """A pydantic error as one line per wrong value: where it is, what is allowed, and what was found."""
    lines = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "(the whole section)"
        found = "" if problem["type"] == "missing" else f" (found {problem['input']!r})"
        lines.append(f"{'params.yaml' if error.title == 'Params' else error.title}: {where}: {problem['msg']}{found}")
    return "\n".join(lines)


def _command_name(callback: Callable[..., Any]) -> str:
    """`spacesuite <command>` (`spacesuite data fetch`) for a registered command's callback."""
    for group, prefix in ((app, "spacesuite"), (data_app, "spacesuite data")):
        for info in group.registered_commands:
            if info.callback is callback:
                return f"{prefix} {info.name or callback.__name__.replace('_', '-')}"
    return "spacesuite"


def _say_error(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def _known_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort):  # they subclass RuntimeError: they pass through untouched
            raise
        except ModuleNotFoundError as error:
            ours = (error.name or "").split(".")[0] in ("training", "shared")
            if ours or os.environ.get("SPACESUITE_DEBUG"):
                raise
            _say_error(install_hint(error.name or "", _command_name(wrapper)))
            raise typer.Exit(1) from None
        except (SpacesuiteError, FileNotFoundError, ValidationError, RuntimeError, KeyError) as error:
            if os.environ.get("SPACESUITE_DEBUG"):
                raise
            if isinstance(error, ValidationError):
                message = validation_lines(error)
            else:
                message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            _say_error(message)
            raise typer.Exit(1) from None

    return wrapper


def _spaces(chosen: list[str] | None) -> list[str]:
    """The Spaces named (all of params.yaml's when none is), each checked to be one."""
    known = list(load_params().spaces)
    for space in chosen or ():
        if space not in known:
            raise KeyError(f"unknown Space {space!r}; choose one of {', '.join(known)}")
    return list(chosen or known)


@data_app.command("sample")
@_known_errors
def data_sample() -> None:
    """Write the deterministic sample data of every model into data/sample/ (what data.dvc records)."""
    params = load_params()
    for name in params.models():
        folder = DemoPaths(name).sample_data
        written = demo(name).write_sample(folder, params.model(name).data, params.base.seed)
        typer.echo(f"wrote {len(written)} files under {folder}")


@data_app.command("fetch")
@_known_errors
def data_fetch(
    models: Annotated[list[str] | None, typer.Argument(help="models to fetch (default: all)")] = None,
    pin: Annotated[
        bool, typer.Option("--pin", help="record in params.yaml the sha256 of files not pinned yet (check them first)")
    ] = False,
    params: Annotated[Path, typer.Option(help="params file to read (and, with --pin, to edit)")] = PARAMS_FILE,
) -> None:
    """Fetch each model's real data from its publisher into data/public/<model>/, every file checked by sha256.

    Kaggle needs KAGGLE_USERNAME and KAGGLE_KEY (or `~/.kaggle/kaggle.json`) unless kagglehub's cache has the files.
    A failed or mismatching fetch keeps the data already there.
    """
    from training.fetch import fetch_models

    fetch_models([demo(model).name for model in models or ()], params_path=params, pin=pin)


@data_app.command("use")
@_known_errors
def data_use(
    source: Annotated[DataSource, typer.Argument(help="sample, kaggle or public")],
    models: Annotated[list[str] | None, typer.Argument(help="models to switch (default: all)")] = None,
) -> None:
    """Set `<model>.data.source` in params.yaml (comments and everything else stay as they are)."""
    from training.fetch import set_yaml_values

    chosen = [demo(model) for model in models or load_params().models()]
    text = PARAMS_FILE.read_text(encoding="utf-8")
    edits = {(item.section, "data", "source"): source for item in chosen}
    PARAMS_FILE.write_text(set_yaml_values(text, edits), encoding="utf-8")
    load_params().check_all()  # still valid
    typer.echo(f"data source {source}: {', '.join(item.name for item in chosen)}")


@data_app.command("which")
@_known_errors
def data_which() -> None:
    """Print the data source every model trains on: `sample`, `kaggle` or `public`, or `mixed`."""
    params = load_params()
    sources = {params.model(model).data.source for model in params.models()}
    typer.echo(sources.pop() if len(sources) == 1 else "mixed")


@app.command()
@_known_errors
def ingest(
    model: Model,
    accept_schema: Annotated[
        bool, typer.Option("--accept-schema", help="take the new data's schema as schemas/<model>/<source>.yaml")
    ] = False,
) -> None:
    """Validate the raw files of a model against its schema and keep them as one array file."""
    from training import ingest as stage

    stage.main(demo(model), load_params().model(model).data, accept_schema=accept_schema)


@app.command()
@_known_errors
def statistics(model: Model) -> None:
    """Write Evidently's data summary of a model's ingested rows (counts, ranges, missing values, label mix)."""
    from training import statistics as stage

    stage.main(demo(model))


@app.command()
@_known_errors
def prepare(model: Model) -> None:
    """Split a model's rows into train/val/test (stratified for classifiers; texts tokenized)."""
    from training import prepare as stage

    params = load_params()
    stage.main(demo(model), params.model(model), params.base.seed)


@app.command()
@_known_errors
def train(model: Model) -> None:
    """Fit a model (Keras: curves logged with dvclive; scikit-learn: candidates compared in MLflow)."""
    params = load_params()
    found, section = demo(model), params.model(model)
    if found.framework == "sklearn":
        from training import sklearn_models as stage

        stage.train(found, section, params.base.seed)
    else:
        from training import train as stage

        stage.main(found, section, params.base.seed)


@app.command()
@_known_errors
def tune(
    model: Model,
    trials: Annotated[int | None, typer.Option(min=1, help="number of trials (default: <model>.tune.trials)")] = None,
    apply: Annotated[
        bool, typer.Option("--apply/--no-apply", help="`dvc exp apply` the best trial at the end (else the last stays)")
    ] = True,
) -> None:
    """Search `<model>.tune.space` in params.yaml, each trial a DVC experiment (`dvc exp show` ranks them)."""
    from training import tune as stage

    params = load_params()
    found, section = demo(model), params.model(model)
    if section.tune is None:
        raise KeyError(f"params.yaml has no {found.section}.tune: declare the space to search there")
    raw = (params.model_extra or {})[found.section]
    stage.main(
        found, found.section, raw, section.tune, params.base.seed, trials=trials or section.tune.trials, apply=apply
    )


@app.command()
@_known_errors
def evaluate(model: Model) -> None:
    """Score a model on every split; write metrics, the test split's plots and the blessing."""
    found, section = demo(model), load_params().model(model)
    if found.framework == "sklearn":
        from training import sklearn_models as stage

        stage.evaluate(found, section)
    else:
        from training import evaluate as stage

        stage.main(found, section.bless)


@app.command()
@_known_errors
def export(model: Model) -> None:
    """Export the model: SavedModel (TF Serving layout), float and quantized .tflite, or skops; and spec.json."""
    found, section = demo(model), load_params().model(model)
    if found.framework == "sklearn":
        from training import sklearn_models as stage

        stage.export(found, section)
    else:
        from training import export as stage

        stage.main(found, section)


@app.command()
@_known_errors
def tfjs(model: Model) -> None:
    """Convert the SavedModel to a TF.js graph model (in its own environment)."""
    from training import tfjs as stage

    stage.main(demo(model).name, load_params().model(model).export.version)


@app.command()
@_known_errors
def parity(model: Model) -> None:
    """Compare the .tflite models with Keras on the test split; fail beyond the params thresholds."""
    from training import parity as stage

    stage.main(demo(model), load_params().model(model).parity)


@app.command()
@_known_errors
def bundle(space: Space) -> None:
    """Assemble the self-contained Space folder in dist/spaces/<space>/ (for a static Space, whose card says
    `sdk: static`, the page that runs its model in the browser)."""
    from training.cards import space_sdk

    if space_sdk(SPACES_SRC_DIR / _spaces([space])[0] / "README.md") == "static":
        from training import web_bundle

        web_bundle.main(space, load_params().space(space))
        return
    from training import bundle as stage

    with bars(err) as step:
        stage.main(_spaces([space])[0], load_params().space(space), step=step)


@app.command("tfserving-config")
@_known_errors
def tfserving_config(
    path: Annotated[Path, typer.Argument(help="where to write it")] = Path("build/tfserving/models.config"),
) -> None:
    """Write TF Serving's model config for every Keras demo's SavedModel (monitoring/compose.yaml mounts it)."""
    from training import tfserving

    tfserving.main(path)


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

    Exit status 1 when real traffic has drifted, or a classifier's live accuracy from users' feedback is below
    drift.min_live_accuracy, after an alert to DISCORD_WEBHOOK_URL (or the log). With
    SPACESUITE_PUSHGATEWAY set, the run's outcome is pushed there at the end, whatever it was (the alert rules
    in monitoring/alerts.yml watch it).
    """
    from training import drift as job
    from training.alerts import send_alert
    from training.pushgateway import reported

    with reported() as outcome:
        chosen = [demo(model).name for model in models] if models else load_params().models()
        if traffic is not None and not traffic.is_dir():
            raise FileNotFoundError(f"no traffic folder {traffic}")
        params = load_params()
        out = out or job.DRIFT_DIR
        with bars(err) as step:
            verdicts, figures = job.run(
                chosen,
                params.drift,
                seed=params.base.seed,
                out=out,
                metrics_path=metrics or job.DRIFT_METRICS,
                traffic=traffic,
                progress=err.print,
                step=step,
            )
        overall = figures["all"]
        err.print(
            f"detection rate {overall['detection_rate']:.0%}, false alarms {overall['false_alarm_rate']:.0%}; "
            f"summary: {out / 'summary.md'}"
        )
        outcome.drifted_models = sum(1 for v in verdicts if v.scenario == job.TRAFFIC and v.drift)
        low_accuracy = job.low_accuracy_models(figures)
        for model in figures:
            live = figures[model].get("live") if model != "all" else None
            if live and live["accuracy"] is not None:
                err.print(f"{model}: live accuracy {live['accuracy']:.1%} over {live['labelled']} labelled answers")
        if low_accuracy:
            send_alert(job.quality_alert_text(figures, params.drift, out))
            threshold = params.drift.min_live_accuracy
            err.print(f"[bold red]live accuracy below {threshold:.0%}[/]: {', '.join(low_accuracy)} (alert sent)")
        if outcome.drifted_models:
            send_alert(job.alert_text(verdicts, out))
            err.print("[bold red]drift in live traffic[/] (alert sent; see the summary)")
        if outcome.drifted_models or low_accuracy:
            raise typer.Exit(1)


@app.command()
@_known_errors
def deploy(
    spaces: Annotated[list[str] | None, typer.Argument(help="Spaces to consider (default: all)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be pushed and why; push nothing")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="push even if unchanged, or if a model scores worse than the one served")
    ] = False,
    allow_sample: Annotated[
        bool, typer.Option("--allow-sample", help="let models trained on the sample data go out (the card says so)")
    ] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for a pushed Space to run")] = 900.0,
    poll: Annotated[float, typer.Option(help="seconds between two looks at a pushed Space's runtime")] = 10.0,
) -> None:
    """Make each Space on the Hub hold exactly its bundle: compare with the manifest the Hub has, push what differs
    if it passes its gate, wait for the Space to run, call it on its examples, roll back if it does not answer.

    The token is found the way huggingface_hub finds it (HF_TOKEN, or `hf auth login`); SPACESUITE_HUB_OWNER replaces
    the owner of every repo_id. Exit 1 when a Space that should go out is blocked or did not come up.
    """
    from huggingface_hub import HfApi, get_token
    from rich.table import Table

    from training import deploy as tool

    chosen = _spaces(spaces)
    token = get_token()
    api = HfApi(token=token)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    plans = tool.plan(
        load_params(), chosen, api=api, commit=commit, owner=tool.hub_owner(), force=force, allow_sample=allow_sample
    )
    table = Table(title="deploy" + (" (dry run)" if dry_run else ""))
    for column in ("Space", "repo", "action", "why", "gate"):
        table.add_column(column, overflow="fold")
    for p in plans:
        why = "\n".join([*p.changes, *(f"edited on the Hub: {edit}" for edit in p.edits)]) or "-"
        table.add_row(p.space, p.repo_id, p.action, why, "\n".join(p.failures) or "passed")
    Console().print(table)
    outcomes = []
    if not dry_run:
        if any(p.action == "push" for p in plans) and not token:
            raise RuntimeError("no Hugging Face token: set HF_TOKEN (a write token) or run `hf auth login`")
        revision = commit[:8] or "a local tree"
        for p in plans:
            if p.action != "push":
                continue
            with bars(err) as step:
                outcome = tool.push(
                    api,
                    p,
                    revision=revision,
                    token=token,
                    timeout_s=timeout,
                    poll_s=poll,
                    progress=err.print,
                    step=step,
                )
            if outcome.ok:
                typer.echo(f"{outcome.space}: deployed {outcome.detail}")
            else:
                err.print(f"{outcome.space}: {outcome.detail}", highlight=False, soft_wrap=True)
            outcomes.append(outcome)
    blocked = [p.space for p in plans if p.action == "blocked"]
    failed = [outcome.space for outcome in outcomes if not outcome.ok]
    if blocked:
        err.print(f"[bold red]blocked:[/] {', '.join(blocked)} (see the gate column)")
    if failed:
        err.print(f"[bold red]not deployed:[/] {', '.join(failed)}")
    if blocked or failed:
        raise typer.Exit(1)


@app.command()
@_known_errors
def metrics(
    models: Annotated[list[str] | None, typer.Argument(help="models (default: all)")] = None,
    split: Annotated[Split, typer.Option(help="which split's scores")] = "test",
) -> None:
    """Each model's scores on one split and its drift rates, from the committed metrics/ files (a row per model).

    `dvc metrics show` prints every key of every file in one wide row; `dvc metrics diff` compares two commits.
    """
    from rich import box
    from rich.table import Table

    from training import scores

    chosen = [demo(model).name for model in models] if models else load_params().models()
    table = Table(title=f"{split} split (macro F1), drift job rates", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model", no_wrap=True)
    for column in scores.COLUMNS:
        table.add_column(column, justify="right")
    for model in chosen:
        row = scores.score_row(model, split)
        table.add_row(model, *(scores.formatted(column, value) for column, value in row.items()))
    Console().print(table)


@app.command()
@_known_errors
def runs(
    models: Annotated[list[str] | None, typer.Argument(help="models (default: every one that logs to MLflow)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest runs shown per model")] = 20,
) -> None:
    """The MLflow runs of the scikit-learn models (gender, penguins): candidate, val metrics, the one kept.

    Read from each model's local store (build/<model>/mlflow/mlflow.db) with mlflow-skinny's client; no server.
    """
    from rich import box
    from rich.table import Table

    from training import runs as store

    chosen = store.logged_models([demo(model).name for model in models] if models else load_params().models())
    if not chosen:
        raise KeyError("none of these models logs to MLflow (only the scikit-learn ones do)")
    rows = [row for model in chosen for row in store.model_runs(model, limit)]
    if not rows:
        raise FileNotFoundError(f"no MLflow runs yet for {', '.join(chosen)}: run `dvc repro` (or spacesuite train)")
    metric_names = sorted({name for row in rows for name in row.metrics})
    sources = {row.data_source for row in rows}
    title = "MLflow runs, newest first: val scores (macro averages), * the candidate the last training kept"
    if len(sources) == 1:
        title += f"; data: {sources.pop()}"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("model", "run", "started (UTC)", *(["data"] if sources else [])):
        table.add_column(column, overflow="fold")
    for name in metric_names:  # val_f1_macro → f1
        header = name.removeprefix("val_").removesuffix("_macro")
        table.add_column(header, justify="right", no_wrap=True, min_width=max(5, len(header)))
    for row in rows:
        scores = [f"{row.metrics[name]:.3f}" if name in row.metrics else "-" for name in metric_names]
        cells = [row.model, f"{row.name} *" if row.kept else row.name, f"{row.started:%Y-%m-%d %H:%M}"]
        table.add_row(*cells, *([row.data_source] if sources else []), *scores)
    Console().print(table)
    for model in chosen:
        err.print(f"{model}: MLflow store {store.tracking_uri(model)}", highlight=False, soft_wrap=True)


@app.command("repro")
@_known_errors
def repro_parallel(
    targets: Annotated[list[str] | None, typer.Argument(help="stages (default: every stage)")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="stages at once")] = os.cpu_count() or 1,
) -> None:
    """`dvc repro` with independent stages at the same time, one per core: the same stages, outputs and dvc.lock."""
    from training.parallel_repro import repro

    repro(targets or [], jobs=jobs, say=print)


@app.command()
@_known_errors
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = constants.SERVER_NAME,
    port: Annotated[int, typer.Option(help="port to listen on")] = constants.SERVER_PORT,
    bundles: Annotated[Path, typer.Option(help="folder of bundled Spaces")] = DIST_DIR,
) -> None:
    """Serve every bundled Space in one process, with an index page at /."""
    from shared.server import run_server
    from shared.suite import build_suite
    from shared.traffic import configure

    suite = build_suite(bundles)
    log = configure("suite")
    err.print(f"Spacesuite on http://{host}:{port}/ (Ctrl+C to stop)")
    err.print(f"Traffic log: {log.path if log else 'off'}; Prometheus metrics at http://{host}:{port}/metrics/")
    run_server(suite, host=host, port=port)


@app.command()
@_known_errors
def up(
    host: Annotated[str, typer.Option(help="address to listen on")] = constants.SERVER_NAME,
    port: Annotated[int, typer.Option(help="port to listen on")] = constants.SERVER_PORT,
) -> None:
    """The main job: sample data if missing, the pipeline's stages the Spaces need, then serve every Space locally
    while the rest of the pipeline (drift job, TF Serving config) runs in the background."""
    from training.main_job import REST_LOG, RestOfPipeline, space_stages
    from training.parallel_repro import repro

    if not all(DemoPaths(model).sample_data.is_dir() for model in load_params().models()):
        data_sample()
    repro(space_stages(), jobs=os.cpu_count() or 1, say=print)
    err.print(f"The Spaces are ready; the rest of the pipeline runs in the background (log: {REST_LOG}).")
    rest = RestOfPipeline(say=err.print)
    try:
        serve(host=host, port=port, bundles=DIST_DIR)
    finally:
        rest.stop()
