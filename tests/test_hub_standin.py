"""The Hub stand-in (hub_standin.py), driven by the real huggingface_hub client through every call deploy makes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hub_standin import GITATTRIBUTES, HubStandin, hub_standin
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    constants,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils._runtime import is_xet_available

pytestmark = pytest.mark.integration

TOKEN = "hf_standin_test_token"
MANIFEST = "spacesuite-manifest.json"
TFLITE = bytes(range(256)) * 8  # binary: the Hub would keep it in LFS


def git_blob_sha1(data: bytes) -> str:
    """`git hash-object` of this content, computed here independently of the stand-in."""
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubStandin]:
    """One stand-in for the module; huggingface_hub's and hf_xet's files go to a temporary HF_HOME."""
    home = tmp_path_factory.mktemp("hf_home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"HF_HOME": home, "HF_XET_CACHE": home / "xet", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
            patch.setenv(name, str(value))
        patch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
        with hub_standin() as standin:
            yield standin


@pytest.fixture
def api(hub: HubStandin) -> HfApi:
    return HfApi(endpoint=hub.url, token=TOKEN)


@pytest.fixture
def space(api: HfApi) -> str:
    repo_id = f"tester/space-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    return repo_id


def download(hub: HubStandin, repo_id: str, filename: str, cache: Path, revision: str | None = None) -> bytes:
    path = hf_hub_download(
        repo_id, filename, repo_type="space", revision=revision, endpoint=hub.url, cache_dir=cache, token=TOKEN
    )
    return Path(path).read_bytes()


def test_create_repo_is_idempotent_and_space_info_has_a_sha(hub: HubStandin, api: HfApi) -> None:
    url = api.create_repo("tester/fresh", repo_type="space", space_sdk="gradio", exist_ok=True)
    again = api.create_repo("tester/fresh", repo_type="space", space_sdk="gradio", exist_ok=True)
    assert url == again == f"{hub.url}/spaces/tester/fresh"
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo("tester/fresh", repo_type="space", space_sdk="gradio")
    assert error.value.response.status_code == 409

    info = api.space_info("tester/fresh")
    assert info.sha == hub.commits("tester/fresh")[0].oid and len(info.sha) == 40
    assert info.sdk == "gradio" and info.host == "https://tester-fresh.hf.space"
    assert hub.files("tester/fresh") == {".gitattributes": GITATTRIBUTES}  # a new repo's first commit, as on the Hub
    assert api.repo_exists("tester/fresh", repo_type="space")
    assert not api.repo_exists("tester/missing", repo_type="space")
    assert api.file_exists("tester/fresh", ".gitattributes", repo_type="space")
    assert not api.file_exists("tester/fresh", MANIFEST, repo_type="space")


def test_private_space_needs_a_token_to_be_read(hub: HubStandin, api: HfApi) -> None:
    api.create_repo("tester/hidden", repo_type="space", space_sdk="gradio", private=True)
    assert api.space_info("tester/hidden").private is True
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url, token=False).space_info("tester/hidden")


def test_upload_folder_history_tree_and_downloads(hub: HubStandin, api: HfApi, space: str, tmp_path: Path) -> None:
    v1 = {
        "app.py": b"import gradio\n",
        "model/model.tflite": TFLITE,
        "model/labels.txt": b"cat\ndog\n",
        MANIFEST: b'{"version": 1}\n',
    }
    v2 = {"app.py": b"import gradio as gr\n", "model/labels.txt": b"cat\ndog\n", MANIFEST: b'{"version": 2}\n'}
    first = api.upload_folder(
        repo_id=space, repo_type="space", folder_path=write_folder(tmp_path / "v1", v1), commit_message="v1",
        delete_patterns=["*"],
    )  # fmt: skip
    second = api.upload_folder(
        repo_id=space, repo_type="space", folder_path=write_folder(tmp_path / "v2", v2), commit_message="v2",
        delete_patterns=["*"],
    )  # fmt: skip

    # The second upload dropped the model (delete_patterns); `.gitattributes` is always kept, as on the Hub.
    assert hub.files(space) == {".gitattributes": GITATTRIBUTES, **v2}
    assert hub.files(space, first.oid) == {".gitattributes": GITATTRIBUTES, **v1}
    assert sorted(api.list_repo_files(space, repo_type="space")) == sorted([".gitattributes", *v2])
    assert api.space_info(space).sha == second.oid

    # Tree oids: git blob ids (`git hash-object`) of the content; for an LFS file, of its pointer, with lfs.sha256.
    tree = {e.path: e for e in api.list_repo_tree(space, repo_type="space", recursive=True, revision=first.oid)}
    assert tree["model"].__class__.__name__ == "RepoFolder"
    for name in ("app.py", "model/labels.txt", MANIFEST):
        assert tree[name].blob_id == git_blob_sha1((tmp_path / "v1" / name).read_bytes()), name
        assert tree[name].size == len(v1[name]) and tree[name].lfs is None
    model = tree["model/model.tflite"]
    assert model.lfs is not None and model.lfs.sha256 == hashlib.sha256(TFLITE).hexdigest()
    assert model.size == model.lfs.size == len(TFLITE)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{model.lfs.sha256}\nsize {len(TFLITE)}\n"
    assert model.blob_id == git_blob_sha1(pointer.encode())
    top = {e.path for e in api.list_repo_tree(space, repo_type="space", revision=first.oid)}
    assert top == {".gitattributes", "app.py", "model", MANIFEST}
    if shutil.which("git"):  # the test's own blob id formula against git itself
        hashed = subprocess.run(["git", "hash-object", str(tmp_path / "v1" / "app.py")], capture_output=True, text=True)
        assert hashed.stdout.strip() == tree["app.py"].blob_id

    commits = api.list_repo_commits(space, repo_type="space")
    assert [c.commit_id for c in commits[:2]] == [second.oid, first.oid] and len(commits) == 3
    assert [c.title for c in commits] == ["v2", "v1", "initial commit"]

    cache = tmp_path / "cache"
    assert download(hub, space, MANIFEST, cache) == v2[MANIFEST]
    assert download(hub, space, MANIFEST, cache, revision=first.oid) == v1[MANIFEST]
    assert download(hub, space, "model/model.tflite", cache, revision=first.oid) == TFLITE
    with pytest.raises(EntryNotFoundError):
        download(hub, space, "model/model.tflite", cache)  # deleted at head
    with pytest.raises(RevisionNotFoundError):
        download(hub, space, MANIFEST, cache, revision="0" * 40)
    with pytest.raises(RepositoryNotFoundError):
        download(hub, "tester/no-such-space", MANIFEST, cache)

    local = Path(
        snapshot_download(
            space, repo_type="space", revision=first.oid, local_dir=tmp_path / "old", endpoint=hub.url,
            cache_dir=cache, token=TOKEN,
        )
    )  # fmt: skip
    got = {str(p.relative_to(local)): p.read_bytes() for p in local.rglob("*") if p.is_file()}
    assert {k: v for k, v in got.items() if not k.startswith(".cache/")} == {".gitattributes": GITATTRIBUTES, **v1}

    # Uploading the same folder again changes nothing: the client sees the unchanged oids and skips the commit.
    again = api.upload_folder(repo_id=space, repo_type="space", folder_path=tmp_path / "v2", commit_message="v2 again")
    assert again.oid == second.oid and len(hub.commits(space)) == 3


def test_create_commit_with_add_and_delete(hub: HubStandin, api: HfApi, space: str) -> None:
    readme = b"---\ntitle: Demo\nsdk: gradio\napp_file: app.py\n---\n"
    api.create_commit(
        space, repo_type="space", commit_message="add",
        operations=[CommitOperationAdd("README.md", readme), CommitOperationAdd("app.py", b"print(1)\n")],
    )  # fmt: skip
    info = api.create_commit(
        space, repo_type="space", commit_message="swap",
        operations=[CommitOperationDelete("app.py"), CommitOperationAdd("main.py", b"print(2)\n")],
    )  # fmt: skip
    assert hub.files(space) == {".gitattributes": GITATTRIBUTES, "README.md": readme, "main.py": b"print(2)\n"}
    assert hub.commits(space)[0].oid == info.oid and hub.commits(space)[0].title == "swap"
    with pytest.raises(EntryNotFoundError):
        api.create_commit(space, repo_type="space", commit_message="x", operations=[CommitOperationDelete("nope.py")])


def test_runtime_stages_and_space_url(hub: HubStandin, api: HfApi, space: str) -> None:
    api.upload_file(path_or_fileobj=b"print(1)\n", path_in_repo="app.py", repo_id=space, repo_type="space")
    stages = [api.get_space_runtime(space).stage for _ in range(4)]
    assert stages == ["BUILDING", "BUILDING", "RUNNING", "RUNNING"]  # hub_standin(building_polls=2)

    hub.set_stage(space, "RUNTIME_ERROR")
    assert api.get_space_runtime(space).stage == "RUNTIME_ERROR"
    hub.set_stage(space, None)
    assert api.get_space_runtime(space).stage == "RUNNING"

    hub.set_space_url(space, "http://127.0.0.1:7861/")
    assert api.space_info(space).host == "http://127.0.0.1:7861"
    runtime = api.get_space_runtime(space)
    assert runtime.raw["domains"] == [{"domain": "127.0.0.1:7861", "stage": "READY"}]
    assert runtime.hardware == "cpu-basic"


def test_variables_and_secrets(hub: HubStandin, api: HfApi, space: str) -> None:
    variables = api.add_space_variable(space, "MODEL", "digits", description="which model")
    assert variables["MODEL"].value == "digits" and variables["MODEL"].description == "which model"
    api.add_space_variable(space, "LEVEL", "info")
    assert {k: v.value for k, v in api.get_space_variables(space).items()} == {"MODEL": "digits", "LEVEL": "info"}
    api.delete_space_variable(space, "LEVEL")
    assert hub.variables(space) == {"MODEL": "digits"}

    api.add_space_secret(space, "API_KEY", "s3cret-value", description="for the API")
    api.add_space_secret(space, "OTHER", "other-s3cret")
    api.delete_space_secret(space, "OTHER")
    assert hub.secrets(space) == {"API_KEY": "s3cret-value"}
    secrets = api.get_space_secrets(space)
    assert list(secrets) == ["API_KEY"] and secrets["API_KEY"].description == "for the API"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("", "/secrets", "/variables", "/runtime"):
        answer = httpx.get(f"{hub.url}/api/spaces/{space}{path}", headers=headers)
        assert answer.status_code == 200 and "s3cret" not in answer.text, path
    # Changing settings restarts a Space on the Hub: it builds again.
    assert api.get_space_runtime(space).stage == "BUILDING"


def test_forced_commit_failures(hub: HubStandin, api: HfApi, space: str, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "app", {"app.py": b"print(1)\n"})
    before = len(hub.commits(space))

    # create_commit posts once: one 500 is an HfHubHTTPError.
    hub.fail_next_commits(space, n=1)
    with pytest.raises(HfHubHTTPError) as error:
        api.create_commit(space, repo_type="space", commit_message="x", operations=[CommitOperationAdd("a", b"a")])
    assert error.value.response.status_code == 500 and len(hub.commits(space)) == before

    # upload_folder with hf_xet (a huggingface_hub 2.4 dependency) retries the commit POST on 408/429/5xx, 1-8 s
    # apart, 5 times: one 500 is absorbed (~1 s). Without it (HF_HUB_DISABLE_XET=1) one 500 is an error, as above.
    attempts = hub.commit_attempts(space)
    hub.fail_next_commits(space, n=1)
    if is_xet_available():
        api.upload_folder(repo_id=space, repo_type="space", folder_path=folder, commit_message="retried")
        assert hub.commit_attempts(space) == attempts + 2
    else:
        with pytest.raises(HfHubHTTPError):
            api.upload_folder(repo_id=space, repo_type="space", folder_path=folder, commit_message="failed")
        api.upload_folder(repo_id=space, repo_type="space", folder_path=folder, commit_message="retried")
    assert hub.commits(space)[0].title == "retried"

    # A status it does not retry fails upload_folder at once.
    (folder / "app.py").write_bytes(b"print(2)\n")
    hub.fail_next_commits(space, n=1, status=412)
    with pytest.raises(HfHubHTTPError) as error:
        api.upload_folder(repo_id=space, repo_type="space", folder_path=folder, commit_message="refused")
    assert error.value.response.status_code == 412 and hub.commits(space)[0].title == "retried"


def test_writes_need_a_token(hub: HubStandin, space: str, tmp_path: Path) -> None:
    anonymous = HfApi(endpoint=hub.url, token=False)
    for call in (
        lambda: anonymous.create_repo("tester/anonymous", repo_type="space", space_sdk="gradio", exist_ok=True),
        lambda: anonymous.upload_folder(
            repo_id=space, repo_type="space", folder_path=write_folder(tmp_path, {"a.py": b""}), commit_message="x"
        ),
        lambda: anonymous.add_space_secret(space, "KEY", "value"),
        lambda: anonymous.add_space_variable(space, "KEY", "value"),
    ):
        with pytest.raises(HfHubHTTPError) as error:
            call()
        assert error.value.response.status_code == 401
    assert anonymous.space_info(space).sha == hub.commits(space)[0].oid  # reading a public Space needs no token
    assert "tester/anonymous" not in hub.spaces
