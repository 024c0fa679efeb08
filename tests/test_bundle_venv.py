"""Each bundled Space runs on its own: a fresh virtual environment, its own requirements.txt, `python app.py`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from gradio_client import Client, handle_file

from shared.artifact import ModelSpec

pytestmark = pytest.mark.slow
UV = Path(sys.executable).parent / "uv"  # scripts/bootstrap.sh installs it (requirements/constraints.txt pins it)


def _install(python: Path, requirements: list[str]) -> None:
    """Install `requirements` into the venv of `python` with uv (the bootstrap's installer: parallel, and it
    compiles the bytecode once here, where CI's PYTHONDONTWRITEBYTECODE would make every Space start compile Gradio
    from source). A Space on the Hub installs the same lines with pip."""
    install = subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), *requirements],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]


def venvs_for(spaces_dir: Path, scratch: Path) -> Callable[[str], Path]:
    """Python of a fresh venv holding only a Space's requirements (one venv per distinct requirements.txt), by Space.

    The requirements every Space shares (Gradio, LiteRT, ...) are installed once into a base venv; each Space's venv
    is a copy of it plus the Space's own extra lines, so it still holds exactly its requirements.txt.
    """
    wanted = {path.parent.name: path.read_text().split() for path in spaces_dir.glob("*/requirements.txt")}
    common = sorted(set.intersection(*(set(lines) for lines in wanted.values())))
    base = scratch / "venv-base"
    venv.create(base, with_pip=False, symlinks=True)
    _install(base / "bin" / "python", common)
    made: dict[str, Path] = {}

    def python_for(name: str) -> Path:
        key = " ".join(wanted[name])
        if key not in made:
            env_dir = scratch / f"venv-{len(made)}"
            shutil.copytree(base, env_dir, symlinks=True)  # a venv finds its packages from its own location
            python = env_dir / "bin" / "python"
            if extra := [line for line in wanted[name] if line not in common]:
                _install(python, extra)
            tensorflow = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True, check=False)
            assert tensorflow.returncode != 0, "the Space runtime must not pull in TensorFlow"
            made[key] = python
        return made[key]

    return python_for


def _sign_language(client: Client, space: Path) -> None:
    label, _ = client.predict(handle_file(str(space / "examples" / "A.png")), api_name="/predict")
    assert label["label"] == label["label"].upper() and len(label["label"]) == 1


def _bird_species(client: Client, space: Path) -> None:
    label, _, _ = client.predict(handle_file(str(sorted((space / "examples").glob("*.jpg"))[0])), api_name="/predict")
    assert "parrot" in label["label"] or label["label"] == "macaw"


def _keras_basics(client: Client, space: Path) -> None:
    spec = ModelSpec.load(space / "model" / "housing")
    answer = client.predict(*[f.default for f in spec.input.features], api_name="/price")  # type: ignore[union-attr]
    assert "$" in answer
    label, _, _ = client.predict(handle_file(str(space / "examples" / "digits" / "0.png")), api_name="/digit")
    assert label["label"] in "0123456789"


def _gender(client: Client, space: Path) -> None:
    spec = ModelSpec.load(space / "model")
    values = [bool(f.default) if f.kind == "binary" else f.default for f in spec.input.features]  # type: ignore[union-attr]
    label = client.predict(*values, api_name="/predict")
    assert label["label"] in ("Female", "Male")


def _emotion(client: Client, space: Path) -> None:
    label, _, _ = client.predict("i feel so happy and excited today", api_name="/predict")
    assert label["label"] in ("sadness", "joy", "love", "anger", "fear", "surprise")
    base = client.src.rstrip("/")
    reply = httpx.post(f"{base}/v1/models/emotion:predict", json={"instances": ["i am so angry", ""]}, timeout=30)
    assert reply.status_code == 400 and "Instance 1" in reply.json()["error"]
    reply = httpx.post(f"{base}/v1/models/emotion:predict", json={"instances": ["i am so angry"]}, timeout=30)
    assert reply.status_code == 200 and len(reply.json()["predictions"][0]) == 6


CHECKS: dict[str, Callable[[Client, Path], None]] = {
    "sign-language": _sign_language,
    "bird-species": _bird_species,
    "keras-basics": _keras_basics,
    "gender": _gender,
    "emotion": _emotion,
}


def answer_from_fresh_venv(python: Path, bundle: Path, scratch: Path, name: str) -> None:
    """Start a copy of the bundled Space `name` with `python app.py` on a free port and run its check."""
    # run a copy outside the repo, so nothing can be imported from the checkout
    space = scratch / name
    subprocess.run(["cp", "-r", str(bundle), str(space)], check=True)
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(scratch), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    server = subprocess.Popen(
        [str(python), "app.py"], cwd=space, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                client = Client(url, verbose=False)
                break
            except Exception:
                assert server.poll() is None, server.stdout.read().decode()[-3000:] if server.stdout else ""
                assert time.monotonic() < deadline, "the Space did not start in 120 s"
                time.sleep(1)
        CHECKS[name](client, space)
    finally:
        server.terminate()
        server.wait(timeout=30)


def every_bundle_from_a_fresh_venv(repo: Path) -> dict[str, BaseException | None]:
    """Each bundled Space of the tiny repo's copy in its own fresh venv: what its check raised, by Space (in the
    background: venvs are installs and Spaces are processes)."""
    python_for = venvs_for(repo / "dist" / "spaces", repo.parent)
    failures: dict[str, BaseException | None] = {}
    for name in CHECKS:
        try:
            answer_from_fresh_venv(python_for(name), repo / "dist" / "spaces" / name, repo.parent, name)
            failures[name] = None
        except Exception as failure:
            failures[name] = failure
    return failures


@pytest.mark.on_tiny_repo_copy.with_args(every_bundle_from_a_fresh_venv)
@pytest.mark.parametrize("name", list(CHECKS))
def test_bundle_answers_from_a_fresh_venv(tiny_repo_copy_job: dict[str, BaseException | None], name: str) -> None:
    if (failure := tiny_repo_copy_job[name]) is not None:
        raise failure
