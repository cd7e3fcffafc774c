"""``vsr-gui``: the desktop app (not yet available; see the project's issue tracker)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("vsr-gui: not yet available in this version; use vsr-upscale", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
