"""Parameter and multiply-accumulate counts, measured by running the model on the meta device.

MACs follow the convention of both papers' "FLOPs" columns: one multiply-accumulate of a weight
layer (conv, linear) counts once. The activation-by-activation matmuls inside window attention are
reported separately (``attn_macs``) since the papers' figures leave them out (docs/model-sizes.md).
For BasicVSR models the count is per output frame and excludes SPyNet, as the SSL paper does;
``include_flow`` adds one flow per frame for the uni model and two for the bidirectional one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._arch import arch_of, build_model
from ._basicvsr import BasicVSR
from ._spynet import SPyNet
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
    return sum(p.numel() for n, p in model.named_parameters() if include_flow or not n.startswith("spynet."))


def _count_macs(model: nn.Module, run: callable) -> tuple[int, int, int]:  # type: ignore[valid-type]
    """(weight MACs outside spynet, weight MACs inside spynet, attention MACs) of ``run()``."""
    totals = {"main": 0, "flow": 0, "attn": 0}
    handles = []
    for name, mod in model.named_modules():
        bucket = "flow" if name.startswith("spynet") or isinstance(model, SPyNet) else "main"
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
    with torch.device("meta"):
        meta = build_model(arch_of(model).name, model.config)
    if isinstance(meta, BasicVSR):
        frames = 2
        x = torch.empty(1, frames, 3, h, w, device="meta")
        main, _, attn = _count_macs(meta, lambda: meta(x))
        # SPyNet per frame pair, measured on its own so the count is per steady-state frame.
        a = torch.empty(1, 3, h, w, device="meta")
        _, flow_pair, _ = _count_macs(meta, lambda: meta.spynet(a, a))
        macs = main // frames
        if include_flow:
            macs += flow_pair * (2 if meta.config.bidirectional else 1)
        return Profile(count_params(model, include_flow), macs, attn // frames, (h, w))
    if isinstance(meta, SPyNet):
        a = torch.empty(1, 3, h, w, device="meta")
        _, flow_pair, _ = _count_macs(meta, lambda: meta(a, a))
        return Profile(count_params(model), flow_pair, 0, (h, w))
    x = torch.empty(1, 3, h, w, device="meta")
    main, _, attn = _count_macs(meta, lambda: meta(x))
    return Profile(count_params(model), main, attn, (h, w))
