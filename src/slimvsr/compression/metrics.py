"""PSNR and SSIM on the Y channel, the way SR papers report them.

Images are quantised to 8 bits first, converted with MATLAB's ``rgb2ycbcr`` (BT.601, Y in
[16, 235]), and ``border`` pixels (= the scale) are cropped on every side. SSIM is Wang et al.'s:
11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, computed by scikit-image.
"""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 1] (torch or numpy) -> (H, W, 3) uint8, rounded like MATLAB."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.clip(np.round(np.asarray(x, np.float64) * 255.0), 0, 255)
    return x.transpose(1, 2, 0).astype(np.uint8) if x.shape[0] == 3 else x.astype(np.uint8)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr's Y of an (H, W, 3) uint8 image, as float64 in [16, 235]."""
    x = img.astype(np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _crop(y: np.ndarray, border: int) -> np.ndarray:
    return y[border:-border, border:-border] if border else y


def psnr_y(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    a, b = _crop(rgb_to_y(sr), border), _crop(rgb_to_y(hr), border)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim_y(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    from skimage.metrics import structural_similarity

    a, b = _crop(rgb_to_y(sr), border), _crop(rgb_to_y(hr), border)
    return float(
        structural_similarity(
            a,
            b,
            data_range=255.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            K1=0.01,
            K2=0.03,
        )
    )
