"""The desktop app, offscreen: drop, run, cancel, errors, preview, settings, closing."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from media import write_clip
from tiny import tiny_config

pytest.importorskip("PySide6")
pytestmark = pytest.mark.gui

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from slimvsr.app._queue import JobState  # noqa: E402

PENDING, RUNNING, DONE, FAILED, CANCELLED, SKIPPED = (
    JobState.PENDING,
    JobState.RUNNING,
    JobState.DONE,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.SKIPPED,
)
from slimvsr.app.gui import MainWindow, describe_window  # noqa: E402
from slimvsr.errors import SlimVSRError  # noqa: E402
from slimvsr.models import EDSR, BasicVSR, save_pretrained  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gui-models")
    torch.manual_seed(0)
    save_pretrained(BasicVSR(tiny_config("basicvsr", 0)), root / "tiny-uni", {"name": "tiny-uni"})
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), root / "tiny-edsr", {"name": "tiny-edsr"})
    return {"uni": root / "tiny-uni", "edsr": root / "tiny-edsr"}


@pytest.fixture
def window(qtbot, tmp_path, models, record_property):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.add_model_folder(models["uni"])
    w.device_box.setCurrentText("cpu")
    w.show()
    yield w
    # The report gets the window as it ended: a screenshot and its description in words.
    shot = tmp_path / "window.png"
    w.grab().save(str(shot))
    text = describe_window(w)
    record_property("window", text)
    print(f"screenshot {shot}:\n{text}")
    w.shutdown()


def drop(widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,  # the only ctor
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    ev = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    widget.dropEvent(ev)  # Qt routes a real drop here once the drag was accepted
    assert ev.isAccepted()


def _image(path: Path, h: int = 20, w: int = 24) -> Path:
    from PIL import Image

    Image.fromarray((np.random.default_rng(1).random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_drop_clip_and_image_run_to_done(window, qtbot, tmp_path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", n=10)
    img = _image(tmp_path / "photo.png")
    seen: set[str] = set()  # threads that changed the model or the job states
    window.job_state_changed.connect(lambda j: seen.add(threading.current_thread().name))
    window.queue.dataChanged.connect(lambda *a: seen.add(threading.current_thread().name))
    drop(window.drop, [clip, img])
    assert [j.input for j in window.queue.jobs] == [clip, img]
    qtbot.waitUntil(lambda: all(j.status == DONE for j in window.queue.jobs), timeout=60_000)
    assert seen == {threading.main_thread().name}  # the job threads never touch Qt (_queue.py)
    for j in window.queue.jobs:
        assert j.history[:3] == [PENDING, RUNNING, DONE]
        assert j.progress == pytest.approx(1.0)
        assert j.output.exists()
    from slimvsr.engine import probe

    assert (probe(window.queue.jobs[0].output).height, probe(window.queue.jobs[0].output).width) == (128, 192)
    assert probe(window.queue.jobs[1].output).width == 96


def test_auto_model_picks_by_input_kind_and_persists(qtbot, tmp_path) -> None:
    from slimvsr.models import WEIGHTS, default_model

    path = str(tmp_path / "auto.ini")
    w = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.device_box.setCurrentText("cpu")
    assert w.form_options()[0].model is None and w.form_options()[0].scale is None  # the first run's default
    assert w.model_box.currentText().startswith("auto")  # not a heading of the grouped list
    w.show()
    clip = write_clip(tmp_path / "clip.mp4", n=3, size=(24, 32), audio=False)
    drop(w.drop, [clip, _image(tmp_path / "photo.png", 12, 16)])
    qtbot.waitUntil(lambda: all(j.status == DONE for j in w.queue.jobs), timeout=60_000)
    video, image = default_model("video"), default_model("image")
    assert [j.model_label() for j in w.queue.jobs] == [f"auto: {video}", f"auto: {image}"]
    from PIL import Image

    assert Image.open(w.queue.jobs[1].output).size == (
        16 * WEIGHTS[image].scales[0],
        12 * WEIGHTS[image].scales[0],
    )
    w.close()
    w2 = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    assert w2.form_options()[0].model is None and w2.scale_box.currentText() == "auto"
    w2.shutdown()


def test_broken_file_fails_and_next_job_runs(window, qtbot, tmp_path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 not a video")
    img = _image(tmp_path / "ok.png")
    drop(window.drop, [bad, img])
    qtbot.waitUntil(lambda: window.queue.jobs[1].status == DONE, timeout=60_000)
    assert window.queue.jobs[0].status == FAILED
    assert "not a media file" in window.queue.jobs[0].message
    assert window.isVisible()


def _start_long_job(window, qtbot, path: Path):
    """A 120-frame clip run one frame per chunk, returned once it is under way."""
    window.autostart = False
    drop(window.drop, [write_clip(path, n=120, size=(64, 96))])
    job = window.queue.jobs[0]
    job.options = dataclasses.replace(job.options, chunk=1)
    window.start()
    qtbot.waitUntil(lambda: job.progress > 0, timeout=60_000)
    return job


def test_cancel_mid_job_leaves_no_output(window, qtbot, tmp_path) -> None:
    job = _start_long_job(window, qtbot, tmp_path / "long.mp4")
    window.table.selectRow(0)
    window.cancel_selected()
    qtbot.waitUntil(lambda: job.status == CANCELLED and not window.running(), timeout=60_000)
    assert not list(tmp_path.glob("long.tiny-uni-x4*"))
    assert not list(tmp_path.glob(".*partial*"))


def test_close_during_job_asks_then_cancels(window, qtbot, tmp_path, monkeypatch) -> None:
    job = _start_long_job(window, qtbot, tmp_path / "long2.mp4")
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes
    )
    window.close()
    # The GUI thread is not blocked while the job stops: the window waits, then closes itself.
    assert asked and window.isVisible() and window._closing
    qtbot.waitUntil(lambda: job.status == CANCELLED and not window.isVisible(), timeout=30_000)
    assert not window.running()
    assert not list(tmp_path.glob("long2.tiny-uni-x4*")) and not list(tmp_path.glob(".*partial*"))


def test_preview_shows_different_before_and_after(window, qtbot, tmp_path) -> None:
    clip = write_clip(tmp_path / "p.mp4", n=10)
    window.autostart = False
    drop(window.drop, [clip])
    window.table.selectRow(0)
    window.preview_time.setValue(0.4)
    window.preview_selected()
    qtbot.waitUntil(lambda: window.split.after is not None and window.preview_thread is None, timeout=60_000)
    before, after = window.split.before.toImage(), window.split.after.toImage()
    assert before.size() == after.size()
    assert before != after


def test_settings_persist_and_edit_pending_job(qtbot, tmp_path, models) -> None:
    path = str(tmp_path / "s.ini")
    w = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.add_model_folder(models["edsr"])
    w.crf.setValue(23)
    w.codec_box.setCurrentText("hevc")
    w.autostart = False
    w.add_paths([_image(tmp_path / "a.png")])
    w.table.selectRow(0)
    w.crf.setValue(30)  # edits the selected pending job
    assert w.queue.jobs[0].options.encode.crf == 30
    w.close()
    w2 = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    assert w2.crf.value() == 30 and w2.codec_box.currentText() == "hevc"
    assert w2.form_options()[0].model == str(models["edsr"])


def test_hub_model_downloads_with_a_progress_row(window, qtbot, tmp_path, models, hub, monkeypatch) -> None:
    """A model added by repo id is fetched when its job starts; the row shows the download."""
    from huggingface_hub import HfApi, constants

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo("acme/tiny-edsr")
    api.upload_folder(folder_path=str(models["edsr"]), repo_id="acme/tiny-edsr")
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 4096)  # progress within a small file
    hub.slow["model.safetensors"] = 1.5
    window.add_hub_model("acme/tiny-edsr")
    assert window.model_box.currentText() == "acme/tiny-edsr@main (Hub)"
    drop(window.drop, [_image(tmp_path / "photo.png")])
    job = window.queue.jobs[0]
    qtbot.waitUntil(
        lambda: "downloading acme/tiny-edsr@main model.safetensors" in job.message, timeout=60_000
    )
    row = window.queue.index(0, 4).data()
    assert row.startswith("running: downloading") and "MB" in row
    qtbot.waitUntil(lambda: job.status == DONE, timeout=60_000)
    assert job.message == "" and job.output.name == "photo.tiny-edsr-x2.png" and job.output.is_file()
    with pytest.raises(SlimVSRError, match="ORG/NAME"):
        window.add_hub_model("not a repo")


def test_desktop_conveniences(window, qtbot, tmp_path, monkeypatch, models) -> None:
    """File menu, grouped model list, range fields, existing-output policy, a details pane,
    Open output / Show in folder, failed rows without a bar, a finished notice."""
    from PySide6.QtGui import QDesktopServices

    menus = {a.text(): a for m in window.menuBar().actions() for a in m.menu().actions()}
    assert {"Add files…", "Add folder…", "Quit"} <= set(menus)
    headings = [
        window.model_box.itemText(i)
        for i in range(window.model_box.count())
        if not window.model_box.model().item(i).isEnabled()
    ]
    assert len(headings) == 2 and "Video models" in headings[0] and "Photo models" in headings[1]
    window.preview_only.setChecked(False)
    assert not window.range_start.isEnabled() and not window.range_len.isEnabled()
    window.preview_only.setChecked(True)
    assert window.range_start.isEnabled()
    window.preview_only.setChecked(False)

    window.add_model_folder(models["edsr"])
    folder = tmp_path / "pics"
    folder.mkdir()
    img = _image(folder / "a.png")
    (folder / "bad.png").write_bytes(b"\x89PNG nope")
    window.exists_box.setCurrentText("stop with an error")
    window.add_paths([folder])  # Add folder… adds what the folder holds
    qtbot.waitUntil(
        lambda: not window.running() and all(j.status in (DONE, FAILED) for j in window.queue.jobs)
    )
    bad = next(j for j in window.queue.jobs if j.input.name == "bad.png")
    good = next(j for j in window.queue.jobs if j.input.name == "a.png")
    row = window.queue.jobs.index(bad)
    assert window.queue.index(row, 5).data(Qt.ItemDataRole.UserRole) is None  # no 0% bar
    assert window.queue.index(row, 5).data() == "failed"
    assert "Queue finished: 1 done, 1 failed" in window.statusBar().currentMessage()
    window.table.selectRow(row)
    assert "corrupt or truncated" in window.details.text() and not window.btn_open.isEnabled()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.table.selectRow(window.queue.jobs.index(good))
    assert window.btn_open.isEnabled() and str(good.output) in window.details.text()
    window.open_output()
    window.show_in_folder()
    assert opened == [str(good.output), str(good.output.parent)]
    desc = describe_window(window)
    assert "Input: bad.png" in desc and "Status: failed" in desc and "menus: File (Add files…" in desc

    # The policy for an existing output: skip, then overwrite.
    n = len(window.queue.jobs)
    window.exists_box.setCurrentText("skip the job")
    window.add_paths([img])
    qtbot.waitUntil(lambda: len(window.queue.jobs) == n + 1 and window.queue.jobs[-1].status == SKIPPED)
    window.exists_box.setCurrentText("overwrite it")
    window.add_paths([img])
    qtbot.waitUntil(lambda: window.queue.jobs[-1].status == DONE, timeout=60_000)


def test_missing_qt_libraries_are_named_with_their_packages(monkeypatch, capsys) -> None:
    import ctypes

    from slimvsr.app import gui

    real = ctypes.CDLL

    def cdll(name, *a, **k):
        if name in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1"):
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *a, **k)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    missing = gui.missing_qt_libs()
    assert ("libxcb-icccm.so.4", "libxcb-icccm4") in missing and (
        "libxcb-keysyms.so.1",
        "libxcb-keysyms1",
    ) in missing
    monkeypatch.setattr(gui.QApplication, "instance", staticmethod(lambda: None))
    assert gui.main([]) == 1
    err = capsys.readouterr().err
    assert "sudo apt install" in err and "libxcb-icccm4" in err and "libxcb-keysyms1" in err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # not X11: nothing to check
    assert gui.missing_qt_libs() == []


def test_preview_of_a_finished_job_reads_its_output_and_zooms(window, qtbot, tmp_path, models) -> None:
    window.add_model_folder(models["edsr"])
    img = _image(tmp_path / "photo.png", 24, 32)
    window.add_paths([img])
    job = window.queue.jobs[0]
    qtbot.waitUntil(lambda: job.status == DONE, timeout=60_000)
    window.table.selectRow(0)
    window.preview_selected()
    assert window.preview_busy.isVisible()  # busy while it computes
    qtbot.waitUntil(lambda: window.preview_thread is None and window.split.after is not None, timeout=60_000)
    assert not window.preview_busy.isVisible() and window.split.labels == ("bicubic", "output file")
    from PIL import Image

    out = np.asarray(Image.open(job.output).convert("RGB"))
    shown = window.split.after.toImage()
    assert (shown.width(), shown.height()) == (out.shape[1], out.shape[0])
    px = shown.pixelColor(5, 7)
    assert (px.red(), px.green(), px.blue()) == tuple(int(v) for v in out[7, 5])  # the file's own pixels
    # 1:1 shows real pixels; right-drag pans both halves together, within the image.
    window.zoom_box.setCurrentText("100%")
    assert window.split.scale() == 1.0
    window.split.pan_by(10, 0)
    t = window.split.target()
    assert t.width() == out.shape[1] and window.split.pan.x() == 10
    window.split.pan_by(1e6, 0)
    assert window.split.pan.x() == out.shape[1] / 2  # clamped to the image
    window.zoom_box.setCurrentText("Fit")
    assert window.split.pan.x() == 0
