"""The explicit registry of architectures and of the named configurations built from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..errors import ModelError
from . import _basicvsr, _edsr, _span, _spynet, _swinir
from ._basicvsr import BasicVSRConfig
from ._config import config_from_dict, config_to_dict
from ._edsr import EDSRConfig
from ._family import Family
from ._span import SPANConfig
from ._spynet import SPyNetConfig
from ._swinir import SwinIRConfig


def _unique(items: list[Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if item.name in out:
            raise RuntimeError(f"duplicate {what} name {item.name!r}")
        out[item.name] = item
    return out


# The families ("architectures" in config.json), each defined at the end of its own file.
ARCHITECTURES: dict[str, Family] = _unique(
    [_spynet.FAMILY, _basicvsr.FAMILY, _edsr.FAMILY, _swinir.FAMILY, _span.FAMILY], "architecture"
)


def register_family(family: Family, *named: NamedConfig) -> None:
    """Add a model family (and named configurations of it) to the registry: the one call a new
    family needs. Names must be new."""
    if family.name in ARCHITECTURES:
        raise ModelError(f"architecture {family.name!r} is already registered")
    clash = [n.name for n in named if n.name in NAMED_CONFIGS]
    if clash:
        raise ModelError(f"named configuration {clash[0]!r} is already registered")
    ARCHITECTURES[family.name] = family
    NAMED_CONFIGS.update({n.name: n for n in named})


def unregister_family(name: str) -> None:
    """Remove a family added by ``register_family`` and its named configurations (tests, plugins)."""
    ARCHITECTURES.pop(name, None)
    for k in [k for k, n in NAMED_CONFIGS.items() if n.arch == name]:
        del NAMED_CONFIGS[k]


def family_of(model: nn.Module) -> Family:
    for fam in ARCHITECTURES.values():
        if type(model) is fam.model_cls:
            return fam
    raise ModelError(f"{type(model).__name__} is not a registered architecture")


def build_model(arch: str, config: Any = None) -> nn.Module:
    """Build an architecture from a config dataclass, a config dict (as in config.json) or None."""
    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    a = ARCHITECTURES[arch]
    if isinstance(config, dict):
        config = config_from_dict(a.config_cls, config)
    return a.model_cls(config)


@dataclass(frozen=True)
class NamedConfig:
    """A named network configuration (not weights): ``make(scale)`` gives its config."""

    name: str
    arch: str
    make: Callable[[int], Any]
    description: str
    default_scale: int

    def config(self, scale: int | None = None) -> Any:
        scale = scale or self.default_scale
        supported = ARCHITECTURES[self.arch].scales
        if supported and scale not in supported:
            raise ModelError(
                f"{self.name} cannot be built for x{scale}; it supports "
                + ", ".join(f"x{s}" for s in supported)
            )
        return self.make(scale)

    def build(self, scale: int | None = None) -> nn.Module:
        return build_model(self.arch, self.config(scale))


def _bvsr(feat: int, bi: bool) -> Callable[[int], BasicVSRConfig]:
    return lambda scale: BasicVSRConfig(num_feat=feat, bidirectional=bi)


NAMED_CONFIGS: dict[str, NamedConfig] = _unique(
    [
        NamedConfig("spynet", "spynet", lambda s: SPyNetConfig(), "SPyNet flow network", 4),
        NamedConfig(
            "basicvsr",
            "basicvsr",
            _bvsr(64, True),
            "BasicVSR, bidirectional recurrent video SR (teacher of SSL-bi)",
            4,
        ),
        NamedConfig(
            "basicvsr-uni",
            "basicvsr",
            _bvsr(64, False),
            "BasicVSR-uni, forward-only recurrent video SR (teacher of SSL-uni)",
            4,
        ),
        # Width 32 gives the FLOPs of the 0.5-ratio pruned networks (see docs/model-sizes.md).
        NamedConfig(
            "basicvsr-lite", "basicvsr", _bvsr(32, True), "BasicVSR uniformly narrowed to 32 features", 4
        ),
        NamedConfig(
            "basicvsr-uni-lite",
            "basicvsr",
            _bvsr(32, False),
            "BasicVSR-uni uniformly narrowed to 32 features",
            4,
        ),
        NamedConfig(
            "edsr-baseline", "edsr", lambda s: EDSRConfig(scale=s), "EDSR baseline (N_c 64, N_l 1, N_b 16)", 2
        ),
        NamedConfig(
            "edsrmini",
            "edsr",
            lambda s: EDSRConfig(num_feat=16, num_layer=1, num_block=8, scale=s),
            "EDSRmini (N_c 16, N_l 1, N_b 8), distilled from EDSR baseline",
            2,
        ),
        NamedConfig(
            "edsr-s32",
            "edsr",
            lambda s: EDSRConfig(num_feat=32, num_layer=1, num_block=8, scale=s),
            "EDSR student sized by speed (32 features x 8 blocks): 2.85x SPAN's speed at x2 in fp32 "
            "(docs/bench-student-sizes-x2.json), a SPAN-taught edsrmini with 4x the capacity",
            2,
        ),
        NamedConfig(
            "edsr-s32d",
            "edsr",
            lambda s: EDSRConfig(num_feat=32, num_layer=1, num_block=8, scale=s, upsampler="direct"),
            "EDSR student sized by speed with a one-conv upsampler (32 features x 8 blocks): 3.65x "
            "SPAN's speed at x4 in fp32 (docs/bench-student-sizes-x4-direct.json)",
            4,
        ),
        NamedConfig(
            "swinir-lw",
            "swinir",
            lambda s: SwinIRConfig(scale=s),
            "SwinIR lightweight (embed 60, 4 RSTBs of 6 layers)",
            2,
        ),
        NamedConfig(
            "swinirmini",
            "swinir",
            lambda s: SwinIRConfig(embed_dim=24, depths=(4, 4, 4), num_heads=(6, 6, 6), scale=s),
            "SwinIRmini (embed 24, 3 RSTBs of 4 layers), distilled from SwinIR-LW",
            2,
        ),
        NamedConfig(
            "span",
            "span",
            lambda s: SPANConfig(scale=s),
            "SPAN (NTIRE 2024 efficient SR, 48 features, 6 blocks): the peer, converted from ncnn",
            4,
        ),
        NamedConfig(
            "span-s32",
            "span",
            lambda s: SPANConfig(num_feat=32, scale=s),
            "SPAN narrowed to 32 features (stream and blocks), pruned from the converted SPAN and "
            "distilled from it: 2.3x (x4) and 3.1x (x2) SPAN's speed in fp32 "
            "(docs/bench-student-sizes-span-xS.json)",
            4,
        ),
    ],
    "named configuration",
)


def named_config(name: str) -> NamedConfig:
    if name not in NAMED_CONFIGS:
        raise ModelError(f"unknown model configuration {name!r}; known: {', '.join(NAMED_CONFIGS)}")
    return NAMED_CONFIGS[name]


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    """{"architecture": name, "config": {...every constructor argument...}} for config.json."""
    return {"architecture": family_of(model).name, "config": config_to_dict(model.config)}
