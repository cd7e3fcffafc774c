"""``vsr-gui``: drop videos and photos in, get them upscaled.

The window holds a drop zone, the job queue, the settings applied to new jobs (or to the selected
job while it is pending), and a before/after preview with a split slider. Jobs run one after the
other in a worker thread that drives the engine's generator; the window stays responsive, errors
land on their job, and closing the window during a job asks, then cancels cleanly.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..engine import (
    CODECS,
    EncodeSettings,
    UpscaleOptions,
    cpu_has_bf16,
    model_for,
    preview,
    preview_output,
    probe,
)
from ..errors import SlimVSRError, UsageError
from ..models import load_model, measured_ms, measured_speeds
from ._gui_jobs import QueueModel
from ._queue import JobItem, JobQueue, JobState

ORG, APP = "slimvsr", "vsr-gui"
ZOOMS = {"Fit": None, "100%": 1.0, "200%": 2.0, "400%": 4.0}
# The settings' existing-output policy -> (overwrite, skip_existing) of UpscaleOptions.
EXISTING = {
    "stop with an error": (False, False),
    "skip the job": (False, True),
    "overwrite it": (True, False),
}


def _qimage(rgb) -> QImage:
    h, w = rgb.shape[:2]
    return QImage(rgb.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class DropZone(QLabel):
    """Accepts dropped files and folders (and clicks to open a file dialog)."""

    dropped = Signal(list)

    def __init__(self) -> None:
        super().__init__("Drop videos, photos or folders here\nor click to open")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumHeight(90)
        self.setStyleSheet("QLabel { border: 2px dashed #888; border-radius: 8px; color: #444; }")

    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in e.mimeData().urls() if u.isLocalFile()]
        if paths:
            e.acceptProposedAction()
            self.dropped.emit(paths)

    def mousePressEvent(self, e) -> None:  # noqa: N802
        files = open_media_dialog(self)
        if files:
            self.dropped.emit(files)


MEDIA_FILTER = (
    "Videos and photos (*.mp4 *.mkv *.mov *.webm *.avi *.m4v *.mpg *.mpeg *.ts "
    "*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;"
    "Videos (*.mp4 *.mkv *.mov *.webm *.avi *.m4v *.mpg *.mpeg *.ts);;"
    "Photos (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
)


def open_media_dialog(parent) -> list[Path]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Add videos or photos", "", MEDIA_FILTER)
    return [Path(f) for f in files]


class SplitView(QWidget):
    """Before (left of the split) / after (right) of two same-size images, fit to the window or
    zoomed (1:1 and more) with both halves panned together. Left-drag moves the split,
    right- or middle-drag pans, the wheel zooms."""

    def __init__(self) -> None:
        super().__init__()
        self.before: QPixmap | None = None
        self.after: QPixmap | None = None
        self.labels = ("bicubic", "model")
        self.split = 0.5
        self.zoom: float | None = None  # None: fit to the window; else screen pixels per image pixel
        self.pan = QPointF(0, 0)  # image point shown at the centre, offset from the image's centre
        self._drag: QPointF | None = None
        self.setMinimumSize(240, 160)

    def set_images(
        self, before: QImage, after: QImage, labels: tuple[str, str] = ("bicubic", "model")
    ) -> None:
        self.before, self.after = QPixmap.fromImage(before), QPixmap.fromImage(after)
        self.labels = labels
        self.update()

    def set_split(self, v: float) -> None:
        self.split = min(1.0, max(0.0, v))
        self.update()

    def set_zoom(self, zoom: float | None) -> None:
        self.zoom = zoom
        if zoom is None:
            self.pan = QPointF(0, 0)
        self.update()

    def scale(self) -> float:
        if self.after is None:
            return 1.0
        if self.zoom is not None:
            return self.zoom
        return min(self.width() / max(1, self.after.width()), self.height() / max(1, self.after.height()))

    def target(self) -> QRectF:
        """Where the image lands in the widget at the current zoom and pan."""
        s = self.scale()
        w, h = self.after.width() * s, self.after.height() * s
        cx = self.width() / 2 - self.pan.x() * s
        cy = self.height() / 2 - self.pan.y() * s
        return QRectF(cx - w / 2, cy - h / 2, w, h)

    def paintEvent(self, e) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        if self.before is None or self.after is None:
            p.setPen(Qt.GlobalColor.lightGray)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Select a job and press Preview")
            return
        smooth = self.zoom is None or self.zoom < 1
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)  # 1:1 and up: real pixels
        t = self.target()
        cut = self.width() * self.split
        src = QRectF(0, 0, self.after.width(), self.after.height())
        p.setClipRect(QRectF(0, 0, cut, self.height()))
        p.drawPixmap(t, self.before, src)
        p.setClipRect(QRectF(cut, 0, self.width() - cut, self.height()))
        p.drawPixmap(t, self.after, src)
        p.setClipping(False)
        p.setPen(QPen(Qt.GlobalColor.white, 2))
        p.drawLine(QPointF(cut, 0), QPointF(cut, self.height()))
        p.drawText(QPointF(6, 16), self.labels[0])
        p.drawText(QPointF(cut + 6, 16), self.labels[1])

    def mousePressEvent(self, e) -> None:  # noqa: N802
        if e.button() in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self._drag = e.position()
        else:
            self.set_split(e.position().x() / max(1, self.width()))

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if self._drag is not None:
            d = e.position() - self._drag
            self._drag = e.position()
            self.pan_by(-d.x() / self.scale(), -d.y() / self.scale())
        else:
            self.set_split(e.position().x() / max(1, self.width()))

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        self._drag = None

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) image pixels, kept within the image."""
        if self.after is None or self.zoom is None:
            return
        hw, hh = self.after.width() / 2, self.after.height() / 2
        x = min(hw, max(-hw, self.pan.x() + dx))
        y = min(hh, max(-hh, self.pan.y() + dy))
        self.pan = QPointF(x, y)
        self.update()

    def wheelEvent(self, e) -> None:  # noqa: N802
        step = 1.25 if e.angleDelta().y() > 0 else 0.8
        self.set_zoom(min(16.0, max(0.1, self.scale() * step)))


class ProgressDelegate(QStyledItemDelegate):
    """A progress bar for running and finished jobs; failed, cancelled, skipped and pending
    ones show no bar (a 0% bar on a failed job reads as 'stuck')."""

    def paint(self, painter, option, index) -> None:
        value = index.data(Qt.ItemDataRole.UserRole)
        if value is None:
            return super().paint(painter, option, index)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 100
        bar.progress = round(100 * value)
        bar.text = f"{bar.progress}%"
        bar.textVisible = True
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


def _devices() -> list[str]:
    import torch

    devs = ["auto", "cpu"]
    if torch.cuda.is_available():
        devs += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devs.append("mps")
    return devs


class MainWindow(QMainWindow):
    job_state_changed = Signal(object)  # JobItem, for tests and the status bar

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("slimvsr — video and photo upscaler")
        self.settings = settings or QSettings(ORG, APP)
        # The queue's logic lives in the Qt-free controller; the window draws it. Background work
        # reports through queues that the controller drains here, on the GUI thread (_queue.py).
        self.jobs = JobQueue(check=self._check_installed, on_state=self._state_changed)
        self.queue = QueueModel(self.jobs.jobs)
        self._pump_timer = QTimer(self)
        self._pump_timer.setInterval(40)
        self._pump_timer.timeout.connect(self._pump)
        self._loading_form = False
        self._closing = False  # quit asked while a job ran: closes once it has stopped
        self._was_busy = False
        self._close_timer = QTimer(self)
        self._close_timer.setInterval(50)
        self._close_timer.timeout.connect(self._finish_close)
        self.autostart = True  # start the queue as soon as jobs are added
        self._build()
        self._load_settings()
        self.resize(1100, 640)

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.drop = DropZone()
        self.drop.dropped.connect(self.add_paths)
        self.table = QTableView()
        self.table.setModel(self.queue)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setItemDelegateForColumn(5, ProgressDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        for col in range(self.queue.columnCount()):  # fits the width: no sideways scrolling
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        for col in (0, 3):  # Input and Output share what is left
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.selectionModel().selectionChanged.connect(self._on_select)
        self.details = QLabel("")
        self.details.setWordWrap(True)  # the selected job's whole status, never cut off
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(36)
        self.btn_start = QPushButton("Start")
        self.btn_cancel = QPushButton("Cancel")
        self.btn_remove = QPushButton("Remove")
        self.btn_retry = QPushButton("Retry")
        self.btn_start.clicked.connect(self.start)
        self.btn_cancel.clicked.connect(self.cancel_selected)
        self.btn_remove.clicked.connect(self.remove_selected)
        self.btn_retry.clicked.connect(self.retry_selected)
        self.btn_open = QPushButton("Open output")
        self.btn_show = QPushButton("Show in folder")
        self.btn_open.clicked.connect(self.open_output)
        self.btn_show.clicked.connect(self.show_in_folder)
        buttons = QHBoxLayout()
        for b in (self.btn_start, self.btn_cancel, self.btn_remove, self.btn_retry):
            buttons.addWidget(b)
        buttons.addStretch()
        for b in (self.btn_open, self.btn_show):
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addWidget(self.drop)
        left.addWidget(self.table, 1)
        left.addWidget(self.details)
        left.addLayout(buttons)

        # Settings.
        self.model_box = QComboBox()
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.scale_box = QComboBox()
        self.device_box = QComboBox()
        self.device_box.addItems(_devices())
        self.precision_box = QComboBox()
        self.precision_box.addItems(["auto", "fp32", "bf16", "fp16"])
        self.backend_box = QComboBox()
        self.backend_box.addItems(["auto", "torch", "openvino"])
        self.backend_box.setToolTip(
            "auto: OpenVINO (CPU, when installed) for the models and precisions it measured at least "
            "1.3x faster end to end, torch otherwise"
        )
        self.outdir = QLineEdit()
        self.outdir.setPlaceholderText("next to each input")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_outdir)
        out_row = QHBoxLayout()
        out_row.addWidget(self.outdir, 1)
        out_row.addWidget(browse)
        self.codec_box = QComboBox()
        self.codec_box.addItems(["auto", *sorted(CODECS)])
        self.codec_box.setToolTip("auto: h264 for 8-bit input, HEVC Main10 for 10-bit input, VP9 in .webm")
        self.crf = QSpinBox()
        self.crf.setRange(0, 51)
        self.crf.setValue(18)
        self.exists_box = QComboBox()
        self.exists_box.addItems(list(EXISTING))
        self.exists_box.setToolTip("What a job does when its output file already exists")
        self.preview_only = QCheckBox("Upscale only a preview range")
        self.range_start = QDoubleSpinBox()
        self.range_start.setRange(0, 1e6)
        self.range_start.setSuffix(" s")
        self.range_len = QDoubleSpinBox()
        self.range_len.setRange(0.1, 1e6)
        self.range_len.setValue(5.0)
        self.range_len.setSuffix(" s")
        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow("", self.model_info)
        form.addRow("Scale", self.scale_box)
        form.addRow("Device", self.device_box)
        form.addRow("Precision", self.precision_box)
        form.addRow("Backend", self.backend_box)
        form.addRow("Output folder", out_row)
        form.addRow("Codec", self.codec_box)
        form.addRow("Quality (CRF)", self.crf)
        form.addRow("If the output exists", self.exists_box)
        form.addRow(self.preview_only)
        form.addRow("Start", self.range_start)
        form.addRow("Duration", self.range_len)
        self.settings_box = QGroupBox("Settings for new jobs")
        self.settings_box.setLayout(form)
        self._fill_models()
        self.model_box.currentIndexChanged.connect(self._on_model_changed)
        boxes = (self.scale_box, self.device_box, self.precision_box, self.backend_box)
        for w in (*boxes, self.codec_box, self.exists_box):
            w.currentIndexChanged.connect(self._form_changed)
        for w in (self.crf, self.range_start, self.range_len):
            w.valueChanged.connect(self._form_changed)
        self.preview_only.toggled.connect(self._form_changed)
        self.preview_only.toggled.connect(self._range_enabled)
        self._range_enabled(self.preview_only.isChecked())
        self.outdir.editingFinished.connect(self._form_changed)

        # Preview.
        self.split = SplitView()
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(0, 100)
        self.split_slider.setValue(50)
        self.split_slider.valueChanged.connect(lambda v: self.split.set_split(v / 100))
        self.preview_time = QDoubleSpinBox()
        self.preview_time.setRange(0, 1e6)
        self.preview_time.setSuffix(" s")
        self.btn_preview = QPushButton("Preview")
        self.btn_preview.clicked.connect(self.preview_selected)
        self.zoom_box = QComboBox()
        self.zoom_box.addItems(list(ZOOMS))
        self.zoom_box.setToolTip("Fit, or real pixels (100%) and closer; right-drag pans, the wheel zooms")
        self.zoom_box.currentTextChanged.connect(lambda t: self.split.set_zoom(ZOOMS[t]))
        self.preview_busy = QProgressBar()
        self.preview_busy.setRange(0, 0)  # indeterminate: a preview computes for a few seconds
        self.preview_busy.setMaximumWidth(80)
        self.preview_busy.setVisible(False)
        prow = QHBoxLayout()
        prow.addWidget(QLabel("Frame at"))
        prow.addWidget(self.preview_time)
        prow.addWidget(self.btn_preview)
        prow.addWidget(self.preview_busy)
        prow.addStretch()
        prow.addWidget(QLabel("Zoom"))
        prow.addWidget(self.zoom_box)
        pbox = QGroupBox("Before / after")
        pl = QVBoxLayout(pbox)
        pl.addWidget(self.split, 1)
        pl.addWidget(self.split_slider)
        pl.addLayout(prow)

        right = QVBoxLayout()
        right.addWidget(self.settings_box)
        right.addWidget(pbox, 1)
        lw, rw = QWidget(), QWidget()
        lw.setLayout(left)
        rw.setLayout(right)
        splitter = QSplitter()
        splitter.addWidget(lw)
        splitter.addWidget(rw)
        splitter.setSizes([620, 480])
        self.setCentralWidget(splitter)
        file_menu = self.menuBar().addMenu("&File")
        add_files = QAction("Add files…", self)
        add_files.setShortcut("Ctrl+O")
        add_files.triggered.connect(self._add_files_dialog)
        add_folder = QAction("Add folder…", self)
        add_folder.triggered.connect(self._browse_input_folder)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(self.close)
        file_menu.addAction(add_files)
        file_menu.addAction(add_folder)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        add_model = QAction("Add model folder…", self)
        add_model.triggered.connect(self._browse_model)
        add_hub = QAction("Add model from the Hub…", self)
        add_hub.triggered.connect(self._ask_hub_model)
        models_menu = self.menuBar().addMenu("&Models")
        models_menu.addAction(add_model)
        models_menu.addAction(add_hub)
        self.statusBar().showMessage("Drop files to add jobs")

    # -- models and settings ---------------------------------------------------------------
    def _fill_models(self) -> None:
        from ..models import WEIGHTS, default_model, resolve

        self.model_box.clear()
        video, image = default_model("video"), default_model("image")
        self.model_box.addItem(
            f"auto ({video} for videos, {image} for photos)",
            {
                "model": None,
                "scales": [],  # each model's own scale
                "present": True,
                "info": f"The default model of each input's kind, at its own scale: {video} for "
                f"videos and frame folders, {image} for photos.",
            },
        )
        speeds = measured_speeds("bf16" if cpu_has_bf16() else "fp32")  # as auto runs here
        for kind, title in (
            ("video", "Video models (x4, use neighbouring frames)"),
            ("image", "Photo models"),
        ):
            self.model_box.addItem(f"— {title} —")
            self.model_box.model().item(self.model_box.count() - 1).setEnabled(False)  # a heading
            for e in (e for e in WEIGHTS.values() if e.kind == kind):
                info = resolve(e.name)
                meta = info.meta
                psnr = ((meta.get("metrics") or {}).get("val") or {}).get("psnr_y")
                size = f"{meta['params'] / 1e6:.2f}M params" if meta.get("params") else ""
                qual = f", val PSNR-Y {psnr:.2f} dB" if psnr else ""
                ms = measured_ms(speeds, info)
                if ms:
                    m = speeds["machine"]
                    qual += (
                        f", {1000 / ms:.2f} fps per 720p output frame (model only, x{e.scales[0]}, "
                        f"{speeds['precision']}, measured on {m['cpu']}, {m['threads']} threads)"
                    )
                avail = {
                    "downloadable": ", downloads on first use",
                    "partial": ", download resumes on first use",
                    "missing": ", not installed",
                }.get(info.source, "")
                scales = "/".join(f"x{s}" for s in e.scales)
                label = (
                    f"{e.name} ({size.replace(' params', '')}, {scales}{avail})"
                    if size
                    else f"{e.name}{avail}"
                )
                self.model_box.addItem(
                    label,
                    {
                        "model": e.name,
                        "scales": list(e.scales),
                        "present": info.present or info.hub is not None,  # a published one downloads
                        "info": f"{e.description}. {size}{qual}".strip(),
                    },
                )

    def _model_at(self, i: int) -> str | bool | None:
        """The ``model`` of list item ``i`` (None: auto); False for a heading, which is no model."""
        data = self.model_box.itemData(i)
        return data["model"] if isinstance(data, dict) else False

    def add_model_folder(self, folder: Path) -> None:
        from ..models import read_config

        meta = read_config(folder)
        scale = meta.get("scale") or meta["config"].get("scale") or 4
        self.model_box.addItem(
            f"{folder.name} (folder)",
            {
                "model": str(folder),
                "scales": [scale],
                "present": True,
                "info": f"Model folder {folder}: {meta.get('params', 0) / 1e6:.3f}M params",
            },
        )
        self.model_box.setCurrentIndex(self.model_box.count() - 1)

    def add_hub_model(self, text: str) -> None:
        """A Hub repo in the slimvsr format, ``ORG/NAME[@REVISION]``: downloaded (verified) when
        a job first uses it, with the download's progress in the job's row."""
        from ..models import parse_repo_ref

        ref = parse_repo_ref(text.strip())
        if ref is None:
            raise UsageError(f"{text!r}: expected a Hub repo ORG/NAME or ORG/NAME@REVISION")
        self.model_box.addItem(
            f"{ref.label} (Hub)",
            {
                "model": text.strip(),
                "scales": [],  # the model's own scale, known once downloaded
                "present": True,
                "info": f"Hub repo {ref.label}: downloaded on first use into the Hugging Face cache",
            },
        )
        self.model_box.setCurrentIndex(self.model_box.count() - 1)

    def _ask_hub_model(self) -> None:
        text, ok = QInputDialog.getText(self, "Model from the Hub", "Repo (ORG/NAME or ORG/NAME@REVISION):")
        if ok and text:
            try:
                self.add_hub_model(text)
            except SlimVSRError as e:
                QMessageBox.warning(self, "Not a Hub repo", str(e))

    def _browse_model(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Model folder (config.json + model.safetensors)")
        if d:
            try:
                self.add_model_folder(Path(d))
            except SlimVSRError as e:
                QMessageBox.warning(self, "Not a model folder", str(e))

    def _add_files_dialog(self) -> None:
        files = open_media_dialog(self)
        if files:
            self.add_paths(files)

    def _browse_input_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder of videos or photos")
        if d:
            self.add_paths([Path(d)])

    def _range_enabled(self, on: bool) -> None:
        self.range_start.setEnabled(on)
        self.range_len.setEnabled(on)

    def _browse_outdir(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Output folder")
        if d:
            self.outdir.setText(d)
            self._form_changed()

    def _on_model_changed(self) -> None:
        data = self.model_box.currentData() or {}
        self.model_info.setText(data.get("info", ""))
        self._loading_form, prev = True, self._loading_form
        cur = self.scale_box.currentText()
        self.scale_box.clear()
        self.scale_box.addItems([f"x{s}" for s in data.get("scales", [])] or ["auto"])
        if cur and self.scale_box.findText(cur) >= 0:
            self.scale_box.setCurrentText(cur)
        self._loading_form = prev
        self._form_changed()

    def form_options(self) -> tuple[UpscaleOptions, Path | None]:
        data = self.model_box.currentData() or {"model": None}
        text = self.scale_box.currentText()
        scale = int(text[1:]) if text.startswith("x") else None
        opts = UpscaleOptions(
            model=data["model"],
            scale=scale,
            device=self.device_box.currentText(),
            precision=self.precision_box.currentText(),
            backend=self.backend_box.currentText(),
            encode=EncodeSettings(codec=self.codec_box.currentText(), crf=self.crf.value()),
            start=self.range_start.value() if self.preview_only.isChecked() else 0.0,
            duration=self.range_len.value() if self.preview_only.isChecked() else None,
            overwrite=EXISTING[self.exists_box.currentText()][0],
            skip_existing=EXISTING[self.exists_box.currentText()][1],
        )
        out = Path(self.outdir.text()) if self.outdir.text().strip() else None
        return opts, out

    def _set_form(self, opts: UpscaleOptions, out: Path | None) -> None:
        self._loading_form = True
        for i in range(self.model_box.count()):
            if self._model_at(i) == opts.model:
                self.model_box.setCurrentIndex(i)
        if opts.scale:
            self.scale_box.setCurrentText(f"x{opts.scale}")
        self.device_box.setCurrentText(opts.device)
        self.precision_box.setCurrentText(opts.precision)
        self.backend_box.setCurrentText(opts.backend)
        self.codec_box.setCurrentText(opts.encode.codec)
        self.crf.setValue(opts.encode.crf or 18)
        policy = next(
            k for k, v in EXISTING.items() if v == (opts.overwrite, opts.skip_existing and not opts.overwrite)
        )
        self.exists_box.setCurrentText(policy)
        self.preview_only.setChecked(opts.duration is not None)
        self.range_start.setValue(opts.start)
        if opts.duration is not None:
            self.range_len.setValue(opts.duration)
        self.outdir.setText(str(out) if out else "")
        self._loading_form = False

    def selected_job(self) -> JobItem | None:
        rows = self.table.selectionModel().selectedRows()
        return self.queue.jobs[rows[0].row()] if rows else None

    def _update_details(self) -> None:
        job = self.selected_job()
        done = job is not None and job.status is JobState.DONE and job.output is not None
        self.btn_open.setEnabled(bool(done and job.output.exists()))
        self.btn_show.setEnabled(bool(done and job.output.exists()))
        if job is None:
            self.details.setText("")
            return
        status = "cancelling..." if job.cancelling else str(job.status)
        text = f"{job.input}: {status}" + (f": {job.message}" if job.message else "")
        if job.output is not None:
            text += f"\noutput: {job.output}"
        self.details.setText(text)

    def open_output(self) -> None:
        job = self.selected_job()
        if job is not None and job.output is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(job.output)))

    def show_in_folder(self) -> None:
        job = self.selected_job()
        if job is not None and job.output is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(job.output.parent)))

    def _on_select(self) -> None:
        self._update_details()
        job = self.selected_job()
        if job is not None and job.status is JobState.PENDING:
            self.settings_box.setTitle(f"Settings for {job.input.name}")
            self._set_form(job.options, job.output_dir)
        else:
            self.settings_box.setTitle("Settings for new jobs")

    def _form_changed(self) -> None:
        if self._loading_form:
            return
        opts, out = self.form_options()
        job = self.selected_job()
        if job is not None and job.status is JobState.PENDING:  # edit the selected job before it starts
            job.options, job.output_dir = opts, out
            self.queue.changed(job)
        self._save_settings()

    def _save_settings(self) -> None:
        opts, out = self.form_options()
        s = self.settings
        s.setValue("model", opts.model or "")  # "": auto
        s.setValue("scale", opts.scale or 0)
        s.setValue("device", opts.device)
        s.setValue("precision", opts.precision)
        s.setValue("backend", opts.backend)
        s.setValue("codec", opts.encode.codec)
        s.setValue("crf", opts.encode.crf)
        s.setValue("existing", self.exists_box.currentText())
        s.setValue("outdir", str(out) if out else "")
        s.setValue("preview_only", self.preview_only.isChecked())
        s.setValue("range_start", self.range_start.value())
        s.setValue("range_len", self.range_len.value())
        s.sync()

    def _load_settings(self) -> None:
        s = self.settings
        self._loading_form = True  # nothing is saved back while the form is being filled
        model = s.value("model", "") or None
        if model and Path(str(model)).is_dir() and self.model_box.findText(Path(model).name) < 0:
            with contextlib.suppress(SlimVSRError):
                self.add_model_folder(Path(model))
        for i in range(self.model_box.count()):
            if self._model_at(i) == model:
                self.model_box.setCurrentIndex(i)
        self._on_model_changed()
        scale = int(s.value("scale", 0) or 0)
        if scale:
            self.scale_box.setCurrentText(f"x{scale}")
        self.device_box.setCurrentText(str(s.value("device", "auto")))
        self.precision_box.setCurrentText(str(s.value("precision", "auto")))
        self.backend_box.setCurrentText(str(s.value("backend", "auto")))
        self.codec_box.setCurrentText(str(s.value("codec", "auto")))
        self.crf.setValue(int(s.value("crf", 18) or 18))
        existing = str(s.value("existing", "stop with an error"))
        self.exists_box.setCurrentText(existing if existing in EXISTING else "stop with an error")
        self.outdir.setText(str(s.value("outdir", "") or ""))
        self.preview_only.setChecked(str(s.value("preview_only", "false")).lower() == "true")
        self.range_start.setValue(float(s.value("range_start", 0.0) or 0.0))
        self.range_len.setValue(float(s.value("range_len", 5.0) or 5.0))
        self._loading_form = False

    # -- queue ---------------------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> None:
        opts, out = self.form_options()
        try:
            files = self.jobs.add([Path(p) for p in paths], opts, out, inserting=self.queue.inserting)
        except SlimVSRError as e:
            self.statusBar().showMessage(str(e))
            return
        self.statusBar().showMessage(f"{len(files)} job(s) added")
        if self.autostart:
            self.start()

    def _check_installed(self, job: JobItem) -> str | None:
        """Refuse a job whose model the list shows as not installed (before any thread starts)."""
        data = next(
            (
                self.model_box.itemData(i)
                for i in range(self.model_box.count())
                if self._model_at(i) == job.options.model
            ),
            None,
        )
        if data is not None and not data.get("present", True):
            return f"model {job.options.model} is not installed"
        return None

    def _state_changed(self, job: JobItem) -> None:
        self.queue.changed(job)
        self.job_state_changed.emit(job)
        if job is self.selected_job():
            self._update_details()

    def start(self) -> None:
        if self.jobs.start() is not None:
            self._pump_timer.start()

    def _pump(self) -> None:
        """Deliver what the background threads reported (the controller's poll) and redraw."""
        changed, events = self.jobs.poll()
        for job in changed:
            self.queue.changed(job)
        for kind, payload in events:
            if kind == "started":
                job, ev = payload
                self.statusBar().showMessage(f"{job.input.name}: {ev.device} {ev.precision}, {ev.backend}")
            elif kind == "preview":
                self._on_preview(payload)
            elif kind == "preview-failed":
                self._on_preview_failed(str(payload))
            elif kind == "preview-ended":
                self.btn_preview.setEnabled(True)
                self.preview_busy.setVisible(False)
        if changed:
            self._update_details()
        if not self.jobs.busy:
            self._pump_timer.stop()
            if self._was_busy and not self._closing:
                self._queue_finished()
        self._was_busy = self.jobs.busy

    def _queue_finished(self) -> None:
        """The queue ran dry: say how it went, and ask the desktop for attention."""
        counts: dict[str, int] = {}
        for j in self.queue.jobs:
            if j.status not in (JobState.PENDING, JobState.RUNNING):
                counts[str(j.status)] = counts.get(str(j.status), 0) + 1
        if not counts:
            return
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        self.statusBar().showMessage(f"Queue finished: {summary}")
        QApplication.alert(self)

    @property
    def worker(self):
        return self.jobs.worker

    @property
    def preview_thread(self):
        return self.jobs.preview_thread

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            self.jobs.cancel(job)
            self.queue.changed(job)

    def remove_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            self.jobs.remove(job, removing=self.queue.removing)

    def retry_selected(self) -> None:
        job = self.selected_job()
        if job is not None and self.jobs.retry(job):
            self._pump_timer.start()

    def running(self) -> bool:
        return self.jobs.running

    # -- preview ---------------------------------------------------------------------------------
    def preview_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            self.statusBar().showMessage("Select a job to preview")
            return
        t_asked = self.preview_time.value()
        path, opts, models = job.input, job.options, self.jobs.models
        finished = job.output if job.status is JobState.DONE and job.output and job.output.exists() else None

        def run():  # in the preview thread: probing a file can take seconds
            if finished is not None:  # the job's real output, as encoded, against bicubic
                return preview_output(path, finished, t_asked)
            info = probe(path)
            t = min(t_asked, max(0.0, info.duration_s - 0.05)) if info.duration_s else t_asked
            name = model_for(opts, info)
            key = (name, opts.scale)
            if key not in models:
                models[key] = load_model(name, opts.scale)
            return preview(path, t, opts, desc=models[key])

        if self.jobs.preview(run):
            self.btn_preview.setEnabled(False)
            self.preview_busy.setVisible(True)
            what = "the finished output" if finished is not None else "the model on this frame"
            self.statusBar().showMessage(f"Preview: {what}...")
            self._pump_timer.start()

    def _on_preview(self, res) -> None:
        labels = ("bicubic", "output file" if res.from_output else "model")
        self.split.set_images(_qimage(res.bicubic), _qimage(res.output), labels)
        self.statusBar().showMessage(f"Preview at {res.time_s:.2f}s")

    def _on_preview_failed(self, msg: str) -> None:
        self.statusBar().showMessage(f"Preview failed: {msg}")

    # -- closing -------------------------------------------------------------------------------
    def closeEvent(self, e) -> None:  # noqa: N802
        if self._closing and self.jobs.busy:  # still waiting for the cancelled job to stop
            e.ignore()
            return
        if self.running() and not self._closing:
            ask = QMessageBox.question(
                self,
                "Upscaling in progress",
                "A job is running. Cancel it and quit? Its partial output will be removed.",
            )
            if ask != QMessageBox.StandardButton.Yes:
                e.ignore()
                return
            # Cancel without blocking the GUI thread: the window stays responsive and closes
            # once the engine has stopped (within a frame's work) and removed its partial file.
            self._closing = True
            self.jobs.shutdown(timeout=0)
            self.statusBar().showMessage("Cancelling the running job, then quitting...")
            self.centralWidget().setEnabled(False)
            self._close_timer.start()
            e.ignore()
            return
        self._close_timer.stop()
        self.shutdown()
        self._save_settings()
        e.accept()

    def _finish_close(self) -> None:
        self._pump()
        if not self.jobs.busy:
            self._close_timer.stop()
            self.close()

    def shutdown(self) -> None:
        """Cancel the pending and running jobs and wait for the threads (no partial output
        remains; the engine stops within a frame's work)."""
        self.jobs.shutdown()
        self._pump()  # deliver their last events (the job shows as cancelled)


def describe_window(w: MainWindow) -> str:
    """What the window shows, in words: a screenshot's human-readable twin for test reports and
    for the README's screenshots (scripts/screenshots.py)."""
    lines = [f"window {w.width()}x{w.height()}: {w.windowTitle()}"]
    lines.append("menus: " + "; ".join(
        f"{m.text().replace('&', '')} ({', '.join(a.text() for a in m.menu().actions() if a.text())})"
        for m in w.menuBar().actions()
    ))  # fmt: skip
    q = w.queue
    cols = [
        q.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        for c in range(q.columnCount())
    ]
    lines.append(f"queue: {q.rowCount()} job(s); columns {', '.join(cols)}")
    for r in range(q.rowCount()):
        cells = [str(q.index(r, c).data() or "") for c in range(q.columnCount())]
        lines.append("  " + " | ".join(f"{k}: {v}" for k, v in zip(cols, cells, strict=True) if v))
    if w.details.text():
        lines.append("details: " + w.details.text().replace("\n", "; "))
    lines.append(
        f"settings ({w.settings_box.title()}): model {w.model_box.currentText()}, scale "
        f"{w.scale_box.currentText()}, device {w.device_box.currentText()}, precision "
        f"{w.precision_box.currentText()}, backend {w.backend_box.currentText()}, codec "
        f"{w.codec_box.currentText()}, CRF {w.crf.value()}, "
        f"if the output exists: {w.exists_box.currentText()}, "
        f"output folder {w.outdir.text() or 'next to each input'}"
    )
    if w.split.after is not None:
        zoom = "fit" if w.split.zoom is None else f"{100 * w.split.zoom:.0f}%"
        lines.append(
            f"preview: {w.split.labels[0]} | {w.split.labels[1]}, {w.split.after.width()}x"
            f"{w.split.after.height()}, split at {100 * w.split.split:.0f}%, zoom {zoom}"
        )
    else:
        lines.append("preview: empty")
    lines.append(f"status bar: {w.statusBar().currentMessage()}")
    return "\n".join(lines)


def icon_path() -> Path:
    """The app icon, package data (found in a wheel or a frozen app alike)."""
    from importlib import resources

    return Path(str(resources.files("slimvsr").joinpath("assets", "slimvsr.png")))


# The X11 (xcb) platform plugin's system libraries that stock desktops often lack, with their
# Debian/Ubuntu packages (Qt asks only for the first missing one, and names the wrong package).
QT_XCB_LIBS = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def missing_qt_libs() -> list[tuple[str, str]]:
    """(library, package) for each xcb dependency that cannot be loaded, when Qt will use X11."""
    import ctypes

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    x11 = platform == "xcb" or (
        not platform and os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    )
    if not sys.platform.startswith("linux") or not x11:
        return []
    missing = []
    for lib, pkg in QT_XCB_LIBS.items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append((lib, pkg))
    return missing


def main(argv: list[str] | None = None) -> int:
    """``vsr-gui [FILES...]``; ``--screenshot FILE`` renders the main window (offscreen if no
    display) to a PNG and exits: the README's screenshots and the frozen app's smoke test."""
    import argparse

    from .. import __version__

    p = argparse.ArgumentParser(prog="vsr-gui", description="slimvsr desktop upscaler")
    p.add_argument("paths", nargs="*", type=Path, help="videos, photos or folders to queue")
    p.add_argument("--screenshot", type=Path, default=None, help="render the window to FILE (PNG), exit")
    p.add_argument("--version", action="version", version=f"vsr-gui (slimvsr) {__version__}")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if (
        args.screenshot is not None
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    missing = missing_qt_libs() if QApplication.instance() is None else []
    if missing:
        libs = ", ".join(lib for lib, _ in missing)
        pkgs = " ".join(pkg for _, pkg in missing)
        print(
            f"vsr-gui: error: Qt's X11 support needs {libs}, not installed; on Debian/Ubuntu: "
            f"sudo apt install {pkgs}",
            file=sys.stderr,
        )
        return 1
    app = QApplication.instance() or QApplication(["vsr-gui"])
    app.setApplicationName("slimvsr")
    app.setWindowIcon(QIcon(str(icon_path())))
    w = MainWindow(QSettings(ORG, APP + "-screenshot") if args.screenshot else None)
    if args.screenshot is not None:
        w.autostart = False
    w.show()
    if args.paths:
        w.add_paths(args.paths)
    if args.screenshot is not None:
        app.processEvents()
        ok = w.grab().save(str(args.screenshot), "PNG")
        w.jobs.shutdown()
        if not ok:
            print(f"vsr-gui: error: {args.screenshot}: could not write the screenshot", file=sys.stderr)
            return 1
        print(args.screenshot)
        return 0
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
