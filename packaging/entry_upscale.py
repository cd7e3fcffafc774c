"""Frozen entry point of vsr-upscale (PyInstaller runs this file as __main__)."""

from slimvsr.app.cli import entry

if __name__ == "__main__":
    entry()
