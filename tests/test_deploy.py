"""`spacesuite deploy` end to end against a stand-in for the Hugging Face Hub (tests/hub_standin.py: it follows the
Hub's documented HTTP endpoints that huggingface_hub's HfApi calls; see its docstring), with the bundled gender Space
of the tiny pipeline running on 127.0.0.1 as the Space the stand-in reports. The real huggingface_hub and
gradio_client code runs in the deploy process; only the Hub's side is stood in for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run, running_space, serving
from hub_standin import hub_standin
from huggingface_hub import HfApi
from starlette.staticfiles import StaticFiles

from training.deploy import (
    MANIFEST,
    Manifest,
    ModelRecord,
    differences,
    gate,
    hand_edits,
    local_manifest,
    static_smoke_test,
)

TOKEN = "hf_standin_write_token"
OWNER = "tester"
REPO_ID = f"{OWNER}/gender"


@pytest.fixture
def hub(tiny_repo: Path, tmp_path: Path) -> Iterator:
    """The stand-in Hub, with the gender Space's URL pointed at the tiny gender bundle running locally."""
    with hub_standin() as standin, running_space(tiny_repo / "dist" / "spaces" / "gender") as client:
        standin.set_space_url(REPO_ID, client.src.rstrip("/"))
        standin.home = tmp_path / "hf-home"  # huggingface_hub's caches and hf_xet's logs, away from ~/.cache
        yield standin


def deploy(repo: Path, hub, *args: str, space: str = "gender", token: str | None = TOKEN) -> tuple[int, str]:
    """Run `spacesuite deploy <space>` in `repo` against the stand-in; return the exit status and all output.

    `token`: HF_TOKEN's value; None leaves it unset (huggingface_hub then reads the token file in HF_HOME)."""
    env = {
        "HF_ENDPOINT": hub.url,
        **({"HF_TOKEN": token} if token is not None else {}),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(hub.home),
        "SPACESUITE_HUB_OWNER": OWNER,
        "SPACESUITE_TRAFFIC_REPO": f"{OWNER}/traffic",
        "SPACESUITE_TRAFFIC_TOKEN": "hf_traffic_secret",
        "COLUMNS": "200",
    }
    command = ["spacesuite", "deploy", *([space] if space else []), "--timeout", "30", "--poll", "0.1", *args]
    result = run(command, repo, env_extra=env)
    return result.returncode, result.stdout + result.stderr


def hub_files(hub, repo_id: str = REPO_ID) -> set[str]:
    """The files at the head of a Space repo on the stand-in (the Hub's own .gitattributes aside)."""
    return set(hub.files(repo_id)) - {".gitattributes"}


def bundle_files(bundle: Path) -> set[str]:
    return {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}


def answered(model: str) -> float:
    """Requests this process's Spaces answered for `model` on their page (Prometheus counter)."""
    from shared.metrics import REQUESTS

    return sum(
        sample.value
        for metric in REQUESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("model") == model
    )


@pytest.mark.slow
@pytest.mark.integration
def test_deploy_converges_on_the_hub_state(tiny_repo: Path, hub) -> None:
    bundle = tiny_repo / "dist" / "spaces" / "gender"

    # a sample-trained model is blocked, and nothing is created on the Hub
    status, output = deploy(tiny_repo, hub)
    assert status == 1 and "trained on sample data" in output and "blocked: gender" in output
    assert REPO_ID not in hub.spaces

    # first deploy: create, upload the bundle and its manifest, set variables and secrets, wait, call, succeed
    calls = answered("gender")
    status, output = deploy(tiny_repo, hub, "--allow-sample")
    assert status == 0, output
    assert "gender: deployed" in output and "Traceback" not in output
    assert hub_files(hub) == bundle_files(bundle) | {MANIFEST}
    manifest = Manifest.model_validate_json(hub.files(REPO_ID)[MANIFEST])
    assert manifest.bundle_sha256 == local_manifest(bundle, "").bundle_sha256
    assert manifest.models["gender"].data_source == "sample"
    assert hub.variables(REPO_ID) == {"SPACESUITE_TRAFFIC_REPO": f"{OWNER}/traffic"}
    assert hub.secrets(REPO_ID) == {"HF_TOKEN": "hf_traffic_secret"}
    assert "hf_traffic_secret" not in output and TOKEN not in output
    assert answered("gender") > calls  # the smoke test called the running Space on its examples
    commits = len(hub.commits(REPO_ID))

    # a second deploy with nothing changed pushes nothing
    status, output = deploy(tiny_repo, hub, "--allow-sample")
    assert status == 0 and "up to date" in output
    assert len(hub.commits(REPO_ID)) == commits

    # a hand edit on the Hub is reported; the push that would undo it fails; the next run retries and converges
    api = HfApi(endpoint=hub.url, token=TOKEN)
    api.upload_file(path_or_fileobj=b"# edited by hand\n", path_in_repo="app.py", repo_id=REPO_ID, repo_type="space")
    hub.fail_next_commits(REPO_ID, 1)
    status, output = deploy(tiny_repo, hub, "--allow-sample")
    assert status == 1 and "edited on the Hub: app.py edited" in output and "upload failed" in output
    status, output = deploy(tiny_repo, hub, "--allow-sample")
    assert status == 0, output
    assert hub.files(REPO_ID)["app.py"] == (bundle / "app.py").read_bytes()

    # a Space that does not come up is rolled back to the revision it had before
    api.upload_file(path_or_fileobj=b"kept\n", path_in_repo="notes.txt", repo_id=REPO_ID, repo_type="space")
    hub.set_stage(REPO_ID, "RUNTIME_ERROR")
    status, output = deploy(tiny_repo, hub, "--allow-sample")
    assert status == 1 and "RUNTIME_ERROR" in output and "rolled back to" in output
    assert "notes.txt" in hub_files(hub)  # the revision before the failed push, restored
    hub.set_stage(REPO_ID, None)

    # a model that scores worse than the one the Space serves is blocked, unless forced
    served = manifest.model_copy(deep=True)
    served.models["gender"].metrics["accuracy"] = 1.01
    api.upload_file(
        path_or_fileobj=served.model_dump_json().encode(), path_in_repo=MANIFEST, repo_id=REPO_ID, repo_type="space"
    )
    status, output = deploy(tiny_repo, hub, "--allow-sample")
    assert status == 1 and "is worse than the served v1's 1.0100" in output
    status, output = deploy(tiny_repo, hub, "--allow-sample", "--force")
    assert status == 0, output
    assert hub_files(hub) == bundle_files(bundle) | {MANIFEST}


@pytest.mark.slow
@pytest.mark.integration
def test_a_blocked_deploy_exits_1_and_says_why_once(tiny_repo: Path, hub) -> None:
    status, output = deploy(tiny_repo, hub, "--dry-run")
    assert status == 1 and "blocked: gender" in output
    assert "error" not in output and "Traceback" not in output  # typer's Exit(1) is not reported as an error


@pytest.mark.slow
@pytest.mark.integration
def test_deploy_takes_the_token_hf_auth_login_saved(tiny_repo: Path, hub, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    status, output = deploy(tiny_repo, hub, "--allow-sample", token=None)
    assert status == 1 and "no Hugging Face token" in output and REPO_ID not in hub.spaces
    hub.home.mkdir(parents=True, exist_ok=True)
    (hub.home / "token").write_text(TOKEN)  # where `hf auth login` saves it
    status, output = deploy(tiny_repo, hub, "--allow-sample", token=None)
    assert status == 0, output
    assert "gender: deployed" in output and REPO_ID in hub.spaces


def test_the_static_space_is_listed_and_deployed_as_a_static_space(tiny_repo: Path, hub) -> None:
    bundle = tiny_repo / "dist" / "spaces" / "sign-language-web"
    repo_id = f"{OWNER}/sign-language-web"
    with serving(StaticFiles(directory=bundle, html=True)) as url:  # the Hub serves a static Space's files as they are
        hub.set_space_url(repo_id, url)

        # the dry run lists every Space of params.yaml, the static one among them, and pushes nothing
        _, output = deploy(tiny_repo, hub, "--allow-sample", "--dry-run", space="")
        listed = {line.split("│")[1].strip() for line in output.splitlines() if line.count("│") > 3}
        assert {"sign-language", "sign-language-web", "keras-basics", "gender"} <= listed, output
        assert f"{repo_id}" in output and repo_id not in hub.spaces

        # deployed as a static Space: its files and manifest on the Hub, and its page fetched from where it runs
        status, output = deploy(tiny_repo, hub, "--allow-sample", space="sign-language-web")
        assert status == 0, output
        assert "sign-language-web: deployed" in output
        assert hub.spaces[repo_id].sdk == "static"
        assert hub_files(hub, repo_id) == bundle_files(bundle) | {MANIFEST}


def test_static_smoke_test_names_a_page_that_is_not_the_bundle_s(tmp_path: Path) -> None:
    bundle, served = tmp_path / "bundle", tmp_path / "served"
    for folder, page in ((bundle, b"<p>bundled</p>"), (served, b"<p>edited</p>")):
        (folder / "model").mkdir(parents=True)
        (folder / "index.html").write_bytes(page)
        (folder / "model" / "model.json").write_bytes(b"{}")
    with serving(StaticFiles(directory=served, html=True)) as url:
        assert static_smoke_test(url, bundle) == ["index.html: the Space serves another file than the bundle's"]
        assert static_smoke_test(url, served) == []
        (served / "model" / "model.json").unlink()
        assert static_smoke_test(url, served)[0].startswith("model/model.json: the Space answered HTTP ")
    assert "does not answer" in static_smoke_test(url, served)[0]


@pytest.mark.slow
@pytest.mark.integration
def test_a_bundle_that_is_not_the_one_dvc_lock_records_is_blocked(tiny_repo: Path, hub) -> None:
    readme = tiny_repo / "dist" / "spaces" / "gender" / "README.md"
    original = readme.read_bytes()
    readme.write_bytes(original + b"\nedited after the pipeline ran\n")
    try:
        status, output = deploy(tiny_repo, hub, "--allow-sample", "--dry-run")
        assert status == 1 and "not the one dvc.lock records" in output
    finally:
        readme.write_bytes(original)


def test_gate_and_differences_name_what_they_found(tmp_path: Path) -> None:
    def manifest(accuracy: float, source: str = "public", app: str = "a") -> Manifest:
        record = ModelRecord(version=1, data_source=source, metrics={"accuracy": accuracy, "rmse": 0.5})
        files = {"app.py": {"sha256": app, "git_sha1": app, "size": 1}}
        return Manifest.model_validate(
            {"bundle_sha256": app, "files": files, "models": {"gender": record.model_dump()}}
        )

    thresholds = {"gender": {"accuracy": 0.9}}
    assert gate(thresholds, manifest(0.95), None, allow_sample=False, force=False) == []
    assert gate(thresholds, manifest(0.85), None, allow_sample=False, force=False) == [
        "gender: test accuracy 0.8500 < 0.9"
    ]
    assert (
        "trained on sample data" in gate(thresholds, manifest(0.95, "sample"), None, allow_sample=False, force=False)[0]
    )
    assert gate(thresholds, manifest(0.95, "sample"), None, allow_sample=True, force=False) == []
    worse = gate(thresholds, manifest(0.95), manifest(0.97), allow_sample=False, force=False)
    assert worse == ["gender: test accuracy 0.9500 is worse than the served v1's 0.9700"]
    assert gate(thresholds, manifest(0.95), manifest(0.97), allow_sample=False, force=True) == []
    # served on sample data, now on real data: not comparable, not "worse"
    assert gate(thresholds, manifest(0.95), manifest(0.99, "sample"), allow_sample=False, force=False) == []
    # lower is better for rmse: the RMSE/MAE branch
    lower = {"gender": {"rmse": 0.4}}
    assert gate(lower, manifest(0.95), None, allow_sample=False, force=False) == ["gender: test rmse 0.5000 > 0.4"]
    assert differences(manifest(0.9, app="b"), manifest(0.9, app="a")) == ["app.py changed"]
    assert differences(manifest(0.9), None)[0].startswith("no manifest on the Hub")
    assert differences(manifest(0.9), manifest(0.9)) == []


def test_hand_edits_compare_the_hub_files_with_their_manifest() -> None:
    from training.deploy import FileRecord, HubState

    record = FileRecord(sha256="s" * 64, git_sha1="g" * 40, size=3)
    manifest = Manifest(bundle_sha256="x", files={"app.py": record, "model.bin": record}, models={})
    state = HubState(
        exists=True,
        manifest=manifest,
        files={"app.py": ("g" * 40, None), "model.bin": ("pointer", "t" * 64), "extra.txt": ("e", None)},
    )
    assert hand_edits(state) == ["extra.txt added", "model.bin edited"]
    state.files.pop("app.py")
    assert "app.py deleted" in hand_edits(state)


def test_blessing_file_blocks_an_unblessed_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metrics" / "emotion").mkdir(parents=True)
    (tmp_path / "metrics" / "emotion" / "blessing.json").write_text(json.dumps({"blessed": False}))
    record = ModelRecord(version=1, data_source="public", metrics={"f1_macro": 0.9})
    manifest = Manifest(bundle_sha256="x", files={}, models={"emotion": record})
    assert gate({}, manifest, None, allow_sample=False, force=False) == [
        "emotion: not blessed by the evaluate stage (metrics/emotion/blessing.json)"
    ]
