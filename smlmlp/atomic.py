"""Files written whole or not at all, with the permissions any new file gets.

:func:`atomic_path` is the package's one atomic-write helper: the HDF5 info file,
the summary table, block sums, exported splines, figures, simulated movies and the
workflow's records are all written to a temporary file next to their target and
renamed over it once complete.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PathLike = str | os.PathLike[str]


def _current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:  # Linux: no window in which other threads would create files with umask 0
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    Whatever is written to the temporary path replaces ``path`` in one
    ``os.replace`` once the block ends without an exception; on an exception the
    temporary file is removed, so a reader never sees a half-written ``path``.
    The file gets the permissions of any newly created file, ``0o666`` less the
    umask (``tempfile.mkstemp`` alone would leave it readable by its owner only).
    This is the package's one atomic-write helper: every file it writes whole or
    not at all goes through it.

    A full disk, an exhausted quota or a file-size limit while writing raise one
    ``OSError`` naming the file system and ``path`` (not whatever was being read);
    nothing partial stays. Temporary files of an earlier writer that was killed
    (older than :data:`STALE_PART_SECONDS`) are removed once ``path`` is written.

    Parameters
    ----------
    path : str or path-like
        Final file name. Missing parent folders are created.
    suffix : str, optional
        Suffix of the temporary name (some writers infer the format from it).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as part:
    ...     _ = part.write_text("complete")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('complete', ['a.txt'])
    """
    path = Path(path)
    temporary = None
    started = time.time()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(handle)
        temporary = Path(name)
        os.chmod(temporary, 0o666 & ~_current_umask())
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if error.errno in _NO_SPACE:
            raise OSError(error.errno, f"{_no_space(error.errno, path)} writing {path}") from None
        raise
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    _remove_stale_parts(path, suffix, started - STALE_PART_SECONDS)


#: A temporary file of :func:`atomic_path` untouched for this long was left by a
#: writer that was killed.
STALE_PART_SECONDS = 60.0
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _mount_point(folder: Path) -> Path:
    """The mount point of the file system holding ``folder``."""
    folder = folder.resolve()
    try:
        device = folder.stat().st_dev
        while folder.parent != folder and folder.parent.stat().st_dev == device:
            folder = folder.parent
    except OSError:
        pass
    return folder


def _no_space(code: int, path: Path) -> str:
    if code == errno.EFBIG:
        return "file size limit reached"
    where = _mount_point(path.parent)
    if code == errno.EDQUOT:
        return f"disk quota exceeded on {where}"
    return f"no space left on {where}"


def _remove_stale_parts(path: Path, suffix: str, before: float) -> None:
    """Remove temporary files of ``path`` last written before ``before`` (killed writers)."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*{glob.escape(suffix)}"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < before:
                part.unlink()
