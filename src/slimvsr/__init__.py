"""slimvsr: small, fast video and image super-resolution made by compressing large models."""

__version__ = "0.1.0"
