"""Remove from a frozen slimvsr folder what the product never loads: torch's C++ headers, CMake
files and test binaries, Qt translations and the QML/Quick/WebEngine parts PySide6 ships. The
smoke test (packaging/smoke.sh) checks that nothing needed went with them.

    python packaging/trim.py build/pyi-dist/slimvsr
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# Paths below _internal/, as glob patterns.
REMOVE = [
    "torch/include",
    "torch/share",
    "torch/test",
    "torch/bin/test_*",
    "torch/lib/libtorch_python.so.debug",
    "torch/_inductor/**/*.cpp",
    "PySide6/Qt/translations",
    "PySide6/Qt/qml",
    "PySide6/Qt/lib/libQt6Quick*",
    "PySide6/Qt/lib/libQt6Qml*",
    "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/lib/libQt6WebEngine*",
    "PySide6/Qt/lib/libQt6Designer*",
    "PySide6/Qt/plugins/qmltooling",
    "PySide6/Qt/plugins/designer",
    "PySide6/lupdate",
    "PySide6/designer",
    "PySide6/assistant",
]


def trim(app: Path) -> int:
    root = app / "_internal"
    freed = 0
    for pattern in REMOVE:
        for p in sorted(root.glob(pattern), reverse=True):
            if p.is_dir():
                freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                shutil.rmtree(p)
            elif p.exists():
                freed += p.stat().st_size
                p.unlink()
    return freed


if __name__ == "__main__":
    freed = trim(Path(sys.argv[1]))
    print(f"trim: removed {freed / 2**20:.0f} MB", file=sys.stderr)
