"""Network definitions, the weights format and the registry of bundled weights."""

from ._arch import (
    ARCHITECTURES,
    NAMED_CONFIGS,
    NamedConfig,
    build_model,
    family_of,
    named_config,
    register_family,
    unregister_family,
)
from ._basicvsr import BasicVSR, BasicVSRConfig, ResBlockSpec
from ._config import config_from_dict, config_to_dict
from ._descriptor import ModelDescriptor, describe, load_model
from ._edsr import EDSR, EDSRConfig
from ._family import CompressionHooks, Family, image_family, tiled
from ._hub import HubRef, parse_repo_ref, read_pins, write_pin
from ._io import Storage, load_pretrained, read_config, save_pretrained, sha256_file
from ._profile import Profile, count_params, profile_model, profile_size
from ._span import (
    SPAN,
    SPANChannels,
    SPANConfig,
    read_ncnn_span,
    slice_span,
    span_channel_groups,
    span_from_ncnn,
)
from ._spynet import SPyNet, SPyNetConfig, flow_warp
from ._swinir import SwinIR, SwinIRConfig
from ._weights import (
    WEIGHTS,
    Located,
    WeightsEntry,
    WeightsInfo,
    default_model,
    fetch,
    list_weights,
    locate,
    measured_ms,
    measured_speeds,
    resolve,
)

__all__ = [
    "ARCHITECTURES",
    "EDSR",
    "NAMED_CONFIGS",
    "SPAN",
    "WEIGHTS",
    "BasicVSR",
    "BasicVSRConfig",
    "CompressionHooks",
    "EDSRConfig",
    "Family",
    "HubRef",
    "Located",
    "ModelDescriptor",
    "NamedConfig",
    "Profile",
    "ResBlockSpec",
    "SPANChannels",
    "SPANConfig",
    "SPyNet",
    "SPyNetConfig",
    "Storage",
    "SwinIR",
    "SwinIRConfig",
    "WeightsEntry",
    "WeightsInfo",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "count_params",
    "default_model",
    "describe",
    "family_of",
    "fetch",
    "flow_warp",
    "image_family",
    "list_weights",
    "load_model",
    "load_pretrained",
    "locate",
    "measured_ms",
    "measured_speeds",
    "named_config",
    "parse_repo_ref",
    "profile_model",
    "profile_size",
    "read_config",
    "read_ncnn_span",
    "read_pins",
    "register_family",
    "resolve",
    "save_pretrained",
    "sha256_file",
    "slice_span",
    "span_channel_groups",
    "span_from_ncnn",
    "tiled",
    "unregister_family",
    "write_pin",
]
