"""The bundled Space runs on its own: a fresh virtual environment, its own requirements.txt, `python app.py`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from training.sign_language import LETTERS

pytestmark = pytest.mark.slow


def test_bundle_installs_and_answers_in_a_fresh_venv(bundle_dir: Path, tmp_path: Path, port: int) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
        cwd=bundle_dir, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    tensorflow = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True, check=False)
    assert tensorflow.returncode != 0, "the Space runtime must not pull in TensorFlow"
    # run a copy outside the repo, so nothing can be imported from the checkout
    space = tmp_path / "space"
    subprocess.run(["cp", "-r", str(bundle_dir), str(space)], check=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "GRADIO_SERVER_PORT": str(port),
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
        label, _ = client.predict(handle_file(str(space / "examples" / "A.png")), api_name="/predict")
        assert label["label"] in LETTERS
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert sys.executable != str(python)
