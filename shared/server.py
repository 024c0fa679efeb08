"""The process that serves a Space: its Gradio page at `/`, TF Serving's REST API at `/v1/models/...` and the
Prometheus metrics at `/metrics/`, all answering through the same `Service` per model (loaded once), on uvicorn
with the budgets of `shared.limits` (request deadlines, connection limit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

import shared.limits as limits
from shared.adapters import adapters
from shared.connections import guarded_protocol, raise_open_files_limit
from shared.constants import SERVER_NAME, SERVER_PORT
from shared.metrics import metrics_app, register_model
from shared.service import Service, load_services
from shared.tf_serving import serve_rest
from shared.traffic import configure as configure_traffic

if TYPE_CHECKING:
    import gradio as gr


def takes_files(demo: gr.Blocks) -> bool:
    """Whether a page has a component that takes an uploaded file (an image, a sketch) as an event's input; an image
    only shown (a model card's confusion matrix) takes none."""
    import gradio as gr

    inputs = (block for fn in demo.fns.values() for block in fn.inputs)
    return any(isinstance(block, gr.Image | gr.ImageEditor | gr.File) for block in inputs)


def takes_csv(demo: gr.Blocks) -> bool:
    """Whether a page has a file input (a CSV of rows) as an event's input."""
    import gradio as gr

    return any(isinstance(block, gr.File) for fn in demo.fns.values() for block in fn.inputs)


def space_app(demo: gr.Blocks, services: Mapping[str, Service], *, max_file_size: str | int | None = None) -> FastAPI:
    """One FastAPI app: TF Serving's routes under `/v1/`, Prometheus at `/metrics/` and the Gradio page at `/`.

    `max_file_size` (default `limits.MAX_UPLOAD_BYTES`) limits the page's uploads; the page keeps the
    `state_session_capacity` set on its Blocks. Page requests go through `shared.uploads.PageGuard`.
    """
    import gradio as gr  # imported here so that the REST API alone does not need the UI

    from shared.uploads import PageGuard

    app = FastAPI(title=demo.title or "Spacesuite", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/metrics", metrics_app())  # Prometheus; the mount answers /metrics/ (and /metrics redirects)
    for service in services.values():
        register_model(service.spec)
    app = gr.mount_gradio_app(app, demo, path="/", max_file_size=max_file_size or limits.MAX_UPLOAD_BYTES)
    app.add_middleware(PageGuard, uploads=("/",) if takes_files(demo) else (), csv=("/",) if takes_csv(demo) else ())
    serve_rest(app, adapters(services))  # added last: outermost, ahead of the page's guard and routes
    return app


# A stopping Space waits this long for open requests: a page with a gr.State keeps each gradio_client's heartbeat
# stream open for as long as the client lives, which would otherwise hold SIGTERM (the Hub's restart) forever.
SHUTDOWN_GRACE_S = 5


def server_config(app: Any, *, host: str = SERVER_NAME, port: int = SERVER_PORT) -> uvicorn.Config:
    """uvicorn's settings for a Space: request deadlines (`shared.connections`), at most `limits.MAX_CONNECTIONS`
    connections and running requests (503 beyond), idle keep-alive connections closed, and a stop that waits at most
    `SHUTDOWN_GRACE_S` for open streams."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=guarded_protocol(),
        limit_concurrency=limits.MAX_CONNECTIONS,
        timeout_keep_alive=int(limits.KEEP_ALIVE_S),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


def run_server(app: Any, *, host: str = SERVER_NAME, port: int = SERVER_PORT) -> None:
    """Serve an ASGI app with uvicorn until stopped, with `server_config`'s budgets."""
    raise_open_files_limit()
    uvicorn.Server(server_config(app, host=host, port=port)).run()


def serve_space(
    build_demo: Callable[[Mapping[str, Service]], gr.Blocks],
    folder: Path,
    *,
    host: str = SERVER_NAME,
    port: int = SERVER_PORT,
    max_file_size: str | int | None = None,
) -> None:
    """Serve a Space folder (its `model/`, and the page `build_demo` lays out) until stopped: a Space's `__main__`.
    The folder's name names the Space in the traffic log (`SPACE_ID` wins on the Hub)."""
    folder = Path(folder)
    log = configure_traffic(folder.resolve().name)
    services = load_services(folder / "model")
    print(f"Serving on http://{host}:{port}/ and TF Serving's REST API at /v1/models/<{'|'.join(services)}>")
    print(f"Traffic log: {log.path if log else 'off (SPACESUITE_TRAFFIC_DIR=off)'}")
    run_server(space_app(build_demo(services), services, max_file_size=max_file_size), host=host, port=port)
