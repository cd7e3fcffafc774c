"""The one piece of plumbing between a job's stages: a bounded channel that knows how to stop.

A job runs three stages (decode thread -> model in the caller's thread -> encode thread) joined by
two ``Channel``s. Every blocking call wakes up, with no polling, when something ends the job:

* ``put`` and ``get`` raise the job's ``Cancelled`` once ``Stop.set(...)`` is called (the user
  cancelled, or the caller closed the generator);
* ``get`` returns ``END`` after the producer's ``close()``, or raises the producer's exception
  if it ``close(error)``-ed: a failed decoder surfaces in the model loop;
* ``put`` raises the consumer's exception after the consumer's ``abort(error)``: a failed encoder
  surfaces in the model loop, and a producer never blocks on a consumer that is gone.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

END = object()  # what ``get`` returns once the producer has closed the channel and it is empty


class Stop:
    """A job-wide stop signal that wakes every channel registered with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reason: BaseException | None = None
        self._conds: list[threading.Condition] = []

    def set(self, reason: BaseException) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason
            conds = list(self._conds)
        for c in conds:
            with c:
                c.notify_all()

    def is_set(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> BaseException | None:
        return self._reason

    def register(self, cond: threading.Condition) -> None:
        with self._lock:
            self._conds.append(cond)

    def check(self) -> None:
        """Raise the stop reason if the job is stopping."""
        if self._reason is not None:
            raise self._reason


class Channel:
    """Bounded FIFO between two stages (see the module docstring)."""

    def __init__(self, maxsize: int, stop: Stop) -> None:
        self.maxsize = max(1, maxsize)
        self.stop = stop
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False  # the producer is done
        self._producer_error: BaseException | None = None
        self._consumer_error: BaseException | None = None
        self._aborted = False  # the consumer is gone
        stop.register(self._cond)

    def put(self, item: Any) -> None:
        with self._cond:
            while True:
                self.stop.check()
                if self._aborted:
                    raise self._consumer_error or ChannelClosed("the consuming stage has stopped")
                if len(self._items) < self.maxsize:
                    self._items.append(item)
                    self._cond.notify_all()
                    return
                self._cond.wait()

    def get(self) -> Any:
        with self._cond:
            while True:
                self.stop.check()
                if self._items:
                    item = self._items.popleft()
                    self._cond.notify_all()
                    return item
                if self._closed:
                    if self._producer_error is not None:
                        raise self._producer_error
                    return END
                self._cond.wait()

    def close(self, error: BaseException | None = None) -> None:
        """The producer is done (``error``: it failed; the consumer gets it after the items)."""
        with self._cond:
            self._closed = True
            self._producer_error = error
            self._cond.notify_all()

    def abort(self, error: BaseException | None = None) -> None:
        """The consumer is gone (``error``: it failed); pending items are dropped."""
        with self._cond:
            self._aborted = True
            self._consumer_error = error
            self._items.clear()
            self._cond.notify_all()


class ChannelClosed(Exception):
    """``put`` on a channel whose consumer stopped without an error (internal)."""
