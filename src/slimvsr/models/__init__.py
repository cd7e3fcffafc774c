"""Network definitions, the weights format and the registry of bundled weights."""

from ._arch import (
    ARCHITECTURES,
    NAMED_CONFIGS,
    Architecture,
    NamedConfig,
    build_model,
    named_config,
)
from ._basicvsr import BasicVSR, BasicVSRConfig, ResBlockSpec
from ._config import config_from_dict, config_to_dict
from ._descriptor import ModelDescriptor, describe, load_model
from ._edsr import EDSR, EDSRConfig
from ._io import load_pretrained, read_config, save_pretrained, sha256_file
from ._profile import Profile, count_params, profile_model
from ._spynet import SPyNet, SPyNetConfig, flow_warp
from ._swinir import SwinIR, SwinIRConfig
from ._weights import WEIGHTS, WeightsEntry, WeightsInfo, default_model, list_weights, resolve

__all__ = [
    "ARCHITECTURES",
    "EDSR",
    "NAMED_CONFIGS",
    "WEIGHTS",
    "Architecture",
    "BasicVSR",
    "BasicVSRConfig",
    "EDSRConfig",
    "ModelDescriptor",
    "NamedConfig",
    "Profile",
    "ResBlockSpec",
    "SPyNet",
    "SPyNetConfig",
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
    "flow_warp",
    "list_weights",
    "load_model",
    "load_pretrained",
    "named_config",
    "profile_model",
    "read_config",
    "resolve",
    "save_pretrained",
    "sha256_file",
]
