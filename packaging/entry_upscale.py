"""Frozen entry point of vsr-upscale (PyInstaller runs this file as __main__)."""

import sys

from slimvsr.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
