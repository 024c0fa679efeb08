"""The process that serves a Space: its Gradio page at `/`, TF Serving's REST API at `/v1/models/...` and the
Prometheus metrics at `/metrics/`, all answering through the same `Service` per model (loaded once)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from shared.adapters import adapters
from shared.constants import SERVER_NAME, SERVER_PORT
from shared.metrics import metrics_app, register_model
from shared.service import Service, load_services
from shared.tf_serving import tf_serving_router
from shared.traffic import configure as configure_traffic

if TYPE_CHECKING:
    import gradio as gr


def space_app(demo: gr.Blocks, services: Mapping[str, Service], *, max_file_size: str | int | None = None) -> FastAPI:
    """One FastAPI app: TF Serving's routes under `/v1/`, Prometheus at `/metrics/` and the Gradio page at `/`.

    `max_file_size` (default `shared.ui.MAX_UPLOAD`) limits the page's uploads; the page keeps the
    `state_session_capacity` set on its Blocks.
    """
    import gradio as gr  # imported here so that the REST API alone does not need the UI

    from shared.ui import MAX_UPLOAD

    app = FastAPI(title=demo.title or "Spacesuite", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(tf_serving_router(adapters(services)))
    app.mount("/metrics", metrics_app())  # Prometheus; the mount answers /metrics/ (and /metrics redirects)
    for service in services.values():
        register_model(service.spec)
    return gr.mount_gradio_app(app, demo, path="/", max_file_size=max_file_size or MAX_UPLOAD)


def serve_space(
    build_demo: Callable[[Mapping[str, Service]], gr.Blocks],
    folder: Path,
    *,
    host: str = SERVER_NAME,
    port: int = SERVER_PORT,
    max_file_size: str | int | None = None,
) -> None:
    """Serve a Space folder (its `model/`, and the page `build_demo` lays out) with uvicorn until stopped: a Space's
    `__main__`. The folder's name names the Space in the traffic log (`SPACE_ID` wins on the Hub)."""
    folder = Path(folder)
    log = configure_traffic(folder.resolve().name)
    services = load_services(folder / "model")
    print(f"Serving on http://{host}:{port}/ and TF Serving's REST API at /v1/models/<{'|'.join(services)}>")
    print(f"Traffic log: {log.path if log else 'off (SPACESUITE_TRAFFIC_DIR=off)'}")
    app = space_app(build_demo(services), services, max_file_size=max_file_size)
    uvicorn.run(app, host=host, port=port, log_level="warning")
