"""Monitoring config (monitoring/): Prometheus scrapes the Spaces' `/metrics/`, TF Serving's own metrics and the
Pushgateway, the Grafana dashboard and the alert rules query only metrics that one of them exports, and TF Serving's
model config (generated from the demos' registry) names the SavedModels that compose mounts. Parsed, and checked by
Debian's `promtool` (config, rules, and the rules' unit tests); tests/test_prometheus.py runs them for real."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_servers import promtool
from tfserving_standin import METRIC_NAMES as TF_SERVING_METRICS
from tfserving_standin import PATH as TF_SERVING_METRICS_PATH
from tfserving_standin import TFServingMetrics

from shared.metrics import METRIC_NAMES, REGISTRY
from training.demos import demos
from training.paths import DemoPaths
from training.pushgateway import METRIC_NAMES as DRIFT_METRICS
from training.tfserving import models_config

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
PROVISIONING = MONITORING / "grafana" / "provisioning"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC = re.compile(r"spacesuite_[a-z_]+")
TF_SERVING_METRIC = re.compile(r":tensorflow:serving:[a-z_]+")
# a name a rule reads or records: the Spaces' and the drift job's (spacesuite_...), TF Serving's, recorded signals
RULE_NAME = re.compile(
    r"(?<![\w:])((?:spacesuite|tfserving)[a-z_]*:[a-z0-9_:]+|spacesuite_[a-z_]+|:tensorflow:serving:[a-z_]+)"
)
ALERT_EXPR = re.compile(r"^(?:.+?\s*(?:==|!=|>=|<=|>|<)\s*[-+0-9.eE]+|absent\(.+\))$")
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


def _tf_serving_series() -> set[str]:
    """Every series name of TF Serving the queries may read (its histogram as _bucket, _sum and _count)."""
    return {":tensorflow:serving:request_count"} | {
        ":tensorflow:serving:request_latency" + suffix for suffix in HISTOGRAM_SUFFIXES
    }


def _rules() -> list[dict]:
    return [rule for group in _yaml(MONITORING / "alerts.yml")["groups"] for rule in group["rules"]]


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


def _jobs() -> dict[str, dict]:
    return {job["job_name"]: job for job in _yaml(MONITORING / "prometheus.yml")["scrape_configs"]}


def _targets_of(job: dict) -> set[str]:
    return {target for group in job["static_configs"] for target in group["targets"]}


def test_prometheus_scrapes_the_spaces_metrics_path() -> None:
    config = _yaml(MONITORING / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    jobs = _jobs()
    assert set(jobs) == {"spacesuite", "tfserving", "pushgateway"}
    spaces = [job for name, job in jobs.items() if name.startswith("spacesuite")]
    for job in spaces:
        assert job["metrics_path"].endswith("/metrics/"), f"{job['job_name']}: /metrics redirects, scrape /metrics/"
    assert "host.docker.internal:7860" in _targets_of(jobs["spacesuite"])
    text = (MONITORING / "prometheus.yml").read_text()
    assert ".hf.space" in text and "scheme: https" in text, "say how to scrape a Space on the Hub"


def test_prometheus_scrapes_tf_serving_where_its_monitoring_config_puts_the_metrics() -> None:
    job = _jobs()["tfserving"]
    monitoring = (MONITORING / "tfserving" / "monitoring.config").read_text()
    path = re.search(r'path:\s*"([^"]+)"', monitoring)
    assert re.search(r"enable:\s*true", monitoring) and path
    assert job["metrics_path"] == path.group(1) == TF_SERVING_METRICS_PATH  # the stand-in serves the same path
    tfserving = _compose()["services"]["tfserving"]
    published = {port.rsplit(":", 2)[-1] for port in tfserving["ports"]}
    assert _targets_of(job) == {f"tfserving:{port}" for port in published} == {"tfserving:8501"}  # the REST port


def test_prometheus_scrapes_the_pushgateway_keeping_the_pushed_job() -> None:
    job = _jobs()["pushgateway"]
    assert job["honor_labels"] is True  # else every pushed series gets job="pushgateway"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    service = _compose()["services"]["pushgateway"]
    assert _targets_of(job) == {"pushgateway:9091"} and "127.0.0.1:9091:9091" in service["ports"]
    persistence = next(arg for arg in service["command"] if arg.startswith("--persistence.file="))
    folder = persistence.split("=", 1)[1].rsplit("/", 1)[0]
    assert folder in {target for _, target, _ in _volumes(service)}, "persist to a volume, or a restart forgets"


def test_prometheus_loads_the_rules_compose_mounts_beside_its_config() -> None:
    config = _yaml(MONITORING / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    mounts = {target: source for source, target, _ in _volumes(_compose()["services"]["prometheus"])}
    config_dir = next(target for target, source in mounts.items() if source == "./prometheus.yml").rsplit("/", 1)[0]
    assert mounts[f"{config_dir}/alerts.yml"] == "./alerts.yml"  # rule_files resolve beside the config file


def test_promtool_passes_the_config_and_its_rules() -> None:
    result = promtool("check", "config", MONITORING / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr
    rules = promtool("check", "rules", MONITORING / "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    result = promtool("test", "rules", MONITORING / "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (MONITORING / "alerts.test.yml").read_text()))
    assert tested == {rule["alert"] for rule in _rules() if "alert" in rule}, "every alert needs a unit test"


def test_every_alert_is_a_signal_against_a_threshold_and_says_what_to_do() -> None:
    alerts = [rule for rule in _rules() if "alert" in rule]
    assert {"SpacesuiteErrorRate", "SpacesuiteLatencyP99", "SpacesuiteNoTraffic", "SpacesuiteDriftJobFailed"} <= {
        rule["alert"] for rule in alerts
    }
    assert {"TFServingErrorRate", "TFServingLatencyP99", "TFServingNoTraffic"} <= {rule["alert"] for rule in alerts}
    for rule in alerts:
        assert ALERT_EXPR.match(rule["expr"].strip()), f"{rule['alert']}: `<signal> <comparison> <number>`"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_rule_reads_only_exported_or_recorded_series() -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    known = _exported_series() | _tf_serving_series() | set(DRIFT_METRICS) | recorded
    for rule in _rules():
        names = set(RULE_NAME.findall(rule["expr"]))
        assert names or rule["expr"].strip() == "up == 0", f"{rule}: reads no known series"
        assert names <= known, f"{rule.get('alert') or rule['record']}: {sorted(names - known)} is exported by nobody"
        if "record" in rule:
            assert rule["record"].count(":") == 2, f"{rule['record']}: name it level:metric:operations"


def test_the_tf_serving_stand_in_writes_the_series_the_queries_read() -> None:
    stand_in = TFServingMetrics()
    stand_in.record("emotion", "OK", 850.0)
    stand_in.record("emotion", "INVALID_ARGUMENT", 0.0)
    page = stand_in.page()
    assert page.startswith(f"# TYPE {TF_SERVING_METRICS[0]} counter\n")
    bucket = ':tensorflow:serving:request_latency_bucket{model_name="emotion",API="predict",entrypoint="REST",le='
    assert f'{bucket}"612.22"}} 0' in page and f'{bucket}"1102"}} 1' in page  # absl's %g, values below the limit
    series = {line.split("{")[0] for line in page.splitlines() if not line.startswith("#")}
    assert series == _tf_serving_series()
    assert 'status="INVALID_ARGUMENT"} 1' in page and page.count("le=") == 34  # 33 limits, then +Inf


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
        names = set(METRIC.findall(expr)) | set(TF_SERVING_METRIC.findall(expr))
        assert names, f"{title}: {expr!r} names no spacesuite or TF Serving metric"
        assert names <= exported | _tf_serving_series(), f"{title}: {sorted(names - exported)} exported by nobody"
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), f"{title}: {expr!r}"


def test_every_panel_query_follows_the_model_variable() -> None:
    for title, target in _targets(_dashboard()):
        label = "model_name" if TF_SERVING_METRIC.search(target["expr"]) else "model"  # TF Serving's label
        assert f'{label}=~"$model"' in target["expr"], f"{title}: {target['expr']!r} ignores the model variable"


def test_the_dashboard_shows_tf_serving_counts_and_latency() -> None:
    queries = " ".join(target["expr"] for _, target in _targets(_dashboard()))
    assert ":tensorflow:serving:request_count" in queries
    assert "histogram_quantile(0.99" in queries and ":tensorflow:serving:request_latency_bucket" in queries
    assert "/ 1e6" in queries  # TF Serving measures microseconds; the panels show seconds


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


@pytest.mark.parametrize("service", ["prometheus", "grafana", "tfserving", "pushgateway"])
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
