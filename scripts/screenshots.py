"""The README's screenshots: the real window, the real bundled models, the bundled sample clip.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py            # -> docs/gui-*.png

It queues the sample clip and a photo (the clip's first frame) with the model on "auto" (ssl-uni
for the video, edsrmini for the photo), waits for both jobs, previews the finished video's output
at 0.8 s, and saves the main window (docs/gui-main.png) and the preview zoomed to 200%
(docs/gui-preview.png). The media are copied to ~/Videos/slimvsr-demo first, so the window shows
a user's paths, not a temporary folder. It prints what each screenshot shows.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from slimvsr import sample_clip
from slimvsr.app._queue import JobState
from slimvsr.app.gui import MainWindow, describe_window
from slimvsr.engine import decode_frames, probe


def wait(app: QApplication, until, timeout: float = 900.0) -> None:
    t = time.monotonic()
    while not until():
        app.processEvents()
        time.sleep(0.02)
        if time.monotonic() - t > timeout:
            raise SystemExit("screenshots: timed out waiting for the window")


def main() -> int:
    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs")
    demo = Path.home() / "Videos" / "slimvsr-demo"
    out = demo / "upscaled"
    shutil.rmtree(demo, ignore_errors=True)
    out.mkdir(parents=True)
    clip = demo / "bikes.mp4"
    shutil.copyfile(sample_clip(), clip)
    from PIL import Image

    _, first = next(iter(decode_frames(probe(clip))))
    photo = demo / "bikes-frame.png"
    Image.fromarray(first).save(photo)

    app = QApplication.instance() or QApplication(["vsr-gui"])
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        w.resize(1280, 760)
        w.show()
        w.outdir.setText(str(out))
        w._form_changed()
        w.add_paths([clip, photo])
        wait(app, lambda: all(j.status in (JobState.DONE, JobState.FAILED) for j in w.queue.jobs))
        failed = [j for j in w.queue.jobs if j.status is not JobState.DONE]
        if failed:
            raise SystemExit(f"screenshots: a job failed: {failed[0].message}")
        w.table.selectRow(0)
        w.preview_time.setValue(0.8)
        w.preview_selected()
        wait(app, lambda: w.preview_thread is None and w.split.after is not None)
        app.processEvents()
        w.grab().save(str(docs / "gui-main.png"))
        print(f"{docs / 'gui-main.png'}:\n{describe_window(w)}\n")
        w.zoom_box.setCurrentText("200%")
        w.split.set_split(0.5)
        app.processEvents()
        w.grab().save(str(docs / "gui-preview.png"))
        print(
            f"{docs / 'gui-preview.png'}: the same, the before/after view at 200% (real pixels, split at 50%)"
        )
        w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
