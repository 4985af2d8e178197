"""Which run holds the working folder: a live run and a stale lock told apart.

Snakemake locks the working folder while it runs (``.snakemake/locks``) and leaves
the lock behind when it is killed; a second run then stops with one message for
both cases. The workflow records its own run next to the lock (process id, host,
start, command) when it starts and removes the record when it ends, so that a run
that finds a lock can tell the user which case it is and what to do.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from smlmlp.atomic import atomic_path

from ._common import PathLike, _plain

#: The record of the run working in a folder (beside Snakemake's own state).
RUN_RECORD = Path(".snakemake") / "smlmlp_run.json"
#: The config of the last run into a results folder, in that folder: ``make report``
#: reports that run with it, without repeating its ``--config`` options.
RUN_CONFIG = "run_config.yaml"
LOCKS = Path(".snakemake") / "locks"
#: Command-line options of Snakemake that do not take the lock (nothing to check).
_NO_LOCK_OPTIONS = {
    "--unlock",
    "--dry-run",
    "--dryrun",
    "--nolock",
    "--report",
    "--lint",
    "--dag",
    "--rulegraph",
    "--filegraph",
    "--d3dag",
    "--summary",
    "--detailed-summary",
    "--list-rules",
    "--list",
    "--list-target-rules",
    "--lt",
    "--list-changes",
    "--lc",
    "--list-input-changes",
    "--li",
    "--list-params-changes",
    "--lp",
    "--list-code-changes",
    "--list-untracked",
    "--cleanup-metadata",
    "--cleanup-shadow",
    "--help",
    "--version",
}


def record_run(folder: PathLike = ".", argv: Sequence[str] | None = None) -> Path:
    """Record this process as the run working in ``folder`` (Snakemake's ``onstart``)."""
    argv = list(argv) if argv is not None else list(sys.argv)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(argv),
    }
    path = Path(folder) / RUN_RECORD
    with atomic_path(path) as part:
        part.write_text(json.dumps(record), encoding="utf-8")
    return path


def record_run_config(config: Mapping[str, Any], results_dir: PathLike) -> Path:
    """Write the run's whole config (``--config`` options included) into its results folder.

    ``snakemake --configfile RESULTS/run_config.yaml --report ...`` (``make report``)
    then reports the experiments this run analysed.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = record_run_config({"experiments_dir": "/data/2024", "pixel_nm": 108}, folder)
    >>> print(path.read_text(), end="")
    experiments_dir: /data/2024
    pixel_nm: 108
    """
    path = Path(results_dir) / RUN_CONFIG
    text = yaml.safe_dump(_plain(dict(config)), sort_keys=False, allow_unicode=True)
    with atomic_path(path) as part:
        part.write_text(text, encoding="utf-8")
    return path


def clear_run(folder: PathLike = ".") -> None:
    """Remove this process's record (Snakemake's ``onsuccess`` and ``onerror``)."""
    path = Path(folder) / RUN_RECORD
    record = _read(path)
    if record is not None and record.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _takes_the_lock(argv: Sequence[str]) -> bool:
    for arg in argv[1:]:
        option = arg.split("=", 1)[0]
        if option in _NO_LOCK_OPTIONS:
            return False
        # short options together, e.g. -np: -n is a dry run
        if option.startswith("-") and not option.startswith("--") and "n" in option[1:]:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def lock_problem(folder: PathLike = ".", argv: Sequence[str] | None = None) -> str | None:
    """What holds ``folder``'s lock, as a message for the user; None when free.

    Three cases: a run that is still working (on this host: its process is alive);
    a run that was killed (its process is gone: the lock is stale, remove it with
    ``snakemake --unlock``); a lock without a record (a run of an older version, or
    on another host: the user has to know).

    Examples
    --------
    >>> import tempfile
    >>> lock_problem(tempfile.mkdtemp(), ["snakemake", "--cores", "1"]) is None
    True
    """
    argv = list(argv) if argv is not None else list(sys.argv)
    folder = Path(folder)
    locks = folder / LOCKS
    try:
        locked = any(locks.glob("*.lock"))
    except OSError:
        locked = False
    if not locked or not _takes_the_lock(argv):
        return None
    record = _read(folder / RUN_RECORD)
    unlock = (
        "if no snakemake is running in this folder, run `snakemake --unlock` (with the "
        "same --directory/--configfile options), then run again"
    )
    if record is None:
        return (
            f"{folder.resolve()} is locked by a snakemake run this workflow has no record "
            f"of; {unlock}"
        )
    pid, host = int(record.get("pid", -1)), str(record.get("host", "?"))
    since = record.get("started", "?")
    if host != socket.gethostname():
        return (
            f"{folder.resolve()} is locked by a run on {host} (pid {pid}, started {since}); "
            f"wait for it, or {unlock}"
        )
    if _alive(pid):
        return (
            f"another run is working in {folder.resolve()} (pid {pid}, started {since}: "
            f"{record.get('command', '')}); wait for it to finish, or stop it, before "
            "starting another here"
        )
    return (
        f"the run started {since} in {folder.resolve()} (pid {pid}) was killed before it "
        "could release its lock (a stale lock): run `snakemake --unlock` (with the same "
        "--directory/--configfile options) once, then run again; interrupted jobs are redone"
    )
