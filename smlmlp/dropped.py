"""Dropped frames: frames that hold one value in every pixel.

A camera, or the software saving its frames, that misses a frame (a full buffer,
a lost transfer) often writes the frame anyway, filled with zeros or another
single value, so that the movie keeps its length. A real exposure never holds one
value in every pixel: shot and read noise see to that (only a noise-free simulation
of an empty field does). Kept, such a frame is a fluctuation of the whole sample at
once (the frame minus its neighbours' mean is the sample's image, negated), which
adds the static structure of the sample (less its mean level over the frame, which
the sums leave out) to the blinking's autocorrelation and biases the PSF (by more
than 0.8 % on filaments with 3 % of the frames dropped, in
``tests/test_dropped.py``). They are found here and left out of the sums, the frames
around them keeping their times (docs/accuracy.md, the "dropped frames" rows of the
artifacts table).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import array_module

#: About this many rows of each frame, evenly spaced, are looked at first: a frame
#: that varies along them is not dropped (a real frame, nearly always); only the
#: others are checked whole.
SAMPLED_ROWS = 8


def dropped_frames(frames: Any) -> np.ndarray:
    """Which frames of ``frames`` (``(n, height, width)``, on any device) hold one
    value in every pixel.

    Parameters
    ----------
    frames : array
        A chunk of frames, NumPy or CuPy.

    Returns
    -------
    ndarray of bool
        ``(n,)``, on the host: True for a dropped frame.

    Examples
    --------
    >>> movie = np.random.default_rng(0).poisson(100, size=(4, 16, 16)).astype(np.uint16)
    >>> movie[1] = 0
    >>> movie[3] = 7
    >>> dropped_frames(movie).tolist()
    [False, True, False, True]
    """
    xp = array_module(frames)
    n_frames, height = int(frames.shape[0]), int(frames.shape[-2])
    if n_frames == 0:
        return np.zeros(0, bool)
    sample = frames[:, :: max(1, height // SAMPLED_ROWS)].reshape(n_frames, -1)
    candidates = (sample == sample[:, :1]).all(axis=1)
    found = np.asarray(candidates.get() if xp is not np else candidates, bool)
    for index in np.flatnonzero(found):  # rare: check the whole frame
        frame = frames[index]
        found[index] = bool((frame == frame.reshape(-1)[0]).all())
    return found
