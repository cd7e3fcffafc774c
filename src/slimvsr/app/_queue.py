"""The desktop app's job queue, without Qt: jobs, their states, the worker threads, the model cache.

``JobQueue`` owns everything that happens to jobs: adding inputs, running them one at a time
through the engine (the same ``Job`` generator the CLI drives) in a plain Python thread, cancel,
remove, retry, previews, and the loaded models, shared between jobs by (name, scale) as the CLI
shares them. The window only draws: a timer on the GUI thread calls ``poll()``, which delivers what
the threads reported and returns the jobs whose row changed. No Qt object and no signal is touched
off the GUI thread (a cross-thread signal carrying Python objects can deadlock Qt's lock against
the GIL; the suite hung that way once), so this module imports no Qt at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Downloading, Finished, Job, Progress, Started, UpscaleOptions, expand_inputs
from ..errors import Cancelled, Skipped, SlimVSRError
from ..models import ModelDescriptor


@contextlib.contextmanager
def _nothing(*_: int):
    yield


class JobState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # its output existed and the policy is to skip

    def __str__(self) -> str:
        return self.value


@dataclass
class JobItem:
    input: Path
    options: UpscaleOptions
    output_dir: Path | None = None  # None: next to the input
    status: JobState = JobState.PENDING
    progress: float = 0.0  # 0..1
    fps: float = 0.0
    eta_s: float | None = None
    output: Path | None = None
    message: str = ""
    frames_total: int | None = None
    history: list[JobState] = field(default_factory=lambda: [JobState.PENDING])  # states it went through
    model_used: str | None = None  # the model the engine picked (with "auto": by the input's kind)
    cancelling: bool = False  # cancel asked, the worker not yet stopped

    def set_status(self, s: JobState) -> None:
        self.status = s
        self.history.append(s)

    def model_label(self) -> str:
        if self.options.model is None:
            return f"auto: {self.model_used}" if self.model_used else "auto"
        return Path(self.options.model).name

    def reset(self) -> None:
        self.progress, self.fps, self.eta_s, self.message, self.output = 0.0, 0.0, None, "", None
        self.model_used, self.cancelling = None, False
        self.set_status(JobState.PENDING)


def with_options(item: JobItem, **changes: object) -> None:
    item.options = dataclasses.replace(item.options, **changes)


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
        except Skipped as e:
            self.events.put(("skipped", str(e)))
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

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


class Worker(Background):
    """Runs one engine job: events ("event", Downloading | Started | Progress | Finished), then
    the end."""

    def __init__(self, item: JobItem, models: dict[tuple[str, int | None], ModelDescriptor]) -> None:
        self.item = item
        self.job = Job(item.input, item.output_dir, item.options, models=models)
        super().__init__(self._drive, name="slimvsr-gui-job")

    def cancel(self) -> None:
        self.job.cancel()  # thread-safe: wakes the engine's stages wherever they wait

    def _drive(self, report: Callable[[str, object], None]) -> None:
        gen = self.job.run()
        try:
            for ev in gen:
                if isinstance(ev, (Downloading, Started, Progress, Finished)):
                    report("event", ev)
        finally:
            gen.close()


class JobQueue:
    """The queue's logic (see the module docstring). ``check`` may refuse a job before it starts
    (the window passes one that knows which models are installed): it returns a message or None.
    ``on_state`` is called (on the polling thread) with each job whose state changed."""

    def __init__(
        self,
        check: Callable[[JobItem], str | None] | None = None,
        on_state: Callable[[JobItem], None] | None = None,
    ) -> None:
        self.jobs: list[JobItem] = []
        self.models: dict[tuple[str, int | None], ModelDescriptor] = {}
        self.worker: Worker | None = None
        self.preview_thread: Background | None = None
        self.check = check
        self.on_state = on_state or (lambda job: None)
        self.paused = False  # stop starting new jobs (window closing)

    # -- jobs ------------------------------------------------------------------------------
    def add(
        self,
        paths: list[Path],
        options: UpscaleOptions,
        output_dir: Path | None,
        inserting: Callable[[int, int], contextlib.AbstractContextManager] | None = None,
    ) -> list[JobItem]:
        """One job per file (folders expand to the images and videos inside; nothing is probed
        here). Raises the engine's InputError for a folder with nothing to upscale. ``inserting
        (first, count)`` wraps the change (a table model's begin/end of inserted rows)."""
        files = expand_inputs([Path(p) for p in paths])
        new = [JobItem(f, options, output_dir) for f in files]
        with (inserting or _nothing)(len(self.jobs), len(new)):
            self.jobs.extend(new)
        return new

    def next_pending(self) -> JobItem | None:
        return next((j for j in self.jobs if j.status is JobState.PENDING), None)

    def _set(self, job: JobItem, state: JobState, message: str | None = None) -> None:
        job.set_status(state)
        if message is not None:
            job.message = message
        self.on_state(job)

    def start(self) -> JobItem | None:
        """Start the next pending job unless one is running; returns it."""
        while self.worker is None and not self.paused:
            job = self.next_pending()
            if job is None:
                return None
            refused = self.check(job) if self.check else None
            if refused:
                self._set(job, JobState.FAILED, refused)
                continue
            self._set(job, JobState.RUNNING)
            self.worker = Worker(job, self.models)
            self.worker.start()
            return job
        return None

    def cancel(self, job: JobItem) -> None:
        """Cancel a running job (it stops between two frames' work; no output remains) or a
        pending one. Never blocks."""
        if job.status is JobState.RUNNING and self.worker is not None and self.worker.item is job:
            job.cancelling = True
            self.worker.cancel()
        elif job.status is JobState.PENDING:
            self._set(job, JobState.CANCELLED)

    def remove(
        self, job: JobItem, removing: Callable[[int], contextlib.AbstractContextManager] | None = None
    ) -> bool:
        """Drop a job that is not running (``removing(row)`` wraps the change)."""
        if job.status is JobState.RUNNING:
            return False
        with (removing or _nothing)(self.jobs.index(job)):
            self.jobs.remove(job)
        return True

    def retry(self, job: JobItem) -> bool:
        if job.status not in (JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED):
            return False
        job.reset()
        self.on_state(job)
        self.start()
        return True

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.alive()

    @property
    def busy(self) -> bool:
        """A worker or a preview has not been retired yet (poll until False)."""
        return self.worker is not None or self.preview_thread is not None

    # -- previews ----------------------------------------------------------------------------
    def preview(self, fn: Callable[[], Any]) -> bool:
        """Run ``fn`` (the engine's preview, probing included) off the polling thread; its result
        comes back from ``poll`` as ("preview", result) or ("preview-failed", message)."""
        if self.preview_thread is not None:
            return False
        self.preview_thread = Background(lambda report: report("done", fn()), name="slimvsr-gui-preview")
        self.preview_thread.start()
        return True

    # -- delivery ----------------------------------------------------------------------------
    def poll(self) -> tuple[list[JobItem], list[tuple[str, Any]]]:
        """Deliver what the threads reported: returns (jobs whose row changed, other events such
        as ("started", (job, Started)) and the preview's result). Starts the next job when one ends."""
        changed: list[JobItem] = []
        events: list[tuple[str, Any]] = []
        w = self.worker
        if w is not None:
            ended = not w.alive()  # read before draining: nothing can follow the last event
            job = w.item
            for kind, payload in w.drain():
                if kind == "event":
                    if isinstance(payload, Downloading):  # the row shows the download's progress
                        mb = f"{payload.done / 1e6:.1f}" + (
                            f"/{payload.total / 1e6:.1f}" if payload.total else ""
                        )
                        job.message = f"downloading {payload.model} {payload.file} ({mb} MB)"
                        job.progress = payload.done / payload.total if payload.total else 0.0
                    elif isinstance(payload, Started):
                        job.message, job.progress = "", 0.0
                        job.output, job.frames_total, job.model_used = (
                            payload.output,
                            payload.total_frames,
                            payload.model,
                        )
                        events.append(("started", (job, payload)))
                    elif isinstance(payload, Progress):
                        if payload.total_frames:
                            job.progress = min(1.0, payload.frames_done / payload.total_frames)
                        job.fps, job.eta_s = payload.fps, payload.eta_s
                    elif isinstance(payload, Finished):
                        job.progress, job.output = 1.0, payload.output
                        self._set(job, JobState.DONE)
                elif kind == "cancelled":
                    job.cancelling = False
                    self._set(job, JobState.CANCELLED)
                elif kind == "skipped":
                    self._set(job, JobState.SKIPPED, str(payload))
                elif kind == "failed":
                    job.cancelling = False
                    self._set(job, JobState.FAILED, str(payload))
                if job not in changed:
                    changed.append(job)
            if ended:
                w.join()
                self.worker = None
                self.start()
        p = self.preview_thread
        if p is not None:
            ended = not p.alive()
            for kind, payload in p.drain():
                events.append(("preview" if kind == "done" else "preview-failed", payload))
            if ended:
                p.join()
                self.preview_thread = None
                events.append(("preview-ended", None))
        return changed, events

    def shutdown(self, timeout: float | None = None) -> None:
        """Cancel pending and running jobs and wait (up to ``timeout``; 0: not at all) for the
        threads to end."""
        self.paused = True
        for j in self.jobs:
            if j.status is JobState.PENDING:
                self._set(j, JobState.CANCELLED)
        if self.worker is not None:
            self.worker.cancel()
            self.worker.join(timeout)
        if self.preview_thread is not None:
            self.preview_thread.join(timeout)
