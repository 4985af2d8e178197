"""The fit of the frames' halves by their mean levels, at the lowest frequencies.

A level whose profile is not flat (the background under an illumination beam) and
that jumps with the laser's flicker leaves its profile in the fluctuations. At the
lowest frequencies (:func:`level_window`, where a profile as broad as the frame
has its power) each frame's left half (:func:`level_weight`) less its own mean
level is fitted by the mean level of the right half, and the right half by the
left half's, one coefficient per frequency for all the groups used, and what the
fits explain is left out when a crop is read (:func:`level_correction`; each group
keeps the sums it needs). Each half is fitted by the other half's level because
the sample's own blinking moves the mean levels too: a fit by the frame's own mean
level takes the sample's collective blinking at those frequencies (it narrows the
PSF of filaments), while independent emitters do not follow the other half.

The pass keeps each frame's spectrum at these frequencies and, once a block,
the moments of the halves' levels (:func:`level_bins` makes the groups' bins of
them); :class:`smlmlp.block_sums.BlockSums` takes what the fits explain off a crop
when it is read. :func:`window_products` and :func:`window_weights` take a power
at these frequencies to the crop's lags and back.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

#: Frequencies of the frames' fit by their mean levels (:func:`level_window`): up to
#: this many steps of the frame's Fourier grid from zero along y and x, where a level
#: profile as broad as the frame (the background under an illumination beam) has its
#: power (a Gaussian beam of rms width a tenth of the frame: 1 % of its amplitude).
LEVEL_BINS = 8
#: Fourier terms (of the frame's x grid) of the weight that takes the frame's left
#: half (:func:`level_transforms`): a step smoothed over about 1/16 of the width at the
#: middle and the edges, so the left half's lowest frequencies come from as many
#: columns of the spectrum.
LEVEL_MASK_BINS = 16
#: Mean levels of a block whose residual about their own straight line is below this
#: share of their spread are a straight line to rounding: the block fits nothing.
LEVEL_ROUNDING = 1e-10


def level_window(frame_shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The lowest frequencies of frames of ``frame_shape`` in their ``rfft2``
    layout: ``(rows, columns)``, the row indices of ``ky = 0..K, -K..-1`` and the
    first ``columns = K + 1`` columns (``kx = 0..K``), ``K`` :data:`LEVEL_BINS` or
    less in frames too small for it (no row or column met twice).

    Examples
    --------
    >>> rows, columns = level_window((64, 48))
    >>> rows.tolist()[:3], rows.tolist()[-2:], columns
    ([0, 1, 2], [62, 63], 9)
    >>> level_window((5, 64))[0].tolist(), level_window((5, 64))[1]
    ([0, 1, 2, 3, 4], 3)
    """
    height, width = (int(side) for side in frame_shape)
    steps = max(0, min(LEVEL_BINS, (height - 1) // 2, (width - 1) // 2))
    rows = np.concatenate([np.arange(steps + 1), np.arange(height - steps, height)])
    return rows.astype(np.intp), steps + 1


class LevelTransforms(NamedTuple):
    """How the frame's left half is taken at the lowest frequencies (see
    :func:`level_transforms`)."""

    columns: int  # of the rfft2 spectrum's rows of level_window that are read
    mirror: np.ndarray  # the row of -ky for each row of ky
    direct: np.ndarray  # (columns, K + 1): from the frequencies kx' >= 0
    mirrored: np.ndarray  # (columns, K + 1): from -kx' < 0, conjugates of the mirror row
    share: float  # the weight's mean over the frame
    weight: np.ndarray  # (K + 1,): rfft2 of the weight itself at ky = 0, kx = 0..K


def level_weight(width: int, xp: Any = np) -> np.ndarray:
    """Fourier coefficients ``w(q)``, ``q = -Q..Q`` (:data:`LEVEL_MASK_BINS`, or
    ``(width - 1) // 2`` when less), of the weight ``w(x)`` that takes the frame's
    left half: the step (1 on columns ``0 .. width//2 - 1``, 0 on the others) whose
    Fourier series is cut at ``Q`` terms with a Hann taper, so the weight passes
    smoothly from 1 to 0 at the middle and the edges.

    Examples
    --------
    >>> from numpy.fft import ifft
    >>> coefficients = level_weight(64)
    >>> weight = np.zeros(64, complex)
    >>> weight[np.arange(-16, 17) % 64] = coefficients
    >>> profile = ifft(weight).real * 64
    >>> bool(profile[8:24].min() > 0.95 and profile[40:56].max() < 0.05)
    True
    """
    width = int(width)
    terms = max(0, min(LEVEL_MASK_BINS, (width - 1) // 2))
    q = xp.arange(-terms, terms + 1)
    inside = xp.arange(width // 2)
    step = xp.exp(-2j * np.pi * xp.outer(q, inside) / width).sum(axis=1) / width
    taper = xp.cos(0.5 * np.pi * q / (terms + 1)) ** 2
    return step * taper


def level_transforms(frame_shape: tuple[int, int], xp: Any = np) -> LevelTransforms:
    """The frame's left half (weighted by :func:`level_weight`) at the frequencies
    of :func:`level_window`, from the frame's ``rfft2`` spectrum ``F`` alone: the
    product of two functions of x is the convolution of their spectra, and the
    weight's has ``2Q + 1`` terms. With ``A`` the spectrum's rows of
    :func:`level_window`, their first ``columns`` columns:
    ``A @ direct + conj(A[mirror]) @ mirrored``. The arrays are made by the array
    module ``xp`` (on its device).

    Examples
    --------
    >>> frame = np.random.default_rng(0).random((24, 40))
    >>> rows, columns = level_window(frame.shape)
    >>> transforms = level_transforms(frame.shape)
    >>> spectrum = np.fft.rfft2(frame)[rows, : transforms.columns]
    >>> left = spectrum @ transforms.direct
    >>> left += np.conj(spectrum[transforms.mirror]) @ transforms.mirrored
    >>> weight = np.zeros(40, complex)
    >>> weight[np.arange(-16, 17) % 40] = level_weight(40)
    >>> weighted = frame * (np.fft.ifft(weight).real * 40)
    >>> bool(np.allclose(left, np.fft.rfft2(weighted)[rows, :columns]))
    True
    """
    height, width = (int(side) for side in frame_shape)
    _, columns = level_window(frame_shape)
    coefficients = level_weight(width, xp)
    terms = (int(coefficients.shape[0]) - 1) // 2
    read = min(width // 2 + 1, columns + terms)
    # rows ky = 0..K, -K..-1: the row of -ky is row 0 for ky = 0, else 2K + 1 - row
    steps = columns - 1
    mirror = xp.concatenate([xp.zeros(1, np.intp), 2 * steps + 1 - xp.arange(1, 2 * steps + 1)])

    def weight_at(q: Any) -> Any:  # w(q), q taken on the circle of width
        q = (q + width // 2) % width - width // 2
        return xp.where(xp.abs(q) <= terms, coefficients[xp.clip(q + terms, 0, 2 * terms)], 0)

    source = xp.arange(read)[:, None]
    target = xp.arange(columns)[None, :]
    direct = weight_at(target - source)
    # the negative frequencies -kx' (kx' = 1 .. up to the last before Nyquist)
    negative = (source >= 1) & (2 * source < width)
    mirrored = xp.where(negative, weight_at(target + source), 0)
    return LevelTransforms(
        read,
        mirror.astype(np.intp),
        direct.astype(np.complex128),
        mirrored.astype(np.complex128),
        (width // 2) / width,  # the weight's mean, w(0) (the taper is 1 there)
        weight_at(xp.arange(columns)) * (height * width),
    )


def level_bins(moments: Any, shared: Any, transforms: LevelTransforms, xp: Any = np) -> Any:
    """:attr:`BlockSums.level_bins` ``(..., 4, 2K + 1, K + 1)`` from the spectra
    summed over the frames weighted by the mean levels of their halves, ``moments``
    ``(..., 2, 2K + 1, transforms.columns)`` (``sum l F``, ``sum r F`` at the rows of
    :func:`level_window` and the columns the ``transforms`` read), and ``shared``
    ``(...)``, ``sum l r``. Each half less its own mean level: ``sum r (L - l W)``
    and ``sum l (F - L + r W)``, ``L`` the left half (:func:`level_transforms`),
    ``W`` the weight's own spectrum. Linear in both: the sums of blocks or groups
    may be converted at once.

    Examples
    --------
    >>> transforms = level_transforms((32, 32))
    >>> moments = np.random.default_rng(0).normal(size=(3, 2, 17, transforms.columns))
    >>> bins = level_bins(moments + 0j, np.ones(3), transforms)
    >>> bins.shape, bool(np.allclose(bins[..., :2, :, :], moments[..., :9]))
    ((3, 4, 17, 9), True)
    """
    columns = int(transforms.weight.shape[0])
    read = int(transforms.direct.shape[0])
    lead, rows = moments.shape[:-3], moments.shape[-2]
    flat = moments.reshape(-1, read)
    halves = (flat @ transforms.direct).reshape(*lead, 2, rows, columns)  # sum l L, sum r L
    # the mirrored rows' part, conj(M[mirror]) @ B, as conj(M @ conj(B))[mirror]: the
    # rows taken of the product, a third of the moments' columns
    mirrored = (flat @ xp.conj(transforms.mirrored)).reshape(*lead, 2, rows, columns)
    halves += xp.conj(mirrored[..., transforms.mirror, :])
    own = transforms.weight * xp.asarray(shared)[..., None]  # (sum l r) W at ky = 0
    bins = xp.empty((*lead, 4, rows, columns), dtype=halves.dtype)
    bins[..., :2, :, :] = moments[..., :columns]  # sum l F, sum r F
    bins[..., 2, :, :] = halves[..., 1, :, :]
    bins[..., 2, 0, :] -= own
    xp.subtract(moments[..., 0, :, :columns], halves[..., 0, :, :], out=bins[..., 3, :, :])
    bins[..., 3, 0, :] += own
    return bins


def level_power(bins: np.ndarray, spread: np.ndarray, shares: bool = False) -> np.ndarray:
    """The power that follows the mean levels of the frames' halves at the lowest
    frequencies, ``(..., 2K + 1, K + 1)`` (see :func:`level_correction`), from
    ``bins`` ``(..., 4, 2K + 1, K + 1)`` and ``spread`` ``(..., 3)`` summed over the
    groups used. ``shares``: ``bins`` ``(..., groups, 4, 2K + 1, K + 1)`` and
    ``spread`` ``(..., groups, 3)`` are each group's, and each group's share of the
    power of all its groups is given, at the coefficients of all (the shares add up
    to the power of all)."""
    bins = np.asarray(bins, np.complex128)
    spread = np.asarray(spread, np.float64)
    total_bins, total_spread = bins, spread
    if shares:
        total_bins, total_spread = bins.sum(axis=-4, keepdims=True), spread.sum(-2, keepdims=True)

    def ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        fitted = (bottom > 0)[..., None, None]
        return np.where(fitted, top / np.where(fitted, bottom[..., None, None], 1.0), 0.0)

    # each half fitted by the other half's level: the left by r, the right by l
    of_left = ratio(total_bins[..., 2, :, :], total_spread[..., 1])
    of_right = ratio(total_bins[..., 3, :, :], total_spread[..., 0])
    by_left, by_right = bins[..., 0, :, :], bins[..., 1, :, :]
    power = 2.0 * (np.conj(of_left) * by_right + np.conj(of_right) * by_left).real
    power -= np.abs(of_left) ** 2 * spread[..., 1, None, None]
    power -= np.abs(of_right) ** 2 * spread[..., 0, None, None]
    power -= 2.0 * (of_left * np.conj(of_right)).real * spread[..., 2, None, None]
    return power


def level_correction(
    bins: np.ndarray, spread: np.ndarray, frame_shape: tuple[int, int], size: int
) -> np.ndarray:
    """What leaving out the power that follows the mean levels of the frames' halves
    adds to the circular sums of products at lags ``-size//2..size//2``:
    ``(..., size, size)``.

    A level profile as broad as the frame whose strength changes from frame to
    frame (the background under an illumination beam, with the laser's flicker)
    makes the pixels follow the frames' mean levels; outside the zero frequency it
    pairs pixels across the frame as no blinking does, and narrows the PSF. Its
    spectrum lies at the lowest frequencies (:func:`level_window`). There the
    frame's left half (:func:`level_weight`), spectrum ``L_t``, is fitted by the
    mean level ``r_t`` of the right half, and the right half, ``F_t - L_t``, by the
    left half's ``l_t`` (the levels less their straight line in each block, as the
    pixels), one coefficient per frequency over all the groups used: ``a = sum r L
    / sum r^2``, ``b = sum l (F - L) / sum l^2``; the power of ``r_t a + l_t b``
    with the fluctuations, ``2 Re(conj(a) sum r F + conj(b) sum l F) - |a|^2 sum
    r^2 - |b|^2 sum l^2 - 2 Re(a conj(b)) sum l r``, comes off each frequency but
    zero (left out already). The sample's own blinking makes the mean levels follow
    it too, most at the lowest frequencies; independent emitters do not follow the
    other half's level, so the coefficients hold none of it (a fit by the frame's
    own mean level takes the sample's collective blinking, and narrows the PSF of a
    filament network).

    Examples
    --------
    Nothing to leave out where the mean levels did not change:

    >>> level_correction(np.ones((4, 17, 9)), np.zeros(3), (64, 64), 5).any()
    np.False_
    """
    return -window_products(level_power(bins, spread), frame_shape, size)


def level_shares(bins: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Each group's share of the power :func:`level_correction` leaves out of all the
    groups ``bins`` ``(..., groups, 4, 2K + 1, K + 1)`` and ``spread`` ``(..., groups,
    3)``, at the coefficients of all; the shares add up to the power of all."""
    shape = np.shape(bins)
    if shape[-4] == 0:
        return np.zeros(shape[:-3] + shape[-2:])
    return level_power(bins, spread, shares=True)


def window_products(power: np.ndarray, frame_shape: tuple[int, int], size: int) -> np.ndarray:
    """The circular sums of products at lags ``-size//2..size//2`` that a power
    spectrum holding only the frequencies of :func:`level_window` (``(..., 2K + 1,
    K + 1)``, their mirrors ``-k`` implied) makes: ``(..., size, size)``. The zero
    frequency is left out.

    Examples
    --------
    One frequency ``(ky, kx) = (1, 0)`` and its mirror: a cosine along y.

    >>> power = np.zeros((17, 9))
    >>> power[1, 0] = 64 * 64
    >>> products = window_products(power, (64, 64), 5)
    >>> bool(np.allclose(products[:, 0], np.cos(2 * np.pi * np.arange(-2, 3) / 64)))
    True
    """
    height, width = frame_shape
    along_y, along_x = _lag_waves((int(height), int(width)), int(size))
    rows, columns = along_y.shape[1], along_x.shape[0] // 2
    power = np.array(power, np.float64)
    power[..., 0, 0] = 0.0
    power[..., :, 1:] *= 2.0  # with the mirror frequencies, not in rfft2's layout
    # over all the spectra at once, two real matrix products
    lead = power.shape[:-2]
    count = math.prod(lead)
    flat = power.reshape(count, rows, columns).transpose(1, 0, 2).reshape(rows, -1)
    by_y = (along_y @ flat).reshape(2, size, count, columns)
    products = by_y.transpose(2, 1, 0, 3).reshape(count * size, -1) @ along_x
    return products.reshape(*lead, size, size) / (height * width)


@lru_cache(maxsize=16)
def _lag_waves(frame_shape: tuple[int, int], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The waves of :func:`window_products` at lags ``-size//2..size//2`` (read-only):
    ``(2 size, rows)``, the cosines then the sines of the rows' frequencies along y,
    and ``(2 columns, size)``, the cosines then minus the sines along x; the real
    part of ``exp(i(a + b))`` is ``cos a cos b - sin a sin b``."""
    height, width = frame_shape
    rows, columns = level_window(frame_shape)
    lags = np.arange(size) - size // 2
    ky = np.where(rows <= height // 2, rows, rows - height)
    along_y = 2 * np.pi * np.outer(lags, ky) / height
    along_x = 2 * np.pi * np.outer(np.arange(columns), lags) / width
    waves = (
        np.concatenate([np.cos(along_y), np.sin(along_y)]),
        np.concatenate([np.cos(along_x), -np.sin(along_x)]),
    )
    for wave in waves:
        wave.setflags(write=False)
    return waves


def window_weights(weights: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`window_products`: for ``weights`` ``(..., S, S)`` on the
    lags of a crop, ``(..., 2K + 1, K + 1)`` at the bins of :func:`level_window`,
    such that ``sum(weights * window_products(power))`` is ``sum(window_weights(weights)
    * power)`` for every ``power`` (each crop's weights taken to the bins once).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> power, weights = rng.normal(size=(17, 9)), rng.normal(size=(7, 7))
    >>> direct = (weights * window_products(power, (64, 48), 7)).sum()
    >>> bool(np.isclose(direct, (window_weights(weights, (64, 48)) * power).sum()))
    True
    """
    height, width = frame_shape
    size = int(weights.shape[-1])
    along_y, along_x = _lag_waves((int(height), int(width)), size)
    rows, columns = along_y.shape[1], along_x.shape[0] // 2
    by_y = along_y.reshape(2, size, rows)
    by_x = along_x.reshape(2, columns, size)
    # sum over the cosine and sine parts t of (along_y[t]^T  weights  along_x[t]^T)
    bins = np.einsum("tar,...ab,tkb->...rk", by_y, weights, by_x, optimize=True)
    bins[..., 0, 0] = 0.0
    bins[..., :, 1:] *= 2.0
    return bins / (height * width)
