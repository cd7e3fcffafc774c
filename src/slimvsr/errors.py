"""The typed errors of slimvsr. Messages name the offending value and say what to do.

The CLI and GUI turn these into one line and an exit code (``exit_code``); anything else is a bug
and shows a traceback. Shared by every layer, so it depends on nothing.
"""

from __future__ import annotations


class SlimVSRError(Exception):
    """Base of all expected errors. ``exit_code`` 2 = usage/input error, 1 = failure during a run."""

    exit_code = 1


class UsageError(SlimVSRError):
    """A bad option or combination of options."""

    exit_code = 2


class InputError(SlimVSRError):
    """An input that cannot be read: missing, not media, no video stream, corrupt."""

    exit_code = 2


class ModelError(SlimVSRError):
    """Unknown model name, unsupported scale, or weights that are not available."""

    exit_code = 2


class WeightsError(SlimVSRError):
    """A weights folder that is missing, tampered with, truncated or inconsistent."""

    exit_code = 2


class OutputError(SlimVSRError):
    """The output cannot be written: exists, same as input, codec/container mismatch, disk full."""

    exit_code = 2


class DeviceError(SlimVSRError):
    """The requested device or precision is not available here."""

    exit_code = 2


class BackendError(SlimVSRError):
    """The requested inference backend is not installed or cannot run this model or device."""

    exit_code = 2


class RunError(SlimVSRError):
    """A failure in the middle of a run (decode/encode error, out of memory)."""

    exit_code = 1


class Cancelled(SlimVSRError):
    """The run was cancelled by the user; nothing was left under the final output name."""

    exit_code = 130


class ConfigError(SlimVSRError):
    """A configuration value outside its allowed set or bounds (names the allowed values)."""

    exit_code = 2


class CompressionError(SlimVSRError):
    """A compression run that cannot go ahead: wrong kind of teacher, no data, no recipe."""

    exit_code = 2


class Skipped(SlimVSRError):
    """The job did nothing on purpose (its output exists and skipping was asked); not a failure."""

    exit_code = 0


class TrainingStopped(SlimVSRError):
    """A training run reached its time limit; it checkpointed and the same command resumes it.
    Exit code 75 (EX_TEMPFAIL): not done, nothing wrong, try again."""

    exit_code = 75
