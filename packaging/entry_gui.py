"""Frozen entry point of vsr-gui (PyInstaller runs this file as __main__)."""

import sys

from slimvsr.app.gui import main

if __name__ == "__main__":
    sys.exit(main())
