"""The search for clipped values: pixels at the movie's ceiling or floor.

The pass looks, in some blocks, for the movie's largest and smallest values and
counts the pixels at them (:class:`ClipCounter`, a :class:`ClipTally` per block);
each group keeps the :data:`CLIPPING_ARRAYS`, and :func:`merge_clipping` merges
them. :meth:`smlmlp.block_sums.BlockSums.saturation` and
:meth:`~smlmlp.block_sums.BlockSums.floor_clipping` read them.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .backend import array_module

#: The :class:`~smlmlp.block_sums.BlockSums` arrays of the search, one value per group.
CLIPPING_ARRAYS = (
    "ceiling_values",
    "ceiling_counts",
    "floor_values",
    "floor_counts",
    "above_floor_counts",
    "searched_values",
)


def merge_clipping(
    where: np.ndarray, size: int, parts: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The :data:`CLIPPING_ARRAYS` of groups made of parts: part ``i`` (the arrays of
    ``parts``) goes to group ``where[i]`` (of ``size``). A group's ceiling is its
    parts' largest, with the pixel values of the parts that reach it; its floor the
    smallest, likewise, and the values one above it: those of the parts whose floor
    it is, and the floor values of the parts whose floor is one above.

    Examples
    --------
    >>> parts = {"ceiling_values": np.array([9.0, 7.0, 5.0]), "ceiling_counts": np.array([3, 4, 2]),
    ...          "floor_values": np.array([1.0, 0.0, 0.0]), "floor_counts": np.array([5, 6, 7]),
    ...          "above_floor_counts": np.array([9, 2, 4]),
    ...          "searched_values": np.array([100, 100, 50])}
    >>> merged = merge_clipping(np.array([0, 0, 1]), 2, parts)
    >>> [merged[name].tolist() for name in CLIPPING_ARRAYS]
    [[9.0, 5.0], [3, 2], [0.0, 0.0], [6, 7], [7, 4], [200, 50]]
    """
    merged = {}
    for kind, extreme, start in (("ceiling", np.maximum, -np.inf), ("floor", np.minimum, np.inf)):
        values, counts = parts[f"{kind}_values"], parts[f"{kind}_counts"]
        group = np.full(size, start)
        extreme.at(group, where, values)
        at_group = np.zeros(size, np.int64)
        np.add.at(at_group, where, np.where(values == group[where], counts, 0))
        merged[f"{kind}_values"], merged[f"{kind}_counts"] = group, at_group
    # one above the floor: the parts at the floor's level above it, those whose floor it is
    floor, above = merged["floor_values"][where], np.zeros(size, np.int64)
    part_floor = parts["floor_values"]
    np.add.at(above, where, np.where(part_floor == floor, parts["above_floor_counts"], 0))
    np.add.at(above, where, np.where(part_floor == floor + 1, parts["floor_counts"], 0))
    merged["above_floor_counts"] = above
    merged["searched_values"] = np.zeros(size, np.int64)
    np.add.at(merged["searched_values"], where, parts["searched_values"])
    return {name: merged[name] for name in CLIPPING_ARRAYS}


class ClipTally(NamedTuple):
    """Per region: the largest pixel value found and how many pixel values equal it,
    the smallest likewise and how many equal it plus one (pixels stuck at any of
    them not counted), and how many values were searched (the same for every
    region); see :meth:`BlockSums.saturation` and :meth:`BlockSums.floor_clipping`.
    The arrays stay on the frames' device until the sums are handed out. The fields
    come in the order of :data:`CLIPPING_ARRAYS`."""

    ceiling: Any
    at_ceiling: Any
    floor: Any
    at_floor: Any
    above_floor: Any
    searched: int

    @classmethod
    def nothing(cls, regions: int, xp: Any = np) -> ClipTally:
        """The tally of no frame."""
        none = xp.zeros(regions, np.int64)
        return cls(xp.full(regions, -np.inf), none, xp.full(regions, np.inf), none, none, 0)

    def plus(self, other: ClipTally) -> ClipTally:
        """The tally of both: the larger ceiling and the smaller floor, each with the
        counts that reach it.

        Examples
        --------
        >>> a = np.array
        >>> one = ClipTally(a([5.0, 9.0]), a([2, 3]), a([0.0, 2.0]), a([4, 1]), a([3, 2]), 10)
        >>> two = ClipTally(a([5.0, 7.0]), a([1, 4]), a([1.0, 2.0]), a([6, 5]), a([1, 1]), 10)
        >>> both = one.plus(two)
        >>> both.ceiling.tolist(), both.at_ceiling.tolist(), both.at_floor.tolist(), both.searched
        ([5.0, 9.0], [3, 3], [4, 6], 20)
        >>> both.above_floor.tolist()  # 3 + the 6 of the second at 1.0; 2 + 1
        [9, 3]
        """
        xp = array_module(self.ceiling)
        ceiling = xp.maximum(self.ceiling, other.ceiling)
        floor = xp.minimum(self.floor, other.floor)

        def reaching(level: Any, mine: Any, mine_at: Any, theirs: Any, theirs_at: Any) -> Any:
            return xp.where(mine == level, mine_at, 0) + xp.where(theirs == level, theirs_at, 0)

        above = reaching(floor, self.floor, self.above_floor, other.floor, other.above_floor)
        above = above + reaching(floor + 1, self.floor, self.at_floor, other.floor, other.at_floor)
        return ClipTally(
            ceiling,
            reaching(ceiling, self.ceiling, self.at_ceiling, other.ceiling, other.at_ceiling),
            floor,
            reaching(floor, self.floor, self.at_floor, other.floor, other.at_floor),
            above,
            self.searched + other.searched,
        )


class _Extreme:
    """One end of a block's frames, per region: its value so far and, per pixel, how
    many frames hold it (reset where a later frame goes beyond); at the low end also
    how many hold the value plus one (``next_hits``: a pile-up at the floor stands
    out from the level above it only where values were clipped there)."""

    __slots__ = ("highest", "value", "hits", "next_hits")

    def __init__(self, highest: bool) -> None:
        self.highest = highest
        self.value: Any = None
        self.hits: Any = None
        self.next_hits: Any = None

    def add(self, frames: Any, xp: Any, dtype: Any) -> None:
        # a grid's tiles (a strided 5-D view) by rows first, then along them (one
        # reduction over both axes runs along each tile's short rows, several times slower)
        axes = ((-2,), (-1,)) if frames.ndim > 4 else ((-2, -1),)
        per_frame = frames
        for axis in axes:
            per_frame = per_frame.max(axis=axis) if self.highest else per_frame.min(axis=axis)
        extreme = per_frame.max(axis=0) if self.highest else per_frame.min(axis=0)
        if self.value is None:
            self.value = extreme
            self.hits = xp.zeros(frames.shape[1:], dtype)
            if not self.highest:
                self.next_hits = xp.zeros(frames.shape[1:], dtype)
        else:
            within = extreme <= self.value if self.highest else extreme >= self.value
            if not self.highest:  # the old floor's hits are at the new floor plus one
                by_one = (extreme == self.value - 1)[..., None, None]
                kept = self.next_hits * within[..., None, None]
                self.next_hits = xp.where(by_one, self.hits, kept)
            self.hits *= within[..., None, None]
            self.value = (xp.maximum if self.highest else xp.minimum)(self.value, extreme)
        level = self.value[..., None, None]
        if xp is not np:  # on the GPU all the frames (no wait for the device)
            for frame in frames:
                self._count(frame, level)
            return
        # on the host only the frames, and of them the regions, that reach the value
        # (or the level above the floor): without clipping, about one a block
        near = per_frame == self.value if self.highest else per_frame <= self.value + 1
        for index, frame in enumerate(frames):
            reaching = near[index]
            if reaching.all():
                self._count(frame, level)
                continue
            for region in zip(*np.nonzero(reaching), strict=True):
                self._count(frame[region], level[region], region)

    def _count(self, frame: Any, level: Any, region: tuple = ()) -> None:
        """Count the pixels of ``frame`` (of ``region``, or all) at ``level`` (and one
        above it at the low end)."""
        self.hits[region] += frame == level
        if not self.highest:
            self.next_hits[region] += frame == level + 1

    def copy(self) -> _Extreme:
        twin = _Extreme(self.highest)
        if self.value is not None:
            twin.value, twin.hits = self.value.copy(), self.hits.copy()
            if self.next_hits is not None:
                twin.next_hits = self.next_hits.copy()
        return twin

    def counted(self, xp: Any, frames: int, regions: int) -> tuple[Any, ...]:
        """``(value, pixel values at it)`` per region, and at the low end the pixel
        values one above it, stuck pixels left out."""
        values = self.value.reshape(regions).astype(np.float64)

        def moving(hits: Any) -> Any:
            kept = xp.where(hits < frames, hits, 0)
            return kept.reshape(regions, -1).sum(axis=1, dtype=np.int64)

        if self.highest:
            return values, moving(self.hits)
        return values, moving(self.hits), moving(self.next_hits)


class ClipCounter:
    """A block's search for clipping, on the frames' device: both ends of its frames
    (:class:`_Extreme`)."""

    __slots__ = ("ends", "frames", "dtype")

    def __init__(self, block_frames: int) -> None:
        self.ends = (_Extreme(highest=True), _Extreme(highest=False))
        self.frames = 0
        # a pixel's count of frames holding an end is at most the block's frames
        self.dtype = np.uint8 if block_frames <= np.iinfo(np.uint8).max else np.int32

    def add(self, frames: Any) -> None:
        """Search the block's next frames, ``(n, *regions, height, width)`` as read."""
        xp = array_module(frames)
        for end in self.ends:
            end.add(frames, xp, self.dtype)
        self.frames += int(frames.shape[0])

    def copy(self) -> ClipCounter:
        twin = ClipCounter(0)
        twin.ends = tuple(end.copy() for end in self.ends)
        twin.frames, twin.dtype = self.frames, self.dtype
        return twin

    def tally(self, xp: Any, regions: int) -> ClipTally:
        """The block's :class:`ClipTally` (on the frames' device)."""
        if not self.frames:
            return ClipTally.nothing(regions, xp)
        high, low = (end.counted(xp, self.frames, regions) for end in self.ends)
        pixels = math.prod(self.ends[0].hits.shape[-2:])
        return ClipTally(*high, *low, self.frames * pixels)
