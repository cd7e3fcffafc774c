"""Rewrite recorded model references and paths in shipped config.json files and records.

Older records named a teacher or an --init by the path it had on the machine that ran it (e.g.
``/work/main/src/slimvsr/models/weights/basicvsr-uni-x4``, ``runs/basicvsr-x4-cpu/model``). This
replaces each such path by the model's name, scale and weights sha256 (``publish.model_ref``),
found among the bundled folders and artifacts/ (a run folder ``runs/NAME/model`` is the model
whose recorded ``training.recipe.out`` is ``runs/NAME``), makes every other string portable, and
regenerates the bundled model cards. Figures are not touched. Idempotent.

    python scripts/portable_metadata.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from slimvsr.compression.publish import model_card, model_ref, portable
from slimvsr.models._weights import HUB_ORG, bundled_root

ROOT = Path(__file__).resolve().parents[1]


def _configs() -> list[Path]:
    return sorted([*bundled_root().glob("*/config.json"), *(ROOT / "artifacts").rglob("*config.json")])


def _index(configs: list[Path]) -> dict[str, Path]:
    """Recorded run folders and known folder paths -> model folder here."""
    idx: dict[str, Path] = {}
    for c in configs:
        meta = json.loads(c.read_text())
        out = ((meta.get("training") or {}).get("recipe") or {}).get("out")
        if out:
            idx.setdefault(out.rstrip("/") + "/model", c.parent)
        rel = c.parent.relative_to(ROOT) if c.parent.is_relative_to(ROOT) else c.parent
        idx[str(rel)] = c.parent
    # The bundled folders win over artifacts copies of the same run.
    for c in configs:
        if c.parent.parent == bundled_root():
            meta = json.loads(c.read_text())
            out = ((meta.get("training") or {}).get("recipe") or {}).get("out")
            if out:
                idx[out.rstrip("/") + "/model"] = c.parent
    return idx


def _ref(value, idx: dict[str, Path]):
    if not isinstance(value, str):
        return value
    text = value
    marker = "src/slimvsr/models/weights/"
    if marker in text:
        text = marker + text.split(marker, 1)[1]
    folder = idx.get(text.rstrip("/")) or (ROOT / text if (ROOT / text / "config.json").is_file() else None)
    return model_ref(folder) if folder else value


def fix(meta: dict, idx: dict[str, Path]) -> dict:
    for key in ("ssl", "distillation"):
        if isinstance(meta.get(key), dict) and "teacher" in meta[key]:
            meta[key]["teacher"] = _ref(meta[key]["teacher"], idx)
    recipe = (meta.get("training") or {}).get("recipe") or {}
    if recipe.get("init"):
        recipe["init"] = _ref(recipe["init"], idx)
    pub = meta.get("published_from")
    if isinstance(pub, dict) and "folder" in pub:
        meta["published_from"] = {"name": pub.get("name"), "sha256": meta.get("sha256")}
    return portable(meta)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only report the files that would change")
    a = p.parse_args()
    configs = _configs()
    idx = _index(configs)
    changed = []
    for c in configs:
        old = json.loads(c.read_text())
        new = fix(json.loads(c.read_text()), idx)
        card = c.parent / "README.md"
        is_bundled = c.parent.parent == bundled_root()
        new_card = None
        if is_bundled:
            scale = new.get("scale") or new["config"].get("scale")
            new_card = model_card(new, f"{HUB_ORG}/{new['name']}-x{scale}")
        if new != old or (new_card is not None and (not card.exists() or card.read_text() != new_card)):
            changed.append(c)
            if not a.check:
                c.write_text(json.dumps(new, indent=2) + "\n")
                if new_card is not None:
                    card.write_text(new_card)
    for c in changed:
        print(("would change " if a.check else "changed ") + str(c.relative_to(ROOT)))
    return 1 if a.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
