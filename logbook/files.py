"""Files that readers see whole or not at all: exports, reports, backups, job states."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")


def write_whole(path: Path, write: Callable[[IO[bytes]], T]) -> T:
    """Runs ``write`` on a new private (0600) file beside ``path``, syncs it and renames it there.

    A failure leaves no partial file behind, and an earlier ``path`` untouched.
    """
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as file:
            result = write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return result


def write_bytes_whole(path: Path, data: bytes) -> None:
    write_whole(path, lambda file: file.write(data))
