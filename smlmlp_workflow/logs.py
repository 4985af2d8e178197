"""Logs: a rule's log file, its one-line errors, and progress in frames per second."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ._common import PathLike

#: How a rule's log writes a line (:func:`rule_log`), and how :func:`logged_problems`
#: reads its warnings and errors back.
LOG_FORMAT, LOG_DATE_FORMAT = "%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"
_PROBLEM_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (WARNING|ERROR) (.+)$")

#: Errors that carry a message for the user (others also log their traceback, as does
#: any error when the environment variable SMLMLP_TRACEBACK is set).
EXPECTED_ERRORS = (ValueError, TypeError, OSError, RuntimeError)


class FrameProgress:
    """``progress(done, total)`` callback that logs frames done and frames per second.

    Logs at most every ``interval_s`` seconds, and always the last call: a rule's
    log is a file, so it gets plain lines (the command's terminal bar,
    :class:`smlmlp.progress.ProgressBar`, redraws one line with carriage returns).
    ``clock`` gives the time in seconds (default :func:`time.monotonic`).

    Used as a context manager, it also logs while no frame gets done (a movie on a
    slow disk or network share, a machine short of memory): a line every
    ``interval_s`` seconds saying how long the pass has been waiting, so a job's log
    never falls silent for long; leaving the block stops them.
    """

    def __init__(
        self,
        label: str,
        logger: logging.Logger,
        interval_s: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self.start = clock()
        self._last = -math.inf
        self._last_progress = self.start
        self._state: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            now = self.clock()
            self._last_progress = now
            self._state = (done, total)
            if done < total and now - self._last < self.interval_s:
                return
            self._last = now
            elapsed = max(now - self.start, 1e-9)
            rate = done / elapsed
            remaining = (total - done) / rate if rate > 0 else math.inf
            self.logger.info(
                "%s: %d/%d frames (%.0f %%), %.0f frames/s, %s",
                self.label,
                done,
                total,
                100.0 * done / max(total, 1),
                rate,
                "done" if done >= total else f"about {remaining:.0f} s left",
            )

    def _watch(self) -> None:
        """Log while no frame gets done (the context manager's thread)."""
        while not self._stop.wait(self.interval_s / 2):
            with self._lock:
                now = self.clock()
                waiting = now - self._last_progress
                if now - self._last < self.interval_s or waiting < self.interval_s:
                    continue
                self._last = now
                if self._state is None:
                    self.logger.info(
                        "%s: no frame done yet, %.0f s after the start (waiting for the "
                        "movie's frames or for the machine)",
                        self.label,
                        waiting,
                    )
                    continue
                done, total = self._state
                if done >= total:
                    continue
                self.logger.info(
                    "%s: %d/%d frames (%.0f %%), no frame done for %.0f s (waiting for the "
                    "movie's frames or for the machine)",
                    self.label,
                    done,
                    total,
                    100.0 * done / max(total, 1),
                    waiting,
                )

    def __enter__(self) -> FrameProgress:
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="frame-progress", daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text


@contextlib.contextmanager
def rule_log(
    log_path: PathLike | None,
    *,
    step: str,
    subject: Sequence[PathLike] | PathLike | None = None,
) -> Iterator[logging.Logger]:
    """Run a workflow step with its log file; turn a failure into one clear line.

    The block's logger writes to ``log_path``. An exception is written to the log
    and reported on stderr as one line ``ERROR <step>: <file>: <problem>`` (the
    file is added when the message does not name it already), and the process
    exits with status 1. The line starts on a line of its own even when another
    process sharing stderr (Snakemake) has left its own line unfinished. The
    traceback goes to the log only for unexpected errors (not
    :data:`EXPECTED_ERRORS`) or when ``SMLMLP_TRACEBACK`` is set.

    Parameters
    ----------
    log_path : str or path-like or None
        The rule's log file.
    step : str
        Step name, e.g. ``"autocorr 2024-05-13/red"``.
    subject : path or sequence of paths, optional
        Input file(s) the step reads, named in the error line when the message
        does not already.
    """
    logger = logging.getLogger(f"smlmlp.workflow.{step}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handlers: list[logging.Handler] = []
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    for handler in handlers:
        warnings_logger.addHandler(handler)
    started = time.monotonic()
    logger.info("%s: started", step)
    try:
        yield logger
    except Exception as error:
        message = _one_line(error)
        subjects = (
            []
            if subject is None
            else ([subject] if isinstance(subject, (str, os.PathLike)) else list(subject))
        )
        named = [str(s) for s in subjects if s is not None]
        if isinstance(error, OSError) and " writing " in str(error.strerror or ""):
            # a full disk (smlmlp.atomic.atomic_path): about the output it names
            message, named = " ".join(str(error.strerror).split()), []
        if named and not any(os.path.basename(n) in message or n in message for n in named):
            message = f"{named[0]}: {message}"
        if not isinstance(error, EXPECTED_ERRORS) or os.environ.get("SMLMLP_TRACEBACK"):
            logger.debug("%s", traceback.format_exc().rstrip())
        logger.error("%s: %s", step, message)  # the line on stderr, for logged_problems
        # Snakemake writes a message and its newline separately to the stderr it shares
        # with this script: the leading newline keeps the line from landing after a
        # half-written one of Snakemake's, and one write with its own newline keeps
        # Snakemake's next message from landing at the end of this line.
        sys.stderr.write(f"\nERROR {step}: {message}\n")
        sys.stderr.flush()
        raise SystemExit(1) from None
    else:
        logger.info("%s: finished in %.1f s", step, time.monotonic() - started)
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            warnings_logger.removeHandler(handler)
            handler.close()


@contextlib.contextmanager
def _warnings_logged(logger: logging.Logger) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        logger.warning("%s", warning.message)


def logged_problems(logs_dir: PathLike, since: float) -> dict[str, list[tuple[str, str]]]:
    """The warnings and errors of the rules' logs under ``logs_dir`` written at
    ``since`` (a ``time.time()``) or later: the problems of this run's jobs.

    Returns
    -------
    dict
        ``{"WARNING": [...], "ERROR": [...]}``, each a list of ``(experiment, text)``
        in the order of the logs' paths, each pair once; ``experiment`` is the
        experiment folder the log belongs to (``logs/<rule>/<experiment>/...`` or
        ``logs/<rule>/<experiment>.log``), ``""`` for a log of the whole run. A
        warning's text is its first line.
    """
    logs_dir = Path(logs_dir)
    found: dict[str, list[tuple[str, str]]] = {"WARNING": [], "ERROR": []}
    seen: set[tuple[str, str]] = set()
    for path in sorted(logs_dir.rglob("*.log")) if logs_dir.is_dir() else []:
        try:
            if path.stat().st_mtime < since:
                continue
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:  # removed or unreadable meanwhile: nothing to tell of it
            continue
        parts = path.relative_to(logs_dir).parts
        experiment = "" if len(parts) < 2 else parts[1].removesuffix(".log")
        for line in lines:
            match = _PROBLEM_LINE.match(line)
            if match and (experiment, match.group(2)) not in seen:
                seen.add((experiment, match.group(2)))
                found[match.group(1)].append((experiment, match.group(2)))
    return found
