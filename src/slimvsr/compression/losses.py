"""The training losses, in one place: Charbonnier (the SR and SSL losses), flow end-point,
warping and smoothness errors (SPyNet), the prune-then-distil paper's Laplacian and high-frequency
distillation loss (eq. 8-9), and SSL's Temporal Finetuning loss (eq. 6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models import flow_warp


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """mean(sqrt((pred - target)^2 + eps^2)), in float32 whatever the autocast dtype."""
    d = pred.float() - target.float()
    return torch.sqrt(d * d + eps * eps).mean()


def epe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean end-point error (pixels) of flows (N, 2, H, W)."""
    return torch.linalg.vector_norm(pred.float() - gt, dim=1).mean()


def photometric_error(
    ref: torch.Tensor, supp: torch.Tensor, flow: torch.Tensor, *, charbonnier: bool = True
) -> torch.Tensor:
    """Per-sample distance (0-255 scale) between ``ref`` and ``supp`` warped by ``flow``, ignoring
    a 4-pixel border where the flow may point outside the frame. ``charbonnier=False`` is the
    mean absolute warping error that ``vsr-compress eval-flow`` reports; the Charbonnier form
    (eps 1 on the 0-255 scale) is its differentiable training loss."""
    d = (flow_warp(supp.float(), flow.float(), padding_mode="border") - ref.float()) * 255.0
    d = d[..., 4:-4, 4:-4]
    if not charbonnier:
        return d.abs().mean(dim=(1, 2, 3))
    return torch.sqrt(d * d + 1.0).mean(dim=(1, 2, 3)) - 1.0


def smoothness(flow: torch.Tensor, ref: torch.Tensor, edge: float = 10.0) -> torch.Tensor:
    """Per-sample edge-aware first-order smoothness of ``flow`` (px per px): flow gradients count
    less across image edges of ``ref``."""
    f, im = flow.float(), ref.float()
    dx = (f[..., :, 1:] - f[..., :, :-1]).abs().mean(1)
    dy = (f[..., 1:, :] - f[..., :-1, :]).abs().mean(1)
    wx = torch.exp(-edge * (im[..., :, 1:] - im[..., :, :-1]).abs().mean(1))
    wy = torch.exp(-edge * (im[..., 1:, :] - im[..., :-1, :]).abs().mean(1))
    return (dx * wx).mean(dim=(1, 2)) + (dy * wy).mean(dim=(1, 2))


def _gauss5(x: torch.Tensor) -> torch.Tensor:
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=x.device, dtype=x.dtype) / 16.0
    k = torch.outer(k1, k1).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])


def high_freq(x: torch.Tensor) -> torch.Tensor:
    """HF(x) = x - GaussianBlur5x5(x)."""
    return x - _gauss5(x)


def laplacian_loss(a: torch.Tensor, b: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Laplacian-pyramid loss of Niklaus & Liu (2018), sum_j 2^j ||L_j(a) - L_j(b)||_1, divided by
    the number of elements of the full-resolution level so that it does not grow with batch and
    patch size. The norm is a sum over each level's pixels, and level j has 4^-j of them, so per
    pixel the coarse levels weigh 2^-j of the finest: detail leads, colour and low frequencies
    still count. The last level is the low-pass residual."""
    n0 = a.numel()
    loss = a.new_zeros(())
    for j in range(levels):
        if min(a.shape[-2:]) < 6 or j == levels - 1:
            return loss + 2.0**j * (a - b).abs().sum() / n0
        da, db = F.avg_pool2d(_gauss5(a), 2), F.avg_pool2d(_gauss5(b), 2)
        la = a - F.interpolate(da, size=a.shape[-2:], mode="bilinear", align_corners=False)
        lb = b - F.interpolate(db, size=b.shape[-2:], mode="bilinear", align_corners=False)
        loss = loss + 2.0**j * (la - lb).abs().sum() / n0
        a, b = da, db
    return loss


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, gt: torch.Tensor, alpha: float = 0.1
) -> torch.Tensor:
    """Eq. (8)-(9) with alpha 0.1 (the paper's value)."""
    s, t = student.float(), teacher.float().detach()
    return (
        alpha * charbonnier(s, gt, eps=1e-3)
        + laplacian_loss(s, t)
        + laplacian_loss(high_freq(s), high_freq(t))
    )


def tf_loss(
    student_hidden: tuple[torch.Tensor, torch.Tensor | None],
    teacher_hidden: tuple[torch.Tensor, torch.Tensor | None],
) -> torch.Tensor:
    """Temporal Finetuning (eq. 6): distance of the final forward (and backward) hidden states."""
    loss = charbonnier(student_hidden[0], teacher_hidden[0].detach())
    if student_hidden[1] is not None and teacher_hidden[1] is not None:
        loss = loss + charbonnier(student_hidden[1], teacher_hidden[1].detach())
    return loss
