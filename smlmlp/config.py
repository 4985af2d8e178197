"""Per-channel normalisation of parameters.

A user gives one pixel size for every channel, a ``(y, x)`` pair, or one value
per channel; the computations need one ``(y, x)`` pair per channel. ``Config``
does that translation once, with errors that name the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

PixelSize = tuple[float, float]


def positive_number(value: Any, argument: str, what: str = "a positive number") -> float:
    """``value`` as a float when it is a positive, finite real number.

    Raises
    ------
    ValueError
        Naming ``argument`` otherwise.

    Examples
    --------
    >>> positive_number(2, "exposure_ms")
    2.0
    >>> positive_number(-1, "exposure_ms")
    Traceback (most recent call last):
        ...
    ValueError: exposure_ms: must be positive and finite, got -1
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{argument}: expected {what}, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{argument}: must be positive and finite, got {value!r}")
    return number


#: Largest numerical aperture accepted (immersion objectives reach 1.49 to 1.7).
MAX_NA = 1.7
#: Emission wavelengths accepted, in nm (a value in µm is caught).
WAVELENGTH_RANGE_NM = (200.0, 2000.0)


def wavelength_nm(value: Any, argument: str = "wavelength_nm") -> float:
    """An emission wavelength in nm, checked (ValueError naming ``argument``).

    Examples
    --------
    >>> wavelength_nm(670)
    670.0
    >>> wavelength_nm(0.67, "--wavelength-nm")
    Traceback (most recent call last):
        ...
    ValueError: --wavelength-nm: expected a wavelength in nm, 200 to 2000, got 0.67
    """
    number = positive_number(value, argument, "a wavelength in nm")
    low, high = WAVELENGTH_RANGE_NM
    if not low <= number <= high:
        raise ValueError(
            f"{argument}: expected a wavelength in nm, {low:g} to {high:g}, got {value!r}"
        )
    return number


def numerical_aperture(value: Any, argument: str = "na") -> float:
    """A numerical aperture, positive and at most :data:`MAX_NA` (ValueError naming
    ``argument``).

    Examples
    --------
    >>> numerical_aperture(1.49)
    1.49
    >>> numerical_aperture(2.0, "--na")
    Traceback (most recent call last):
        ...
    ValueError: --na: a numerical aperture is at most 1.7, got 2.0
    """
    number = positive_number(value, argument, "a numerical aperture")
    if number > MAX_NA:
        raise ValueError(f"{argument}: a numerical aperture is at most {MAX_NA:g}, got {value!r}")
    return number


def optics_half_given(
    wavelength: Any, na: Any, wavelength_name: str = "wavelength_nm", na_name: str = "na"
) -> str | None:
    """The warning when one of the emission wavelength and the numerical aperture is
    known without the other: stored, but the expected sigma ``0.21 * wavelength / NA``
    needs both (None when both or neither is known).

    >>> print(optics_half_given(None, 1.4, "--wavelength-nm", "--na"))
    --na without --wavelength-nm: stored, but no expected sigma (0.21 x wavelength / NA ...
    >>> optics_half_given(670.0, 1.4) is None
    True
    """
    if (wavelength is None) == (na is None):
        return None
    names = (wavelength_name, na_name)
    given, missing = names[::-1] if wavelength is None else names
    return (
        f"{given} without {missing}: stored, but no expected sigma (0.21 x wavelength / NA "
        "needs both)"
    )


def _positive_size(value: Any, argument: str) -> float:
    return positive_number(value, argument, "a pixel size in nm")


def _pair(value: Any, argument: str) -> PixelSize:
    """One channel's pixel size: a scalar or a ``(y, x)`` pair."""
    if isinstance(value, Real) and not isinstance(value, bool):
        size = _positive_size(value, argument)
        return (size, size)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return (_positive_size(value[0], argument), _positive_size(value[1], argument))
    raise ValueError(f"{argument}: expected a scalar or a (y, x) pair in nm, got {value!r}")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def normalise_pixels_nm(
    value: Any, n_channels: int, name: str = "channels_pixels_nm"
) -> list[PixelSize]:
    """One ``(y, x)`` pixel size in nm per channel.

    Parameters
    ----------
    value : float, (float, float) or sequence
        A scalar (square pixels, every channel), a ``(y, x)`` pair (every channel)
        or a sequence holding one scalar or one pair per channel. A sequence of
        two numbers is always read as one ``(y, x)`` pair; for two channels with
        different square pixels write ``[(100, 100), (110, 110)]``.
    n_channels : int
        Number of channels.
    name : str, optional
        Argument name used in error messages.

    Returns
    -------
    list of (float, float)

    Raises
    ------
    ValueError
        For any other form, a length that does not match ``n_channels``, zero,
        negative or non-finite sizes.

    Examples
    --------
    >>> normalise_pixels_nm(100, 2)
    [(100.0, 100.0), (100.0, 100.0)]
    >>> normalise_pixels_nm((120, 100), 1)
    [(120.0, 100.0)]
    >>> normalise_pixels_nm([100, (110, 105), 90], 3)
    [(100.0, 100.0), (110.0, 105.0), (90.0, 90.0)]
    """
    if isinstance(value, bool) or n_channels < 1:
        raise ValueError(f"{name}: expected pixel sizes in nm, got {value!r}")
    if _is_scalar(value):
        return [_pair(value, name)] * n_channels
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        value = value.tolist()
        if _is_scalar(value):
            return [_pair(value, name)] * n_channels
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(
            f"{name}: expected a scalar, a (y, x) pair or one per channel, got {value!r}"
        )
    if len(value) == 2 and all(_is_scalar(item) for item in value):
        return [_pair(value, name)] * n_channels
    if len(value) != n_channels:
        raise ValueError(
            f"{name}: got {len(value)} pixel sizes for {n_channels} channel(s); give one "
            "scalar or (y, x) pair for all channels, or exactly one per channel"
        )
    return [_pair(item, f"{name}[{index}]") for index, item in enumerate(value)]


@dataclass
class Config:
    """Parameters of a multi-channel computation, normalised per channel.

    Parameters
    ----------
    n_channels : int
        Number of channels.
    channels_pixels_nm : float, (float, float) or sequence, optional
        Pixel size(s) in nm, any form accepted by :func:`normalise_pixels_nm`.

    Attributes
    ----------
    pixels_nm : list of (float, float)
        One ``(y, x)`` pixel size per channel.

    Examples
    --------
    >>> Config(2, channels_pixels_nm=[(100.0, 100.0), (110.0, 110.0)]).pixels_nm
    [(100.0, 100.0), (110.0, 110.0)]
    """

    n_channels: int
    channels_pixels_nm: Any = 100.0
    pixels_nm: list[PixelSize] = field(init=False)

    def __post_init__(self) -> None:
        self.pixels_nm = normalise_pixels_nm(self.channels_pixels_nm, self.n_channels)

    normalise_pixels_nm = staticmethod(normalise_pixels_nm)


#: Origin reported for a value read from the movie file's own metadata.
FILE_ORIGIN = "movie file metadata"


def resolve_setting(
    explicit: Sequence[Sequence[Any]] = (),
    from_file: Any = None,
    defaults: Sequence[Sequence[Any]] = (),
    *,
    file_origin: str = FILE_ORIGIN,
) -> tuple[Any, str | None]:
    """The pixel size or exposure to use, and where it came from.

    One precedence for the ``smlmlp psf`` command and the workflow, first found
    wins:

    1. what the user set for this movie: the command's ``--pixel-nm`` /
       ``--exposure-ms``; in the workflow ``experiment.yaml``, its channel entry
       first, then the experiment's value;
    2. the movie file's metadata (OME-XML, ImageJ, Micro-Manager), ``from_file``
       (the caller passes None when the user turned it off);
    3. defaults: the workflow config's ``pixel_nm`` / ``exposure_ms``.

    Parameters
    ----------
    explicit, defaults : sequence of (origin, value)
        Candidates in precedence order; None values are skipped.
    from_file : optional
        The file's value (None: the file holds none).

    Returns
    -------
    (value, origin)
        ``(None, None)`` when nothing sets it.

    Examples
    --------
    >>> resolve_setting([["experiment.yaml", 108]], [96.5, 96.5], [["config", 100]])
    (108, 'experiment.yaml')
    >>> resolve_setting([["experiment.yaml", None]], [96.5, 96.5], [["config", 100]])
    ([96.5, 96.5], 'movie file metadata')
    >>> resolve_setting([], None, [["config", 100]])
    (100, 'config')
    """
    for origin, value in (*explicit, (file_origin, from_file), *defaults):
        if value is not None:
            return value, origin
    return None, None
