"""A loopback stand-in for the Hugging Face Hub, for tests and for rehearsing a release offline.

It serves, on 127.0.0.1, the routes that huggingface_hub's ``create_repo``, ``create_branch``,
``upload_folder`` (preupload, LFS batch + basic transfer, ndjson commit), ``repo_info``,
``hf_hub_download`` (HEAD + ranged GET on ``resolve``) and ``ModelCard.validate`` call, with the
headers the library reads (``X-Repo-Commit``, ``ETag``/``X-Linked-Etag``, ``X-Linked-Size``,
``X-Error-Code``). Repositories are git-like: every commit is a full file map with a sha1 id,
branches point at commits, LFS objects are stored by sha256 and verified on upload.

Faults for tests: ``tamper`` (paths whose served bytes have one byte changed), ``truncate``
(paths whose next N downloads stop half-way, then the connection closes), ``slow`` (paths whose
body pauses half-way), ``requests`` (a log of (method, path, Range header)).

The stand-in speaks the LFS protocol, not Xet: clients set ``HF_HUB_DISABLE_XET=1``; the real
Hub accepts both. Run it by hand to rehearse ``vsr-compress publish --all`` without a network::

    python tests/hub_standin.py --port 8765 --token dev
    HF_ENDPOINT=http://127.0.0.1:8765 HF_TOKEN=dev HF_HUB_DISABLE_XET=1 \
        vsr-compress publish --all --org slimvsr
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import yaml
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")
KNOWN_LICENSES = {"apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-nc-4.0", "other"}
KNOWN_PIPELINES = {"image-to-image", "image-to-video", "video-to-video"}


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:  # what preupload and ETag report: sha256 for LFS, git sha1 otherwise
        return hashlib.sha256(self.data).hexdigest() if self.lfs else git_blob_sha1(self.data)


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, rev: str) -> str | None:
        if rev in self.branches:
            return self.branches[rev]
        return rev if rev in self.commits else None


def _err(status: int, code: str | None, message: str) -> Response:
    headers = {"X-Error-Code": code} if code else {}
    if code:
        headers["X-Error-Message"] = message
    return Response(json.dumps({"error": message}), status, headers, mimetype="application/json")


def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj), status, mimetype="application/json")


class _QuietHandler(WSGIRequestHandler):
    """No access log: tests read ``HubStandIn.requests`` instead."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class HubStandIn:
    """The server: ``with HubStandIn(token="t") as hub: hub.url`` (a thread serves it)."""

    def __init__(
        self, token: str = "test-token", host: str = "127.0.0.1", port: int = 0, quiet: bool = True
    ) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.tamper: set[str] = set()
        self.truncate: dict[str, int] = defaultdict(int)
        self.slow: dict[str, float] = {}  # path -> seconds to pause half-way through its body
        self.requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._map = Map(
            [
                Rule("/api/repos/create", endpoint="create_repo", methods=["POST"]),
                Rule("/api/validate-yaml", endpoint="validate_yaml", methods=["POST"]),
                Rule("/api/models/<ns>/<name>", endpoint="repo_info", methods=["GET"]),
                Rule("/api/models/<ns>/<name>/revision/<path:rev>", endpoint="repo_info", methods=["GET"]),
                Rule("/api/models/<ns>/<name>/preupload/<path:rev>", endpoint="preupload", methods=["POST"]),
                Rule("/api/models/<ns>/<name>/commit/<path:rev>", endpoint="commit", methods=["POST"]),
                Rule("/api/models/<ns>/<name>/branch/<path:branch>", endpoint="branch", methods=["POST"]),
                Rule("/<ns>/<name>.git/info/lfs/objects/batch", endpoint="lfs_batch", methods=["POST"]),
                Rule("/_lfs/<oid>", endpoint="lfs_put", methods=["PUT"]),
                Rule(
                    "/<ns>/<name>/resolve/<rev>/<path:filename>", endpoint="resolve", methods=["GET", "HEAD"]
                ),
            ]
        )
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server = make_server(host, port, self._wsgi, threaded=True, request_handler=handler)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> HubStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection for tests ------------------------------------------------------------
    def head(self, repo_id: str, branch: str = "main") -> str | None:
        repo = self.repos.get(repo_id)
        return repo.branches.get(branch) if repo else None

    def files(self, repo_id: str, rev: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return {p: f.data for p, f in repo.commits[repo.resolve(rev)].items()}

    def n_commits(self, repo_id: str) -> int:
        return len(self.repos[repo_id].commits)

    # -- WSGI ------------------------------------------------------------------------------
    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        req = Request(environ)
        self.requests.append((req.method, req.path, req.headers.get("Range")))
        try:
            endpoint, args = self._map.bind_to_environ(environ).match()
            resp = getattr(self, "_" + endpoint)(req, **args)
        except HTTPException as e:
            resp = _err(e.code or 500, None, e.description or "error")
        return resp(environ, start_response)

    def _authorised(self, req: Request) -> bool:
        return req.headers.get("Authorization") == f"Bearer {self.token}"

    def _repo(self, req: Request, ns: str, name: str) -> Repo | Response:
        repo = self.repos.get(f"{ns}/{name}")
        if repo is None or (repo.private and not self._authorised(req)):
            return _err(404, "RepoNotFound", f"Repository Not Found for url: {req.url}")
        return repo

    def _writable(self, req: Request, ns: str, name: str) -> Repo | Response:
        """The repo a write route acts on, once the token is the server's."""
        if not self._authorised(req):
            return _err(401, None, "Invalid credentials in Authorization header")
        return self._repo(req, ns, name)

    def _new_commit(self, repo: Repo, branch: str, files: dict[str, StoredFile], message: str) -> str:
        parent = repo.branches.get(branch, "")
        listing = "".join(f"{p}\0{f.oid}\0" for p, f in sorted(files.items()))
        sha = hashlib.sha1(f"{parent}\0{message}\0{listing}\0{len(repo.commits)}".encode()).hexdigest()
        repo.commits[sha] = dict(files)
        repo.branches[branch] = sha
        return sha

    # -- routes ----------------------------------------------------------------------------
    def _create_repo(self, req: Request) -> Response:
        if not self._authorised(req):
            return _err(401, None, "Invalid credentials in Authorization header")
        body = req.get_json()
        repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
        url = f"{self.url}/{repo_id}"
        with self._lock:
            if repo_id in self.repos:
                return _json({"error": "You already created this model repo", "url": url}, 409)
            repo = Repo(repo_id, private=body.get("visibility") == "private" or bool(body.get("private")))
            self.repos[repo_id] = repo
            attrs = StoredFile(b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", lfs=False)
            self._new_commit(repo, "main", {".gitattributes": attrs}, "initial commit")
        return _json({"url": url, "name": repo_id})

    def _validate_yaml(self, req: Request) -> Response:
        """The checks the Hub makes on a model card's metadata: YAML front matter that parses to a
        mapping, a known licence and pipeline tag, and a model-index whose results each name a
        task, a dataset and metrics with values."""
        content = req.get_json()["content"]
        if not content.startswith("---\n"):
            return _json({"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]})
        try:
            meta = yaml.safe_load(content.split("---\n", 2)[1])
        except (yaml.YAMLError, IndexError) as e:
            return _err(400, None, f"Invalid metadata in README.md: {e}")
        problems = []
        if not isinstance(meta, dict):
            problems.append("metadata is not a mapping")
            meta = {}
        if meta.get("license") not in KNOWN_LICENSES:
            problems.append(f'"license" must be one of {sorted(KNOWN_LICENSES)}')
        if "pipeline_tag" in meta and meta["pipeline_tag"] not in KNOWN_PIPELINES:
            problems.append(f'"pipeline_tag" {meta["pipeline_tag"]!r} is not a known task')
        for entry in meta.get("model-index", []) or []:
            if not entry.get("name"):
                problems.append('"model-index[].name" is required')
            for r in entry.get("results", []):
                if not (r.get("task") or {}).get("type"):
                    problems.append('"model-index[].results[].task.type" is required')
                ds = r.get("dataset") or {}
                if not (ds.get("type") and ds.get("name")):
                    problems.append('"model-index[].results[].dataset" needs type and name')
                for m in r.get("metrics", []):
                    if not m.get("type") or not isinstance(m.get("value"), int | float):
                        problems.append('"model-index[].results[].metrics[]" needs type and a numeric value')
        if problems:
            return _err(400, None, "Invalid metadata in README.md: " + "; ".join(problems))
        return _json({"errors": [], "warnings": []})

    def _repo_info(self, req: Request, ns: str, name: str, rev: str = "main") -> Response:
        repo = self._repo(req, ns, name)
        if isinstance(repo, Response):
            return repo
        sha = repo.resolve(rev)
        if sha is None:
            return _err(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        files = repo.commits[sha]
        return _json(
            {
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": sha,
                "private": repo.private,
                "siblings": [{"rfilename": p} for p in sorted(files)],
            }
        )

    def _preupload(self, req: Request, ns: str, name: str, rev: str) -> Response:
        repo = self._writable(req, ns, name)
        if isinstance(repo, Response):
            return repo
        head = repo.commits.get(repo.resolve(rev) or "", {})
        out = []
        for f in req.get_json()["files"]:
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] > 10 * 2**20
            existing = head.get(f["path"])
            out.append(
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": existing.oid if existing is not None else None,
                }
            )
        return _json({"files": out, "commitOid": repo.resolve(rev)})

    def _lfs_batch(self, req: Request, ns: str, name: str) -> Response:
        if not self._authorised(req):
            return _err(401, None, "Invalid credentials in Authorization header")
        objects = []
        for o in req.get_json()["objects"]:
            item: dict[str, Any] = {"oid": o["oid"], "size": o["size"]}
            if o["oid"] not in self.lfs:
                item["actions"] = {"upload": {"href": f"{self.url}/_lfs/{o['oid']}"}}
            objects.append(item)
        return _json({"transfer": "basic", "objects": objects})

    def _lfs_put(self, req: Request, oid: str) -> Response:
        data = req.get_data()
        if hashlib.sha256(data).hexdigest() != oid:
            return _err(400, None, "uploaded content does not match its oid")
        self.lfs[oid] = data
        return Response(b"", 200)

    def _branch(self, req: Request, ns: str, name: str, branch: str) -> Response:
        repo = self._writable(req, ns, name)
        if isinstance(repo, Response):
            return repo
        if branch in repo.branches:
            return _err(409, None, f"Reference already exists: refs/heads/{branch}")
        repo.branches[branch] = repo.branches["main"]
        return _json({})

    def _commit(self, req: Request, ns: str, name: str, rev: str) -> Response:
        repo = self._writable(req, ns, name)
        if isinstance(repo, Response):
            return repo
        if rev not in repo.branches:
            return _err(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        lines = [json.loads(line) for line in req.get_data().splitlines() if line.strip()]
        header = next(x["value"] for x in lines if x["key"] == "header")
        with self._lock:
            if header.get("parentCommit") and header["parentCommit"] != repo.branches[rev]:
                return _err(412, None, "A commit has happened since. Please refresh and try again.")
            files = dict(repo.commits[repo.branches[rev]])
            for x in lines:
                v = x["value"]
                if x["key"] == "file":
                    files[v["path"]] = StoredFile(base64.b64decode(v["content"]), lfs=False)
                elif x["key"] == "lfsFile":
                    if v["oid"] not in self.lfs:
                        return _err(422, None, f"LFS object {v['oid']} was not uploaded")
                    files[v["path"]] = StoredFile(self.lfs[v["oid"]], lfs=True)
                elif x["key"] in ("deletedFile", "deletedFolder"):
                    files = {
                        p: f for p, f in files.items() if p != v["path"] and not p.startswith(v["path"] + "/")
                    }
            sha = self._new_commit(repo, rev, files, header["summary"])
        return _json({"commitUrl": f"{self.url}/{repo.repo_id}/commit/{sha}", "commitOid": sha})

    def _resolve(self, req: Request, ns: str, name: str, rev: str, filename: str) -> Response:
        repo = self._repo(req, ns, name)
        if isinstance(repo, Response):
            return repo
        sha = repo.resolve(rev)
        if sha is None:
            return _err(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        f = repo.commits[sha].get(filename)
        if f is None:
            return _err(404, "EntryNotFound", f"{filename} does not exist at {rev}")
        data = f.data
        if filename in self.tamper:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{f.oid}"',
            "Accept-Ranges": "bytes",
            "Content-Length": str(len(data)),
        }
        if f.lfs:
            headers |= {"X-Linked-Etag": f'"{f.oid}"', "X-Linked-Size": str(len(data))}
        if req.method == "HEAD":  # werkzeug sends the headers (the whole Content-Length), no body
            return Response(data, 200, headers)
        start, status = 0, 200
        rng = req.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0] or 0)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        if self.truncate.get(filename, 0) > 0:
            self.truncate[filename] -= 1
            half = body[: len(body) // 2]

            def cut() -> Any:  # the headers promise the whole body; the connection ends half-way
                yield half
                raise ConnectionAbortedError("stand-in: connection dropped mid-download")

            return Response(cut(), status, headers, direct_passthrough=True)
        if filename in self.slow:
            pause = self.slow[filename]

            def slowly() -> Any:
                yield body[: len(body) // 2]
                time.sleep(pause)
                yield body[len(body) // 2 :]

            return Response(slowly(), status, headers, direct_passthrough=True)
        return Response(body, status, headers)


def main() -> None:  # pragma: no cover - a maintainer's rehearsal tool
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", default="dev")
    a = p.parse_args()
    hub = HubStandIn(token=a.token, port=a.port, quiet=False).start()
    print(f"Hub stand-in at {hub.url} (token {a.token!r}); Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
