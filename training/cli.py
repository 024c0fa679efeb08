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
from training.params import load_params
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


DEMOS = ("sign-language",)
Demo = Annotated[str, typer.Argument(help=f"one of: {', '.join(DEMOS)}")]


def _known_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (SpacesuiteError, FileNotFoundError, ValidationError, RuntimeError, KeyError) as error:
            if os.environ.get("SPACESUITE_DEBUG"):
                raise
            err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _check_demo(demo: str) -> str:
    if demo not in DEMOS:
        raise KeyError(f"unknown demo {demo!r}; choose one of {', '.join(DEMOS)}")
    return demo


@data_app.command("sample")
@_known_errors
def data_sample() -> None:
    """Write the deterministic sample data of every demo into data/sample/ (what data.dvc records)."""
    from training import sign_language

    params = load_params()
    section = params.sign_language.data
    paths = sign_language.write_sample(
        DemoPaths("sign-language").sample_data,
        train_per_class=section.sample_train_per_class,
        test_per_class=section.sample_test_per_class,
        seed=params.base.seed,
    )
    for path in paths:
        typer.echo(f"wrote {path}")


@app.command()
@_known_errors
def ingest(demo: Demo) -> None:
    """Validate the raw files of a demo and keep them as one array file."""
    from training import ingest as stage

    stage.main(_check_demo(demo), load_params().demo(demo).data)


@app.command()
@_known_errors
def prepare(demo: Demo) -> None:
    """Split a demo's rows into stratified train/val/test."""
    from training import prepare as stage

    params = load_params()
    stage.main(_check_demo(demo), params.demo(demo).split, params.base.seed)


@app.command()
@_known_errors
def train(demo: Demo) -> None:
    """Fit a demo's model (curves logged with dvclive)."""
    from training import train as stage

    params = load_params()
    section = params.demo(_check_demo(demo))
    stage.main(demo, section.model, section.train, params.base.seed)


@app.command()
@_known_errors
def evaluate(demo: Demo) -> None:
    """Score a demo's model on every split; write metrics and the confusion matrix."""
    from training import evaluate as stage

    stage.main(_check_demo(demo))


@app.command()
@_known_errors
def export(demo: Demo) -> None:
    """Export SavedModel (TF Serving layout), float and quantized .tflite, and spec.json."""
    from training import export as stage

    stage.main(_check_demo(demo), load_params().demo(demo).export.version)


@app.command()
@_known_errors
def tfjs(demo: Demo) -> None:
    """Convert the SavedModel to a TF.js graph model (in its own environment)."""
    from training import tfjs as stage

    stage.main(_check_demo(demo), load_params().demo(demo).export.version)


@app.command()
@_known_errors
def parity(demo: Demo) -> None:
    """Compare the .tflite models with Keras on the test split; fail below the params thresholds."""
    from training import parity as stage

    stage.main(_check_demo(demo), load_params().demo(demo).parity)


@app.command()
@_known_errors
def bundle(demo: Demo) -> None:
    """Assemble the self-contained Space folder in dist/spaces/<demo>/."""
    from training import bundle as stage

    stage.main(_check_demo(demo))


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

    suite = build_suite(bundles)
    err.print(f"Spacesuite on http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(suite, host=host, port=port, log_level="warning")


@app.command()
@_known_errors
def up(
    host: Annotated[str, typer.Option(help="address to listen on")] = constants.SERVER_NAME,
    port: Annotated[int, typer.Option(help="port to listen on")] = constants.SERVER_PORT,
) -> None:
    """The main job: sample data if missing, `dvc repro`, then serve every Space locally."""
    if not all(DemoPaths(demo).sample_data.is_dir() for demo in DEMOS):
        data_sample()
    # dvc.yaml's commands call `spacesuite`: make this environment's scripts visible to them
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "dvc", "repro"], check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError("dvc repro failed (see its output above)")
    serve(host=host, port=port, bundles=DIST_DIR)
