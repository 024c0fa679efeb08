"""Deploy: make each Space on the Hub hold exactly its bundle, and only a bundle that passed its gate.

The Hub's state is read, not assumed: every Space repo carries `spacesuite.json`, a manifest of what was pushed
(the bundle's hash and files, the git commit, each model's version, data source and test metrics). A Space is
pushed when its local bundle differs from the manifest on the Hub, so a push that failed is retried by the next
run, and a file edited on the Hub by hand (the Hub's files no longer match the manifest) is reported and replaced.

The gate, per Space: every model meets `spaces.<space>.deploy_when` (test metrics recorded in the bundle; rmse and
mae are maximums), is blessed, was trained on real data (unless `allow_sample`), scores no worse than the model the
Space serves now (unless `force`), and the bundle is byte for byte the one `dvc.lock` records (what was evaluated
is what ships).

A push is one commit (the bundle plus the manifest; files the bundle no longer has are deleted). Then deploy waits
for the Space's runtime to run, calls it with gradio_client on the bundle's own examples (a static Space: fetches
its page and model), and on failure commits the previous revision's files back and reports the Space as rolled back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.artifact import SPEC_FILE, ModelSpec
from shared.features import form_values, read_examples_csv
from training.io import read_json
from training.params import Params
from training.paths import DIST_DIR, DemoPaths
from training.progress import Step, no_steps

MANIFEST = "spacesuite.json"
HUB_ONLY = frozenset({".gitattributes", MANIFEST})  # files of a Space repo that are not the bundle's
NOT_SHIPPED = frozenset({".pyc", ".pyi"})  # written beside the sources by Python and by Gradio (a stub per component
# subclass) when a Space runs from its bundle; .dvcignore skips them too
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
PRIMARY_METRIC = {True: "accuracy", False: "rmse"}  # classifier?, when deploy_when names none
FAILED_STAGES = frozenset({"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "DELETING", "STOPPED"})


class FileRecord(BaseModel):
    """One file of a bundle: its sha256, its git blob id (what the Hub's tree lists for a non-LFS file), its size."""

    model_config = ConfigDict(extra="forbid")
    sha256: str
    git_sha1: str
    size: int


class ModelRecord(BaseModel):
    """What a Space serves of one model: version, data source and test metrics."""

    model_config = ConfigDict(extra="forbid")
    version: int
    data_source: str
    metrics: dict[str, float] = Field(default_factory=dict)


class Manifest(BaseModel):
    """`spacesuite.json` in a Space repo: what deploy pushed there."""

    model_config = ConfigDict(extra="forbid")
    bundle_sha256: str
    commit: str = ""
    files: dict[str, FileRecord]
    models: dict[str, ModelRecord]


def file_record(path: Path) -> FileRecord:
    """sha256, git blob id and size of a file."""
    data = path.read_bytes()
    git = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    return FileRecord(sha256=hashlib.sha256(data).hexdigest(), git_sha1=git, size=len(data))


def bundle_hash(files: Mapping[str, FileRecord]) -> str:
    """One sha256 over every file's path and sha256, in path order."""
    listing = "".join(f"{path} {record.sha256}\n" for path, record in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def model_specs(bundle: Path) -> list[ModelSpec]:
    """The specs of a bundle's models: `model/spec.json`, or `model/<model>/spec.json` for several."""
    folder = bundle / "model"
    if (folder / SPEC_FILE).is_file():
        return [ModelSpec.load(folder)]
    return [ModelSpec.load(path) for path in sorted(folder.glob("*/")) if (path / SPEC_FILE).is_file()]


def local_manifest(bundle: Path, commit: str) -> Manifest:
    """The manifest of a bundle folder as deploy would push it."""
    files = {
        path.relative_to(bundle).as_posix(): file_record(path)
        for path in sorted(bundle.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.name not in HUB_ONLY
        and path.suffix not in NOT_SHIPPED
    }
    models = {
        spec.name: ModelRecord(version=spec.version, data_source=spec.data.source, metrics=spec.metrics)
        for spec in model_specs(bundle)
    }
    return Manifest(bundle_sha256=bundle_hash(files), commit=commit, files=files, models=models)


@dataclass
class HubState:
    """A Space repo as the Hub has it: whether it exists, its head commit, its manifest and its files."""

    exists: bool
    sha: str | None = None
    manifest: Manifest | None = None
    files: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # path → (git blob id, LFS sha256)
    error: str | None = None  # the Hub could not be read


def read_hub_state(api: Any, repo_id: str) -> HubState:
    """Read a Space repo's head, manifest and file list through the Hub API (`HfApi`); an unreachable Hub is
    reported in `error`, never raised."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = api.space_info(repo_id)
    except RepositoryNotFoundError:
        return HubState(exists=False)
    except Exception as error:
        return HubState(exists=False, error=f"{type(error).__name__}: {str(error)[:200]}")
    return _existing_state(api, repo_id, info.sha)


def _existing_state(api: Any, repo_id: str, sha: str) -> HubState:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    tree = api.list_repo_tree(repo_id, repo_type="space", recursive=True, revision=sha)
    files = {
        entry.path: (entry.blob_id, entry.lfs.sha256 if entry.lfs else None)
        for entry in tree
        if hasattr(entry, "blob_id")
    }
    manifest = None
    if MANIFEST in files:
        try:
            with tempfile.TemporaryDirectory() as cache:
                path = hf_hub_download(
                    repo_id, MANIFEST, repo_type="space", revision=sha, cache_dir=cache,
                    endpoint=api.endpoint, token=api.token,
                )  # fmt: skip
                manifest = Manifest.model_validate(read_json(Path(path)))
        except (EntryNotFoundError, ValueError):
            manifest = None  # unreadable: treated as a Space without a manifest
    return HubState(exists=True, sha=sha, manifest=manifest, files=files)


def hand_edits(state: HubState) -> list[str]:
    """Files on the Hub that differ from what its manifest says was pushed (edited, added or deleted by hand)."""
    if state.manifest is None:
        return []
    recorded = state.manifest.files
    edits = []
    for path, (blob_id, lfs_sha256) in sorted(state.files.items()):
        if path in HUB_ONLY:
            continue
        record = recorded.get(path)
        if record is None:
            edits.append(f"{path} added")
        elif (lfs_sha256 or blob_id) != (record.sha256 if lfs_sha256 else record.git_sha1):
            edits.append(f"{path} edited")
    edits += [f"{path} deleted" for path in sorted(set(recorded) - set(state.files))]
    return edits


def differences(local: Manifest, hub: Manifest | None) -> list[str]:
    """Why a bundle must be pushed: what differs from the manifest on the Hub ("new Space" when there is none)."""
    if hub is None:
        return ["no manifest on the Hub (new Space, or never deployed by spacesuite)"]
    if hub.bundle_sha256 == local.bundle_sha256:
        return []
    changed = [path for path in sorted(local.files) if path in hub.files and hub.files[path] != local.files[path]]
    lines = [f"{path} changed" for path in changed[:8]] + ([f"... {len(changed) - 8} more"] if len(changed) > 8 else [])
    lines += [f"{path} added" for path in sorted(set(local.files) - set(hub.files))]
    lines += [f"{path} removed" for path in sorted(set(hub.files) - set(local.files))]
    return lines or ["bundle hash differs"]


def gate(
    thresholds: Mapping[str, Mapping[str, float]],
    local: Manifest,
    hub: Manifest | None,
    *,
    allow_sample: bool,
    force: bool,
) -> list[str]:
    """Every reason not to push a bundle: a missed threshold, an unblessed or sample-trained model, or a model
    that scores worse than the one the Space serves now (compared on the same kind of data)."""
    failures = []
    for model, record in local.models.items():
        for metric, threshold in (thresholds.get(model) or {}).items():
            value = record.metrics.get(metric)
            if value is None:
                failures.append(f"{model}: the bundle records no test {metric}")
            elif (value > threshold) if metric in LOWER_IS_BETTER else (value < threshold):
                sign = ">" if metric in LOWER_IS_BETTER else "<"
                failures.append(f"{model}: test {metric} {value:.4f} {sign} {threshold}")
        blessing = DemoPaths(model).metrics / "blessing.json"
        if blessing.is_file() and not read_json(blessing).get("blessed", False):
            failures.append(f"{model}: not blessed by the evaluate stage ({blessing})")
        if record.data_source == "sample" and not allow_sample:
            failures.append(f"{model}: trained on sample data (train on the public data, or --allow-sample)")
        served = hub.models.get(model) if hub is not None else None
        if served is not None and not force and (served.data_source == "sample") == (record.data_source == "sample"):
            failures += worse_than_served(model, record, served, thresholds.get(model) or {})
    return failures


def worse_than_served(
    model: str, candidate: ModelRecord, served: ModelRecord, thresholds: Mapping[str, float]
) -> list[str]:
    """The gated metrics (or accuracy / rmse) on which `candidate` scores worse than the model the Space serves."""
    metrics = list(thresholds) or [m for m in PRIMARY_METRIC.values() if m in candidate.metrics]
    worse = []
    for metric in metrics:
        new, old = candidate.metrics.get(metric), served.metrics.get(metric)
        if new is None or old is None:
            continue
        if (new > old) if metric in LOWER_IS_BETTER else (new < old):
            worse.append(f"{model}: test {metric} {new:.4f} is worse than the served v{served.version}'s {old:.4f}")
    return worse


def stale_bundles(spaces: list[str]) -> dict[str, str]:
    """Spaces whose bundle (or an input of it) differs from what `dvc.lock` records, with DVC's words for it."""
    from dvc.repo import Repo

    stale = {}
    with Repo() as repo:
        makers = {out.def_path: stage.addressing for stage in repo.index.stages for out in stage.outs}
        for space in spaces:
            stage = makers.get((DIST_DIR / space).as_posix())
            status = repo.status(targets=[stage], with_deps=False) if stage else {"dvc.yaml": "no stage bundles it"}
            if status:
                stale[space] = json.dumps(status, sort_keys=True)[:300]
    return stale


@dataclass
class SpacePlan:
    """What deploy does with one Space, and why."""

    space: str
    repo_id: str
    bundle: Path
    local: Manifest | None
    hub: HubState
    changes: list[str] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        """push, blocked (it should go out but fails its gate) or up to date."""
        if not self.changes and not self.edits:
            return "up to date"
        return "blocked" if self.failures else "push"

    @property
    def url(self) -> str:
        """The Space's page on the Hub."""
        return f"https://huggingface.co/spaces/{self.repo_id}"


def plan(
    params: Params,
    spaces: list[str],
    *,
    api: Any,
    commit: str,
    owner: str | None = None,
    force: bool = False,
    allow_sample: bool = False,
    bundles: Path = DIST_DIR,
) -> list[SpacePlan]:
    """A plan per Space: the Hub's state, what differs from the local bundle, and the gate's verdict."""
    built = [space for space in spaces if is_bundled(bundles / space)]
    stale = stale_bundles(built) if built else {}
    plans = []
    for space in spaces:
        section = params.space(space)
        bundle = bundles / space
        repo = repo_id(section.repo_id, owner)
        hub = read_hub_state(api, repo)
        if space not in built:
            failure = f"no bundle at {bundle} (run dvc repro, or dvc pull)"
            plans.append(SpacePlan(space, repo, bundle, None, hub, ["not built"], failures=[failure]))
            continue
        local = local_manifest(bundle, commit)
        failures = gate(section.deploy_when, local, hub.manifest, allow_sample=allow_sample, force=force)
        if hub.error:
            failures.append(f"cannot read the Space on the Hub ({hub.error})")
        if space in stale:
            failures.append(f"the bundle is not the one dvc.lock records (dvc status: {stale[space]})")
        changes = differences(local, hub.manifest) or (["forced"] if force else [])
        plans.append(SpacePlan(space, repo, bundle, local, hub, changes, hand_edits(hub), failures))
    return plans


def is_bundled(bundle: Path) -> bool:
    """Whether `bundle` holds a complete Space: its card (written last by the bundle stage) and the app file it
    names (app.py for a Gradio Space, index.html for a static one)."""
    from training.cards import DEFAULT_APP_FILE, space_sdk

    readme = bundle / "README.md"
    return readme.is_file() and (bundle / DEFAULT_APP_FILE.get(space_sdk(readme), "app.py")).is_file()


def repo_id(configured: str, owner: str | None) -> str:
    """`owner/name` from params, with the owner replaced by `SPACESUITE_HUB_OWNER` when that is set."""
    return f"{owner}/{configured.split('/', 1)[1]}" if owner else configured


def hub_owner(environ: Mapping[str, str] = os.environ) -> str | None:
    """The Hub owner that replaces the one in params (`SPACESUITE_HUB_OWNER`, e.g. a fork's user), if set."""
    return environ.get("SPACESUITE_HUB_OWNER", "").strip() or None


def space_settings(environ: Mapping[str, str] = os.environ) -> tuple[dict[str, str], dict[str, str]]:
    """The Space variables and secrets deploy sets, from this environment: the traffic log's Hub dataset
    (`SPACESUITE_TRAFFIC_REPO`) and the token a Space pushes it with (`SPACESUITE_TRAFFIC_TOKEN` → `HF_TOKEN`)."""
    variables, secrets = {}, {}
    if environ.get("SPACESUITE_TRAFFIC_REPO", "").strip():
        variables["SPACESUITE_TRAFFIC_REPO"] = environ["SPACESUITE_TRAFFIC_REPO"].strip()
    if environ.get("SPACESUITE_TRAFFIC_TOKEN", "").strip():
        secrets["HF_TOKEN"] = environ["SPACESUITE_TRAFFIC_TOKEN"].strip()
    return variables, secrets


def commit_bundle(api: Any, space_plan: SpacePlan, message: str) -> str:
    """One commit making the Space repo hold exactly the bundle plus its manifest; returns the new commit id."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    assert space_plan.local is not None
    operations: list[Any] = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(space_plan.bundle / path))
        for path in space_plan.local.files
    ]
    manifest = space_plan.local.model_dump_json(indent=2).encode()
    operations.append(CommitOperationAdd(path_in_repo=MANIFEST, path_or_fileobj=manifest))
    gone = set(space_plan.hub.files) - set(space_plan.local.files) - HUB_ONLY
    operations += [CommitOperationDelete(path_in_repo=path) for path in sorted(gone)]
    info = api.create_commit(space_plan.repo_id, operations, commit_message=message, repo_type="space")
    return info.oid


def wait_until_running(api: Any, repo_id: str, *, timeout_s: float, poll_s: float, step: Step = no_steps) -> str:
    """Poll the Space's runtime until it runs; return the last stage seen (RUNNING, a failure stage, or the stage
    still reported when `timeout_s` ran out). `step` hears the seconds waited, out of `timeout_s`."""
    start = time.monotonic()
    stage = "UNKNOWN"
    while True:
        stage = str(api.get_space_runtime(repo_id).stage)
        waited = time.monotonic() - start
        step(f"{repo_id}: waiting for the Space to run (seconds)", int(waited), int(timeout_s))
        if stage == "RUNNING" or stage in FAILED_STAGES or waited > timeout_s:
            return stage
        time.sleep(poll_s)


def space_url(api: Any, repo_id: str) -> str:
    """The base URL the Space's app answers on (`https://<owner>-<name>.hf.space` on the Hub)."""
    host = getattr(api.space_info(repo_id), "host", None)
    return host or f"https://{repo_id.replace('/', '-').replace('_', '-').lower()}.hf.space"


def examples(bundle: Path, spec: ModelSpec) -> list[Any]:
    """The bundle's own examples of one model, as arguments for its page endpoint: image paths, texts or rows."""
    single = (bundle / "model" / SPEC_FILE).is_file()
    folder = bundle / "examples" if single else bundle / "examples" / spec.name
    kind = spec.input.kind
    if kind == "image":
        return sorted(p for p in folder.glob("*") if p.suffix in {".png", ".jpg"})
    if kind == "text":
        return json.loads((folder / "examples.json").read_text(encoding="utf-8"))
    return [form_values(row, spec.input.features) for row in read_examples_csv(folder / "examples.csv")]


def endpoint_for(api_info: Mapping[str, Any], spec: ModelSpec) -> str:
    """The page endpoint that answers one model: the one whose inputs are an image, a text or one value per
    feature, as the model takes (sketch and explanation endpoints aside).

    Raises:
        LookupError: the Space has no such endpoint.
    """
    for name, endpoint in api_info.get("named_endpoints", {}).items():
        components = [str(p.get("component", "")).lower() for p in endpoint.get("parameters", [])]
        if name.endswith(("_sketch", "explain")) or not components:  # a drawing, or an explanation of the answer
            continue
        if spec.input.kind == "image" and components[0] in {"image", "imageupload"}:
            return name
        if spec.input.kind == "text" and components == ["textbox"]:
            return name
        features = getattr(spec.input, "features", [])
        if spec.input.kind == "tabular" and len(components) == len(features) and "image" not in components:
            return name
    raise LookupError(f"no page endpoint of this Space takes {spec.name}'s {spec.input.kind} input")


def smoke_test(url: str, bundle: Path, token: str | None) -> list[str]:
    """Call the Space at `url` with gradio_client on every model's bundled examples; return what went wrong."""
    from gradio_client import Client, handle_file

    try:
        client = Client(url, token=token, verbose=False)
        api_info = client.view_api(print_info=False, return_format="dict")
    except Exception as error:
        return [f"the Space at {url} does not answer ({type(error).__name__}: {str(error)[:200]})"]
    problems = []
    for spec in model_specs(bundle):
        try:
            endpoint = endpoint_for(api_info, spec)
            for example in examples(bundle, spec)[:3]:
                args = [handle_file(str(example))] if spec.input.kind == "image" else example
                result = client.predict(*(args if isinstance(args, list) else [args]), api_name=endpoint)
                answer = result[0] if isinstance(result, list | tuple) else result
                if spec.labels and (not isinstance(answer, dict) or answer.get("label") not in spec.labels):
                    problems.append(f"{spec.name}: {endpoint} answered {str(answer)[:120]!r}, not one of its labels")
        except Exception as error:
            problems.append(f"{spec.name}: {type(error).__name__}: {str(error)[:200]}")
    return problems


def static_smoke_test(url: str, bundle: Path) -> list[str]:
    """Fetch a static Space's page and its model's manifest from `url`; return what differs from the bundle."""
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    problems = []
    for path in ("index.html", "model/model.json"):
        try:
            with urlopen(f"{url.rstrip('/')}/{path}", timeout=30) as response:
                served = response.read()
        except HTTPError as error:
            problems.append(f"{path}: the Space answered HTTP {error.code}")
            continue
        except (URLError, OSError) as error:
            problems.append(f"the Space at {url} does not answer ({type(error).__name__}: {str(error)[:200]})")
            break
        if served != (bundle / path).read_bytes():
            problems.append(f"{path}: the Space serves another file than the bundle's")
    return problems


def roll_back(api: Any, repo_id: str, revision: str, message: str) -> str:
    """Commit the files of `revision` back as the Space's head (files added since are deleted); returns the commit."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, snapshot_download

    with tempfile.TemporaryDirectory() as folder:
        snapshot_download(
            repo_id, repo_type="space", revision=revision, local_dir=folder, endpoint=api.endpoint, token=api.token
        )
        root = Path(folder)
        previous = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts}
        tree = api.list_repo_tree(repo_id, repo_type="space", recursive=True)
        head = {entry.path for entry in tree if hasattr(entry, "blob_id")}
        operations: list[Any] = [
            CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(root / path)) for path in sorted(previous)
        ]
        gone = head - previous - {".gitattributes"}
        operations += [CommitOperationDelete(path_in_repo=path) for path in sorted(gone)]
        return api.create_commit(repo_id, operations, commit_message=message, repo_type="space").oid


@dataclass
class Outcome:
    """How one push ended: deployed, or why not (and whether the previous revision was restored)."""

    space: str
    ok: bool
    detail: str


def push(
    api: Any,
    space_plan: SpacePlan,
    *,
    revision: str,
    token: str | None,
    timeout_s: float = 900,
    poll_s: float = 10,
    environ: Mapping[str, str] = os.environ,
    progress: Callable[[str], None] = print,
    step: Step = no_steps,
) -> Outcome:
    """Push one Space, wait for it to run, call it; roll back to the previous revision if it does not answer.

    `progress` hears one line per phase, `step` the wait for the Space to run."""
    from training.cards import space_sdk

    sdk = space_sdk(space_plan.bundle / "README.md")
    api.create_repo(space_plan.repo_id, repo_type="space", space_sdk=sdk, exist_ok=True)
    variables, secrets = space_settings(environ)
    for key, value in variables.items():
        api.add_space_variable(space_plan.repo_id, key, value)
    for key, value in secrets.items():
        api.add_space_secret(space_plan.repo_id, key, value)
    previous = space_plan.hub.sha
    try:
        commit = commit_bundle(api, space_plan, f"Deploy {space_plan.space} from {revision}")
    except Exception as error:  # the Hub refused or failed: the next run sees the old manifest and retries
        return Outcome(space_plan.space, False, f"upload failed ({type(error).__name__}: {str(error)[:200]})")
    progress(f"{space_plan.space}: pushed {commit[:8]}, waiting for the Space to run")
    stage = wait_until_running(api, space_plan.repo_id, timeout_s=timeout_s, poll_s=poll_s, step=step)
    problems = [f"the Space is {stage}, not RUNNING"] if stage != "RUNNING" else []
    if not problems:
        progress(f"{space_plan.space}: running; calling it on its examples")
        url = space_url(api, space_plan.repo_id)
        problems = (
            static_smoke_test(url, space_plan.bundle) if sdk == "static" else smoke_test(url, space_plan.bundle, token)
        )
    if not problems:
        return Outcome(space_plan.space, True, f"{space_plan.url} ({commit[:8]})")
    if previous is None:
        return Outcome(space_plan.space, False, f"{'; '.join(problems)}; nothing to roll back to (first deploy)")
    restored = roll_back(api, space_plan.repo_id, previous, f"Roll back {space_plan.space} to {previous[:8]}")
    return Outcome(
        space_plan.space, False, f"{'; '.join(problems)}; rolled back to {previous[:8]} (commit {restored[:8]})"
    )
