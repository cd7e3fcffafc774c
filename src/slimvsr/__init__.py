"""slimvsr: small, fast video and image super-resolution made by compressing large models."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def sample_clip() -> Path:
    """The bundled sample clip (36 frames of a held-out real scene, with audio), found as package
    data so that a wheel or a frozen app has it too (samples/README.md)."""
    from importlib import resources

    return Path(str(resources.files("slimvsr").joinpath("samples", "bikes.mp4")))
