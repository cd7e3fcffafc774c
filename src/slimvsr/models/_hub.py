"""Weights on the Hugging Face Hub: pinned revisions, the local cache, verified downloads.

A published registry entry is pinned to one commit of its repo, with the sha256 of every file
(``weights/published.json``, written by ``vsr-compress publish``), so what a user downloads is
byte for byte what was measured. Any other repo in the slimvsr format is reached as
``ORG/NAME[@REVISION]``; its weights are then checked against the sha256 in its own config.json.

Files come through huggingface_hub (its cache, its resumable downloads); nothing here talks HTTP.
``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` and ``HF_TOKEN`` are read when called, so
a process (or a test) that sets them late still gets what it asked for.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelError, WeightsError
from ._io import CONFIG_FILE, WEIGHTS_FILE, sha256_file

PINS_ENV = "SLIMVSR_PINS"  # another pins file (tests, a maintainer preparing a release)
MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE)
# ORG/NAME or ORG/NAME@REVISION, with the Hub's repo-name characters.
_REPO_REF = re.compile(r"^([A-Za-z0-9][\w.-]{0,95})/([A-Za-z0-9][\w.-]{0,95})(?:@([\w./-]{1,200}))?$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")

# on_progress(file, bytes done, bytes total or None), called as a download advances; it may raise
# (a cancelled job) to stop the download, which then resumes next time.
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class HubRef:
    """A repo at a revision, with the sha256 its files must have (empty: config.json's covers
    the weights)."""

    repo_id: str
    revision: str = "main"
    sha256: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        rev = self.revision[:12] if _SHA1.match(self.revision) else self.revision
        return f"{self.repo_id}@{rev}"

    @property
    def pinned(self) -> bool:
        return bool(_SHA1.match(self.revision))


def parse_repo_ref(text: str) -> HubRef | None:
    """``ORG/NAME[@REVISION]`` as a HubRef, or None when ``text`` is not shaped like one."""
    m = _REPO_REF.match(text)
    if not m or ".." in text:
        return None
    return HubRef(f"{m[1]}/{m[2]}", m[3] or "main")


# -- the pins file -------------------------------------------------------------------------
def pins_path() -> Path:
    env = os.environ.get(PINS_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("slimvsr.models").joinpath("weights", "published.json")))


def read_pins(path: Path | None = None) -> dict[str, HubRef]:
    """Published registry entries by folder name (``ssl-uni-x4``)."""
    path = path or pins_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {
            key: HubRef(p["repo_id"], p["revision"], dict(p["sha256"]))
            for key, p in data.get("models", {}).items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise WeightsError(f"{path}: not a valid pins file ({e}); restore it from the release") from None


def write_pin(key: str, ref: HubRef, path: Path | None = None) -> Path:
    """Record ``key -> ref`` in the pins file, atomically; other entries are kept."""
    path = path or pins_path()
    data: dict[str, Any] = {"format_version": 1, "models": {}}
    if path.is_file():
        data = json.loads(path.read_text())
    data.setdefault("models", {})[key] = {
        "repo_id": ref.repo_id,
        "revision": ref.revision,
        "sha256": dict(sorted(ref.sha256.items())),
    }
    data["models"] = dict(sorted(data["models"].items()))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise WeightsError(f"{path}: cannot record the published revision ({e.strerror})") from None
    return path


# -- environment ----------------------------------------------------------------------------
def endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    if env in ("1", "on", "yes", "true"):
        return True
    if env in ("0", "off", "no", "false"):
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


# -- the cache ------------------------------------------------------------------------------
def cached(ref: HubRef, files: tuple[str, ...] = MODEL_FILES) -> tuple[Path | None, list[str]]:
    """(snapshot folder, files it lacks) for ``ref`` in the local cache; (None, all) when the
    revision was never fetched. Never networks."""
    from huggingface_hub import try_to_load_from_cache

    folder, missing = None, []
    for f in files:
        p = try_to_load_from_cache(ref.repo_id, f, cache_dir=_cache_dir(), revision=ref.revision)
        if isinstance(p, str) and Path(p).is_file():
            folder = Path(p).parent
        else:
            missing.append(f)
    return folder, missing


def verify(folder: Path, ref: HubRef) -> None:
    """Every file against the sha256 ``ref`` pins; a repo whose weights no pin covers against
    its config.json's (load_pretrained checks that again when it loads: one hash per source)."""
    for f, want in ref.sha256.items():
        if f in MODEL_FILES and sha256_file(folder / f) != want:
            raise WeightsError(
                f"{ref.label}: {f} does not match the sha256 the registry pins (download corrupted or "
                "the repo rewritten); refused. It was removed from the cache: try again"
            )
    if WEIGHTS_FILE in ref.sha256:
        return
    try:
        want = json.loads((folder / CONFIG_FILE).read_text()).get("sha256")
    except ValueError:
        raise WeightsError(f"{ref.label}: config.json is not JSON; not a slimvsr model repo") from None
    if not isinstance(want, str) or sha256_file(folder / WEIGHTS_FILE) != want:
        raise WeightsError(
            f"{ref.label}: {WEIGHTS_FILE} does not match the sha256 in its config.json (download "
            "corrupted or tampered with); refused. It was removed from the cache: try again"
        )


def _evict(folder: Path) -> None:
    """Remove a snapshot's files and the blobs they point at, so the next try downloads them."""
    for f in MODEL_FILES:
        p = folder / f
        if p.is_symlink():
            blob = p.resolve()
            p.unlink()
            blob.unlink(missing_ok=True)
        else:
            p.unlink(missing_ok=True)


def _unreachable(ref: HubRef, what: str, why: str) -> ModelError:
    return ModelError(
        f"{what}: not on this machine and {why}; on a machine with network run "
        f"'vsr-upscale --download {what}' (it fills the Hugging Face cache, ~/.cache/huggingface, which "
        f"you can copy here), or pass a model folder with -m ./folder [{ref.label}]"
    )


def download(ref: HubRef, what: str, on_progress: ProgressFn | None = None) -> Path:
    """Fetch ``ref``'s model files into the cache (resuming a partial download) and verify them;
    returns the snapshot folder. ``what`` names the model in messages (``ssl-uni x4``)."""
    from huggingface_hub import errors as hfe
    from huggingface_hub import hf_hub_download

    if offline():
        raise _unreachable(ref, what, "HF_HUB_OFFLINE=1 forbids downloading")
    folder: Path | None = None
    for f in MODEL_FILES:
        tqdm_class = _progress_class(on_progress, f) if on_progress else None
        try:
            p = hf_hub_download(
                ref.repo_id,
                f,
                revision=ref.revision,
                cache_dir=_cache_dir(),
                endpoint=endpoint(),
                tqdm_class=tqdm_class,
            )
        except hfe.RepositoryNotFoundError:
            raise ModelError(
                f"{what}: no model repo {ref.repo_id} on {endpoint()} (a private one needs HF_TOKEN)"
            ) from None
        except hfe.RevisionNotFoundError:
            raise ModelError(f"{what}: {ref.repo_id} has no revision {ref.revision!r}") from None
        except hfe.RemoteEntryNotFoundError:
            raise ModelError(
                f"{what}: {ref.label} has no {f}; it is not a slimvsr model repo (config.json + "
                "model.safetensors)"
            ) from None
        except (hfe.LocalEntryNotFoundError, hfe.OfflineModeIsEnabled):
            raise _unreachable(ref, what, f"the Hub at {endpoint()} cannot be reached") from None
        except hfe.HfHubHTTPError as e:
            status = e.response.status_code if e.response is not None else "?"
            raise ModelError(f"{what}: the Hub answered {status} for {ref.label}/{f}; try later") from None
        except Exception as e:
            # The transport's own errors (a connection that keeps dropping after the library's
            # retries): the partial file stays in the cache and the next try resumes it.
            if not type(e).__module__.startswith(("httpx", "httpcore", "ssl", "socket")):
                raise
            raise ModelError(
                f"{what}: download of {ref.label}/{f} interrupted ({e}); run again to resume it"
            ) from None
        folder = Path(p).parent
    assert folder is not None
    try:
        verify(folder, ref)
    except WeightsError:
        _evict(folder)
        raise
    return folder


def _progress_class(on_progress: ProgressFn, file: str) -> type:
    """A silent tqdm that reports each update of huggingface_hub's download bar of ``file``."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class _Report(hf_tqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            on_progress(file, self._done, self.total)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            on_progress(file, self._done, self.total)
            return super().update(n)

    return _Report
