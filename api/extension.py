"""One `Logbook` per process, built on first use after gunicorn forks.

SQLite connections (and, later, a PostgreSQL pool) must not cross a fork, so
the application object is made lazily, and made again if the process id
changed since it was made.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime

from flask import current_app

from logbook.application import Logbook, utc_now
from logbook.config import Settings


class LogbookHolder:
    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._app: Logbook | None = None
        self._pid: int | None = None

    def get(self) -> Logbook:
        if self._app is None or self._pid != os.getpid():
            with self._lock:
                if self._app is None or self._pid != os.getpid():
                    self._app = Logbook(self.settings, clock=self.clock)
                    self._pid = os.getpid()
        return self._app

    def close(self) -> None:
        if self._app is not None and self._pid == os.getpid():
            self._app.close()
        self._app = None


def logbook() -> Logbook:
    """The application of this process."""
    holder: LogbookHolder = current_app.extensions["logbook"]
    return holder.get()
