"""A model is a folder: ``model.safetensors`` + ``config.json``. This module is the one boundary
where weights are written and read: atomically, strictly, without pickle, sha256-checked."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from ..errors import WeightsError
from ._arch import build_model, model_config_dict
from ._profile import profile_model, profile_size

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1
# How the weights file stores floating tensors: fp32 (training's), or fp16 (half the bytes, for
# shipping; every value is rounded once, so a model stored fp16 is evaluated as stored). Loading
# always gives the fp32 network: load_state_dict widens fp16 into the fp32 parameters exactly.
Storage = Literal["fp32", "fp16"]
FP16_MAX = 65504.0


def _stored(state: dict[str, torch.Tensor], storage: Storage) -> dict[str, torch.Tensor]:
    if storage == "fp32":
        return state
    out = {}
    for k, v in state.items():
        if v.dtype == torch.float32:
            if v.numel() and not bool(v.abs().max() <= FP16_MAX):
                raise WeightsError(f"{k}: values beyond fp16's range (or not finite); store it in fp32")
            v = v.to(torch.float16)
        out[k] = v
    return out


def round_to_storage(model: nn.Module, storage: Storage) -> nn.Module:
    """Round ``model``'s floating weights in place to what ``storage`` keeps (fp16: to the nearest
    fp16 value, held in fp32), so that it can be evaluated exactly as it will be stored."""
    if storage == "fp16":
        with torch.no_grad():
            for k, v in _stored(model.state_dict(), storage).items():
                if v.dtype == torch.float16:
                    model.state_dict()[k].copy_(v.float())
    return model


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_safetensors(data: bytes, order: tuple[str, ...] | None = None) -> bytes:
    """The same safetensors file with its header's metadata in sorted key order (or ``order``).
    The library writes that map in an order that changes from one process to the next, so
    identical weights saved twice could differ in bytes and in sha256, the identity records use
    (a teacher, a published file). Tensors, offsets and the header's length are unchanged."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", None)
    if meta is not None:
        meta = {k: meta[k] for k in (order or sorted(meta))}
        header = {"__metadata__": meta} | header
    text = json.dumps(header, separators=(",", ":")).encode()
    if len(text) > n:  # not the library's compact JSON: keep its bytes
        return data
    return data[:8] + text.ljust(n) + data[8 + n :]


def weights_sha256s(path: Path) -> set[str]:
    """The sha256 of a weights file under every order of its header's metadata keys: the same
    weights as recorded by any earlier save (before :func:`save_pretrained` sorted them)."""
    data = Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    keys = list(json.loads(data[8 : 8 + n]).get("__metadata__", {}))
    orders = itertools.permutations(keys) if len(keys) <= 4 else [tuple(keys)]
    return {hashlib.sha256(data).hexdigest()} | {
        hashlib.sha256(canonical_safetensors(data, order)).hexdigest() for order in orders
    }


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_pretrained(
    model: nn.Module, folder: str | Path, meta: dict[str, Any] | None = None, *, storage: Storage = "fp32"
) -> dict:
    """Save ``model`` to ``folder`` with its full config and metadata; returns the config.json dict.

    ``meta`` carries the record that travels with the weights: name, scale, degradation, training
    data and recipe, metrics (each with the command that measured it), licence, provenance.
    Params, MACs, sha256 and the storage precision are computed here, never passed in.
    """
    folder = Path(folder)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    state = _stored(state, storage)
    data = canonical_safetensors(save(state, metadata={"format": "slimvsr", "version": str(FORMAT_VERSION)}))
    atomic_write_bytes(_mkdir(folder) / WEIGHTS_FILE, data)
    digest = hashlib.sha256(data).hexdigest()
    spec = model_config_dict(model)
    size = profile_size(model)
    prof = profile_model(model, size)
    cfg = {
        "format_version": FORMAT_VERSION,
        **spec,
        **(meta or {}),
        "params": prof.params,
        "macs": prof.macs,
        "macs_input_size": list(size),
        "storage": storage,
        "sha256": digest,
    }
    atomic_write_bytes(folder / CONFIG_FILE, (json.dumps(cfg, indent=2) + "\n").encode())
    return cfg


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_config(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise WeightsError(
            f"{folder}: no {CONFIG_FILE}; a model folder holds {WEIGHTS_FILE} and {CONFIG_FILE}"
        )
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path}: not valid JSON ({e}); re-download or re-export the model") from e
    except RecursionError as e:  # brackets nested deeper than any config: damaged or hostile
        raise WeightsError(f"{path}: nested too deeply to be a model config; re-export the model") from e
    if not isinstance(cfg, dict):
        raise WeightsError(f"{path}: expected a JSON object, got {type(cfg).__name__}; re-export the model")
    for key, kind in (("architecture", str), ("config", dict), ("sha256", str)):
        if key not in cfg:
            raise WeightsError(f"{path}: missing key {key!r}; re-export the model")
        if not isinstance(cfg[key], kind):
            raise WeightsError(f"{path}: {key!r} must be a {kind.__name__}; re-export the model")
    return cfg


def _check_header(wpath: Path, meta_model: nn.Module) -> None:
    """The tensor names and shapes in the safetensors header equal the model's (read without
    loading the data)."""
    from safetensors import safe_open

    try:
        with safe_open(str(wpath), framework="pt") as f:
            have = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"{wpath}: unreadable safetensors file ({e})") from e
    want = {k: tuple(v.shape) for k, v in meta_model.state_dict().items()}
    if have != want:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        wrong = sorted(k for k in set(want) & set(have) if want[k] != have[k])
        detail = (
            f"missing {missing[0]}"
            if missing
            else f"unexpected {extra[0]}"
            if extra
            else f"{wrong[0]} is {have[wrong[0]]}, the config needs {want[wrong[0]]}"
        )
        raise WeightsError(f"{wpath}: weights do not fit the config ({detail}); re-export the model")


def load_pretrained(
    folder: str | Path, *, device: str | torch.device = "cpu", verify: bool = True
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from ``folder`` alone and load its weights strictly.

    The weights file's sha256 must match config.json (``verify``), so a tampered or truncated
    file is refused before it is parsed. Returns (model in eval mode, config.json dict).
    """
    folder = Path(folder)
    cfg = read_config(folder)
    wpath = folder / WEIGHTS_FILE
    if not wpath.is_file():
        raise WeightsError(f"{folder}: no {WEIGHTS_FILE}")
    if verify and sha256_file(wpath) != cfg["sha256"]:
        raise WeightsError(
            f"{wpath}: sha256 does not match config.json (file truncated or modified); "
            "re-download or re-export the model"
        )
    try:
        # Shapes first, on the meta device (no memory): the config and the weights must agree
        # before a real network is allocated.
        with torch.device("meta"):
            meta_model = build_model(cfg["architecture"], cfg["config"])
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{folder / CONFIG_FILE}: invalid model config ({e})") from e
    _check_header(wpath, meta_model)
    model = build_model(cfg["architecture"], cfg["config"])
    try:
        state = load_file(wpath, device=str(device))
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"{wpath}: unreadable safetensors file ({e})") from e
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise WeightsError(f"{wpath}: weights do not fit the config ({first})") from e
    return model.to(device).eval(), cfg
