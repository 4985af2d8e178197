"""Progress bars (tqdm) for the ``progress(done, total)`` callbacks of the passes.

Every streaming pass (:func:`smlmlp.blink_spatial_psf`,
:func:`smlmlp.blink_temporal_on`, the command line) reports its frames through a
``progress(frames_done, frames_total)`` callback. :class:`ProgressBar` is one that
draws a bar with ``tqdm.auto``: a text bar on a terminal, a widget in a Jupyter
notebook. By default it draws nothing when its stream is not a terminal (a file,
a pipe, a batch job's output), so logs hold no carriage-return bars; the
workflow writes plain lines into its rule logs instead.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with ProgressBar("red", out, enabled=True) as bar:
...     bar(5, 10); bar(10, 10)
>>> "red: 100%" in out.getvalue() and "10/10" in out.getvalue()
True
>>> silent = io.StringIO()
>>> ProgressBar("red", silent)(10, 10)  # not a terminal: nothing drawn
>>> silent.getvalue()
''
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

from tqdm.auto import tqdm

__all__ = ["ProgressBar", "in_notebook"]


def in_notebook() -> bool:
    """Whether ``tqdm.auto`` draws notebook widgets here (a Jupyter kernel with ipywidgets)."""
    return any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class ProgressBar:
    """``progress(done, total)`` callback drawing a tqdm bar of frames.

    The bar opens at the first call and closes (and stays on screen) when ``done``
    reaches ``total``, or on :meth:`close`; later calls draw nothing. Its rate
    counts from the creation of the :class:`ProgressBar`, when the pass starts.

    Parameters
    ----------
    label : str
        Shown before the bar.
    stream : file, optional
        Where to draw (default ``sys.stderr``).
    enabled : bool or None, optional
        ``None`` (default): draw when ``stream`` is a terminal, or as a widget in
        a Jupyter notebook; ``True``: draw whatever the stream; ``False``: never.
    mininterval : float, optional
        Least seconds between two redraws (default 0.1).
    """

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
        mininterval: float = 0.1,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = _is_terminal(self.stream) or in_notebook()
        self.enabled = bool(enabled)
        self.mininterval = float(mininterval)
        self._bar: Any = None
        self._closed = False
        self._started = time.time()  # the pass starts now: rates count from here

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or self._closed:
            return
        done, total = int(done), int(total)
        if self._bar is None:
            self._bar = tqdm(
                total=total,
                desc=self.label,
                unit=" frames",
                file=self.stream,
                mininterval=self.mininterval,
                dynamic_ncols=True,
                leave=True,
            )
            self._bar.start_t = self._bar.last_print_t = self._started
        elif total != self._bar.total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        """End the bar (left on screen as it is); later calls draw nothing."""
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
