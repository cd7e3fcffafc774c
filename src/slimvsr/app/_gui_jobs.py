"""The queue's table model: how ``JobQueue``'s jobs (``_queue.py``, Qt-free) are drawn."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ._queue import JobItem, JobState

COLUMNS = ("Input", "Model", "Scale", "Output", "Status", "Progress", "FPS", "ETA")


class QueueModel(QAbstractTableModel):
    """Rows are ``jobs``, the controller's own list (the model never changes it)."""

    def __init__(self, jobs: list[JobItem]) -> None:
        super().__init__()
        self.jobs = jobs

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
            # A bar only while running or when done; other states show their text instead.
            return j.progress if j.status in (JobState.RUNNING, JobState.DONE) else None
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
            status = "cancelling..." if j.cancelling else str(j.status)
            return f"{status}: {j.message}" if j.message else status
        if col == "Progress":
            if j.status in (JobState.RUNNING, JobState.DONE):
                return f"{100 * j.progress:.0f}%"
            return "" if j.status is JobState.PENDING else str(j.status)
        if col == "FPS":
            return f"{j.fps:.2f}" if j.fps else ""
        if col == "ETA":
            if j.eta_s is None or j.status is not JobState.RUNNING:
                return ""
            return f"{int(j.eta_s // 60)}:{int(j.eta_s % 60):02d}"
        return None

    @contextlib.contextmanager
    def inserting(self, first: int, count: int) -> Iterator[None]:
        self.beginInsertRows(QModelIndex(), first, first + count - 1)
        try:
            yield
        finally:
            self.endInsertRows()

    @contextlib.contextmanager
    def removing(self, row: int) -> Iterator[None]:
        self.beginRemoveRows(QModelIndex(), row, row)
        try:
            yield
        finally:
            self.endRemoveRows()

    def changed(self, job: JobItem) -> None:
        if job in self.jobs:
            r = self.jobs.index(job)
            self.dataChanged.emit(self.index(r, 0), self.index(r, len(COLUMNS) - 1))
