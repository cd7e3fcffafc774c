"""The GUI's job queue: job records, the table model, and the worker that drives the engine.

The worker runs the engine's generator (the same one the CLI drives) in a QThread and reports its
events with signals; it never touches widgets. Cancelling asks the engine job to stop between
chunks, which leaves no file under the output name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QThread, Signal

from ..engine import Finished, Job, Progress, Started, UpscaleOptions
from ..errors import Cancelled, SlimVSRError

PENDING, RUNNING, DONE, FAILED, CANCELLED = "pending", "running", "done", "failed", "cancelled"


@dataclass
class JobItem:
    input: Path
    options: UpscaleOptions
    output_dir: Path | None = None  # None: next to the input
    status: str = PENDING
    progress: float = 0.0  # 0..1
    fps: float = 0.0
    eta_s: float | None = None
    output: Path | None = None
    message: str = ""
    frames_total: int | None = None
    history: list[str] = field(default_factory=list)  # statuses it went through

    def set_status(self, s: str) -> None:
        self.status = s
        self.history.append(s)

    def model_label(self) -> str:
        return Path(self.options.model).name

    def reset(self) -> None:
        self.progress, self.fps, self.eta_s, self.message, self.output = 0.0, 0.0, None, "", None
        self.set_status(PENDING)


COLUMNS = ("Input", "Model", "Scale", "Output", "Status", "Progress", "FPS", "ETA")


class QueueModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[JobItem] = []

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.jobs)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = 0):
        if not index.isValid():
            return None
        j = self.jobs[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and col == "Status" and j.message:
            return j.message
        if role == Qt.ItemDataRole.UserRole and col == "Progress":
            return j.progress
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == "Input":
            return j.input.name
        if col == "Model":
            return j.model_label()
        if col == "Scale":
            return f"x{j.options.scale}" if j.options.scale else "auto"
        if col == "Output":
            return str(j.output or j.output_dir or "next to input")
        if col == "Status":
            return f"{j.status}: {j.message}" if j.message else j.status
        if col == "Progress":
            return f"{100 * j.progress:.0f}%"
        if col == "FPS":
            return f"{j.fps:.2f}" if j.fps else ""
        if col == "ETA":
            if j.eta_s is None or j.status != RUNNING:
                return ""
            return f"{int(j.eta_s // 60)}:{int(j.eta_s % 60):02d}"
        return None

    def add(self, job: JobItem) -> None:
        self.beginInsertRows(QModelIndex(), len(self.jobs), len(self.jobs))
        self.jobs.append(job)
        self.endInsertRows()

    def remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.jobs[row]
        self.endRemoveRows()

    def changed(self, job: JobItem) -> None:
        if job in self.jobs:
            r = self.jobs.index(job)
            self.dataChanged.emit(self.index(r, 0), self.index(r, len(COLUMNS) - 1))

    def next_pending(self) -> JobItem | None:
        return next((j for j in self.jobs if j.status == PENDING), None)


class Worker(QObject):
    """Runs one engine job; lives in its own QThread."""

    started_job = Signal(object, object)  # JobItem, Started
    progressed = Signal(object, object)  # JobItem, Progress
    finished_job = Signal(object, object)  # JobItem, Finished
    failed = Signal(object, str)  # JobItem, one-line message
    cancelled = Signal(object)

    def __init__(self, item: JobItem) -> None:
        super().__init__()
        self.item = item
        self.job = Job(item.input, item.output_dir, item.options)

    def cancel(self) -> None:
        self.job.cancel()  # thread-safe: an Event the engine checks between chunks

    def run(self) -> None:
        gen = self.job.run()
        try:
            for ev in gen:
                if isinstance(ev, Started):
                    self.started_job.emit(self.item, ev)
                elif isinstance(ev, Progress):
                    self.progressed.emit(self.item, ev)
                elif isinstance(ev, Finished):
                    self.finished_job.emit(self.item, ev)
        except Cancelled:
            self.cancelled.emit(self.item)
        except SlimVSRError as e:
            self.failed.emit(self.item, str(e))
        except Exception as e:
            self.failed.emit(self.item, f"{type(e).__name__}: {e}")
        finally:
            gen.close()


class WorkerThread(QThread):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def run(self) -> None:
        self.worker.run()


def with_options(item: JobItem, **changes: object) -> None:
    item.options = dataclasses.replace(item.options, **changes)
