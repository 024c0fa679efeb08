"""Each bundled Space runs on its own: a fresh virtual environment, its own requirements.txt, `python app.py`."""

from __future__ import annotations

import os
import subprocess
import time
import venv
from collections.abc import Callable
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from shared.artifact import ModelSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def space_python(tmp_path_factory: pytest.TempPathFactory, spaces_dir: Path) -> Path:
    """A fresh venv with only a Space's requirements (all Spaces pin the same runtime)."""
    requirements = {
        (spaces_dir / s / "requirements.txt").read_text() for s in ("sign-language", "bird-species", "keras-basics")
    }
    assert len(requirements) == 1, "every Space should pin the same runtime"
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(spaces_dir / "sign-language" / "requirements.txt")],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    tensorflow = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True, check=False)
    assert tensorflow.returncode != 0, "the Space runtime must not pull in TensorFlow"
    return python


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


CHECKS: dict[str, Callable[[Client, Path], None]] = {
    "sign-language": _sign_language,
    "bird-species": _bird_species,
    "keras-basics": _keras_basics,
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_bundle_answers_from_a_fresh_venv(
    space_python: Path, spaces_dir: Path, tmp_path: Path, port: int, name: str
) -> None:
    # run a copy outside the repo, so nothing can be imported from the checkout
    space = tmp_path / "space"
    subprocess.run(["cp", "-r", str(spaces_dir / name), str(space)], check=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    server = subprocess.Popen(
        [str(space_python), "app.py"], cwd=space, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
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
