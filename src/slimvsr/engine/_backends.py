"""Inference backends: torch (eager; the reference) and OpenVINO (CPU), chosen per job.

Issue #19's rule: a runtime becomes a backend where it is >= 1.3x faster end to end than the
engine's torch path at the same precision, with outputs within 1e-4 of torch fp32 (f32) or
>= 45 dB from it (bf16). ``auto`` follows the measured table ``backends.json`` (written by
``benchmarks/adopt_backends.py`` from ``benchmarks/end_to_end.py`` runs): OpenVINO for a model
whose weights (by sha256) and precision it lists, when OpenVINO is installed and the job runs on
the CPU; torch otherwise. ``torch`` and ``openvino`` are taken as asked, or refused with a
BackendError that says why.

OpenVINO runs the model's step graphs (``ModelDescriptor.step_graphs``: one output frame per
call, hidden state explicit), driven by the same runners as torch, so chunking, exact uni
streaming and bidirectional windows behave as with torch. Converted graphs are cached on disk
(``$SLIMVSR_HOME/compiled``, default ~/.cache/slimvsr/compiled) under the weights' sha256 and the
OpenVINO version; OpenVINO's compiled blobs under a sub-folder per precision and device.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..errors import BackendError
from ..models import ModelDescriptor

BackendName = Literal["auto", "torch", "openvino"]
TABLE = Path(__file__).with_name("backends.json")
_OV_PRECISION = {torch.float32: "f32", torch.bfloat16: "bf16"}


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def cache_root() -> Path:
    home = os.environ.get("SLIMVSR_HOME") or str(Path.home() / ".cache" / "slimvsr")
    return Path(home) / "compiled"


def weights_key(desc: ModelDescriptor) -> str:
    """The weights' sha256 (config.json's), or for a model built in code the sha256 of its
    parameters and buffers."""
    sha = desc.meta.get("sha256")
    if sha:
        return str(sha)
    h = hashlib.sha256()
    for name, t in sorted(desc.model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def adopted_entries(table: Path | None = None) -> list[dict]:
    """The measured table's adopted (model, precision, backend) entries."""
    table = table or TABLE
    return json.loads(table.read_text()).get("adopted", []) if table.is_file() else []


def adopted(desc: ModelDescriptor, precision: str, table: Path | None = None) -> dict | None:
    """The measured table's entry that makes OpenVINO this model's ``auto`` backend, or None."""
    key = weights_key(desc)
    for entry in adopted_entries(table):
        if entry["sha256"] == key and entry["precision"] == precision and entry["backend"] == "openvino":
            return entry
    return None


def why_not_openvino(
    desc: ModelDescriptor, device: torch.device, dtype: torch.dtype, tile: int | None
) -> str | None:
    """Why OpenVINO cannot run this job (None: it can)."""
    if not openvino_installed():
        return "OpenVINO is not installed (pip install 'slimvsr[openvino]')"
    if device.type != "cpu":
        return f"the openvino backend runs on the CPU, not {device.type}"
    if dtype not in _OV_PRECISION:
        return f"the openvino backend computes in fp32 or bf16, not {dtype}"
    if tile and desc.kind == "video":
        return (
            "a video model's frames are tiled (--tile, or frames too large for the memory budget) "
            "only by the torch backend's in-model tiling; use --backend torch"
        )
    return None


def pick_backend(
    choice: str, desc: ModelDescriptor, device: torch.device, dtype: torch.dtype, tile: int | None
) -> str:
    """Resolve ``--backend`` for one job (``tile``: the memory budget's LR tile, None if none)."""
    if choice == "torch":
        return "torch"
    why = why_not_openvino(desc, device, dtype, tile)
    if choice == "openvino":
        if why:
            raise BackendError(f"--backend openvino: {why}")
        return "openvino"
    if choice != "auto":
        raise BackendError(f"unknown backend {choice!r}; use auto, torch or openvino")
    name = {torch.float32: "fp32", torch.bfloat16: "bf16"}.get(dtype)
    if why is None and name and adopted(desc, name):
        return "openvino"
    return "torch"


class OpenVINOGraphs:
    """A model's step graphs compiled by OpenVINO for the CPU: ``graphs(name, *tensors)`` returns
    the graph's outputs as float32 tensors. Graphs are converted on first use (the first call's
    inputs are the example; a graph keeps dynamic shapes, so tiles and new frame sizes reuse it,
    unless its tracing read the size: then one per size, ``_ir``), read back from the disk cache
    on later runs."""

    _lock = threading.Lock()

    def __init__(self, desc: ModelDescriptor, dtype: torch.dtype, threads: int | None = None) -> None:
        import openvino as ov

        self._ov = ov
        self.desc = desc
        self.core = ov.Core()
        version = ov.__version__.split("-")[0]
        self.folder = cache_root() / f"openvino-{version}" / weights_key(desc)[:32]
        precision = _OV_PRECISION[dtype]
        self.config = {
            "INFERENCE_PRECISION_HINT": precision,
            "NUM_STREAMS": "1",
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": str(threads or torch.get_num_threads()),
            "CACHE_DIR": str(self.folder / f"cpu-{precision}"),
        }
        self.modules = desc.step_graphs()
        self.requests: dict[object, object] = {}  # by (graph, LR size) and by IR file
        self._calls = threading.Lock()

    def _ir(self, name: str, xs: tuple[torch.Tensor, ...]) -> Path:
        """The graph's OpenVINO IR on disk, converted now if the cache lacks it. A graph whose
        tracing reads the input's size in Python (SPyNet's padding and flow scale: a
        TracerWarning) holds only for that size and is kept as ``NAME-HxW``; any other holds for
        every size and is kept as ``NAME``. Written to a temporary folder and renamed, so
        concurrent jobs never read half a file."""
        h, w = xs[0].shape[-2:]
        generic, shaped = self.folder / f"{name}.xml", self.folder / f"{name}-{h}x{w}.xml"
        for xml in (generic, shaped):
            if xml.is_file() and xml.with_suffix(".bin").is_file():
                return xml
        self.folder.mkdir(parents=True, exist_ok=True)
        module = self.modules[name].eval()
        with torch.no_grad(), warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                om = self._ov.convert_model(module, example_input=tuple(x.float() for x in xs))
            except Exception as e:  # the frontend's own types (OpConversionFailure, ...)
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
                raise BackendError(
                    f"OpenVINO cannot convert {self.desc.name} ({name} graph: {first}); use --backend torch"
                ) from e
        xml = shaped if any(issubclass(m.category, torch.jit.TracerWarning) for m in seen) else generic
        tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=f".{name}-"))
        try:
            self._ov.save_model(om, tmp / xml.name, compress_to_fp16=False)
            for suffix in (".bin", ".xml"):  # the .xml last: its presence means the pair is whole
                os.replace(tmp / xml.with_suffix(suffix).name, xml.with_suffix(suffix))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return xml

    def _request(self, name: str, xs: tuple[torch.Tensor, ...]):
        key = (name, tuple(xs[0].shape[-2:]))
        req = self.requests.get(key)
        if req is None:
            xml = self._ir(name, xs)
            req = self.requests.get(xml)  # a size-generic graph already compiled
            if req is None:
                with self._lock:
                    compiled = self.core.compile_model(self.core.read_model(xml), "CPU", self.config)
                req = self.requests[xml] = compiled.create_infer_request()
            self.requests[key] = req
        return req

    def __call__(self, name: str, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        arrays = [np.ascontiguousarray(x.detach().float().numpy()) for x in xs]
        with self._calls:  # a GUI preview and a job may share the graphs; a request is not reentrant
            req = self._request(name, xs)
            res = req.infer(arrays)
            # Copies: the request's output buffers are overwritten by its next call.
            return tuple(torch.from_numpy(np.array(res[o])) for o in req.model_outputs)
