"""A stand-in for TF Serving's Prometheus page in tests: TF Serving itself runs in Docker (monitoring/compose.yaml),
which the tests do not have.

It serves, at `/monitoring/prometheus/metrics` on 127.0.0.1, the two metric families the dashboard and the alert
rules read, written as TF Serving 2.x writes them (tensorflow_serving/util/prometheus_exporter.cc: a `/` in a
metric's name becomes `:`, counters have no `_total`, a histogram's last bucket is `+Inf`, numbers printed as
absl::StrCat prints them), with the names, labels and buckets its source defines
(tensorflow_serving/servables/tensorflow/util.cc):

    :tensorflow:serving:request_count{model_name, status}           counter; status: a gRPC code name ("OK", ...)
    :tensorflow:serving:request_latency{model_name, API, entrypoint}  histogram of microseconds, successful
                                                                      requests only; buckets 10 * 1.8**i, i < 33

A test records the requests it pretends TF Serving answered (`record`). What this proves: the queries spell these
series and labels right, and Prometheus answers them. What it cannot: that a running TF Serving exports them, which
rests on its source (and on the compose healthcheck, which asks TF Serving's real page).
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/monitoring/prometheus/metrics"
COUNT = ":tensorflow:serving:request_count"
LATENCY = ":tensorflow:serving:request_latency"
BUCKETS = [10 * 1.8**index for index in range(33)]  # monitoring::Buckets::Exponential(10, 1.8, 33), then +Inf
METRIC_NAMES = (COUNT, LATENCY)


def _number(value: float) -> str:
    """A double as absl::StrCat writes it (six significant digits, %g)."""
    return f"{value:.6g}"


class TFServingMetrics:
    """The counts and latencies of the requests recorded so far, and their Prometheus page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self._latencies: dict[tuple[str, str, str], list[float]] = defaultdict(list)

    def record(
        self, model: str, status: str, latency_us: float, api: str = "predict", entrypoint: str = "REST"
    ) -> None:
        """One request TF Serving answered with `status`; its latency counts only when it succeeded, as there."""
        with self._lock:
            self._counts[(model, status)] += 1
            if status == "OK":
                self._latencies[(model, api, entrypoint)].append(latency_us)

    def page(self) -> str:
        """The metrics page, in TF Serving's text."""
        with self._lock:
            lines = [f"# TYPE {COUNT} counter"]
            for (model, status), count in sorted(self._counts.items()):
                lines.append(f'{COUNT}{{model_name="{model}",status="{status}"}} {count}')
            lines.append(f"# TYPE {LATENCY} histogram")
            for (model, api, entrypoint), values in sorted(self._latencies.items()):
                labels = f'model_name="{model}",API="{api}",entrypoint="{entrypoint}"'
                for limit in [*BUCKETS, float("inf")]:
                    le = "+Inf" if limit == float("inf") else _number(limit)
                    lines.append(f'{LATENCY}_bucket{{{labels},le="{le}"}} {sum(v < limit for v in values)}')
                lines.append(f"{LATENCY}_sum{{{labels}}} {_number(sum(values))}")
                lines.append(f"{LATENCY}_count{{{labels}}} {len(values)}")
        return "\n".join(lines) + "\n"


@contextlib.contextmanager
def tf_serving_metrics(port: int) -> Iterator[TFServingMetrics]:
    """Serve a `TFServingMetrics` page at 127.0.0.1:`port` until the block ends."""
    metrics = TFServingMetrics()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = (200, metrics.page()) if self.path == PATH else (400, f"Unexpected path: {self.path}")
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")  # what TF Serving sends
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield metrics
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
