"""A stand-in for the Hugging Face Hub in tests: Space repos kept in memory, served over HTTP on 127.0.0.1.

The real `huggingface_hub` client (2.4) talks to it when given its `.url` as `endpoint=` (or HF_ENDPOINT). It follows
these documented Hub HTTP endpoints (https://huggingface.co/docs/hub/api), answering in the shapes the client parses:

    POST   /api/repos/create                              create_repo (409 when it exists)
    GET    /api/spaces/{repo_id}[/revision/{revision}]    space_info, repo_info, repo_exists
    GET    /api/spaces/{repo_id}/tree/{revision}[/{path}] list_repo_tree, list_repo_files (?recursive=true)
    GET    /api/spaces/{repo_id}/commits/{revision}       list_repo_commits (newest first)
    POST   /api/spaces/{repo_id}/preupload/{revision}     upload modes (create_commit, upload_folder)
    POST   /api/spaces/{repo_id}/commit/{revision}        NDJSON commit: header, file, deletedFile, deletedFolder
    HEAD   /spaces/{repo_id}/resolve/{revision}/{path}    file metadata (hf_hub_download, file_exists)
    GET    /spaces/{repo_id}/resolve/{revision}/{path}    file content
    GET    /api/spaces/{repo_id}/runtime                  get_space_runtime
    GET    /api/spaces/{repo_id}/variables                get_space_variables (POST: add, DELETE: delete)
    GET    /api/spaces/{repo_id}/secrets                  get_space_secrets, never values (POST: add, DELETE: delete)
    POST   /api/validate-yaml                             README metadata check of create_commit (always valid)

On purpose:
- Spaces only, one branch: a revision is `main` or a full commit id. A new Space starts with a `.gitattributes`
  commit, as on the Hub. Every commit gets a random 40-hex id; the whole history is kept.
- Preupload answers `uploadMode: "regular"` for every file: contents come base64-inline in the commit, and the
  client never starts an Xet/LFS transfer (`lfsFile` commit lines get a 422).
- Files the Hub would keep in LFS (a NUL byte in the first 512 bytes, i.e. the sample preupload gets, or > 10 MB)
  are reported like LFS files: tree `oid` = git blob id of the LFS pointer, `lfs` = {oid: sha256, size, pointerSize},
  resolve sends X-Linked-Etag (sha256) and X-Linked-Size. Other files: `oid` = git blob id of the content (what
  `git hash-object` prints). Never a `xetHash`. Folder oids are not git tree ids.
- Writes (POST/DELETE, and reading secrets) need `Authorization: Bearer <any token>`, else 401; so does reading a
  private Space. Token values are never checked.
- Errors carry the Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound), so the client raises
  RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError as with the real Hub.
- After each commit and each variable/secret change (the Hub restarts the Space), the next `building_polls`
  GET /runtime say BUILDING, then RUNNING, unless a test forced a stage; space_info's `runtime` does not count as a
  poll. `host` (space_info) and the runtime's `domains` name the URL set with set_space_url, else the Hub's default.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlparse

from conftest import serving
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.tflite filter=lfs diff=lfs merge=lfs -text\n"
REPO = "/api/spaces/{owner}/{name}"
Settings = Literal["variables", "secrets"]


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob with this content: what `git hash-object` prints."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(data: bytes) -> bool:
    """Whether the stand-in reports this content as an LFS file: binary (NUL in the first 512 bytes) or > 10 MB."""
    return len(data) > LFS_MIN_SIZE or b"\0" in data[:512]


def lfs_pointer(data: bytes) -> bytes:
    """The git-lfs pointer file that git holds in place of an LFS file's content."""
    sha256 = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n".encode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Commit:
    """One commit of a Space: its id, title, message, date and the whole file set it leaves behind."""

    oid: str
    title: str
    message: str
    date: str
    files: dict[str, bytes]


@dataclass
class Space:
    """A Space repo as the stand-in keeps it, with the runtime and failure settings tests control."""

    repo_id: str
    sdk: str | None
    private: bool
    commits: list[Commit] = field(default_factory=list)  # oldest first
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    forced_stage: str | None = None
    building_left: int = 0
    fail_commits: int = 0
    fail_status: int = 500
    commit_attempts: int = 0


class HubError(Exception):
    """An error answer in the Hub's shape: status, message, and the X-Error-Code the client maps to an exception."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.commit = status, code, commit


def _token(request: Request, required: bool = False) -> str:
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    if required and not token:
        raise HubError(401, "Invalid credentials in Authorization header")
    return token


def _subdomain(space: Space) -> str:
    return space.repo_id.lower().replace("/", "-").replace("_", "-").replace(".", "-")


def _file_entry(path: str, data: bytes) -> dict[str, Any]:
    if not is_lfs(data):
        return {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
    pointer = lfs_pointer(data)
    lfs = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}
    return {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(pointer), "lfs": lfs}


class HubStandin:
    """The in-memory Hub, its FastAPI `app`, and the controls tests use. `url` is set while it is serving."""

    def __init__(self, building_polls: int = 2) -> None:
        self.url = ""
        self.building_polls = building_polls
        self.spaces: dict[str, Space] = {}
        self.urls: dict[str, str] = {}  # repo id → URL a test set (the repo may not exist yet)
        self.requests: list[str] = []  # "METHOD /path" of every request received, oldest first
        self.app = _build_app(self)

    # --- test controls
    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The Space's files (path -> content) at `revision` (`main` or a commit id)."""
        return dict(self.resolve(self.spaces[repo_id], revision).files)

    def commits(self, repo_id: str) -> list[Commit]:
        """The Space's commits, newest first (the last one is its creation)."""
        return list(reversed(self.spaces[repo_id].commits))

    def variables(self, repo_id: str) -> dict[str, str]:
        """The Space's variables, key -> value."""
        return {key: entry["value"] for key, entry in self.spaces[repo_id].variables.items()}

    def secrets(self, repo_id: str) -> dict[str, str]:
        """The Space's secrets, key -> value, as received (the HTTP API never gives the values back)."""
        return {key: entry["value"] for key, entry in self.spaces[repo_id].secrets.items()}

    def set_space_url(self, repo_id: str, url: str) -> None:
        """Report `url` (e.g. a locally started app) as the Space's `host` and runtime domain, now or once the Space
        is created."""
        self.urls[repo_id] = url.rstrip("/")

    def set_stage(self, repo_id: str, stage: str | None) -> None:
        """Force the runtime stage (e.g. "RUNTIME_ERROR") until set back to None (BUILDING, then RUNNING)."""
        self.spaces[repo_id].forced_stage = stage

    def fail_next_commits(self, repo_id: str, n: int = 1, status: int = 500) -> None:
        """Answer the next `n` requests to the commit endpoint with HTTP `status`, committing nothing."""
        space = self.spaces[repo_id]
        space.fail_commits, space.fail_status = n, status

    def commit_attempts(self, repo_id: str) -> int:
        """How many requests the commit endpoint got for this Space (failed ones included)."""
        return self.spaces[repo_id].commit_attempts

    # --- used by the app
    def space_for(self, request: Request, owner: str, name: str, write: bool = False) -> Space:
        """The Space a request names, after the Hub's checks: 401 on a write without token, RepoNotFound."""
        token = _token(request, required=write)
        space = self.spaces.get(f"{owner}/{name}")
        if space is None or (space.private and not token):
            raise HubError(404 if space is None else 401, "Repository not found", "RepoNotFound")
        return space

    def resolve(self, space: Space, revision: str) -> Commit:
        """The commit a revision names: `main` is the head, else a full commit id; RevisionNotFound otherwise."""
        if revision == "main":
            return space.commits[-1]
        for commit in space.commits:
            if commit.oid == revision:
                return commit
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def add_commit(self, space: Space, title: str, message: str, files: dict[str, bytes]) -> Commit:
        """Append a commit with this file set to the Space's history; the Space rebuilds."""
        commit = Commit(os.urandom(20).hex(), title, message, _now(), files)
        space.commits.append(commit)
        space.building_left = self.building_polls
        return commit

    def host(self, space: Space) -> str:
        """The URL the Space is served at: the one a test set, else the Hub's https://{owner}-{name}.hf.space."""
        return self.urls.get(space.repo_id) or f"https://{_subdomain(space)}.hf.space"

    def runtime(self, space: Space) -> dict[str, Any]:
        """The Space's runtime as GET /runtime (and space_info's `runtime`) gives it."""
        stage = space.forced_stage or ("BUILDING" if space.building_left > 0 else "RUNNING")
        return {
            "stage": stage, "storage": None,
            "hardware": {"current": "cpu-basic" if stage == "RUNNING" else None, "requested": "cpu-basic"},
            "gcTimeout": 172800, "replicas": {"current": 1, "requested": 1}, "devMode": False,
            "domains": [{"domain": urlparse(self.host(space)).netloc, "stage": "READY"}],
        }  # fmt: skip


def _build_app(hub: HubStandin) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def log_request(request: Request, call_next: Any) -> Response:
        hub.requests.append(f"{request.method} {request.url.path}")
        return await call_next(request)

    @app.exception_handler(HubError)
    async def hub_error(request: Request, error: HubError) -> JSONResponse:
        headers = {"X-Error-Message": str(error)}
        headers |= {"X-Error-Code": error.code} if error.code else {}
        headers |= {"X-Repo-Commit": error.commit} if error.commit else {}
        return JSONResponse({"error": str(error)}, error.status, headers=headers)

    @app.post("/api/repos/create")
    async def create_repo(request: Request) -> JSONResponse:
        _token(request, required=True)
        body = await request.json()
        if body.get("type") != "space":
            raise HubError(400, "The stand-in only hosts Spaces")
        repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
        url = f"{hub.url}/spaces/{repo_id}"
        if repo_id in hub.spaces:  # the client reads `url` from this answer too (create_repo with exist_ok=True)
            message = "You already created this space repo"
            return JSONResponse({"error": message, "url": url}, 409, headers={"X-Error-Message": message})
        space = hub.spaces[repo_id] = Space(repo_id, body.get("sdk"), body.get("visibility") == "private")
        hub.add_commit(space, "initial commit", "", {".gitattributes": GITATTRIBUTES})
        return JSONResponse({"url": url, "name": repo_id})

    @app.get(REPO)
    @app.get(REPO + "/revision/{revision}")
    async def space_info(request: Request, owner: str, name: str, revision: str = "main") -> dict[str, Any]:
        space = hub.space_for(request, owner, name)
        commit = hub.resolve(space, revision)
        return {
            "id": space.repo_id, "author": owner, "sha": commit.oid, "private": space.private,
            "createdAt": space.commits[0].date, "lastModified": commit.date, "gated": False, "disabled": False,
            "host": hub.host(space), "subdomain": _subdomain(space), "likes": 0, "sdk": space.sdk,
            "tags": [space.sdk] if space.sdk else [], "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            "runtime": hub.runtime(space),
        }  # fmt: skip

    @app.get(REPO + "/tree/{revision}")
    @app.get(REPO + "/tree/{revision}/{path:path}")
    async def tree(
        request: Request, owner: str, name: str, revision: str, path: str = "", recursive: bool = False
    ) -> list[dict[str, Any]]:
        commit = hub.resolve(hub.space_for(request, owner, name), revision)
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in commit.files):
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound", commit.oid)
        entries: dict[str, dict[str, Any]] = {}
        for file_path, data in sorted(commit.files.items()):
            if not file_path.startswith(prefix):
                continue
            parts = file_path[len(prefix) :].split("/")
            folders = [prefix + "/".join(parts[:i]) for i in range(1, len(parts))]
            for folder in folders if recursive else folders[:1]:
                inside = sorted((p, git_blob_sha1(d)) for p, d in commit.files.items() if p.startswith(folder + "/"))
                oid = hashlib.sha1(json.dumps(inside).encode()).hexdigest()
                entries.setdefault(folder, {"type": "directory", "path": folder, "size": 0, "oid": oid})
            if recursive or len(parts) == 1:
                entries[file_path] = _file_entry(file_path, data)
        return list(entries.values())

    @app.get(REPO + "/commits/{revision}")
    async def commits(request: Request, owner: str, name: str, revision: str) -> list[dict[str, Any]]:
        space = hub.space_for(request, owner, name)
        head = hub.resolve(space, revision)
        history = space.commits[: space.commits.index(head) + 1]
        return [
            {"id": c.oid, "title": c.title, "message": c.message, "date": c.date, "authors": [{"user": "standin"}]}
            for c in reversed(history)
        ]

    @app.post(REPO + "/preupload/{revision}")
    async def preupload(request: Request, owner: str, name: str, revision: str) -> dict[str, Any]:
        files = hub.resolve(hub.space_for(request, owner, name, write=True), revision).files
        answers = []
        for wanted in (await request.json())["files"]:
            answer = {"path": wanted["path"], "uploadMode": "regular", "shouldIgnore": False}
            if wanted["path"] in files:  # lets the client skip files that did not change
                answer["oid"] = git_blob_sha1(files[wanted["path"]])
            answers.append(answer)
        return {"files": answers}

    @app.post(REPO + "/commit/{revision}")
    async def commit(request: Request, owner: str, name: str, revision: str) -> dict[str, Any]:
        space = hub.space_for(request, owner, name, write=True)
        space.commit_attempts += 1
        if space.fail_commits > 0:
            space.fail_commits -= 1
            raise HubError(space.fail_status, f"Refused: fail_next_commits asked for HTTP {space.fail_status}")
        if revision != "main" or request.query_params.get("create_pr"):
            raise HubError(400, "The stand-in commits to main only (no other branches, no pull requests)")
        head = space.commits[-1]
        files, header = dict(head.files), {}
        for item in [json.loads(line) for line in (await request.body()).splitlines() if line.strip()]:
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                content = value["content"]
                encoded = value.get("encoding") == "base64"
                files[value["path"]] = base64.b64decode(content) if encoded else content.encode()
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {p: d for p, d in files.items() if not p.startswith(folder)}
            else:
                raise HubError(422, f"The stand-in does not take '{key}' lines: it never asks for LFS uploads")
        if header.get("parentCommit") not in (None, head.oid):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        new = hub.add_commit(space, header.get("summary", ""), header.get("description", ""), files)
        url = f"{hub.url}/spaces/{space.repo_id}/commit/{new.oid}"
        return {"success": True, "commitOid": new.oid, "commitUrl": url, "hookOutput": "", "pullRequestUrl": None}

    @app.api_route("/spaces/{owner}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
    async def resolve(request: Request, owner: str, name: str, revision: str, path: str) -> Response:
        commit = hub.resolve(hub.space_for(request, owner, name), revision)
        if path not in commit.files:
            raise HubError(404, "Entry not found", "EntryNotFound", commit.oid)
        data = commit.files[path]
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_sha1(data)}"'}
        if is_lfs(data):
            headers["ETag"] = f'"{git_blob_sha1(lfs_pointer(data))}"'
            headers |= {"X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"', "X-Linked-Size": str(len(data))}
        return Response(data, headers=headers, media_type="application/octet-stream")

    @app.get(REPO + "/runtime")
    async def runtime(request: Request, owner: str, name: str) -> dict[str, Any]:
        space = hub.space_for(request, owner, name)
        answer = hub.runtime(space)
        if space.forced_stage is None and space.building_left > 0:
            space.building_left -= 1
        return answer

    def settings(space: Space, kind: str) -> dict[str, dict[str, Any]]:
        return space.variables if kind == "variables" else space.secrets

    @app.get(REPO + "/{kind}")
    async def get_settings(request: Request, owner: str, name: str, kind: Settings) -> dict[str, Any]:
        space = hub.space_for(request, owner, name, write=kind == "secrets")
        hidden = {"value"} if kind == "secrets" else set()
        return {
            key: {k: v for k, v in entry.items() if k not in hidden} for key, entry in settings(space, kind).items()
        }

    @app.api_route(REPO + "/{kind}", methods=["POST", "DELETE"])
    async def change_settings(request: Request, owner: str, name: str, kind: Settings) -> Response:
        space = hub.space_for(request, owner, name, write=True)
        body, entries = await request.json(), settings(space, kind)
        if request.method == "DELETE":
            entries.pop(body["key"], None)
        else:
            entries[body["key"]] = {"value": body["value"], "description": body.get("description"), "updatedAt": _now()}
        space.building_left = hub.building_polls  # the Hub restarts a Space when its settings change
        return JSONResponse(entries if kind == "variables" else {})

    @app.post("/api/validate-yaml")
    async def validate_yaml() -> dict[str, Any]:
        return {"errors": [], "warnings": []}

    return app


@contextlib.contextmanager
def hub_standin(building_polls: int = 2) -> Iterator[HubStandin]:
    """Serve a fresh, empty stand-in Hub on a free 127.0.0.1 port for the block; yield it with `.url` set."""
    hub = HubStandin(building_polls)
    with serving(hub.app) as url:
        hub.url = url
        yield hub
