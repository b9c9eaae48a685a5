"""Investigating the failed instances the picker lists before the analyst picks them, in the background.

A few worker threads (bounded) take the queued inputs newest first; each runs exactly the analysis a pick
would run (the same read-only calls, so the same call budget per incident) and hands the result to the
investigation's store of analyses, keyed by its inputs: it is only ever shown if the analyst picks those exact
inputs. A new schedule replaces the queue (what is no longer listed, or was queued for another Region, is
dropped before it starts); a pick of a queued instance takes it off the queue and investigates it at once,
and a pick of one being investigated waits for that run instead of reading the account twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

WORKERS = 2  # concurrent background investigations (each runs a few calls at once itself)


class Prefetcher:
    """A bounded pool of background investigations, by inputs."""

    def __init__(self, investigate: Callable[[Any], None], *, workers: int = WORKERS) -> None:
        self._investigate = investigate  # runs and keeps one analysis (errors are the caller's to swallow)
        self.workers = workers
        self._queue: dict[Hashable, Any] = {}  # key -> inputs, in order
        self._running: dict[Hashable, threading.Event] = {}
        self._threads = 0
        self._condition = threading.Condition()
        self.done = 0  # background investigations finished (for tests and benches)

    def schedule(self, todo: Mapping[Any, Any]) -> None:
        """Queue `todo` (key -> inputs, in order), replacing whatever was queued and not started yet."""
        with self._condition:
            self._queue = {k: v for k, v in todo.items() if k not in self._running}
            while self._threads < min(self.workers, len(self._queue)):
                self._threads += 1
                threading.Thread(target=self._work, name="kit-prefetch", daemon=True).start()

    def cancel(self) -> None:
        """Drop everything not started yet (what runs finishes; its result is kept by its inputs)."""
        with self._condition:
            self._queue.clear()

    def claim(self, key: Hashable) -> threading.Event | None:
        """Before investigating `key` in the foreground: take it off the queue; if it is being investigated in
        the background, the event that is set when that run ends (wait for it rather than run it twice)."""
        with self._condition:
            self._queue.pop(key, None)
            return self._running.get(key)

    def pending(self) -> int:
        """Investigations queued or running."""
        with self._condition:
            return len(self._queue) + len(self._running)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; False when `timeout` passed first."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._queue and not self._running, timeout=timeout)

    def _work(self) -> None:
        while True:
            with self._condition:
                if not self._queue:
                    self._threads -= 1
                    self._condition.notify_all()
                    return
                key = next(iter(self._queue))
                inputs = self._queue.pop(key)
                done = self._running[key] = threading.Event()
            try:
                self._investigate(inputs)
            finally:
                with self._condition:
                    self._running.pop(key, None)
                    self.done += 1
                    self._condition.notify_all()
                done.set()
