"""The PSF over time: estimates in consecutive windows of frames, from the same sums.

Focus drifts during long acquisitions. The block sums of a movie
(:class:`smlmlp.block_sums.BlockSums`) hold one autocorrelation crop per group of
frames, in frame order, so the PSF of any run of groups is the estimate of their
sums: cutting the groups into ``N`` consecutive windows gives the PSF of each
window, with its jackknife standard error, without reading the movie again. For
20 or more groups per window, accumulate with ``time_windows=N``
(:func:`smlmlp.spectra.accumulate_spectrum`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .block_sums import BlockSums
from .estimate import estimate_parts


@dataclass(frozen=True)
class TimeWindows:
    """PSF widths in consecutive windows of frames.

    Attributes
    ----------
    frame_start, frame_stop : ndarray of int
        First frame of each window and one past its last.
    values : dict of str to ndarray
        ``sigx_nm``, ``sigy_nm``, ``theta_deg``, ``psf_sigma_nm`` and their
        ``*_se`` standard errors, one value per window (NaN where no PSF was found
        or too few groups give no standard error).
    qc : tuple of str
        The QC verdict of each window (``"valid"``, ``"warn"``, ``"invalid"``).
    n_groups : ndarray of int
        Groups of frames in each window.
    """

    frame_start: np.ndarray
    frame_stop: np.ndarray
    values: dict[str, np.ndarray]
    qc: tuple[str, ...]
    n_groups: np.ndarray

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return int(len(self.frame_start))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.values[key]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Everything as named arrays (the ``time`` group of the info file)."""
        return {
            "frame_start": self.frame_start,
            "frame_stop": self.frame_stop,
            **self.values,
            "n_groups": self.n_groups,
        }


def window_groups(sums: BlockSums, n_windows: int) -> list[np.ndarray]:
    """Indices of the groups in each of ``n_windows`` consecutive windows of frames.

    The movie's frames (first to last group) are cut into ``n_windows`` spans of
    equal length; a group belongs to the span holding its middle frame. Empty
    windows (more windows than groups) are dropped.

    Examples
    --------
    >>> from smlmlp.spectra import accumulate_spectrum
    >>> movie = np.random.default_rng(0).poisson(100, size=(120, 16, 16))
    >>> sums = accumulate_spectrum(movie, block_frames=10, group_frames=10)
    >>> [w.tolist() for w in window_groups(sums, 3)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    """
    n_windows = check_windows(n_windows)
    if sums.n_groups == 0:
        return []
    first = int(sums.first_frames[0])
    stop = int(sums.first_frames[-1] + sums.n_frames[-1])
    middles = sums.first_frames + sums.n_frames / 2.0
    index = np.floor((middles - first) * n_windows / max(stop - first, 1)).astype(int)
    index = np.clip(index, 0, n_windows - 1)
    return [np.flatnonzero(index == k) for k in range(n_windows) if np.any(index == k)]


def check_windows(n_windows: Any, name: str = "time_windows") -> int:
    """A checked number of windows (an integer >= 1)."""
    if isinstance(n_windows, bool) or not isinstance(n_windows, int | np.integer):
        raise TypeError(f"{name}: expected a whole number of windows, got {n_windows!r}")
    if n_windows < 1:
        raise ValueError(f"{name}: must be at least 1, got {n_windows}")
    return int(n_windows)


def estimate_time_windows(
    sums: BlockSums,
    n_windows: int,
    crop_pix: Any,
    pixel_nm: tuple[float, float],
    *,
    name: str = "channel 0",
    start: np.ndarray | None = None,
) -> TimeWindows:
    """PSF widths and standard errors in ``n_windows`` consecutive windows of frames.

    Parameters
    ----------
    sums : BlockSums
        The channel's sums (accumulated with ``time_windows=n_windows`` for 20 or
        more groups per window).
    n_windows : int
        Number of windows.
    crop_pix : int
        Crop size of the fits.
    pixel_nm : tuple of float
        ``(y, x)`` pixel size in nm.
    name : str, optional
        Channel name for messages.
    start : ndarray, optional
        Start of every window's fit (:func:`smlmlp.estimate.fit_start`).

    Returns
    -------
    TimeWindows
        Windows without a PSF hold NaN (one ``RuntimeWarning`` says which).

    Examples
    --------
    >>> from smlmlp.simulation import simulate_movie
    >>> from smlmlp.spectra import accumulate_spectrum
    >>> movie, _ = simulate_movie(600, (48, 48), sigx_nm=130.0, seed=2)
    >>> sums = accumulate_spectrum(movie, time_windows=2)
    >>> windows = estimate_time_windows(sums, 2, 21, (100.0, 100.0))
    >>> windows.frame_start.tolist(), windows.frame_stop.tolist()
    ([0, 300], [300, 600])
    >>> bool(np.all(np.abs(windows["psf_sigma_nm"] / 130.0 - 1) < 0.05))
    True
    """
    groups = window_groups(sums, n_windows)
    if 0 < len(groups) < n_windows:
        warnings.warn(
            f"{name}: {len(groups)} time window(s), not {n_windows}: a window holds whole "
            f"groups of frames, and the movie makes {sums.n_groups} group(s) of "
            f"{int(sums.n_frames[0])} frames",
            RuntimeWarning,
            stacklevel=2,
        )
    parts = []
    for chosen in groups:
        part = sums.select(chosen)
        parts.append((part, f"{name}, frames {part.first_frames[0]}-{part.frame_stops[-1]}"))
    values, estimates = estimate_parts(parts, crop_pix, pixel_nm, start=start)
    empty = [index for index, estimate in enumerate(estimates) if not estimate.valid]
    if empty:
        warnings.warn(
            f"{name}: no PSF found in time window(s) {', '.join(str(i) for i in empty)}; "
            "their widths are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    return TimeWindows(
        frame_start=np.array([int(sums.first_frames[g[0]]) for g in groups], np.int64),
        frame_stop=np.array(
            [int(sums.first_frames[g[-1]] + sums.n_frames[g[-1]]) for g in groups], np.int64
        ),
        values=values,
        qc=tuple(estimate.qc for estimate in estimates),
        n_groups=np.array([len(g) for g in groups], np.int64),
    )
