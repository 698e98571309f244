"""Opening files named by someone else: regular files only, never a blocking ``open()``.

``open("fifo")`` blocks until a writer appears, ``/dev/zero`` never ends and
``/dev/stdin`` waits for a terminal. Every reader of a user-named file
(heartbeat logs, token and key files, lint targets) goes through
:func:`open_regular`, which opens with ``O_NONBLOCK`` (a FIFO opens at once)
and refuses anything that ``fstat`` does not call a regular file -- checked on
the open descriptor, so a file swapped between a check and the open cannot
slip through. :func:`read_regular` also bounds how many bytes are read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["FileTooLargeError", "NotRegularFileError", "open_regular", "read_regular",
           "read_regular_text"]


class NotRegularFileError(OSError):
    """The path names a FIFO, a device, a socket or a directory, not a regular file."""

    def __init__(self, path: str | Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"is a {kind}, expected a regular file", str(path))
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FileTooLargeError(OSError):
    """The file is bigger than the reader's limit."""

    def __init__(self, path: str | Path, limit: int, what: str) -> None:
        super().__init__(errno.EFBIG, f"{what} is larger than {limit} bytes", str(path))
        self.limit = limit

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symlinks followed).

    Raises :class:`FileNotFoundError`, :class:`PermissionError`,
    :class:`IsADirectoryError` for a directory, and :class:`NotRegularFileError`
    for anything else that is not a regular file -- without blocking.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, expected a regular file",
                                    str(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, _kind(mode))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path) as fh:
        if os.fstat(fh.fileno()).st_size > limit:
            raise FileTooLargeError(path, limit, what)
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while we read
        raise FileTooLargeError(path, limit, what)
    return data


def read_regular_text(path: str | Path, limit: int, what: str = "file", errors: str = "strict") -> str:
    """:func:`read_regular` decoded as UTF-8 (``errors`` as in :meth:`bytes.decode`)."""
    return read_regular(path, limit, what).decode("utf-8", errors)
