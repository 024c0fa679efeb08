"""Monitoring config (monitoring/): Prometheus scrapes the Spaces' `/metrics/`, the Grafana dashboard queries only
metrics the Spaces export, and TF Serving's model config (generated from the demos' registry) names the SavedModels
that compose mounts. Parsed, never run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from shared.metrics import METRIC_NAMES, REGISTRY
from training.demos import demos
from training.paths import DemoPaths
from training.tfserving import models_config

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
PROVISIONING = MONITORING / "grafana" / "provisioning"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC = re.compile(r"spacesuite_[a-z_]+")
KERAS_MODELS = {demo.name for demo in demos() if demo.framework == "keras"}


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _compose() -> dict:
    return _yaml(MONITORING / "compose.yaml")


def _dashboard() -> dict:
    return json.loads((DASHBOARDS / "spacesuite.json").read_text())


def _histograms() -> set[str]:
    """Base names of the histograms in the Spaces' registry (exported only as _bucket, _sum and _count)."""
    return {family.name for family in REGISTRY.collect() if family.type == "histogram"}


def _exported_series() -> set[str]:
    """Every series name a Space exports: METRIC_NAMES, with each histogram spelled as its three series."""
    histograms = _histograms()
    series = set()
    for name in METRIC_NAMES:
        series |= {name + suffix for suffix in HISTOGRAM_SUFFIXES} if name in histograms else {name}
    return series


def _targets(dashboard: dict) -> list[tuple[str, dict]]:
    return [(panel["title"], target) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def _template_queries(dashboard: dict) -> list[str]:
    queries = []
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def _volumes(service: dict) -> list[tuple[str, str, str]]:
    """A compose service's short-syntax volumes as (source, target, mode)."""
    parsed = []
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        parsed.append((source, target, mode[0] if mode else "rw"))
    return parsed


def _tf_serving_configs() -> list[dict[str, str]]:
    """The `config { ... }` entries of the generated models.config (protobuf text format, string fields)."""
    text = re.sub(r"#[^\n]*", "", models_config())
    assert text.count("{") == text.count("}"), "unbalanced braces in models.config"
    assert re.match(r"\s*model_config_list\s*\{", text), "models.config must be a model_config_list"
    configs = []
    for body in re.findall(r"\bconfig\s*\{([^{}]*)\}", text):
        fields = re.findall(r"(\w+)\s*:\s*(?:'([^']*)'|\"([^\"]*)\")", body)
        configs.append({key: single or double for key, single, double in fields})
    return configs


def test_prometheus_scrapes_the_spaces_metrics_path() -> None:
    config = _yaml(MONITORING / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    jobs = config["scrape_configs"]
    assert jobs, "no scrape_configs"
    for job in jobs:
        assert job["metrics_path"].endswith("/metrics/"), f"{job['job_name']}: /metrics redirects, scrape /metrics/"
    targets = {target for job in jobs for group in job["static_configs"] for target in group["targets"]}
    assert "host.docker.internal:7860" in targets
    text = (MONITORING / "prometheus.yml").read_text()
    assert ".hf.space" in text and "scheme: https" in text, "say how to scrape a Space on the Hub"


def test_prometheus_container_gets_its_config_and_reaches_the_host() -> None:
    prometheus = _compose()["services"]["prometheus"]
    assert ("./prometheus.yml", "/etc/prometheus/prometheus.yml", "ro") in _volumes(prometheus)
    assert "host.docker.internal:host-gateway" in prometheus["extra_hosts"]


def test_dashboard_has_uid_title_and_described_panels() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "spacesuite"
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert panels, "the dashboard has no panels"
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids must be unique"
    for panel in panels:
        assert panel.get("title"), f"panel {panel['id']} has no title"
        assert "Look for" in panel.get("description", ""), f"{panel['title']}: say what a user should look for"
        assert panel.get("targets"), f"{panel['title']} has no query"
    kinds = {panel["type"] for panel in panels}
    assert {"timeseries", "table", "heatmap"} <= kinds


def test_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in _dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} is wider than the grid"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_histograms_are_metric_names() -> None:
    assert _histograms(), "the registry has no histogram"
    assert _histograms() <= set(METRIC_NAMES)


def test_every_query_names_only_exported_metrics() -> None:
    dashboard = _dashboard()
    exported = _exported_series()
    queries = [(title, target["expr"]) for title, target in _targets(dashboard)]
    queries += [("variable", query) for query in _template_queries(dashboard)]
    for title, expr in queries:
        names = set(METRIC.findall(expr))
        assert names, f"{title}: {expr!r} names no spacesuite metric"
        assert names <= exported, f"{title}: {sorted(names - exported)} not exported by the Spaces"
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), f"{title}: {expr!r}"


def test_every_panel_query_follows_the_model_variable() -> None:
    for title, target in _targets(_dashboard()):
        assert 'model=~"$model"' in target["expr"], f"{title}: {target['expr']!r} ignores the model variable"


def test_every_exported_metric_is_on_the_dashboard() -> None:
    dashboard = _dashboard()
    used = {name for _, target in _targets(dashboard) for name in METRIC.findall(target["expr"])}
    histograms = _histograms()
    for name in METRIC_NAMES:
        spellings = {name + suffix for suffix in HISTOGRAM_SUFFIXES} if name in histograms else {name}
        assert used & spellings, f"no panel shows {name}"


def test_model_variable_lists_the_served_models() -> None:
    variables = {variable["name"]: variable for variable in _dashboard()["templating"]["list"]}
    assert "model" in variables
    query = variables["model"]["query"]
    query = query["query"] if isinstance(query, dict) else query
    assert re.fullmatch(r"label_values\(\s*spacesuite_model_info\s*,\s*model\s*\)", query)


def test_dashboard_uses_the_provisioned_datasource() -> None:
    provisioned = _yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert len(provisioned) == 1
    datasource = provisioned[0]
    assert datasource["type"] == "prometheus" and datasource["uid"]
    assert re.fullmatch(r"http://prometheus:9090/?", datasource["url"]), "the compose service name and port"
    assert "prometheus" in _compose()["services"]
    dashboard = _dashboard()
    used = [(panel["title"], panel.get("datasource")) for panel in dashboard["panels"]]
    used += [(title, target["datasource"]) for title, target in _targets(dashboard) if "datasource" in target]
    used += [(variable["name"], variable.get("datasource")) for variable in dashboard["templating"]["list"]]
    for where, reference in used:
        assert isinstance(reference, dict), f"{where}: name the datasource by uid"
        assert reference["uid"] == datasource["uid"], f"{where}: datasource {reference} is not provisioned"
    assert "${DS_" not in json.dumps(dashboard), "no import-time datasource inputs: the datasource is provisioned"


def test_dashboard_provider_reads_the_mounted_dashboards() -> None:
    providers = _yaml(PROVISIONING / "dashboards" / "spacesuite.yml")["providers"]
    assert providers
    grafana = _compose()["services"]["grafana"]
    mounts = {target: source for source, target, _ in _volumes(grafana)}
    assert mounts.get("/etc/grafana/provisioning") == "./grafana/provisioning"
    for provider in providers:
        path = provider["options"]["path"].rstrip("/")
        assert path in mounts, f"provider path {path} is not mounted in the grafana service"
        assert (MONITORING / mounts[path]).resolve() == DASHBOARDS.resolve()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, filename = home.rpartition("/")
    assert (MONITORING / mounts[folder] / filename).is_file()
    for path in DASHBOARDS.glob("*.json"):
        assert json.loads(path.read_text())["uid"], f"{path.name} has no uid"


def test_tf_serving_config_serves_exactly_the_keras_models() -> None:
    configs = _tf_serving_configs()
    names = [config["name"] for config in configs]
    assert len(names) == len(set(names)), f"a model is listed twice: {names}"
    assert set(names) == KERAS_MODELS
    for config in configs:
        assert config["base_path"] == f"/build/{DemoPaths(config['name']).serving(1).parent.relative_to('build')}"
        assert config["model_platform"] == "tensorflow"


def test_compose_mounts_the_pipeline_outputs_where_tf_serving_looks() -> None:
    tfserving = _compose()["services"]["tfserving"]
    mounts = {target: (source, mode) for source, target, mode in _volumes(tfserving)}
    assert mounts["/build"] == ("../build", "ro")  # every SavedModel, and the generated models.config
    command = " ".join(tfserving["command"])
    config_file = re.search(r"--model_config_file=(\S+)", command)
    assert config_file and config_file.group(1) == "/build/tfserving/models.config"
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["tfserving"]
    assert stage["outs"] == ["build/tfserving/models.config"]  # the DVC stage that writes it
    monitoring = re.search(r"--monitoring_config_file=(\S+)", command)
    assert monitoring and mounts[monitoring.group(1)] == ("./tfserving/monitoring.config", "ro")
    assert "prometheus_config" in (MONITORING / "tfserving" / "monitoring.config").read_text()


def test_tf_serving_healthcheck_asks_for_its_metrics_page() -> None:
    test = _compose()["services"]["tfserving"]["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert "/monitoring/prometheus/metrics" in command and "8501" in command


@pytest.mark.parametrize("service", ["prometheus", "grafana", "tfserving"])
def test_compose_service_image_is_pinned(service: str) -> None:
    services = _compose()["services"]
    assert service in services
    image = services[service]["image"]
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{image} has no tag"
    assert tag != "latest" and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{image}: pin a release version"


def test_compose_host_paths_exist_or_are_pipeline_outputs() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        for source, _, _ in _volumes(service):
            if not source.startswith("."):
                assert source in (compose.get("volumes") or {}), f"{name}: named volume {source} is not declared"
            elif source == "../build":
                continue  # the pipeline's outputs
            else:
                path = (MONITORING / source).resolve()
                assert path.is_relative_to(REPO) and path.exists(), f"{name}: {source} does not exist"
