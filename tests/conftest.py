from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))  # tests/media.py


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _isolated_hub_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests see an empty Hugging Face cache unless they fill one themselves."""
    cache = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


HUB_TOKEN = "hf_standin_token"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The stand-in on 127.0.0.1, the client pointed at it (online, LFS transfers), an empty
    registry pins file and nothing bundled."""
    from huggingface_hub import constants

    from hub_standin import HubStandIn

    with HubStandIn(token=HUB_TOKEN) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored token
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the stand-in speaks LFS
        pins = tmp_path / "published.json"
        pins.write_text(json.dumps({"format_version": 1, "models": {}}))
        monkeypatch.setenv("SLIMVSR_PINS", str(pins))
        from slimvsr.models import _weights

        monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path / "nothing-bundled")
        yield server
