"""Fiducial markers: bright points that never blink (beads, gold particles), left out.

A fiducial bead never blinks, so on a still stage it drops out with each block's
mean. A stage that vibrates, though, moves its bright image from frame to frame,
and these fluctuations (the gradient of the bead's image times the displacement)
add a narrow term to the autocorrelation that narrows the PSF: kept, four beads
of 50 000 photons in a 64² field with 2 nm rms of vibration per frame narrow sigma
by about 10 % (``tests/test_fiducials.py``); left out, within 0.2 % (docs/accuracy.md,
the "fiducial beads on a vibrating stage" rows; the pixel pairs their holes take
from each lag given back, :mod:`smlmlp.holes`).

:func:`find_fiducials` finds them in a few frames spread over the whole movie
(:func:`sample_indices`): a pixel's second-smallest value over those frames
holds what is there in (nearly) every frame, the static image, where blinking
emitters have vanished. Compact spots of that image far brighter than the
blinking (:data:`BRIGHTNESS_FACTOR` times its peaks) are fiducials; their
pixels, out to where they fade below a quarter of the blinking's peaks, are
the mask the pass leaves out (their fluctuations set to zero, as for a sample
that does not fill the field). Hot pixels (one pixel, not a spot), blinking
emitters, the sample's faint static fluorescence and haze are not taken.

A stage that drifts by more than a bead's width over the movie leaves the bead
in no pixel for long: the whole movie's static image loses it, and its path
would pass for blinking. So every :data:`PART_FRAMES` consecutive sampled frames
(a fifth of the movie) give a static image too, where the bead has moved less,
looked at around what it holds beyond the whole movie's; a marker found there is
kept when it is compact and found in every part, not far from where it was in the
others (a dense sample all lit at the start of the movie is in one or two parts
only), or in two parts at least and missing only from the last parts (or the first),
by when it has come as near the field's edge as the stage drifts it: a bead that
leaves the field (or enters it). The blinking's peaks are taken over the pixels dark
in every static image, and the mask is the union of all: beads drifting by 11 px
(1.1 µm) and by 22 px on a vibrating stage, which kept in narrow sigma by more than
5 %, are left out along their paths, and a bead drifting out of the field until it
leaves (``tests/test_fiducials.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage, spatial

from .backend import array_module

#: Frames sampled over the movie (evenly spaced; all of them in a shorter movie).
SAMPLED_FRAMES = 16
#: Fewer usable sampled frames (dropped frames left out) find nothing.
MIN_SAMPLED_FRAMES = 8
#: The sampled frames are also looked at in consecutive parts of this many (five
#: parts of the movie), for beads that drift (:func:`movie_fiducials`).
PART_FRAMES = 3
#: A part with fewer usable sampled frames is not looked at on its own.
MIN_PART_FRAMES = 3
#: A bead found in a part is found in every other part, at most this many pixels per
#: part apart (a drift of up to about 3 µm over the movie on 100 nm pixels)...
DRIFT_PER_PART = 8.0
#: ... and its pixels in a part's static image are at most this many (a compact spot,
#: not a sample all lit).
MAX_MOVED_PIXELS = 625
#: The static image's background: its grey opening by a square of about this side
#: (spots narrower than it stand out of it; :func:`_above_background`).
OPENING_SIDE = 21
#: A part's static image is looked at in boxes reaching this far (pixels) around the
#: spots it holds beyond the whole movie's (twice the background's square).
MOVED_BOX = 2 * OPENING_SIDE
#: A fiducial's peak above the background, over the blinking's peaks.
BRIGHTNESS_FACTOR = 5.0
#: The mask holds a fiducial's pixels down to this fraction of the blinking's peaks.
EDGE_FRACTION = 0.25
#: The static image's noise and the blinking's peaks are taken over at most about
#: this many pixels, evenly spread.
STATISTICS_PIXELS = 2**16
#: The blinking's peaks: this percentile of the sampled frames' largest values
#: above the static image, over the pixels without static light.
BLINK_PERCENTILE = 99.0


class Fiducials(NamedTuple):
    """Fiducial markers found in a movie: ``mask`` (bool, frame-shaped), the pixels
    left out; ``spots``, ``(k, 2)`` positions ``(row, column)`` of their peaks."""

    mask: np.ndarray
    spots: np.ndarray

    @classmethod
    def none(cls, frame_shape: tuple[int, int]) -> Fiducials:
        """No fiducial in frames of ``frame_shape``."""
        return cls(np.zeros(frame_shape, bool), np.zeros((0, 2), np.int64))


def sample_indices(n_frames: int, count: int = SAMPLED_FRAMES) -> np.ndarray:
    """``count`` frame numbers evenly spread over ``n_frames`` frames (all of them
    when there are fewer), in order.

    Examples
    --------
    >>> sample_indices(1000, 4).tolist()
    [0, 333, 666, 999]
    >>> sample_indices(3).tolist()
    [0, 1, 2]
    """
    n_frames = int(n_frames)
    if n_frames <= count:
        return np.arange(n_frames)
    return np.unique(np.linspace(0, n_frames - 1, count).round().astype(np.int64))


def find_fiducials(
    frames: Iterable[Any], frame_shape: tuple[int, int], *, part_frames: int | None = None
) -> Fiducials:
    """The fiducial markers of a movie, from frames sampled over it.

    Parameters
    ----------
    frames : iterable of array-like
        Frames ``(height, width)`` spread over the movie (:func:`sample_indices`);
        frames holding one value in every pixel (dropped frames) are left out.
    frame_shape : tuple of int
        ``(height, width)``.
    part_frames : int, optional
        Every this many consecutive frames (a part of the movie) are also looked at
        on their own (at least :data:`MIN_PART_FRAMES` of them usable): a bead the
        stage drifts by more than its width over the movie is in the static image
        of each part; what is found in every part, not far apart, is kept, and the
        mask is the union of all (module notes).

    Returns
    -------
    Fiducials
        Nothing found when fewer than :data:`MIN_SAMPLED_FRAMES` frames are usable,
        or a value is not finite or not a real number (the pass refuses those
        frames itself).

    Examples
    --------
    Blinking on a faint background, and one bead of 20 000 photons in every frame:

    >>> rng = np.random.default_rng(0)
    >>> rows, columns = np.indices((48, 48))
    >>> bead = 20000 / (2 * np.pi * 1.69) * np.exp(-((rows - 20) ** 2 + (columns - 30) ** 2) / 3.38)
    >>> movie = rng.poisson(20.0 + bead, size=(30, 48, 48)).astype(float)
    >>> for frame in movie:
    ...     y, x = rng.uniform(5, 43, 2)
    ...     frame += 90 * np.exp(-((rows - y) ** 2 + (columns - x) ** 2) / 3.38)
    >>> found = find_fiducials(movie, (48, 48))
    >>> found.spots.tolist(), bool(found.mask[20, 30]), int(found.mask.sum()) < 120
    ([[20, 30]], True, True)
    """
    height, width = (int(size) for size in frame_shape)
    extremes, part, parts = _Extremes(), _Extremes(), []  # the movie's, a part's
    part_frames = int(part_frames) if part_frames else 0
    added = 0
    for frame in frames:
        frame = array_module(frame).asarray(frame)
        if frame.shape != (height, width):
            raise ValueError(f"frames of shape {frame.shape}, expected {(height, width)}")
        if frame.dtype.kind not in "uif":  # not real numbers: the pass refuses them
            return Fiducials.none((height, width))
        part.add(frame)
        added += 1
        if part_frames and added % part_frames == 0:
            extremes.merge(part)
            parts.append(part.static())
            part = _Extremes()
    if part.used is not None:
        extremes.merge(part)
        if part_frames:
            parts.append(part.static())
    del part
    if extremes.used is None or int(extremes.used) < MIN_SAMPLED_FRAMES:
        return Fiducials.none((height, width))
    second, highest = _on_host(extremes.second), _on_host(extremes.highest)
    statics = _usable_parts(parts)
    del extremes, parts  # what is left of them: the static images and the highest
    if second.dtype.kind == "f" and not all(
        np.isfinite(image).all() for image in (second, highest, *statics)
    ):
        return Fiducials.none((height, width))
    second = second.astype(np.float32)
    above = _above_background(second)
    # what each part holds beyond the whole movie: a drifting bead, little else (the
    # statistics over evenly spread pixels; whole images one at a time, below)
    step = _statistics_step(second)
    sampled = second.reshape(-1)[::step]
    moved = [part.reshape(-1)[::step].astype(np.float32) - sampled for part in statics]
    noise, dark = _noise(above.reshape(-1)[::step])
    moved_noise = [_noise(beyond) for beyond in moved]
    # pixels without static light in the whole movie's static image nor more in its
    # parts' (the path of a drifting bead is not blinking)
    dark = np.logical_and.reduce([dark, *(part_dark for _, part_dark in moved_noise)])
    if not dark.any():
        return Fiducials.none((height, width))
    flicker = (highest.reshape(-1)[::step].astype(np.float32) - sampled)[dark]
    blinking = float(np.percentile(flicker, BLINK_PERCENTILE))
    still = _detect(above, blinking, noise)
    moving = _persistent(
        [
            _detect_moved(part, part.astype(np.float32) - second, blinking, part_noise)
            for part, (part_noise, _) in zip(statics, moved_noise, strict=True)
        ],
        still[1],
    )
    regions = [region for region, spots in (still, *moving) if spots]
    if not regions:
        return Fiducials.none((height, width))
    return Fiducials(_dilated(np.logical_or.reduce(regions)), _markers(still, moving))


def _usable_parts(parts: list[_Extremes]) -> list[np.ndarray]:
    """The second-smallest images of the parts with :data:`MIN_PART_FRAMES` usable
    frames or more, on the host (from a GPU: one copy of them all, one of their
    counts)."""
    if not parts:
        return []
    xp = array_module(parts[0].second)
    if xp is np:  # no copy
        counts, images = [int(part.used) for part in parts], [part.second for part in parts]
    else:
        counts = _on_host(xp.stack([part.used for part in parts]))
        images = _on_host(xp.stack([part.second for part in parts]))
    return [image for image, count in zip(images, counts, strict=True)
            if count >= MIN_PART_FRAMES]  # fmt: skip


def _statistics_step(image: np.ndarray) -> int:
    """The step between the pixels the statistics are taken over."""
    return max(1, image.size // STATISTICS_PIXELS)


def _noise(spread: np.ndarray) -> tuple[float, np.ndarray]:
    """The noise of a static image less its background from its evenly spread pixels
    ``spread`` (their spread about their median), and which of those pixels hold no
    static light."""
    middle = float(np.median(spread))
    noise = 1.4826 * float(np.median(np.abs(spread - middle)))
    return noise, spread <= middle + 3.0 * noise


def _detect(
    above: np.ndarray, blinking: float, noise: float
) -> tuple[np.ndarray | None, list[tuple[int, int]]]:
    """The pixels (before their dilation) and the spots of the fiducials of one static
    image less its background, given the blinking's peaks and the image's noise."""
    spots = _spots(above, max(BRIGHTNESS_FACTOR * blinking, 10.0 * noise))
    if not spots:
        return None, []
    labels, _ = ndimage.label(above > max(EDGE_FRACTION * blinking, 3.0 * noise))
    kept = np.unique([labels[spot] for spot in spots])
    return np.isin(labels, kept[kept > 0]), spots


def _detect_moved(
    part: np.ndarray, moved: np.ndarray, blinking: float, noise: float
) -> tuple[np.ndarray | None, list[tuple[int, int]]]:
    """:func:`_detect` in a part's static image ``part``, looked at only in boxes of
    side 2 :data:`MOVED_BOX` + 1 around the spots of ``moved``, what the part holds
    beyond the whole movie's static image (``noise``: its noise)."""
    candidates = _spots(moved, max(BRIGHTNESS_FACTOR * blinking, 10.0 * noise))
    if not candidates:
        return None, []
    region, spots = np.zeros(part.shape, bool), set()
    for row, column in candidates:
        if region[row, column]:  # in a marker found around an earlier candidate
            continue
        box = (slice(max(row - MOVED_BOX, 0), row + MOVED_BOX + 1),
               slice(max(column - MOVED_BOX, 0), column + MOVED_BOX + 1))  # fmt: skip
        here, found = _detect(_above_background(part[box]), blinking, noise)
        if found:
            region[box] |= here
            spots.update((y + box[0].start, x + box[1].start) for y, x in found)
    return region, sorted(spots)


def _persistent(
    parts: list[tuple[np.ndarray | None, list[tuple[int, int]]]], still: list[tuple[int, int]]
) -> list[tuple[np.ndarray | None, list[tuple[int, int]]]]:
    """The parts' markers that behave as beads: compact (regions of at most
    :data:`MAX_MOVED_PIXELS`) and present in every part, within :data:`DRIFT_PER_PART`
    pixels per part apart (a part's own spots and the whole movie's ``still`` ones),
    or in two parts at least and missing only from the parts where the stage may have
    drifted it out of the field (or not yet into it, :func:`_seen_as_bead`).
    What a stretch of the movie alone holds (a dense sample all lit at its start)
    is no bead."""
    seen = [still + spots for _, spots in parts]
    trees = [spatial.cKDTree(np.asarray(points, float)) if points else None for points in seen]
    kept = []
    for index, (region, spots) in enumerate(parts):
        if not spots:
            kept.append((None, []))
            continue
        others = [other for other in range(len(parts)) if other != index]
        found = np.array(
            [_found_near(trees[other], spots, DRIFT_PER_PART * abs(other - index))
             for other in others]  # fmt: skip
        ).reshape(len(others), len(spots))
        near = [_seen_as_bead(column, others, index, spot, region.shape)
                for column, spot in zip(found.T, spots, strict=True)]  # fmt: skip
        labels, _ = ndimage.label(region)
        sizes = np.bincount(labels.reshape(-1))
        chosen = [spot for spot, close in zip(spots, near, strict=True)
                  if close and sizes[labels[spot]] <= MAX_MOVED_PIXELS]  # fmt: skip
        if not chosen:
            kept.append((None, []))
            continue
        kept.append((np.isin(labels, [labels[spot] for spot in chosen]), chosen))
    return kept


def _found_near(tree: Any, spots: list[tuple[int, int]], reach: float) -> np.ndarray:
    """Whether each spot has one of the tree's points within ``reach`` pixels."""
    if tree is None:
        return np.zeros(len(spots), bool)
    return tree.query(spots)[0] <= reach


def _seen_as_bead(
    found: np.ndarray, others: list[int], index: int, spot: tuple[int, int], shape: tuple[int, int]
) -> bool:
    """Whether a part's spot is a bead by the other parts: found near it in all of them
    (``found``, in the order of ``others``), or in some, the others all on one side of
    part ``index``, from some part on to the movie's end (or its start up to one), and
    the spot no farther from the frame's edge than the stage drifts (at most
    :data:`DRIFT_PER_PART` a part) by the first of them: the stage drifted the bead
    out of the field (or into it)."""
    if found.all() or not others:
        return True
    if not found.any():
        return False
    missing = np.asarray(others)[~found]
    after = bool((missing > index).all())
    if not after and not (missing < index).all():
        return False
    ends = range(missing.min(), others[-1] + 1) if after else range(others[0], missing.max() + 1)
    if set(missing.tolist()) != set(ends) - {index}:
        return False  # gone, then back: no drift out of the field
    first = missing.min() if after else missing.max()
    edge = min(spot[0], spot[1], shape[0] - 1 - spot[0], shape[1] - 1 - spot[1])
    return edge <= DRIFT_PER_PART * abs(first - index)


def _dilated(mask: np.ndarray) -> np.ndarray:
    """The mask dilated by one pixel (within the box around all of it)."""
    mask = mask.copy()
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(columns[0] - 1, 0), columns[-1] + 2))
    mask[box] = ndimage.binary_dilation(mask[box])
    return mask


def _markers(
    still: tuple[np.ndarray | None, list[tuple[int, int]]],
    parts: list[tuple[np.ndarray | None, list[tuple[int, int]]]],
) -> np.ndarray:
    """The markers' peaks, ``(k, 2)``: the spots of the whole movie's static image, and
    those of a part that found the parts' median count outside its markers (a drifting
    bead is in every part, at another place each time: one marker; a part may see a
    bead smeared by its motion as two spots)."""
    region, spots = still
    moved = [[spot for spot in found if region is None or not region[spot]]
             for _, found in parts]  # fmt: skip
    median = sorted(len(found) for found in moved)[len(moved) // 2] if moved else 0
    peaks = sorted(spots + next((found for found in moved if len(found) == median), []))
    return np.asarray(peaks, np.int64).reshape(-1, 2)


def _spots(above: np.ndarray, bright: float) -> list[tuple[int, int]]:
    """The pixels of ``above`` brighter than ``bright`` that are the largest of their
    3 x 3 neighbourhood and have two neighbours or more above a quarter of their
    value (a spot, not a hot pixel)."""
    rows, columns = np.nonzero(above > bright)
    height, width = above.shape
    around = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            row, column = rows + dy, columns + dx
            inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
            values = above[np.clip(row, 0, height - 1), np.clip(column, 0, width - 1)]
            around.append(np.where(inside, values, -np.inf))
    around = np.stack(around)
    peak = above[rows, columns]
    spread = (around > 0.25 * peak).sum(axis=0) >= 3  # the peak and two more
    chosen = (around.max(axis=0) == peak) & spread
    found = zip(rows[chosen].tolist(), columns[chosen].tolist(), strict=True)
    return [(row, column) for row, column in found]


def _above_background(image: np.ndarray) -> np.ndarray:
    """A static image less its background: the grey opening by a square of about
    :data:`OPENING_SIDE` (no wider than the image) of its 2 x 2 minima, each given
    back to its four pixels (float32)."""
    height, width = image.shape
    padded = image.astype(np.float32, copy=False)
    if height % 2 or width % 2:
        padded = np.pad(padded, ((0, height % 2), (0, width % 2)), mode="edge")
    pooled = np.minimum(
        np.minimum(padded[0::2, 0::2], padded[1::2, 0::2]),
        np.minimum(padded[0::2, 1::2], padded[1::2, 1::2]),
    )
    side = max(1, min(OPENING_SIDE // 2 + 1, *pooled.shape))
    opened = ndimage.grey_opening(pooled, size=(side, side))
    rows, columns = pooled.shape
    above = padded.reshape(rows, 2, columns, 2) - opened[:, None, :, None]
    return above.reshape(2 * rows, 2 * columns)[:height, :width]


class _Extremes:
    """Each pixel's smallest, second-smallest and largest value over frames added
    one at a time, dropped frames (one value in every pixel) left out: in the frames'
    own type (integers, or float32), in place on the host; on a GPU without waiting
    for it (a dropped frame is decided there)."""

    def __init__(self) -> None:
        self.lowest = self.second = self.highest = self._scratch = self.used = None

    def add(self, frame: Any) -> None:
        xp = array_module(frame)
        if frame.dtype.kind not in "ui":
            frame = frame.astype(np.float32, copy=False)
        # smlmlp.dropped's definition, decided where the frame is (its dropped_frames
        # brings a flag back to the host per frame: a wait for a GPU)
        dropped = (frame == frame.reshape(-1)[0]).all()
        if self.lowest is None:
            limits = np.iinfo(frame.dtype) if frame.dtype.kind in "ui" else None
            top, bottom = (limits.max, limits.min) if limits else (np.inf, -np.inf)
            self.second = xp.full(frame.shape, top, frame.dtype)
            self.lowest = xp.where(dropped, self.second, frame)
            self.highest = xp.where(dropped, xp.full(frame.shape, bottom, frame.dtype), frame)
            self.used = xp.zeros((), np.int64) + ~dropped
            return
        if xp is np:
            if dropped:
                return
            np.maximum(self.lowest, frame, out=self._scratch_like(frame))
            np.minimum(self.second, self._scratch, out=self.second)
            np.minimum(self.lowest, frame, out=self.lowest)
            np.maximum(self.highest, frame, out=self.highest)
            self.used = self.used + 1
            return
        kept = ~dropped
        self.second = xp.where(kept, xp.minimum(self.second, xp.maximum(self.lowest, frame)),
                               self.second)  # fmt: skip
        self.lowest = xp.where(kept, xp.minimum(self.lowest, frame), self.lowest)
        self.highest = xp.where(kept, xp.maximum(self.highest, frame), self.highest)
        self.used = self.used + kept

    def merge(self, other: _Extremes) -> None:
        """Take in the extremes of other frames (``other``'s arrays are left as they
        are)."""
        if other.used is None:
            return
        if self.lowest is None:
            self.lowest, self.second, self.highest = (
                part.copy() for part in (other.lowest, other.second, other.highest)
            )
            self.used = other.used
            return
        xp = array_module(self.lowest)
        if xp is np:  # in place: the same values, no frame-sized temporaries but one
            beyond = np.maximum(self.lowest, other.lowest)
            np.minimum(self.second, other.second, out=self.second)
            np.minimum(self.second, beyond, out=self.second)
            np.minimum(self.lowest, other.lowest, out=self.lowest)
            np.maximum(self.highest, other.highest, out=self.highest)
        else:
            self.second = xp.minimum(
                xp.minimum(self.second, other.second), xp.maximum(self.lowest, other.lowest)
            )
            self.lowest = xp.minimum(self.lowest, other.lowest)
            self.highest = xp.maximum(self.highest, other.highest)
        self.used = self.used + other.used

    def static(self) -> _Extremes:
        """These extremes with only what a part's static image needs (the
        second-smallest values and the count): the rest is let go."""
        self.lowest = self.highest = self._scratch = None
        return self

    def _scratch_like(self, frame: np.ndarray) -> np.ndarray:
        if self._scratch is None:
            self._scratch = np.empty_like(frame)
        return self._scratch


def _on_host(array: Any) -> np.ndarray:
    return np.asarray(array.get() if hasattr(array, "get") else array)


def movie_fiducials(stack: Any) -> Fiducials:
    """:func:`find_fiducials` of a stack ``(n_frames, height, width)`` that reads
    single frames (an array, a memmap, a movie of :mod:`smlmlp.loading`), from the
    frames of :func:`sample_indices` over all of it (and over each of its
    parts of :data:`PART_FRAMES`): every range of the movie gets the same."""
    shape = (int(stack.shape[1]), int(stack.shape[2]))
    indices = sample_indices(int(stack.shape[0]))
    frames = (stack[int(index)] for index in indices)
    return find_fiducials(frames, shape, part_frames=PART_FRAMES)
