"""Parameter and multiply-accumulate counts, measured by running the model on the meta device.

MACs follow the convention of both papers' "FLOPs" columns: one multiply-accumulate of a weight
layer (conv, linear) counts once. The activation-by-activation matmuls inside window attention are
reported separately (``attn_macs``) since the papers' figures leave them out (docs/model-sizes.md).
For video families the count is per output frame and excludes the flow sub-network, as the SSL
paper does; ``include_flow`` adds the family's flows per frame (one for BasicVSR-uni, two for
the bidirectional model). What to run and how to divide come from the family (``_family.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._arch import build_model, family_of
from ._swinir import WindowAttention


@dataclass(frozen=True)
class Profile:
    params: int  # all parameters (SPyNet excluded for BasicVSR unless include_flow)
    macs: int  # weight-layer multiply-accumulates per output frame/image
    attn_macs: int  # window-attention q@k and attn@v multiply-accumulates (SwinIR), else 0
    input_size: tuple[int, int]  # LR (H, W)

    def as_dict(self) -> dict[str, object]:
        return {
            "params": self.params,
            "macs": self.macs,
            "attn_macs": self.attn_macs,
            "input_size": list(self.input_size),
        }


def count_params(model: nn.Module, include_flow: bool = True) -> int:
    """Parameters, without the family's flow sub-network unless ``include_flow``."""
    flow = family_of(model).flow_module
    skip = f"{flow}." if flow and not include_flow else None
    return sum(p.numel() for n, p in model.named_parameters() if skip is None or not n.startswith(skip))


def _count_macs(model: nn.Module, run: callable, flow: str | None) -> tuple[int, int, int]:  # type: ignore[valid-type]
    """(weight MACs outside the flow sub-network ``flow``, inside it, attention MACs) of ``run()``."""
    totals = {"main": 0, "flow": 0, "attn": 0}
    handles = []
    for name, mod in model.named_modules():
        bucket = "flow" if flow and name.startswith(flow) else "main"
        if isinstance(mod, nn.Conv2d):

            def hook(m, inp, out, b=bucket):
                k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                totals[b] += out.numel() * k
        elif isinstance(mod, nn.Linear):

            def hook(m, inp, out, b=bucket):
                totals[b] += out.numel() * m.in_features
        elif isinstance(mod, WindowAttention):

            def hook(m, inp, out):
                bw, n, c = inp[0].shape
                totals["attn"] += 2 * bw * n * n * c  # q@k^T and attn@v, all heads together
        else:
            continue
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return totals["main"], totals["flow"], totals["attn"]


def profile_model(model: nn.Module, input_size: tuple[int, int], *, include_flow: bool = False) -> Profile:
    """Count params and MACs for one LR input of ``input_size`` (H, W); shapes only, no compute."""
    h, w = input_size
    fam = family_of(model)
    with torch.device("meta"):
        meta = build_model(fam.name, model.config)
    args = fam.example_input(meta.config, h, w)
    main, _, attn = _count_macs(meta, lambda: meta(*args), fam.flow_module)
    n = fam.frames_per_input
    macs = main // n
    if include_flow and fam.flow_module:
        # One flow per frame pair, measured on its own so the count is per steady-state frame.
        a = torch.empty(1, 3, h, w, device="meta")
        flow_net = getattr(meta, fam.flow_module)
        _, flow_pair, _ = _count_macs(meta, lambda: flow_net(a, a), fam.flow_module)
        macs += flow_pair * fam.flows_per_frame(meta.config)
    return Profile(count_params(model, include_flow), macs, attn // n, (h, w))


def profile_size(model: nn.Module) -> tuple[int, int]:
    """The LR (H, W) at which the model's family quotes MACs (model cards, tables)."""
    return family_of(model).profile_size(model.config)
