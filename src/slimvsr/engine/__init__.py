"""Decode -> chunked (recurrent) inference -> encode, as generators the CLI and GUI both drive."""

from ..models import tiled
from ._encode import CODECS, CONTAINERS, IMAGE_OUT, EncodeSettings
from ._media import IMAGE_EXTS, VideoInfo, decode_frames, probe
from ._pipeline import (
    Downloading,
    Event,
    Finished,
    Job,
    PreviewResult,
    Progress,
    Started,
    UpscaleOptions,
    cpu_has_bf16,
    default_output,
    expand_inputs,
    model_for,
    pick_precision,
    preview,
    upscale,
)
from ._runners import ImageRunner, Precision, UniRunner, WindowRunner, make_runner

__all__ = [
    "CODECS",
    "CONTAINERS",
    "IMAGE_EXTS",
    "IMAGE_OUT",
    "Downloading",
    "EncodeSettings",
    "Event",
    "Finished",
    "ImageRunner",
    "Job",
    "Precision",
    "PreviewResult",
    "Progress",
    "Started",
    "UniRunner",
    "UpscaleOptions",
    "VideoInfo",
    "WindowRunner",
    "cpu_has_bf16",
    "decode_frames",
    "default_output",
    "expand_inputs",
    "make_runner",
    "model_for",
    "pick_precision",
    "preview",
    "probe",
    "tiled",
    "upscale",
]
