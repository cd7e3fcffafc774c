"""Tiny random-width variants of every registered architecture, for fast tests."""

from __future__ import annotations

import random

from slimvsr.models import (
    ARCHITECTURES,
    BasicVSRConfig,
    EDSRConfig,
    ResBlockSpec,
    SPANConfig,
    SPyNetConfig,
    SwinIRConfig,
)


def tiny_config(arch: str, seed: int = 0, scale: int = 2):
    r = random.Random(seed)
    if arch == "spynet":
        return SPyNetConfig()
    if arch == "basicvsr":
        return BasicVSRConfig(
            num_feat=r.choice([4, 6, 8]), num_block=r.choice([1, 2]), bidirectional=bool(seed % 2)
        )
    if arch == "edsr":
        return EDSRConfig(
            num_feat=r.choice([4, 8]), num_layer=r.choice([1, 2]), num_block=r.choice([1, 2]), scale=scale
        )
    if arch == "swinir":
        return SwinIRConfig(
            embed_dim=r.choice([6, 12]),
            depths=(2,),
            num_heads=(r.choice([1, 2, 3]),),
            window_size=4,
            scale=scale,
        )
    if arch == "span":
        return SPANConfig(num_feat=r.choice([4, 8]), num_block=r.choice([1, 2]), scale=scale)
    raise KeyError(arch)


def pruned_basicvsr_config(seed: int = 0, bidirectional: bool = True) -> BasicVSRConfig:
    """A BasicVSR config with random RSC block widths/indices and pruned upsampler groups."""
    r = random.Random(seed)
    c, nb = 8, 2

    def spec() -> ResBlockSpec:
        return ResBlockSpec(
            tuple(sorted(r.sample(range(c), r.randint(1, c)))),
            r.randint(1, c),
            tuple(sorted(r.sample(range(c), r.randint(1, c)))),
        )

    return BasicVSRConfig(
        num_feat=c,
        num_block=nb,
        bidirectional=bidirectional,
        forward_blocks=tuple(spec() for _ in range(nb)),
        backward_blocks=tuple(spec() for _ in range(nb)) if bidirectional else None,
        up1_idx=tuple(sorted(r.sample(range(c), 5))),
        up2_idx=tuple(sorted(r.sample(range(c), 3))),
        hr_idx=tuple(sorted(r.sample(range(c), 6))),
    )


ARCH_NAMES = list(ARCHITECTURES)
