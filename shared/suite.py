"""Every bundled Space in one process: each at `/<name>/`, plus an index page at `/`."""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

import shared.limits as limits
from shared.adapters import adapters
from shared.artifact import SPEC_FILE, ModelSpec
from shared.metrics import metrics_app, register_model
from shared.server import takes_csv, takes_files
from shared.service import Service, load_services
from shared.tf_serving import serve_rest
from shared.uploads import PageGuard


def find_spaces(bundles_dir: Path) -> list[Path]:
    """Bundled Space folders (those with an app.py and a model/spec.json), sorted by name."""
    return sorted(p for p in Path(bundles_dir).iterdir() if (p / "app.py").is_file() and (p / "model").is_dir())


def find_static_spaces(bundles_dir: Path) -> list[Path]:
    """Bundled static Spaces (`sdk: static`: an index.html and no app.py; the page runs the model), sorted by name."""
    return sorted(
        p for p in Path(bundles_dir).iterdir() if (p / "index.html").is_file() and not (p / "app.py").exists()
    )


def load_space(folder: Path, services: dict[str, Service] | None = None) -> gr.Blocks:
    """Import a Space's app.py under a unique module name and build its page around `services` (by default its
    own models' services, loaded here)."""
    spec = importlib.util.spec_from_file_location(f"space_{folder.name.replace('-', '_')}", folder / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {folder / 'app.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_demo(services if services is not None else load_services(folder / "model"))


def model_specs(space: Path) -> list[ModelSpec]:
    """The specs of a Space's models: `model/spec.json`, or `model/<model>/spec.json` for several."""
    paths = [space / "model"] if (space / "model" / SPEC_FILE).is_file() else sorted((space / "model").glob("*/"))
    return [ModelSpec.load(path) for path in paths if (path / SPEC_FILE).is_file()]


def _score(spec: ModelSpec) -> str:
    if "accuracy" in spec.metrics:
        return f"test accuracy {spec.metrics['accuracy']:.1%}"
    if "rmse" in spec.metrics:
        return f"test RMSE {spec.metrics['rmse']:.3f}"
    return "not evaluated"


def index_page(spaces: list[Path]) -> str:
    """The HTML index: one link per Space with each model's data source and test score."""
    items = []
    for folder in spaces:
        models = "; ".join(
            f"{html.escape(spec.name)}: {html.escape(spec.data.source)} data, {_score(spec)}"
            for spec in model_specs(folder)
        )
        items.append(
            f'<li><a href="/{html.escape(folder.name)}/">{html.escape(folder.name)}</a> <small>({models})</small></li>'
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Spacesuite</title></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
        f"<h1>Spacesuite</h1><p>{len(spaces)} Space(s) served locally.</p><ul>{''.join(items)}</ul></body></html>"
    )


def build_suite(bundles_dir: Path) -> FastAPI:
    """A FastAPI app that mounts every bundled Space, serves the index page and every model's REST API; a static
    Space's files are served as they are, as the Hub serves them.

    Raises:
        FileNotFoundError: there is no bundled Space (run the pipeline first).
    """
    spaces = find_spaces(bundles_dir) if Path(bundles_dir).is_dir() else []
    if not spaces:
        raise FileNotFoundError(f"no bundled Space in {bundles_dir}: run `dvc repro` first")
    static = find_static_spaces(bundles_dir)
    app = FastAPI(title="Spacesuite")
    page = index_page(sorted(spaces + static))
    services: dict[str, dict[str, Service]] = {folder.name: load_services(folder / "model") for folder in spaces}
    every: dict[str, Service] = {}
    for space_services in services.values():
        for name, service in space_services.items():
            if name in every:
                raise ValueError(f"two Spaces carry a model named {name}")
            every[name] = service
            register_model(service.spec)
    app.mount("/metrics", metrics_app())  # Prometheus, for every Space of this process

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    uploads, csv_pages = [], []
    for folder in spaces:
        demo = load_space(folder, services[folder.name])
        app = gr.mount_gradio_app(app, demo, path=f"/{folder.name}", max_file_size=limits.MAX_UPLOAD_BYTES)
        if takes_files(demo):
            uploads.append(f"/{folder.name}/")
        if takes_csv(demo):
            csv_pages.append(f"/{folder.name}/")
    for folder in static:
        app.mount(f"/{folder.name}", StaticFiles(directory=folder, html=True))
    app.add_middleware(PageGuard, uploads=tuple(uploads), csv=tuple(csv_pages))
    serve_rest(app, adapters(every))  # every model's REST API at /v1/models/<model>, ahead of the pages
    return app
