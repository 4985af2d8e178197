"""Movie files that hold several channels: their names, and which one a reader opens.

A multi-channel file (an OME-TIFF or ImageJ hyperstack with a ``C`` axis, the
channels of a Micro-Manager multi-camera acquisition, an OME-Zarr image with a
``c`` axis, the channels of an Imaris file) holds one movie per channel.
:func:`smlmlp.loading.open_movie` opens one of them (``channel=`` its index or
its name); every reader lists the file's channels in ``movie.channel_names``.

The names come from the file's metadata when it has them (OME ``Channel/@Name``,
Micro-Manager ``ChNames``, OME-Zarr ``omero.channels[].label``, Imaris
``Channel N/Name``, the CZI channels' ``Name``, the ND2 channels' names), spaces
replaced by ``_``; otherwise, or when they are not usable as names (empty,
repeated, with a slash), the channels are ``c0``, ``c1``, ...
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

__all__ = ["channel_label", "channel_names", "movie_names", "resolve_channel"]


def channel_names(
    found: Sequence[Any] | None, n_channels: int, prefix: str = "c"
) -> tuple[str, ...]:
    """The names of a file's ``n_channels`` channels from the names its metadata gives.

    Parameters
    ----------
    found : sequence or None
        Names read from the file's metadata, one per channel, or None.
    n_channels : int
        How many channels the file holds.
    prefix : str, optional
        Of the numbered names (``s`` for a file's image series: ``s0``, ``s1``, ...).

    Returns
    -------
    tuple of str
        ``found`` stripped, spaces inside replaced by ``_`` (the names go into file
        names), when there is one usable name per channel (non-empty, no slash or
        backslash, no leading dot, all different); else ``c0``, ``c1``... (the
        ``prefix`` numbered)

    Examples
    --------
    >>> channel_names(["Cy5 ", "Cy3"], 2)
    ('Cy5', 'Cy3')
    >>> channel_names(["channel 0", "channel 1"], 2)
    ('channel_0', 'channel_1')
    >>> channel_names(["GFP", "GFP"], 2)  # not unique: numbered instead
    ('c0', 'c1')
    >>> channel_names(None, 3)
    ('c0', 'c1', 'c2')
    """
    default = tuple(f"{prefix}{index}" for index in range(n_channels))
    if found is None or isinstance(found, str | bytes):
        return default
    names = tuple("_".join(str(name).split()) for name in found)
    usable = len(names) == n_channels and all(
        name and "/" not in name and "\\" not in name and not name.startswith(".")
        for name in names
    )
    if not usable or len(set(names)) != len(names):
        return default
    return names


def resolve_channel(label: str, names: Sequence[str], channel: int | str | None) -> int:
    """The index of the channel ``channel`` (its index or its name) among ``names``.

    Parameters
    ----------
    label : str
        The file, for messages.
    names : sequence of str
        The file's channels (:func:`channel_names`).
    channel : int, str or None
        The channel asked for; None is allowed only for a file of one channel.

    Returns
    -------
    int
        Its index.

    Raises
    ------
    ValueError
        ``channel`` is None and the file holds several channels, or no channel of
        the file has this index or name.

    Examples
    --------
    >>> resolve_channel("cell.ome.tif", ("Cy5", "Cy3"), "Cy3")
    1
    >>> resolve_channel("cell.ome.tif", ("Cy5", "Cy3"), None)
    Traceback (most recent call last):
        ...
    ValueError: cell.ome.tif: the file holds 2 channels (0: Cy5, 1: Cy3); open one of them \
(channel= its index or its name)
    """
    listed = ", ".join(f"{index}: {name}" for index, name in enumerate(names))
    if channel is None:
        if len(names) == 1:
            return 0
        raise ValueError(
            f"{label}: the file holds {len(names)} channels ({listed}); open one of them "
            "(channel= its index or its name)"
        )
    if isinstance(channel, bool):
        raise TypeError(f"{label}: channel must be an index or a name, got {channel!r}")
    if isinstance(channel, str):
        if channel in names:
            return list(names).index(channel)
        if channel.isdigit():
            channel = int(channel)
    try:
        index = int(channel)
    except (TypeError, ValueError):
        raise ValueError(
            f"{label}: no channel named {channel!r}; the file's channels are {listed}"
        ) from None
    if isinstance(channel, float) and channel != index:
        raise ValueError(f"{label}: channel index must be a whole number, got {channel!r}")
    if not 0 <= index < len(names):
        raise ValueError(f"{label}: no channel {index}; the file's channels are {listed}")
    return index


def channel_label(label: str, names: Sequence[str], index: int) -> str:
    """``label`` of a file, with the channel opened when the file holds several.

    >>> channel_label("cell.ome.tif", ("Cy5", "Cy3"), 1)
    'cell.ome.tif [channel Cy3]'
    >>> channel_label("movie.tif", ("c0",), 0)
    'movie.tif'
    """
    return label if len(names) <= 1 else f"{label} [channel {names[index]}]"


def movie_names(*axes: Sequence[str]) -> list[tuple[tuple[int, ...], str]]:
    """The movies of a file of several positions and / or channels: every combination
    of the names along each axis (the first axis slowest), each with its index along
    every axis, the names joined by ``_``; an axis of one movie (``[""]``) adds no
    name.

    Examples
    --------
    >>> movie_names(["p0", "p1"], ["Cy5", "Cy3"])[1:3]
    [((0, 1), 'p0_Cy3'), ((1, 0), 'p1_Cy5')]
    >>> movie_names([""], ["Cy5", "Cy3"])
    [((0, 0), 'Cy5'), ((0, 1), 'Cy3')]
    """
    return [
        (pick, "_".join(names[i] for names, i in zip(axes, pick, strict=True) if names[i]))
        for pick in itertools.product(*(range(len(names)) for names in axes))
    ]
