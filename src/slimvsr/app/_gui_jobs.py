"""The GUI's job queue: job records, the table model, and the worker that drives the engine.

The worker runs the engine's generator (the same one the CLI drives) in a plain Python thread and
puts its events on a queue, which the window drains on the GUI thread (``MainWindow._pump``). No
Qt object and no signal is touched off the GUI thread: a cross-thread signal carrying Python
objects makes Qt take an internal lock and then the GIL, while the GUI thread may hold the GIL
and want the same lock (a deadlock neither thread can leave; the test suite hung that way once).
Cancelling asks the engine job to stop between chunks, which leaves no file under the output name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

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
    model_used: str | None = None  # the model the engine picked (with "auto": by the input's kind)

    def set_status(self, s: str) -> None:
        self.status = s
        self.history.append(s)

    def model_label(self) -> str:
        if self.options.model is None:
            return f"auto: {self.model_used}" if self.model_used else "auto"
        return Path(self.options.model).name

    def reset(self) -> None:
        self.progress, self.fps, self.eta_s, self.message, self.output = 0.0, 0.0, None, "", None
        self.model_used = None
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


class Background:
    """One call in a plain Python thread; what it reports waits in ``events`` for the GUI thread.

    ``fn(report)`` runs in the thread and calls ``report(kind, payload)``; an exception ends it with
    a ``("failed", one-line message)`` event (``Cancelled`` with ``("cancelled", None)``)."""

    def __init__(self, fn: Callable[[Callable[[str, object], None]], None], name: str) -> None:
        self.events: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._fn = fn
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            self._fn(lambda kind, payload: self.events.put((kind, payload)))
        except Cancelled:
            self.events.put(("cancelled", None))
        except SlimVSRError as e:
            self.events.put(("failed", str(e)))
        except Exception as e:
            self.events.put(("failed", f"{type(e).__name__}: {e}"))

    def alive(self) -> bool:
        return self.thread.is_alive()

    def drain(self) -> list[tuple[str, object]]:
        """Everything reported so far (GUI thread)."""
        out = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self.events.get_nowait())
        return out

    def join(self) -> None:
        self.thread.join()


class Worker(Background):
    """Runs one engine job: events ("event", Started | Progress | Finished), then the end."""

    def __init__(self, item: JobItem) -> None:
        self.item = item
        self.job = Job(item.input, item.output_dir, item.options)
        super().__init__(self._drive, name="slimvsr-gui-job")

    def cancel(self) -> None:
        self.job.cancel()  # thread-safe: an Event the engine checks between chunks

    def _drive(self, report: Callable[[str, object], None]) -> None:
        gen = self.job.run()
        try:
            for ev in gen:
                if isinstance(ev, (Started, Progress, Finished)):
                    report("event", ev)
        finally:
            gen.close()


def with_options(item: JobItem, **changes: object) -> None:
    item.options = dataclasses.replace(item.options, **changes)
