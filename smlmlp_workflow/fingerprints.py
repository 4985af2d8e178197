"""Content fingerprints of the movies: changes that modification times miss.

Snakemake reruns a job when an input is newer than its outputs. A movie replaced by
one with an older modification time (``cp -p``, ``rsync -t``, a restore from backup)
would be missed, and the old numbers kept. Each channel therefore has a small record
of its files' sizes and sampled content (``autocorr/{channel}.fingerprint`` in the
results), rewritten when Snakemake plans a run and the files no longer match the
fingerprints the channel's last ``autocorr`` job recorded: the record is an input of
that job, so a rewritten record reruns it and everything after it, in the same run.

What is detected: a change of size, or of any of the :data:`SAMPLES` blocks of
:data:`SAMPLE_BYTES` bytes spread evenly over the file (the first and the last
included), whatever the modification time. A movie from another acquisition differs
everywhere; what is not detected is a change confined to bytes between the samples
of a file whose size and modification time are both unchanged. A newer
modification time alone (``touch``) reruns the jobs, as Snakemake does for any newer
input.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smlmlp.atomic import atomic_path

from ._common import PathLike, _display_path

#: Blocks read per file and their size: 1 MiB per movie, whatever its length.
SAMPLES = 16
SAMPLE_BYTES = 64 * 1024


def file_fingerprint(path: PathLike) -> dict[str, Any]:
    """``{"path", "size", "sampled_sha256"}`` of one file, or of a movie folder (OME-Zarr):
    the names and sizes of all its files and the first block of :data:`SAMPLES` of them.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.bin").write_bytes(bytes(1000))
    >>> print(file_fingerprint(folder / "a.bin")["size"])
    1000
    """
    if os.path.isdir(path):
        return _folder_fingerprint(path)
    size = os.path.getsize(path)
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        last = max(0, size - SAMPLE_BYTES)
        offsets = sorted({round(k * last / (SAMPLES - 1)) for k in range(SAMPLES)})
        for offset in offsets:
            handle.seek(offset)
            digest.update(handle.read(SAMPLE_BYTES))
    return {"path": _display_path(path), "size": size, "sampled_sha256": digest.hexdigest()}


def _folder_fingerprint(path: PathLike) -> dict[str, Any]:
    """:func:`file_fingerprint` of a folder."""
    files = sorted(
        os.path.relpath(os.path.join(folder, name), path)
        for folder, _, names in os.walk(path)
        for name in names
    )
    sizes = [os.path.getsize(os.path.join(path, name)) for name in files]
    digest = hashlib.sha256(json.dumps([files, sizes]).encode())
    last = len(files) - 1
    for index in sorted({round(k * last / (SAMPLES - 1)) for k in range(SAMPLES)} if files else []):
        with open(os.path.join(path, files[index]), "rb") as handle:
            digest.update(handle.read(SAMPLE_BYTES))
    return {"path": _display_path(path), "size": sum(sizes), "sampled_sha256": digest.hexdigest()}


def movie_fingerprint(files: Sequence[PathLike]) -> list[dict[str, Any]]:
    """The fingerprints of a channel's files.

    A file that is missing or cannot be read is left out: its job says what is wrong,
    and the other experiments' jobs are still planned.
    """
    fingerprints = []
    for path in files:
        try:
            fingerprints.append(file_fingerprint(path))
        except OSError:
            continue
    return fingerprints


def _differs_from(source: PathLike | None, current: list[dict[str, Any]]) -> bool:
    """Whether the fingerprints the autocorrelation recorded (its JSON ``source``)
    differ from ``current``; False when there is no such record to compare with."""
    if source is None:
        return False
    try:
        recorded = json.loads(Path(source).read_text(encoding="utf-8"))
        sizes, hashes = recorded["sizes_bytes"], recorded["sampled_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return [f["size"] for f in current] != list(sizes) or [
        f["sampled_sha256"] for f in current
    ] != list(hashes)


def refresh_fingerprint(
    record: PathLike, files: Sequence[PathLike], source: PathLike | None = None
) -> Path:
    """Keep ``record``, the fingerprints of ``files``, as an input that reruns the
    channel's jobs exactly when its files changed.

    When ``source`` (what the autocorrelation read, with the fingerprints it saw)
    no longer matches the files, ``record`` is rewritten now: newer than every
    output, it reruns them. A new record (first run) is dated like the oldest of
    the files, so it reruns nothing by itself. Otherwise it is left alone.
    """
    record = Path(record)
    current = movie_fingerprint(files)
    changed = _differs_from(source, current)
    if record.exists() and not changed:
        return record
    with atomic_path(record) as part:
        part.write_text(json.dumps(current, indent=1) + "\n", encoding="utf-8")
    if not changed:
        times = [os.path.getmtime(path) for path in files if os.path.exists(path)]
        oldest = min(times, default=0.0)
        os.utime(record, (oldest, oldest))
    return record
