"""Opening user files to read, and replacing them safely: shared by every chainrule reader
and writer (model files, CSV data, the pictures and models the command line writes).

Use :func:`open_regular` to read a file a user names, and :func:`atomic_write` to write
one; both refuse what is not a regular file with :class:`SpecialFileError` (a pipe, a
device, a socket) or ``IsADirectoryError``, and name the file in every error.

Reading. A path must be a ``str``, ``bytes`` or ``os.PathLike`` (a bare int would be
taken by ``open`` as a file descriptor, and closed). It must name a regular file:
symlinks are followed, and what they point to is checked. Named pipes, character and
block devices and sockets raise :class:`SpecialFileError`, directories
``IsADirectoryError``, both before anything is read. The file type is checked with
``os.stat`` before opening and again with ``fstat`` on what was opened, which is opened
with ``O_NONBLOCK``: a pipe swapped in between the two never blocks ``open``. Readers
then read at most their limit of bytes, whatever ``st_size`` says (``/proc`` files say 0).

Writing (:func:`atomic_write`). The data go to a temporary file in the target's folder,
named ``.<name>.<16 hex digits>.chainrule-tmp``, flushed and fsynced, then renamed over
the target with ``os.replace``: a reader sees the old file or the new one, never half of
one. The temporary file is locked (``flock``) while it is written, so a later save of the
same target can tell one left behind by a killed process (nobody holds its lock) from
one being written right now, and deletes the former. A symlink is followed: the file it
points to is replaced and the link stays. Directories, pipes, devices and sockets are
never replaced, and neither is a read-only file (no write permission bit, whoever runs
the program, root included): :class:`PermissionError` says how to allow it.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> atomic_write(path, b"chain rule") == str(path)
    True
    >>> with open_regular(path) as f:
    ...     f.read()
    b'chain rule'
    >>> try:
    ...     open_regular("/dev/null")
    ... except SpecialFileError as e:
    ...     print(e)
    /dev/null: is a character device, not a regular file; only regular files are read
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from typing import Any, BinaryIO

from chainrule.engine.checks import is_integer

try:  # POSIX; elsewhere stale temporary files are not cleaned up
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["SpecialFileError", "atomic_write", "check_path", "open_regular", "renamed",
           "where"]

TEMP_SUFFIX = ".chainrule-tmp"


class SpecialFileError(OSError):
    """A named pipe, device or socket was given where a regular file is needed.

    Such files are refused before they are opened for reading or replaced by a save:
    a pipe with no writer would block forever, ``/dev/zero`` never ends, and replacing
    ``/dev/full`` (as root) would turn a device node into a regular file.
    """


def check_path(path: Any, what: str = "path") -> str | bytes:
    """``path`` as ``os.fspath`` gives it, or ``TypeError`` (never an int file descriptor)."""
    if isinstance(path, (str, bytes, os.PathLike)):
        p = os.fspath(path)
        if isinstance(p, (str, bytes)) and p:
            if (b"\0" if isinstance(p, bytes) else "\0") in p:
                raise ValueError(f"{what} contains a NUL character: {path!r}")
            return p
        if isinstance(p, (str, bytes)):
            raise ValueError(f"{what} is empty")
    raise TypeError(f"{what} must be a file name (str or os.PathLike), got "
                    f"{type(path).__name__} {path!r}"[:200]
                    + (" (file descriptors are not accepted)" if is_integer(path) else ""))


def where(path: str | bytes) -> str:
    """A path for messages."""
    return os.fsdecode(path)


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: str | bytes, mode: int, doing: str) -> OSError:
    kind = _kind(mode)
    message = f"{where(path)}: is {kind}, not a regular file; {doing}"
    if stat.S_ISDIR(mode):
        error: OSError = IsADirectoryError(message)
        error.errno = errno.EISDIR
        return error
    return SpecialFileError(message)


def renamed(error: OSError, message: str) -> OSError:
    """``error``'s own class (``PermissionError``, ``FileNotFoundError``...) with a message
    that names the file, keeping ``errno``."""
    new = type(error)(message)
    new.errno = error.errno
    return new


def open_regular(path: Any, *, what: str = "path") -> BinaryIO:
    """Open ``path`` for reading in binary mode if it is a regular file (see the module
    docstring); errors name the file. The caller closes the file."""
    p = check_path(path, what)
    name = where(p)
    try:
        st = os.stat(p)
    except OSError as e:
        raise renamed(e, f"{name}: cannot read ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(p, st.st_mode, "only regular files are read")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except OSError as e:
        raise renamed(e, f"{name}: cannot read ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else after os.stat
            raise _refuse(p, st.st_mode, "only regular files are read")
        with contextlib.suppress(AttributeError, OSError):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# -- writing -------------------------------------------------------------------------------------

def _temp_prefix(name: str) -> str:
    # A name near the 255-byte limit plus the suffix would not fit: use its hash instead.
    if len(os.fsencode(name)) > 200:
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:32]
    return f".{name}."


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(_temp_prefix(name)) + r"[0-9a-f]{16}"
                      + re.escape(TEMP_SUFFIX) + r"\Z")


def _resolve_target(path: str | bytes) -> tuple[str, os.stat_result | None]:
    """The file a save replaces (symlinks followed) and its stat, or None if it is new."""
    target = os.fsdecode(path)
    name = target
    if os.path.islink(target):
        resolved = os.path.realpath(target)
        try:
            # Opening through the link lets the kernel apply its own rules for links in
            # shared folders (fs.protected_symlinks); it also rejects loops.
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{name}: is a symlink to {resolved}, which does not exist; refusing to "
                "create a file through a dangling link (save to the path itself)") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise renamed(e, f"{name}: symlink loop ({e.strerror})") from None
            if e.errno not in (errno.EACCES, errno.EPERM):
                raise renamed(e, f"{name}: cannot follow the symlink ({e.strerror})") from None
            fd = None
        if fd is not None:
            try:
                followed = os.fstat(fd)
            finally:
                os.close(fd)
            try:
                st = os.stat(resolved)
            except OSError:
                st = None
            if st is None or (st.st_dev, st.st_ino) != (followed.st_dev, followed.st_ino):
                raise OSError(errno.EAGAIN, f"{name}: the symlink changed while saving; "
                              "try again")
        target = resolved
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as e:
        raise renamed(e, f"{name}: cannot save here ({e.strerror or e})") from None
    return target, st


def _clean_stale(directory: str, name: str) -> None:
    """Delete temporary files of this target left by saves that were killed."""
    if fcntl is None:
        return
    pattern = _temp_pattern(name)
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not pattern.match(entry):
            continue
        stale = os.path.join(directory, entry)
        try:
            fd = os.open(stale, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # another save is writing it (or locks do not work here)
            # Locked by us: its writer is gone (a lock dies with its process).
            with contextlib.suppress(OSError):
                if os.path.samestat(os.fstat(fd), os.lstat(stale)):
                    os.unlink(stale)
        finally:
            os.close(fd)


def _new_temp(directory: str, name: str, mode: int) -> tuple[int, str]:
    """Create and lock a fresh temporary file for ``name`` in ``directory``."""
    prefix = _temp_prefix(name)
    for _ in range(100):
        tmp = os.path.join(directory, prefix + secrets.token_hex(8) + TEMP_SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_BINARY", 0), mode)
        if fcntl is None:
            return fd, tmp
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd, tmp
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                return fd, tmp  # no locks on this file system: save all the same
            # A cleaner of another save took it for stale in the instant between its
            # creation and the lock; it deletes it, we take another name.
            os.close(fd)
    raise FileExistsError(f"cannot create a temporary file in {directory}")


def atomic_write(path: Any, data: bytes, *, what: str = "path", fsync: bool = True) -> str:
    """Replace the file at ``path`` with ``data`` atomically (see the module docstring);
    returns the file actually written (the symlink's target for a symlink).

    Raises ``IsADirectoryError`` or :class:`SpecialFileError` for a target that is not a
    regular file, ``PermissionError`` for a read-only target or folder, and any other
    ``OSError`` of the file system with the path in its message. ``fsync=False`` skips
    the flushes to disk (for files that are cheap to make again, such as pictures):
    still atomic for readers, not durable across a power cut.
    """
    p = check_path(path, what)
    name = where(p)
    target, st = _resolve_target(p)
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(p, st.st_mode, "refusing to replace it")
        mode: int | None = stat.S_IMODE(st.st_mode)
        # Root may write anything, and anyone may rename over a file in a folder they
        # can write: the mode bits say what the owner meant.
        if not mode & 0o222:
            problem = f"the file is read-only (mode {mode:04o})"
        elif not os.access(target, os.W_OK):
            problem = f"you may not write the file (mode {mode:04o}, owner uid {st.st_uid})"
        else:
            problem = ""
        if problem:
            error = PermissionError(f"{name}: {problem}; refusing to replace it (make it "
                                    "writable, e.g. chmod u+w, or delete it)")
            error.errno = errno.EACCES
            raise error
    else:
        mode = None  # a new file: 0o666 less the umask, as open() would make it
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{name}: cannot save: folder {directory} does not exist")
    _clean_stale(directory, base)
    try:
        fd, tmp = _new_temp(directory, base, 0o666 if mode is None else 0o600)
    except OSError as e:
        raise renamed(e, f"{name}: cannot save: cannot create a file in folder {directory} "
                         f"({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
            if mode is not None:
                os.chmod(tmp, mode)  # the mode of the file it replaces
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not fsync:
        return target
    # Make the rename itself durable (a no-op where directories cannot be opened).
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return target
