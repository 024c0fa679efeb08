"""Dockerfile, .dockerignore and compose.yaml (one bundled Space in a container). No Docker engine here: the files are
parsed and checked for what the image relies on, and the HEALTHCHECK command is run against a local server."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from shared.traffic import traffic_settings
from training.params import load_params

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
Instruction = tuple[str, str]  # (INSTRUCTION, arguments)


def _instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions in order, continuation lines joined, comments and the parser directive left out."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions


def _dockerfile() -> list[Instruction]:
    return _instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _all(instructions: list[Instruction], keyword: str) -> list[tuple[int, str]]:
    return [(index, arguments) for index, (name, arguments) in enumerate(instructions) if name == keyword]


def _one(instructions: list[Instruction], keyword: str) -> tuple[int, str]:
    found = _all(instructions, keyword)
    assert len(found) == 1, f"{keyword}: {len(found)} instructions, expected 1"
    return found[0]


def _env(instructions: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for _, arguments in _all(instructions, "ENV"):
        for pair in shlex.split(arguments):
            key, sep, value = pair.partition("=")
            assert sep, f"ENV {pair}: use the KEY=value form"
            values[key] = value
    return values


def _compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


# --- Dockerfile --------------------------------------------------------------------------------------------------


def test_instructions_parse() -> None:
    """The parser the tests rely on: continuations joined, comments skipped."""
    text = '# c\nFROM a:1\nRUN x \\\n    && y\n# c\nCMD ["z"]\n'
    assert _instructions(text) == [("FROM", "a:1"), ("RUN", "x && y"), ("CMD", '["z"]')]


def test_base_image_is_pinned_to_the_projects_python() -> None:
    instructions = _dockerfile()
    index, image = _one(instructions, "FROM")
    assert index == 0
    name, _, tag = image.partition(":")
    assert name == "python" and tag and tag != "latest", image
    requires = re.search(r'requires-python = ">=(\d+\.\d+)', (REPO / "pyproject.toml").read_text())
    assert requires, "requires-python in pyproject.toml"
    # a patch release (3.11.N), not a moving tag such as 3.11 or 3.11-slim
    assert re.fullmatch(rf"{re.escape(requires[1])}\.\d+-slim(-\w+)?", tag), tag


def test_space_build_arg_selects_the_bundle_that_is_copied() -> None:
    instructions = _dockerfile()
    from_index, _ = _one(instructions, "FROM")
    arg_index, arg = _one(instructions, "ARG")
    name, _, default = arg.partition("=")
    assert name == "SPACE" and default in load_params(REPO / "params.yaml").spaces
    assert arg_index > from_index, "an ARG before FROM is not in scope for COPY"
    copies = _all(instructions, "COPY")
    assert copies and all(index > arg_index for index, _ in copies)
    assert any(arguments.split()[-2] == "dist/spaces/${SPACE}/" for _, arguments in copies), copies
    for _, arguments in copies:
        assert "dist/spaces/${SPACE}/" in arguments, f"COPY {arguments}: only the chosen bundle goes in"
        assert "--chown=user:user" in arguments.split(), f"COPY {arguments}: the files belong to the app's user"


def test_requirements_installed_without_cache_before_the_app_is_copied() -> None:
    instructions = _dockerfile()
    installs = [(index, run) for index, run in _all(instructions, "RUN") if "pip install" in run]
    assert len(installs) == 1
    index, run = installs[0]
    assert "--no-cache-dir" in run.split() and "-r requirements.txt" in run
    copies = _all(instructions, "COPY")
    requirements = [i for i, arguments in copies if arguments.split()[-2].endswith("/requirements.txt")]
    whole = [i for i, arguments in copies if arguments.split()[-2] == "dist/spaces/${SPACE}/"]
    assert requirements and whole and requirements[0] < index < whole[0], "install, then copy the rest (layer cache)"


def test_runs_as_a_non_root_user_with_uid_1000() -> None:
    instructions = _dockerfile()
    users = _all(instructions, "USER")
    cmd_index, _ = _one(instructions, "CMD")
    assert users and users[-1][0] < cmd_index
    user = users[-1][1]
    assert user.split(":")[0] not in {"root", "0"}
    created = [run for _, run in _all(instructions, "RUN") if "useradd" in run]
    assert created and "--uid 1000" in created[0], "the Hub runs Docker Spaces as uid 1000"
    assert re.search(rf"useradd [^&]*\b{re.escape(user)}\b", created[0]), f"USER {user} is the one created"


def test_serves_on_all_interfaces_port_7860_with_traffic_in_the_volume() -> None:
    instructions = _dockerfile()
    _, exposed = _one(instructions, "EXPOSE")
    assert exposed == "7860"
    env = _env(instructions)
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0"
    assert env["GRADIO_SERVER_PORT"] == "7860"
    assert env["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert env["PYTHONUNBUFFERED"] == "1"
    folder, _, _ = traffic_settings({"SPACESUITE_TRAFFIC_DIR": env["SPACESUITE_TRAFFIC_DIR"]})
    assert folder == Path("/home/user/traffic")


def test_cmd_starts_the_bundled_app() -> None:
    _, cmd = _one(_dockerfile(), "CMD")
    assert json.loads(cmd) == ["python", "app.py"]


def _healthcheck() -> list[str]:
    _, healthcheck = _one(_dockerfile(), "HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert command, "HEALTHCHECK [options] CMD [...]"
    assert all(option.startswith("--") for option in options.split())
    argv = json.loads(command)
    assert argv[0] == "python", "the image has python, not curl or wget"
    return argv


class _Metrics(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/metrics/" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server(status: int) -> Iterator[int]:
    handler = type("Handler", (_Metrics,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (500, False), (None, False)])
def test_healthcheck_asks_metrics(status: int | None, healthy: bool) -> None:
    """Healthy only when /metrics/ answers 2xx (None: nothing listens on the port)."""
    argv = _healthcheck()
    with _server(status or 200) as live_port:
        port = _free_port() if status is None else live_port
        result = subprocess.run(
            [sys.executable, *argv[1:]],
            env={**os.environ, "GRADIO_SERVER_PORT": str(port)},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert (result.returncode == 0) is healthy, result.stderr


def test_healthcheck_defaults_to_port_7860(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without GRADIO_SERVER_PORT the check asks 127.0.0.1:7860 (the command is run with urlopen stubbed)."""
    argv = _healthcheck()
    assert argv[1] == "-c"
    asked: list[str] = []
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout=None: asked.append(url))
    exec(compile(argv[2], "HEALTHCHECK", "exec"), {})
    assert asked == ["http://127.0.0.1:7860/metrics/"]


# --- .dockerignore -----------------------------------------------------------------------------------------------


def test_dockerignore_keeps_only_the_bundles() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "exclude everything first"
    assert [p for p in patterns if p.startswith("!")] == ["!dist/spaces"]
    assert patterns.index("!dist/spaces") == 1


# --- compose.yaml ------------------------------------------------------------------------------------------------


def test_compose_is_valid_against_the_compose_spec() -> None:
    """check-jsonschema's vendored Compose Specification schema (offline)."""
    tool = Path(sys.executable).parent / "check-jsonschema"
    assert tool.exists(), "check-jsonschema is in the dev extra: run scripts/bootstrap.sh"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(REPO / "compose.yaml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_builds_the_chosen_space() -> None:
    service = _compose()["services"]["space"]
    build = service["build"]
    assert build["context"] == "."
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    _, arg = _one(_dockerfile(), "ARG")
    default = arg.partition("=")[2]
    assert build["args"] == {"SPACE": f"${{SPACE:-{default}}}"}


def test_compose_binds_the_port_to_localhost_only() -> None:
    ports = _compose()["services"]["space"]["ports"]
    assert ports == ["127.0.0.1:7860:7860"]


def test_compose_keeps_the_traffic_log_in_a_named_volume() -> None:
    compose = _compose()
    traffic_dir = _env(_dockerfile())["SPACESUITE_TRAFFIC_DIR"]
    mounts = [volume.split(":") for volume in compose["services"]["space"]["volumes"]]
    assert [name for name, target, *_ in mounts if target == traffic_dir] == ["traffic"]
    assert "traffic" in compose["volumes"]
    # the Hub push is configured at run time, never baked into the file
    assert set(compose["services"]["space"].get("environment", [])) <= {"SPACESUITE_TRAFFIC_REPO", "HF_TOKEN"}


def test_compose_header_says_dvc_repro_first() -> None:
    header = (REPO / "compose.yaml").read_text(encoding="utf-8").split("\nname:")[0]
    assert 0 <= header.find("dvc repro") < header.find("SPACE=emotion docker compose up --build")
