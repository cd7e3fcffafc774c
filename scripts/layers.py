"""List which of slimvsr's layers import which (static, from the source), and check the rule.

    python scripts/layers.py          # the table; exit 1 if an import runs against the layering

The layers are the subpackages of ``slimvsr`` (``errors`` and ``_choices`` are shared leaves).
Allowed: app -> engine -> models, compression -> models, compression -> engine (its decoder, so
evaluation sees the pixels the product sees), everyone -> errors / _choices. Never upward.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "slimvsr"
ALLOWED = {
    "app": {"engine", "models", "errors", "_choices"},
    "engine": {"models", "errors", "_choices"},
    "compression": {"models", "engine", "errors", "_choices"},
    "models": {"errors", "_choices"},
    "errors": set(),
    "_choices": {"errors"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else ""


LAYERS = {p.stem for p in SRC.iterdir() if p.name != "__init__.py" and (p.is_dir() or p.suffix == ".py")}


def imports(path: Path) -> set[str]:
    """The slimvsr layers that ``path`` imports (absolute or relative imports); the package's own
    ``__init__`` (its version, the sample's location: a leaf that imports no layer) is left out."""
    tree = ast.parse(path.read_text())
    pkg = path.relative_to(SRC).parent.parts
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1] if node.level <= len(pkg) + 1 else ()
                parts = [*base, *(node.module.split(".") if node.module else [])]
                if not parts:  # "from .. import x": the names are the modules
                    parts = [node.names[0].name]
                out.add(parts[0])
            elif node.module and node.module.split(".")[0] == "slimvsr":
                bits = node.module.split(".")
                out.add(bits[1] if len(bits) > 1 else node.names[0].name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                bits = a.name.split(".")
                if bits[0] == "slimvsr" and len(bits) > 1:
                    out.add(bits[1])
    return {x for x in out if x in LAYERS}


def table() -> dict[str, dict[str, list[str]]]:
    """layer -> imported layer -> the files that import it."""
    t: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for f in sorted(SRC.rglob("*.py")):
        me = layer_of(f)
        if not me:
            continue
        for other in imports(f) - {me}:
            t[me][other].append(str(f.relative_to(SRC)))
    return t


def violations(t: dict[str, dict[str, list[str]]]) -> list[str]:
    return [
        f"{me} -> {other}: {', '.join(files)}"
        for me, deps in t.items()
        for other, files in deps.items()
        if other not in ALLOWED.get(me, set())
    ]


def main() -> int:
    t = table()
    for me in sorted(t):
        deps = ", ".join(f"{o} ({len(fs)} files)" for o, fs in sorted(t[me].items()))
        print(f"{me:12} -> {deps}")
    bad = violations(t)
    for b in bad:
        print(f"NOT ALLOWED: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
