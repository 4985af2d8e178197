"""Simulated single-molecule blinking movies with a known truth.

The simulator draws fixed emitter positions, lets every emitter blink as a
two-state Markov process in continuous time, renders the frame-integrated
expected photon image with an exactly pixel-integrated point-spread function
(PSF) and converts it to camera counts (ADU) with a Poisson, EMCCD or sCMOS
noise model.  Everything is seeded: the same arguments and seed give the same
movie, whether it is produced at once (:func:`simulate_movie`) or streamed in
chunks of any size (:meth:`MovieSimulator.chunks`).

Geometry
--------
Pixel ``(i, j)`` (row ``i``, column ``j``) covers ``y`` in
``[i * pixel_y, (i + 1) * pixel_y)`` and ``x`` in ``[j * pixel_x, (j + 1) * pixel_x)``
(nanometres).  Positions are given as ``(y, x)`` pairs in nm.  Emitters are drawn
over the field enlarged by a margin equal to the PSF patch radius, so that the
PSF tails of emitters just outside the field enter it and the edges of the
field are not depleted.

Blinking
--------
Each emitter switches OFF with rate ``k_off = 1 / on_time_frames`` and ON with
rate ``k_on = k_off * p / (1 - p)`` (``p = on_probability``), per frame of
exposure.  The initial state is drawn from the stationary distribution.  A frame
collects the fraction of the exposure the emitter spent ON, so for lags of one
frame or more the covariance of the frame-integrated on-fraction is

    p (1 - p) tau^2 (exp(1/tau) - 1) (1 - exp(-1/tau)) exp(-lag / tau),

with ``tau = 1 / (k_on + k_off)`` (``correlation_time_frames`` in the truth).
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from scipy import special

from . import artifacts as acquisition
from .artifacts import Artifacts
from .atomic import atomic_path

__all__ = ["MovieSimulator", "psf_image", "simulate_movie", "write_tiff"]

PSF_MODELS = ("gaussian", "airy")
CAMERAS = ("poisson", "emccd", "scmos")
EMITTER_LAYOUTS = ("uniform", "filaments")

#: Half-width of the Gaussian patch, in standard deviations along each axis.
GAUSSIAN_PATCH_SIGMAS = 5.0
#: Fraction of the Airy energy that the circle inscribed in the patch holds.
AIRY_PATCH_ENERGY = 0.98
#: Default conversion factors (ADU per electron) and read noise (electrons rms).
CAMERA_DEFAULTS: dict[str, dict[str, float]] = {
    "poisson": {"adu_per_e": 1.0, "read_noise_e": 0.0},
    "emccd": {"adu_per_e": 0.1, "read_noise_e": 50.0},
    "scmos": {"adu_per_e": 2.0, "read_noise_e": 1.5},
}

# Independent random streams derived from the seed.
_STREAM_POSITIONS = 0
_STREAM_BLINK_START = 1
_STREAM_DWELLS = 2
_STREAM_CAMERA_MAPS = 3
_STREAM_FRAME_NOISE = 4
_STREAM_BLEACH = 5
_STREAM_DRIFT = 6
_STREAM_LASER = 7
_STREAM_HAZE = 8
_STREAM_HOT_PIXELS = 9
_STREAM_COSMIC_RAYS = 10
_STREAM_DEFOCUS = 11
_STREAM_DROPPED = 12
_STREAM_TELEGRAPH = 13
_STREAM_BANDING = 14
_STREAM_JITTER = 15
_STREAM_FIDUCIALS = 16

_DWELL_BLOCK = 32  # dwell times drawn per emitter at a time
_PATCH_BLOCK = 128  # emitters whose PSF patches are computed together
_NODE_BUDGET = 1 << 17  # quadrature nodes per vectorised batch (cache-sized)
_CHUNK_BYTES = 32 * 2**20  # default size of a uint16 chunk
_BLINK_ELEMENTS = 1 << 20  # emitters x frames of on-fractions held at a time
_UINT16_MAX = 65535


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _positive(name: str, value: Any) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def _non_negative(name: str, value: Any) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number


def _choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return value.lower()


def _frame_shape(shape: Any) -> tuple[int, int]:
    try:
        items = tuple(shape)
    except TypeError:
        raise ValueError(f"shape must be two positive integers, got {shape!r}") from None
    if len(items) != 2:
        raise ValueError(f"shape must be two positive integers, got {shape!r}")
    try:
        return _integer("shape", items[0], 1), _integer("shape", items[1], 1)
    except ValueError:
        raise ValueError(f"shape must be two positive integers, got {shape!r}") from None


def _pixel_pair(value: Any, name: str = "pixel_nm") -> tuple[float, float]:
    """Return a pixel size as a ``(y, x)`` pair of positive floats."""
    if np.ndim(value) == 0:
        size = _positive(name, value)
        return size, size
    items = tuple(np.asarray(value, dtype=object).ravel())
    if len(items) != 2:
        raise ValueError(f"{name} must be a number or a (y, x) pair, got {value!r}")
    return _positive(name, items[0]), _positive(name, items[1])


def _seed_value(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return _integer("seed", seed, 0)


# --------------------------------------------------------------------------------------
# pixel-integrated point-spread functions
# --------------------------------------------------------------------------------------


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on [0, 1] and weights that sum to 1."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def _interval_mass(lo: np.ndarray, hi: np.ndarray, sigma: float) -> np.ndarray:
    """Mass of a centred normal distribution between ``lo`` and ``hi`` (``lo < hi``).

    The upper tail is used on the positive side so that small masses far from
    the centre keep their relative precision.
    """
    a, b = lo / sigma, hi / sigma
    positive = a > 0
    mass = special.ndtr(b) - special.ndtr(a)
    tail = special.ndtr(-a) - special.ndtr(-b)
    return np.where(positive, tail, mass)


def _airy_radial_profile(v: np.ndarray) -> np.ndarray:
    """``(2 J1(v) / v)**2`` with its limit 1 at ``v = 0``."""
    v = np.asarray(v, dtype=float)
    out = np.ones_like(v)
    nonzero = v > 0
    vn = v[nonzero]
    out[nonzero] = (2.0 * special.j1(vn) / vn) ** 2
    return out


def _airy_encircled_energy(v: np.ndarray) -> np.ndarray:
    """Fraction of the Airy energy inside reduced radius ``v``: ``1 - J0^2 - J1^2``."""
    return 1.0 - special.j0(v) ** 2 - special.j1(v) ** 2


def _airy_radius_nm(wavenumber: float, energy: float) -> float:
    """Smallest radius (nm) of a circle holding ``energy`` of the Airy pattern."""
    v = np.arange(0.0, 2000.0, 0.005)
    inside = np.flatnonzero(_airy_encircled_energy(v) >= energy)
    return float(v[inside[0]] / wavenumber)


class _PsfModel:
    """Pixel-integrated, unit-energy PSF evaluated on square patches.

    A patch is centred on the pixel that contains the emitter and has
    ``2 * half[0] + 1`` rows and ``2 * half[1] + 1`` columns.
    """

    def __init__(
        self,
        kind: str,
        pixel: tuple[float, float],
        sigx: float,
        sigy: float,
        theta_deg: float,
        wavelength: float,
        aperture: float,
        nodes: int | None = None,
    ) -> None:
        self.kind = kind
        self.pixel = pixel
        self.sigx, self.sigy, self.theta_deg = sigx, sigy, theta_deg
        self.wavelength, self.aperture = wavelength, aperture
        py, px = pixel
        if kind == "gaussian":
            t = math.radians(theta_deg)
            c, s = math.cos(t), math.sin(t)
            var_x = (c * sigx) ** 2 + (s * sigy) ** 2
            var_y = (s * sigx) ** 2 + (c * sigy) ** 2
            radius_y = GAUSSIAN_PATCH_SIGMAS * math.sqrt(var_y)
            radius_x = GAUSSIAN_PATCH_SIGMAS * math.sqrt(var_x)
            turn = theta_deg % 180.0
            self.separable = turn in (0.0, 90.0)
            # inverse covariance: q = a x^2 + 2 b x y + c y^2
            self._a = c * c / sigx**2 + s * s / sigy**2
            self._c = s * s / sigx**2 + c * c / sigy**2
            self._b = c * s * (1.0 / sigy**2 - 1.0 / sigx**2)
            self._norm = 1.0 / (2.0 * math.pi * sigx * sigy)
            default_nodes = max(8, math.ceil(3.0 * max(py, px) / min(sigx, sigy)) + 2)
        else:
            self.separable = False
            self.wavenumber = 2.0 * math.pi * aperture / wavelength
            radius_y = radius_x = _airy_radius_nm(self.wavenumber, AIRY_PATCH_ENERGY)
            self._norm = self.wavenumber**2 / (4.0 * math.pi)
            default_nodes = max(4, math.ceil(2.0 * self.wavenumber * max(py, px)) + 1)
        self.nodes = default_nodes if nodes is None else nodes
        self._node_positions, self._node_weights = _gauss_legendre(self.nodes)
        self.half = (math.ceil(radius_y / py), math.ceil(radius_x / px))
        self.patch_shape = (2 * self.half[0] + 1, 2 * self.half[1] + 1)
        if kind == "airy":
            self._build_airy_table()

    # ---------------------------------------------------------------- geometry
    def anchor(self, y_nm: np.ndarray, x_nm: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return the top-left pixel of each patch and the offsets in the centre pixel."""
        py, px = self.pixel
        ci = np.floor(y_nm / py)
        cj = np.floor(x_nm / px)
        uy = y_nm - ci * py
        ux = x_nm - cj * px
        row0 = ci.astype(np.int64) - self.half[0]
        col0 = cj.astype(np.int64) - self.half[1]
        return row0, col0, uy, ux

    def _edges(self, u: np.ndarray, axis: int) -> np.ndarray:
        """Lower pixel edges relative to the emitter, shape (n, 2 * half + 1)."""
        size = self.pixel[axis]
        k = np.arange(-self.half[axis], self.half[axis] + 1, dtype=float)
        return k[None, :] * size - u[:, None]

    # ---------------------------------------------------------------- patches
    def patches(self, y_nm: np.ndarray, x_nm: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return ``(row0, col0, values)``; values has shape ``(n, *patch_shape)``."""
        y_nm = np.atleast_1d(np.asarray(y_nm, dtype=float))
        x_nm = np.atleast_1d(np.asarray(x_nm, dtype=float))
        row0, col0, uy, ux = self.anchor(y_nm, x_nm)
        if self.separable:
            values = self._separable_gaussian(uy, ux)
        else:
            values = np.empty((len(uy), *self.patch_shape))
            per_emitter = self.patch_shape[0] * self.patch_shape[1] * self.nodes**2
            batch = max(1, _NODE_BUDGET // per_emitter)
            for start in range(0, len(uy), batch):
                part = slice(start, start + batch)
                values[part] = self._quadrature(uy[part], ux[part])
        return row0, col0, values

    def _separable_gaussian(self, uy: np.ndarray, ux: np.ndarray) -> np.ndarray:
        py, px = self.pixel
        if self.theta_deg % 180.0 == 0.0:
            sig_y, sig_x = self.sigy, self.sigx
        else:  # 90 degrees: the x' axis lies along the rows
            sig_y, sig_x = self.sigx, self.sigy
        lo_y, lo_x = self._edges(uy, 0), self._edges(ux, 1)
        mass_y = _interval_mass(lo_y, lo_y + py, sig_y)
        mass_x = _interval_mass(lo_x, lo_x + px, sig_x)
        return mass_y[:, :, None] * mass_x[:, None, :]

    def _node_coordinates(self, u: np.ndarray, axis: int) -> np.ndarray:
        """Quadrature node coordinates relative to the emitter, shape (n, pixels * nodes)."""
        lo = self._edges(u, axis)
        coords = lo[:, :, None] + self._node_positions[None, None, :] * self.pixel[axis]
        return coords.reshape(len(u), -1)

    def _quadrature(self, uy: np.ndarray, ux: np.ndarray) -> np.ndarray:
        """Tensor Gauss-Legendre integration of the PSF density over each pixel."""
        yy = self._node_coordinates(uy, 0)[:, :, None]
        xx = self._node_coordinates(ux, 1)[:, None, :]
        if self.kind == "gaussian":
            q = self._a * xx * xx + 2.0 * self._b * xx * yy + self._c * yy * yy
            density = np.exp(-0.5 * q)
        else:
            density = self._airy_from_r2(xx * xx + yy * yy)
        n = self.nodes
        ny, nx = self.patch_shape
        # weighted sums over the nodes of each pixel: x nodes, then y nodes
        along_x = density.reshape(len(uy), ny, n, nx, n) @ self._node_weights
        summed = along_x.transpose(0, 1, 3, 2) @ self._node_weights
        return summed * (self._norm * self.pixel[0] * self.pixel[1])

    # ---------------------------------------------------------------- Airy table
    def _build_airy_table(self) -> None:
        """Tabulate ``(2 J1(v)/v)^2`` on a uniform grid of squared radius."""
        py, px = self.pixel
        r2_max = ((self.half[0] + 1) * py) ** 2 + ((self.half[1] + 1) * px) ** 2
        # linear interpolation in r^2 with a step of 0.004 / k^2: errors below 1e-7 of
        # the peak; a float32 table is small enough to stay in cache
        step = 0.004 / self.wavenumber**2
        size = int(math.ceil(r2_max / step)) + 2
        self._r2_step = step
        grid = np.arange(size) * step
        self._airy_table = _airy_radial_profile(self.wavenumber * np.sqrt(grid)).astype(np.float32)

    def _airy_from_r2(self, r2: np.ndarray) -> np.ndarray:
        position = r2 / self._r2_step
        index = position.astype(np.int64)
        fraction = position - index
        table = self._airy_table
        low = table[index]
        return low + fraction * (table[index + 1] - low)


def _make_psf_model(
    psf: str,
    pixel: tuple[float, float],
    sigx_nm: Any,
    sigy_nm: Any,
    theta_deg: Any,
    wavelength_nm: Any,
    numerical_aperture: Any,
) -> _PsfModel:
    psf = _choice("psf", psf, PSF_MODELS)
    sigx = _positive("sigx_nm", sigx_nm)
    sigy = sigx if sigy_nm is None else _positive("sigy_nm", sigy_nm)
    theta = _number("theta_deg", theta_deg)
    wavelength = _positive("wavelength_nm", wavelength_nm)
    aperture = _positive("numerical_aperture", numerical_aperture)
    return _PsfModel(psf, pixel, sigx, sigy, theta, wavelength, aperture)


def psf_image(
    shape: tuple[int, int],
    position_nm: tuple[float, float],
    *,
    pixel_nm: float | tuple[float, float] = 100.0,
    psf: str = "gaussian",
    sigx_nm: float = 130.0,
    sigy_nm: float | None = None,
    theta_deg: float = 0.0,
    wavelength_nm: float = 670.0,
    numerical_aperture: float = 1.4,
) -> np.ndarray:
    """Pixel-integrated, unit-energy PSF of one emitter on a pixel grid.

    This is exactly the image an emitter contributes to the expected movie
    (per detected photon).  The PSF is cut to the simulator's patch: five
    standard deviations along each axis for the Gaussian, a square holding at
    least 98 % of the energy for the Airy pattern.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the image in pixels.
    position_nm : tuple of float
        Emitter position ``(y, x)`` in nm; pixel ``(i, j)`` spans
        ``[i * pixel_y, (i + 1) * pixel_y) x [j * pixel_x, (j + 1) * pixel_x)``.
    pixel_nm : float or tuple of float
        Pixel size in nm, a scalar or a ``(y, x)`` pair.
    psf : {"gaussian", "airy"}
        PSF model, see :class:`MovieSimulator`.
    sigx_nm, sigy_nm, theta_deg : float
        Gaussian standard deviations (``sigy_nm=None`` means ``sigx_nm``) and
        rotation angle in degrees.
    wavelength_nm, numerical_aperture : float
        Emission wavelength and numerical aperture of the Airy pattern.

    Returns
    -------
    numpy.ndarray
        Float64 image of shape ``shape``; it sums to the fraction of the PSF
        energy that falls on the image.

    Examples
    --------
    >>> image = psf_image((21, 21), (1050.0, 1050.0), sigx_nm=130.0)
    >>> round(float(image.sum()), 6)
    1.0
    >>> [int(i) for i in np.unravel_index(image.argmax(), image.shape)]
    [10, 10]
    """
    height, width = _frame_shape(shape)
    pixel = _pixel_pair(pixel_nm)
    if np.shape(position_nm) != (2,):
        raise ValueError(f"position_nm must be a (y, x) pair, got {position_nm!r}")
    y = _number("position_nm", position_nm[0])
    x = _number("position_nm", position_nm[1])
    model = _make_psf_model(
        psf, pixel, sigx_nm, sigy_nm, theta_deg, wavelength_nm, numerical_aperture
    )
    row0, col0, values = model.patches(np.array([y]), np.array([x]))
    image = np.zeros((height, width))
    rows = slice(max(0, row0[0]), min(height, row0[0] + model.patch_shape[0]))
    cols = slice(max(0, col0[0]), min(width, col0[0] + model.patch_shape[1]))
    if rows.start < rows.stop and cols.start < cols.stop:
        image[rows, cols] = values[
            0,
            rows.start - row0[0] : rows.stop - row0[0],
            cols.start - col0[0] : cols.stop - col0[0],
        ]
    return image


# --------------------------------------------------------------------------------------
# emitters
# --------------------------------------------------------------------------------------


def _uniform_positions(rng: np.random.Generator, n: int, box: np.ndarray) -> np.ndarray:
    low, high = box[:, 0], box[:, 1]
    return low + rng.random((n, 2)) * (high - low)


def _trace_curve(
    rng: np.random.Generator,
    start: np.ndarray,
    angle: float,
    box: np.ndarray,
    step_nm: float,
    persistence_nm: float,
    max_steps: int,
) -> np.ndarray:
    """Worm-like curve from ``start`` until it leaves ``box``, shape (m, 2) (y, x)."""
    turns = rng.normal(0.0, math.sqrt(2.0 * step_nm / persistence_nm), max_steps)
    angles = angle + np.cumsum(turns)
    steps = step_nm * np.column_stack([np.sin(angles), np.cos(angles)])
    points = start + np.cumsum(steps, axis=0)
    outside = np.any((points < box[:, 0]) | (points > box[:, 1]), axis=1)
    stop = int(np.argmax(outside)) if outside.any() else max_steps
    return points[:stop]


def _filament_curves(
    rng: np.random.Generator,
    n_filaments: int,
    field: np.ndarray,
    box: np.ndarray,
    persistence_nm: float,
    step_nm: float,
) -> list[np.ndarray]:
    """Smooth random curves that cross the field, each traced in both directions."""
    diagonal = float(np.hypot(*(box[:, 1] - box[:, 0])))
    max_steps = int(math.ceil(4.0 * diagonal / step_nm))
    curves = []
    for _ in range(n_filaments):
        start = _uniform_positions(rng, 1, field)[0]
        angle = rng.uniform(0.0, 2.0 * math.pi)
        ahead = _trace_curve(rng, start, angle, box, step_nm, persistence_nm, max_steps)
        behind = _trace_curve(rng, start, angle + math.pi, box, step_nm, persistence_nm, max_steps)
        curves.append(np.concatenate([behind[::-1], start[None, :], ahead]))
    return curves


def _points_on_curves(
    rng: np.random.Generator, curves: list[np.ndarray], n: int, jitter_nm: float
) -> np.ndarray:
    """``n`` points spread uniformly in arc length over ``curves``, plus Gaussian jitter."""
    segments_start = np.concatenate([c[:-1] for c in curves])
    segments_end = np.concatenate([c[1:] for c in curves])
    lengths = np.hypot(*(segments_end - segments_start).T)
    cumulative = np.cumsum(lengths)
    arc = rng.random(n) * cumulative[-1]
    index = np.minimum(np.searchsorted(cumulative, arc, side="right"), len(lengths) - 1)
    before = cumulative[index] - lengths[index]
    fraction = np.clip((arc - before) / np.maximum(lengths[index], 1e-300), 0.0, 1.0)
    points = segments_start[index] + fraction[:, None] * (
        segments_end[index] - segments_start[index]
    )
    return points + rng.normal(0.0, jitter_nm, points.shape)


# --------------------------------------------------------------------------------------
# blinking
# --------------------------------------------------------------------------------------


class _ExponentialTable:
    """Standard exponential variates ``E[i, j]`` (emitter ``i``, dwell ``j``).

    Columns are drawn in blocks, always in the same order, so that a value does
    not depend on when it is first asked for.  Blocks no emitter needs any more
    are dropped.
    """

    def __init__(self, n: int, rng: np.random.Generator, block: int = _DWELL_BLOCK) -> None:
        self._n, self._rng, self._block = n, rng, block
        self._blocks: dict[int, np.ndarray] = {}
        self._drawn = 0

    def take(self, emitter: np.ndarray, count: np.ndarray) -> np.ndarray:
        if emitter.size == 0:
            return np.empty(0)
        block_index = count // self._block
        column = count % self._block
        while self._drawn <= int(block_index.max()):
            self._blocks[self._drawn] = self._rng.standard_exponential((self._n, self._block))
            self._drawn += 1
        out = np.empty(len(emitter))
        for b in np.unique(block_index):
            pick = block_index == b
            out[pick] = self._blocks[int(b)][emitter[pick], column[pick]]
        return out

    def release(self, lowest_count: int) -> None:
        for b in [b for b in self._blocks if b < lowest_count // self._block]:
            del self._blocks[b]


class _TwoStateBlinking:
    """Continuous-time ON/OFF switching of ``n`` emitters, advanced frame by frame."""

    def __init__(
        self,
        n: int,
        k_on: float,
        k_off: float,
        start_rng: np.random.Generator,
        dwell_rng: np.random.Generator,
    ) -> None:
        self.k_on, self.k_off = k_on, k_off
        self.on = start_rng.random(n) < k_on / (k_on + k_off)
        self._table = _ExponentialTable(n, dwell_rng)
        self._count = np.zeros(n, dtype=np.int64)
        everyone = np.arange(n)
        # memoryless: the time left in the initial state is a full exponential dwell
        self._next = self._dwell(everyone)
        self.frame = 0

    def _dwell(self, emitter: np.ndarray) -> np.ndarray:
        rate = np.where(self.on[emitter], self.k_off, self.k_on)
        dwell = self._table.take(emitter, self._count[emitter]) / rate
        self._count[emitter] += 1
        return dwell

    def advance(self, n_frames: int) -> np.ndarray:
        """On-fraction of frames ``frame .. frame + n_frames - 1``, shape (n_frames, n)."""
        n = len(self.on)
        first, stop = self.frame, self.frame + n_frames
        start_state = self.on.astype(float)
        events_e, events_t, events_s = [], [], []
        active = np.flatnonzero(self._next < stop)
        while active.size:
            times = self._next[active]
            events_e.append(active)
            events_t.append(times)
            events_s.append(np.where(self.on[active], -1.0, 1.0))
            self.on[active] = ~self.on[active]
            self._next[active] = times + self._dwell(active)
            active = active[self._next[active] < stop]
        if n:
            self._table.release(int(self._count.min()))
        self.frame = stop
        # state at the start of each frame (exact integers) ...
        steps = np.zeros((n_frames + 1, n))
        partial = np.zeros((n_frames, n))
        if events_e:
            emitter = np.concatenate(events_e)
            times = np.concatenate(events_t)
            sign = np.concatenate(events_s)
            frame = np.floor(times)
            local = frame.astype(np.int64) - first
            # ... plus the signed time from each switch to the end of its frame
            partial.ravel()[:] = np.bincount(
                local * n + emitter, weights=sign * (frame + 1.0 - times), minlength=n_frames * n
            )
            steps.ravel()[:] = np.bincount(
                (local + 1) * n + emitter, weights=sign, minlength=(n_frames + 1) * n
            )
        state = start_state + np.cumsum(steps[:n_frames], axis=0)
        return np.clip(state + partial, 0.0, 1.0)


# --------------------------------------------------------------------------------------
# simulator
# --------------------------------------------------------------------------------------


class MovieSimulator:
    """Blinking single-molecule movie with a known truth, produced in chunks.

    Parameters
    ----------
    n_frames : int
        Number of frames (>= 1).
    shape : tuple of int
        Frame ``(height, width)`` in pixels.
    pixel_nm : float or tuple of float
        Pixel size in nm, a scalar or a ``(y, x)`` pair.
    psf : {"gaussian", "airy"}
        ``"gaussian"``: rotated elliptical Gaussian
        ``exp(-x'^2 / (2 sigx^2) - y'^2 / (2 sigy^2))`` with
        ``x' = x cos(t) - y sin(t)``, ``y' = x sin(t) + y cos(t)``, ``x`` the column
        and ``y`` the row offset from the emitter (nm), ``t = theta_deg`` in radians.
        Pixel values are exact (error-function differences) when ``theta_deg`` is a
        multiple of 90 and otherwise Gauss-Legendre integrals over each pixel
        (at least 8 x 8 nodes).  The patch extends five standard deviations along
        each axis.  ``"airy"``: intensity ``(2 J1(v) / v)^2``,
        ``v = 2 pi NA r / wavelength``, normalised to unit energy and integrated
        numerically over each pixel; it is truncated to a square patch that holds
        at least 98 % of the energy (the rest of the light is dropped; the
        contained fraction is ``truth["airy_patch_energy"]``).
    sigx_nm, sigy_nm, theta_deg : float
        Gaussian PSF parameters; ``sigy_nm=None`` means ``sigy_nm = sigx_nm``.
    wavelength_nm, numerical_aperture : float
        Airy PSF parameters.  For the Airy PSF the truth reports
        ``airy_gaussian_sigma_nm = 0.21 * wavelength / NA`` (the usual Gaussian
        approximation) as ``sigx_nm`` and ``sigy_nm``.
    emitters : {"uniform", "filaments"}
        Uniform random positions, or positions spread along ``n_filaments``
        smooth random curves (worm-like, ``filament_persistence_nm``) with an
        isotropic Gaussian jitter of ``filament_jitter_nm``.
    on_density_per_um2 : float
        Mean number of ON emitters per square micrometre.  The number of emitters
        is ``round(on_density_per_um2 * area / on_probability)`` where ``area`` is
        the field enlarged by the PSF patch radius on every side.
    on_probability : float
        Stationary probability of being ON, in (0, 1).
    on_time_frames : float
        Mean ON time in frames (``1 / k_off``).
    photons : float
        Mean detected photons (photo-electrons) per frame of an emitter that is ON
        for the whole frame.
    background : float
        Uniform background, photo-electrons per pixel per frame.
    camera : {"poisson", "emccd", "scmos"}
        Noise model applied to the expected image ``lam`` (electrons):
        ``"poisson"``: ``ADU = Poisson(lam) * adu_per_e + offset_adu`` (plus Gaussian
        read noise if ``read_noise_e > 0``, default 0).
        ``"emccd"``: ``n = Poisson(lam)``, EM register output
        ``Gamma(shape=n, scale=em_gain)`` (excess-noise factor sqrt(2)), Gaussian
        read noise ``read_noise_e`` (default 50 e-) at the output, then
        ``* adu_per_e`` (default 0.1, i.e. 10 e- per ADU) ``+ offset_adu``.
        ``"scmos"``: ``(Poisson(lam) + read) * gain_map + offset_map``, with a gain
        map ``adu_per_e * (1 + scmos_gain_spread * N(0, 1))`` (default 2 ADU/e-,
        3 % spread), per-pixel read noise log-normal with median ``read_noise_e``
        (default 1.5 e-) and log-spread ``scmos_read_noise_spread``, and an offset
        map ``offset_adu + scmos_offset_spread_adu * N(0, 1)``.  The maps are fixed
        for the movie (``camera_maps``).
        All outputs are rounded to the nearest integer and clipped to
        ``[0, 65535]`` (or the artifacts' ``ceiling_adu``) before conversion to uint16.
    seed : int or None
        Seed of every random draw; ``None`` picks one (reported in the truth).
    adu_per_e, offset_adu, em_gain, read_noise_e : float
        Camera parameters; ``None`` selects the camera's default
        (see ``CAMERA_DEFAULTS``).
    scmos_gain_spread, scmos_read_noise_spread, scmos_offset_spread_adu : float
        sCMOS pixel-to-pixel variations.
    n_filaments : int or None
        Number of curves for ``emitters="filaments"``; ``None`` gives about one
        per 2 um of field diagonal (at least 2).
    filament_persistence_nm, filament_jitter_nm : float
        Persistence length of the curves and jitter of the emitters around them.
    artifacts : Artifacts or dict, optional
        Artifacts of real acquisitions (:class:`smlmlp.artifacts.Artifacts`):
        photobleaching, stage drift, laser flicker, out-of-focus haze, hot pixels,
        random telegraph pixels, cosmic rays, a PSF varying across the field and
        over time, out-of-focus emitters, a sample covering part of the field, a
        camera saturating below 65535, a level subtracted with the negative values
        set to zero. None by default. A PSF of varying width needs ``psf="gaussian"``.

    Attributes
    ----------
    positions_nm : numpy.ndarray
        Emitter positions, shape ``(n_emitters, 2)``, ``(y, x)`` in nm.
    filaments : list of numpy.ndarray
        Curves (``(m, 2)`` arrays of ``(y, x)`` points, 10 nm apart) for
        ``emitters="filaments"``, else empty.
    camera_maps : dict of numpy.ndarray
        Per-pixel ``gain_adu_per_e``, ``read_noise_e`` and ``offset_adu`` maps.
    defocused : numpy.ndarray of bool
        Which emitters are out of focus (``artifacts.defocused_fraction``).
    dropped : numpy.ndarray of bool
        Which frames were saved as zeros (``artifacts.dropped_fraction``).

    Notes
    -----
    Positions, camera maps and the blinking are drawn from independent random
    streams derived from ``seed``; the camera noise of frame ``f`` comes from its
    own stream, so every frame is the same however the movie is chunked.
    Memory does not grow with ``n_frames``: besides one chunk, the simulator keeps
    the positions and, for rotated Gaussian and Airy PSFs, the PSF patch of every
    emitter that has been ON (8 bytes per patch pixel; axis-aligned Gaussian
    patches are recomputed instead).  Airy patches are large (about 49 x 49 pixels
    at 100 nm, NA 1.4, 670 nm), so Airy movies of large fields are slower and
    need more memory than Gaussian ones.

    Examples
    --------
    >>> sim = MovieSimulator(30, (16, 16), seed=3)
    >>> chunks = list(sim.chunks(7))
    >>> [len(c) for c in chunks]
    [7, 7, 7, 7, 2]
    >>> movie, truth = simulate_movie(30, (16, 16), seed=3)
    >>> bool(np.array_equal(np.concatenate(chunks), movie))
    True
    """

    def __init__(
        self,
        n_frames: int = 500,
        shape: tuple[int, int] = (64, 64),
        *,
        pixel_nm: float | tuple[float, float] = 100.0,
        psf: str = "gaussian",
        sigx_nm: float = 130.0,
        sigy_nm: float | None = None,
        theta_deg: float = 0.0,
        wavelength_nm: float = 670.0,
        numerical_aperture: float = 1.4,
        emitters: str = "uniform",
        on_density_per_um2: float = 0.5,
        on_probability: float = 0.02,
        on_time_frames: float = 3.0,
        photons: float = 1000.0,
        background: float = 50.0,
        camera: str = "poisson",
        seed: int | None = 0,
        adu_per_e: float | None = None,
        offset_adu: float = 100.0,
        em_gain: float = 100.0,
        read_noise_e: float | None = None,
        scmos_gain_spread: float = 0.03,
        scmos_read_noise_spread: float = 0.4,
        scmos_offset_spread_adu: float = 3.0,
        n_filaments: int | None = None,
        filament_persistence_nm: float = 5000.0,
        filament_jitter_nm: float = 10.0,
        artifacts: Artifacts | dict[str, Any] | None = None,
    ) -> None:
        self.n_frames = _integer("n_frames", n_frames, 1)
        self.artifacts = Artifacts.from_value(artifacts)
        self.frame_shape = _frame_shape(shape)
        self.pixel_nm = _pixel_pair(pixel_nm)
        self.psf = _make_psf_model(
            psf, self.pixel_nm, sigx_nm, sigy_nm, theta_deg, wavelength_nm, numerical_aperture
        )
        if self.artifacts.varies_width and self.psf.kind != "gaussian":
            raise ValueError("artifacts: a PSF of varying width needs psf='gaussian'")
        self.emitters = _choice("emitters", emitters, EMITTER_LAYOUTS)
        self.on_density_per_um2 = _non_negative("on_density_per_um2", on_density_per_um2)
        p = _number("on_probability", on_probability)
        if not 0.0 < p < 1.0:
            raise ValueError(f"on_probability must be in (0, 1), got {on_probability!r}")
        self.on_probability = p
        self.on_time_frames = _positive("on_time_frames", on_time_frames)
        self.k_off = 1.0 / self.on_time_frames
        self.k_on = self.k_off * p / (1.0 - p)
        self.photons = _positive("photons", photons)
        self.background = _non_negative("background", background)
        self.camera = _choice("camera", camera, CAMERAS)
        self.seed = _seed_value(seed)
        self._camera = self._camera_parameters(
            adu_per_e,
            offset_adu,
            em_gain,
            read_noise_e,
            scmos_gain_spread,
            scmos_read_noise_spread,
            scmos_offset_spread_adu,
        )
        if n_filaments is not None:
            n_filaments = _integer("n_filaments", n_filaments, 1)
        self._filament_persistence = _positive("filament_persistence_nm", filament_persistence_nm)
        self._filament_jitter = _non_negative("filament_jitter_nm", filament_jitter_nm)

        height, width = self.frame_shape
        py, px = self.pixel_nm
        self.margin_nm = (self.psf.half[0] * py, self.psf.half[1] * px)
        self._field = np.array([[0.0, height * py], [0.0, width * px]])
        self._box = self._sample_box()
        box_area_um2 = float(np.prod(self._box[:, 1] - self._box[:, 0])) * 1e-6
        n_emitters = int(round(self.on_density_per_um2 * box_area_um2 / p))
        if n_filaments is None:
            diagonal_um = math.hypot(height * py, width * px) * 1e-3
            n_filaments = max(2, round(diagonal_um / 2.0))
        self.n_filaments = n_filaments if self.emitters == "filaments" else 0
        self.positions_nm, self.filaments = self._draw_positions(n_emitters)
        self.camera_maps = self._draw_camera_maps()
        self._draw_artifacts()

        n = len(self.positions_nm)
        patch_size = self.psf.patch_shape[0] * self.psf.patch_shape[1]
        self._patch_values = np.zeros((0 if self.psf.separable else n, patch_size))
        self._patch_ready = np.zeros((n + _PATCH_BLOCK - 1) // _PATCH_BLOCK, dtype=bool)
        self._row0, self._col0, _, _ = self.psf.anchor(
            self.positions_nm[:, 0], self.positions_nm[:, 1]
        )
        rows, cols = np.indices(self.psf.patch_shape)
        self._patch_rows = rows.ravel()
        self._patch_cols = cols.ravel()
        self._patch_flat = self._patch_rows * width + self._patch_cols
        self._anchor_flat = self._row0 * width + self._col0
        self._patch_inside = (
            (self._row0 >= 0)
            & (self._row0 + self.psf.patch_shape[0] <= height)
            & (self._col0 >= 0)
            & (self._col0 + self.psf.patch_shape[1] <= width)
        )

    # ---------------------------------------------------------------- set-up
    def _stream(self, *key: int) -> np.random.Generator:
        sequence = np.random.SeedSequence(self.seed, spawn_key=key)
        return np.random.Generator(np.random.PCG64(sequence))

    def _sample_box(self) -> np.ndarray:
        """``[[y0, y1], [x0, x1]]`` (nm) over which emitters are drawn.

        The field, or the artifacts' sample region, enlarged by the PSF patch
        radius on every side that reaches the field's edge (so that emitters just
        outside the field send their tails into it).
        """
        region = self.artifacts.sample_region or (0.0, 1.0, 0.0, 1.0)
        height, width = self._field[0, 1], self._field[1, 1]
        box = np.array(
            [[region[0] * height, region[1] * height], [region[2] * width, region[3] * width]]
        )
        margin = np.array(self.margin_nm)
        box[:, 0] -= np.where(box[:, 0] <= 0.0, margin, 0.0)
        box[:, 1] += np.where(box[:, 1] >= self._field[:, 1], margin, 0.0)
        return box

    def _draw_artifacts(self) -> None:
        """Draw every artifact's randomness up front, each from its own stream."""
        art, n, shape = self.artifacts, self.n_frames, self.frame_shape
        self._bleach_frame = acquisition.bleach_lifetimes(
            self._stream(_STREAM_BLEACH), self.n_emitters, art.bleach_lifetime_frames
        )
        drift_px = acquisition.drift_path_px(
            self._stream(_STREAM_DRIFT), n, art.drift_px, art.drift_walk_px
        )
        jitter = self._stream(_STREAM_JITTER)
        drift_px += acquisition.stage_jitter_px(jitter, n, art.drift_jitter_px)
        self._drift_nm = drift_px * np.asarray(self.pixel_nm)[None, :]
        self._fiducials_nm = acquisition.fiducial_positions_nm(
            self._stream(_STREAM_FIDUCIALS),
            art.fiducial_count,
            (self._field[0, 1], self._field[1, 1]),
            4.0 * max(self.psf.sigx, self.psf.sigy),
        )
        self._laser = acquisition.laser_factors(self._stream(_STREAM_LASER), n, art.flicker)
        self._background = self.background * acquisition.beam_profile(shape, art.background_beam)
        if art.haze_photons > 0:
            rng = self._stream(_STREAM_HAZE)
            patterns = acquisition.smooth_patterns(rng, shape, art.haze_scale_px, 2)
            levels = acquisition.slow_levels(rng, n, art.haze_fluctuation, art.haze_frames, 2)
            self._haze = (patterns, levels * (art.haze_photons / 2.0))
        else:
            self._haze = None
        self._dark = acquisition.hot_pixel_map(
            self._stream(_STREAM_HOT_PIXELS),
            shape,
            art.hot_pixel_fraction,
            art.hot_pixel_electrons,
        )
        self.defocused = (
            self._stream(_STREAM_DEFOCUS).random(self.n_emitters) < art.defocused_fraction
        )
        self.dropped = self._stream(_STREAM_DROPPED).random(n) < art.dropped_fraction
        self._telegraph = None
        if art.telegraph_pixel_fraction > 0:
            self._telegraph = acquisition.telegraph_levels(
                self._stream(_STREAM_TELEGRAPH),
                shape,
                n,
                art.telegraph_pixel_fraction,
                art.telegraph_dwell_frames,
            )
        if art.moves_or_reshapes:
            widest = max(art.field_sigma_factor, 1.0) * max(art.focus_sigma_factor, 1.0)
            if art.defocused_fraction > 0:
                widest *= max(art.defocused_sigma_factor, 1.0)
            self._moving_half = tuple(math.ceil(h * widest) for h in self.psf.half)

    def width_factor(self, emitters: np.ndarray, frame: int) -> np.ndarray:
        """Factor on the PSF widths of ``emitters`` in ``frame`` (field, focus, defocus).

        Positions are those of the frame (drift included). 1 without such artifacts.
        """
        art = self.artifacts
        emitters = np.asarray(emitters)
        position = self.positions_nm[emitters] + self._drift_nm[frame]
        factor = acquisition.field_factor(
            position[:, 0],
            position[:, 1],
            (self._field[0, 1], self._field[1, 1]),
            art.field_sigma_factor,
            art.field_profile,
        )
        factor = factor * acquisition.focus_factor(frame, self.n_frames, art.focus_sigma_factor)
        return np.where(self.defocused[emitters], art.defocused_sigma_factor, 1.0) * factor

    def _camera_parameters(
        self,
        adu_per_e: Any,
        offset_adu: Any,
        em_gain: Any,
        read_noise_e: Any,
        gain_spread: Any,
        read_spread: Any,
        offset_spread: Any,
    ) -> dict[str, float]:
        defaults = CAMERA_DEFAULTS[self.camera]
        adu = defaults["adu_per_e"] if adu_per_e is None else _positive("adu_per_e", adu_per_e)
        read = defaults["read_noise_e"] if read_noise_e is None else read_noise_e
        params = {
            "adu_per_e": float(adu),
            "e_per_adu": 1.0 / float(adu),
            "offset_adu": _number("offset_adu", offset_adu),
            "read_noise_e": _non_negative("read_noise_e", read),
        }
        if self.camera == "emccd":
            params["em_gain"] = _positive("em_gain", em_gain)
            params["excess_noise_factor"] = math.sqrt(2.0)
        if self.camera == "scmos":
            params["read_noise_e"] = _positive("read_noise_e", read)
            params["scmos_gain_spread"] = _non_negative("scmos_gain_spread", gain_spread)
            if params["scmos_gain_spread"] >= 0.3:
                raise ValueError(f"scmos_gain_spread must be < 0.3, got {gain_spread!r}")
            params["scmos_read_noise_spread"] = _non_negative(
                "scmos_read_noise_spread", read_spread
            )
            params["scmos_offset_spread_adu"] = _non_negative(
                "scmos_offset_spread_adu", offset_spread
            )
        return params

    def _draw_positions(self, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        rng = self._stream(_STREAM_POSITIONS)
        if self.emitters == "uniform":
            return _uniform_positions(rng, n, self._box), []
        curves = _filament_curves(
            rng, self.n_filaments, self._field, self._box, self._filament_persistence, 10.0
        )
        return _points_on_curves(rng, curves, n, self._filament_jitter), curves

    def _draw_camera_maps(self) -> dict[str, np.ndarray]:
        shape = self.frame_shape
        c = self._camera
        if self.camera != "scmos":
            return {
                "gain_adu_per_e": np.full(shape, c["adu_per_e"]),
                "read_noise_e": np.full(shape, c["read_noise_e"]),
                "offset_adu": np.full(shape, c["offset_adu"]),
            }
        rng = self._stream(_STREAM_CAMERA_MAPS)
        gain = c["adu_per_e"] * (1.0 + c["scmos_gain_spread"] * rng.standard_normal(shape))
        read = c["read_noise_e"] * np.exp(c["scmos_read_noise_spread"] * rng.standard_normal(shape))
        offset = c["offset_adu"] + c["scmos_offset_spread_adu"] * rng.standard_normal(shape)
        return {"gain_adu_per_e": gain, "read_noise_e": read, "offset_adu": offset}

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, int, int]:
        """Movie shape ``(n_frames, height, width)``."""
        return (self.n_frames, *self.frame_shape)

    @property
    def dtype(self) -> np.dtype:
        """Movie data type (uint16)."""
        return np.dtype(np.uint16)

    @property
    def n_emitters(self) -> int:
        """Number of emitters (ON or OFF)."""
        return len(self.positions_nm)

    @property
    def correlation_time_frames(self) -> float:
        """Correlation time of the blinking, ``1 / (k_on + k_off)``, in frames."""
        return 1.0 / (self.k_on + self.k_off)

    @property
    def truth(self) -> dict[str, Any]:
        """JSON-serialisable description of what was simulated (a fresh dict)."""
        model = self.psf
        truth: dict[str, Any] = {
            "psf": model.kind,
            "sigx_nm": model.sigx,
            "sigy_nm": model.sigy,
            "theta_deg": model.theta_deg,
            "pixel_nm": tuple(float(v) for v in self.pixel_nm),
            "wavelength_nm": model.wavelength,
            "numerical_aperture": model.aperture,
            "patch_shape": tuple(model.patch_shape),
            "emitters": self.emitters,
            "n_emitters": self.n_emitters,
            "field_margin_nm": tuple(float(v) for v in self.margin_nm),
            "on_density_per_um2": self.on_density_per_um2,
            "on_probability": self.on_probability,
            "on_time_frames": self.on_time_frames,
            "k_on_per_frame": self.k_on,
            "k_off_per_frame": self.k_off,
            "correlation_time_frames": self.correlation_time_frames,
            "photons": self.photons,
            "background": self.background,
            "camera": self.camera,
            **self._camera,
            "seed": self.seed,
            "n_frames": self.n_frames,
            "shape": tuple(self.frame_shape),
        }
        if self.artifacts.active:
            truth["artifacts"] = self.artifacts.as_dict()
        if self.artifacts.dropped_fraction:
            truth["dropped_frames"] = int(self.dropped.sum())
        if model.kind == "airy":
            sigma = 0.21 * model.wavelength / model.aperture
            truth.update(
                sigx_nm=sigma,
                sigy_nm=sigma,
                theta_deg=0.0,
                airy_gaussian_sigma_nm=sigma,
                airy_patch_energy=self._airy_patch_energy(),
            )
        if self.emitters == "filaments":
            truth["n_filaments"] = self.n_filaments
            truth["filament_persistence_nm"] = self._filament_persistence
            truth["filament_jitter_nm"] = self._filament_jitter
        return truth

    # ---------------------------------------------------------------- PSF patches
    def _airy_patch_energy(self) -> float:
        py, px = self.pixel_nm
        _, _, values = self.psf.patches(np.array([0.5 * py]), np.array([0.5 * px]))
        return float(values.sum())

    def _ensure_patches(self, emitters: np.ndarray) -> None:
        """Compute the PSF patches of the emitter blocks that hold ``emitters``.

        Patches are computed for fixed blocks of emitters so that the values do
        not depend on the order in which frames are produced.
        """
        blocks = np.unique(emitters // _PATCH_BLOCK)
        for block in blocks[~self._patch_ready[blocks]]:
            part = slice(block * _PATCH_BLOCK, (block + 1) * _PATCH_BLOCK)
            y, x = self.positions_nm[part, 0], self.positions_nm[part, 1]
            _, _, values = self.psf.patches(y, x)
            self._patch_values[part] = values.reshape(len(y), -1)
            self._patch_ready[block] = True

    def _patches_of(self, emitters: np.ndarray) -> np.ndarray:
        """PSF patches of ``emitters``, shape ``(len(emitters), patch pixels)``.

        Axis-aligned Gaussian patches are cheap and recomputed when needed; the
        others are computed once and kept.
        """
        if self.psf.separable:
            y, x = self.positions_nm[emitters, 0], self.positions_nm[emitters, 1]
            return self.psf.patches(y, x)[2].reshape(len(emitters), -1)
        self._ensure_patches(emitters)
        return self._patch_values[emitters]

    def _accumulate(self, emitters: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Sum ``weights[i] * patch[emitters[i]]`` on the frame grid (float64)."""
        height, width = self.frame_shape
        image = np.zeros(height * width)
        if emitters.size == 0:
            return image.reshape(height, width)
        whole = self._patch_inside[emitters]
        # patches entirely inside the field: flat index = anchor + fixed offsets
        inner = emitters[whole]
        if inner.size:
            flat = self._anchor_flat[inner, None] + self._patch_flat[None, :]
            values = self._patches_of(inner) * weights[whole, None]
            image += np.bincount(flat.ravel(), values.ravel(), minlength=height * width)
        # patches cut by the field edge
        edge = emitters[~whole]
        if edge.size:
            rows = self._row0[edge, None] + self._patch_rows[None, :]
            cols = self._col0[edge, None] + self._patch_cols[None, :]
            inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            values = self._patches_of(edge) * weights[~whole, None]
            flat = rows[inside] * width + cols[inside]
            image += np.bincount(flat, values[inside], minlength=height * width)
        return image.reshape(height, width)

    def _accumulate_moving(
        self, emitters: np.ndarray, weights: np.ndarray, frame: int
    ) -> np.ndarray:
        """Like :meth:`_accumulate`, with the frame's drift and PSF widths."""
        if emitters.size == 0:
            return np.zeros(self.frame_shape)
        position = self.positions_nm[emitters] + self._drift_nm[frame]
        if self.artifacts.varies_width:
            factor = self.width_factor(emitters, frame)
            row0, col0, values = acquisition.gaussian_patches(
                position[:, 0],
                position[:, 1],
                self.psf.sigx * factor,
                self.psf.sigy * factor,
                self.psf.theta_deg,
                self.pixel_nm,
                self._moving_half,
            )
        else:
            row0, col0, values = self.psf.patches(position[:, 0], position[:, 1])
        return self._patches_image(row0, col0, values, weights)

    def _patches_image(
        self, row0: np.ndarray, col0: np.ndarray, values: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Sum ``weights[i] * values[i]`` on the frame grid, patch ``i`` anchored at
        ``(row0[i], col0[i])`` (float64; what falls outside the frame is lost)."""
        height, width = self.frame_shape
        patch_rows, patch_cols = np.indices(values.shape[1:])
        rows = row0[:, None] + patch_rows.ravel()[None, :]
        cols = col0[:, None] + patch_cols.ravel()[None, :]
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        values = values.reshape(len(values), -1) * weights[:, None]
        image = np.bincount(rows[inside] * width + cols[inside], values[inside], height * width)
        return image.reshape(height, width)

    def _fiducials_image(self, frame: int) -> np.ndarray:
        """The fiducial markers in ``frame``: in-focus PSFs where the stage carries them,
        ``fiducial_photons`` each times the laser's factor (float64)."""
        position = self._fiducials_nm + self._drift_nm[frame]
        row0, col0, values = self.psf.patches(position[:, 0], position[:, 1])
        photons = self.artifacts.fiducial_photons * self._laser[frame]
        return self._patches_image(row0, col0, values, np.full(len(values), photons))

    def _chunk_frames(self, chunk_frames: int | None) -> int:
        if chunk_frames is None:
            height, width = self.frame_shape
            return max(1, min(self.n_frames, _CHUNK_BYTES // (2 * height * width)))
        return _integer("chunk_frames", chunk_frames, 1)

    def _new_blinking(self) -> _TwoStateBlinking:
        return _TwoStateBlinking(
            self.n_emitters,
            self.k_on,
            self.k_off,
            self._stream(_STREAM_BLINK_START),
            self._stream(_STREAM_DWELLS),
        )

    # ---------------------------------------------------------------- streams
    def on_fractions(self, chunk_frames: int | None = None) -> Iterator[np.ndarray]:
        """Yield the true ON fraction of every emitter in every frame.

        Parameters
        ----------
        chunk_frames : int or None
            Frames per chunk (``None``: about 32 MB of uint16 movie per chunk).

        Returns
        -------
        iterator of numpy.ndarray
            Float64 arrays of shape ``(frames_in_chunk, n_emitters)`` with values
            in [0, 1], the same for any chunk size.

        Examples
        --------
        >>> sim = MovieSimulator(50, (8, 8), on_probability=0.5, seed=0)
        >>> fractions = np.concatenate(list(sim.on_fractions(20)))
        >>> fractions.shape == (50, sim.n_emitters)
        True
        >>> bool(fractions.min() >= 0.0 and fractions.max() <= 1.0)
        True
        """
        step = self._chunk_frames(chunk_frames)
        blinking = self._new_blinking()
        for first in range(0, self.n_frames, step):
            yield blinking.advance(min(step, self.n_frames - first))

    def expected_chunks(self, chunk_frames: int | None = None) -> Iterator[np.ndarray]:
        """Yield the expected images (photo-electrons per pixel) before camera noise.

        Each frame is ``background + photons * sum_e on_fraction_e * psf_e`` with
        ``psf_e`` the pixel-integrated PSF of emitter ``e``.

        Parameters
        ----------
        chunk_frames : int or None
            Frames per chunk (``None``: about 32 MB of uint16 movie per chunk).

        Returns
        -------
        iterator of numpy.ndarray
            Float64 arrays of shape ``(frames_in_chunk, height, width)``.

        Examples
        --------
        >>> sim = MovieSimulator(5, (8, 8), background=10.0, seed=0)
        >>> expected = next(sim.expected_chunks())
        >>> expected.shape, bool(expected.min() >= 10.0)
        ((5, 8, 8), True)
        """
        step = self._chunk_frames(chunk_frames)
        frames = self._expected_frames()
        for first in range(0, self.n_frames, step):
            out = np.empty((min(step, self.n_frames - first), *self.frame_shape))
            for index in range(len(out)):
                out[index] = next(frames)
            yield out

    def _expected_frames(self) -> Iterator[np.ndarray]:
        """Expected image of every frame, in order (blinking advanced in small blocks)."""
        blinking = self._new_blinking()
        block = int(np.clip(_BLINK_ELEMENTS // max(self.n_emitters, 1), 1, 256))
        art = self.artifacts
        for first in range(0, self.n_frames, block):
            chunk = blinking.advance(min(block, self.n_frames - first))
            for frame, fraction in enumerate(chunk, start=first):
                if art.bleach_lifetime_frames is not None:  # the part of the frame alive
                    fraction = fraction * np.clip(self._bleach_frame - frame, 0.0, 1.0)
                emitters = np.flatnonzero(fraction > 0.0)
                weights = self.photons * self._laser[frame] * fraction[emitters]
                if art.moves_or_reshapes:
                    image = self._accumulate_moving(emitters, weights, frame)
                else:
                    image = self._accumulate(emitters, weights)
                background = self._background
                if art.flicker_background:
                    background = background * self._laser[frame]
                image += background + self._dark
                if len(self._fiducials_nm):
                    image += self._fiducials_image(frame)
                if self._haze is not None:
                    patterns, levels = self._haze
                    image += np.tensordot(levels[frame], patterns, axes=1)
                if art.cosmic_rays_per_frame > 0:
                    rng = self._stream(_STREAM_COSMIC_RAYS, frame)
                    image += acquisition.cosmic_ray_image(
                        rng, self.frame_shape, art.cosmic_rays_per_frame
                    )
                yield image

    def chunks(self, chunk_frames: int | None = None) -> Iterator[np.ndarray]:
        """Yield the movie as consecutive uint16 chunks.

        The concatenated chunks equal :meth:`movie` (and :func:`simulate_movie`
        with the same arguments) for any chunk size; only one chunk is held in
        memory at a time.

        Parameters
        ----------
        chunk_frames : int or None
            Frames per chunk (``None``: about 32 MB per chunk).

        Returns
        -------
        iterator of numpy.ndarray
            uint16 arrays of shape ``(frames_in_chunk, height, width)``.

        Examples
        --------
        >>> sim = MovieSimulator(10, (8, 8), seed=0)
        >>> [c.shape for c in sim.chunks(4)]
        [(4, 8, 8), (4, 8, 8), (2, 8, 8)]
        """
        step = self._chunk_frames(chunk_frames)
        frames = self._expected_frames()
        for first in range(0, self.n_frames, step):
            out = np.empty((min(step, self.n_frames - first), *self.frame_shape), np.uint16)
            for index in range(len(out)):
                out[index] = self._camera_frame(next(frames), first + index)
            yield out

    def movie(self) -> np.ndarray:
        """Return the whole movie as one uint16 array ``(n_frames, height, width)``.

        Examples
        --------
        >>> MovieSimulator(3, (4, 5), seed=0).movie().shape
        (3, 4, 5)
        """
        out = np.empty(self.shape, dtype=np.uint16)
        first = 0
        for chunk in self.chunks():
            out[first : first + len(chunk)] = chunk
            first += len(chunk)
        return out

    def mean_image(self) -> np.ndarray:
        """Stationary mean of the expected image, photo-electrons per pixel.

        ``background + photons * on_probability * sum_e psf_e``: the temporal mean
        of :meth:`expected_chunks` over a long movie without artifacts (those that
        change with time have no stationary mean; they are left out).

        Examples
        --------
        >>> sim = MovieSimulator(10, (8, 8), background=5.0, seed=0)
        >>> bool(sim.mean_image().min() >= 5.0)
        True
        """
        emitters = np.arange(self.n_emitters)
        weights = np.full(self.n_emitters, self.photons * self.on_probability)
        return self._background + self._accumulate(emitters, weights)

    # ---------------------------------------------------------------- camera
    def _readout_image(self, frame: int, shape: tuple[int, ...]) -> np.ndarray | float:
        """Electrons the random telegraph pixels and the rows' and columns' offsets
        (banding) add to the readout of ``frame``."""
        art = self.artifacts
        banding = art.row_noise_electrons > 0 or art.column_noise_electrons > 0
        if self._telegraph is None and not banding:
            return 0.0
        image = np.zeros(shape)
        if self._telegraph is not None:
            pixels, levels = self._telegraph
            image.flat[pixels] = art.telegraph_electrons * levels[frame]
        if banding:
            rng = self._stream(_STREAM_BANDING, frame)
            rows = rng.standard_normal(shape[0]) * art.row_noise_electrons
            columns = rng.standard_normal(shape[1]) * art.column_noise_electrons
            image += rows[:, None] + columns[None, :]
        return image

    def _camera_frame(self, expected: np.ndarray, frame: int) -> np.ndarray:
        """Noisy uint16 frame from an expected photo-electron image."""
        rng = self._stream(_STREAM_FRAME_NOISE, frame)
        c = self._camera
        electrons = rng.poisson(expected).astype(float)
        readout = self._readout_image(frame, expected.shape)
        if self.camera == "poisson":
            if c["read_noise_e"] > 0:
                electrons += c["read_noise_e"] * rng.standard_normal(expected.shape)
            adu = (electrons + readout) * c["adu_per_e"] + c["offset_adu"]
        elif self.camera == "emccd":
            amplified = rng.gamma(electrons, c["em_gain"])
            amplified += c["read_noise_e"] * rng.standard_normal(expected.shape)
            adu = (amplified + readout) * c["adu_per_e"] + c["offset_adu"]
        else:
            maps = self.camera_maps
            electrons += maps["read_noise_e"] * rng.standard_normal(expected.shape)
            adu = (electrons + readout) * maps["gain_adu_per_e"] + maps["offset_adu"]
        np.rint(adu, out=adu)
        if self.dropped[frame]:
            adu[...] = 0.0
        ceiling = self.artifacts.ceiling_adu
        np.clip(adu, 0, _UINT16_MAX if ceiling is None else math.floor(ceiling), out=adu)
        if self.artifacts.subtracted_adu:
            adu -= math.floor(self.artifacts.subtracted_adu)
            np.maximum(adu, 0, out=adu)
        return adu.astype(np.uint16)


def simulate_movie(
    n_frames: int = 500, shape: tuple[int, int] = (64, 64), **options: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """Simulate a blinking single-molecule movie with a known truth.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    shape : tuple of int
        Frame ``(height, width)`` in pixels.
    **options
        Keyword arguments of :class:`MovieSimulator`: ``pixel_nm``, ``psf``,
        ``sigx_nm``, ``sigy_nm``, ``theta_deg``, ``wavelength_nm``,
        ``numerical_aperture``, ``emitters``, ``on_density_per_um2``,
        ``on_probability``, ``on_time_frames``, ``photons``, ``background``,
        ``camera``, ``seed`` and the camera and filament parameters.

    Returns
    -------
    movie : numpy.ndarray
        uint16 array of shape ``(n_frames, height, width)`` (ADU, rounded and
        clipped to [0, 65535] or the camera's ceiling).
    truth : dict
        JSON-serialisable parameters of the simulation (see
        :attr:`MovieSimulator.truth`).

    Examples
    --------
    >>> movie, truth = simulate_movie(20, (16, 16), sigx_nm=120.0, seed=1)
    >>> movie.shape, movie.dtype
    ((20, 16, 16), dtype('uint16'))
    >>> truth["sigx_nm"], truth["pixel_nm"], round(truth["correlation_time_frames"], 3)
    (120.0, (100.0, 100.0), 2.94)
    """
    simulator = MovieSimulator(n_frames, shape, **options)
    return simulator.movie(), simulator.truth


# --------------------------------------------------------------------------------------
# TIFF output
# --------------------------------------------------------------------------------------


def _frame_source(
    source: Any, chunk_frames: int | None
) -> tuple[tuple[int, int, int], np.dtype, Iterator[np.ndarray]]:
    if isinstance(source, MovieSimulator):
        return source.shape, source.dtype, source.chunks(chunk_frames)
    shape = tuple(getattr(source, "shape", ()))
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"source must be a MovieSimulator or a (frames, height, width) stack, got {source!r}"
        )
    dtype = np.dtype(source.dtype)
    step = (
        max(1, _CHUNK_BYTES // (dtype.itemsize * shape[1] * shape[2]))
        if chunk_frames is None
        else _integer("chunk_frames", chunk_frames, 1)
    )

    def slices() -> Iterator[np.ndarray]:
        for first in range(0, shape[0], step):
            yield np.asarray(source[first : first + step], dtype=dtype)

    return (shape[0], shape[1], shape[2]), dtype, slices()


def write_tiff(
    path: str | os.PathLike[str],
    source: Any,
    *,
    chunk_frames: int | None = None,
    bigtiff: bool | None = None,
    pixel_nm: float | tuple[float, float] | None = None,
    exposure_ms: float | None = None,
) -> Path:
    """Stream a movie into an uncompressed, contiguous multi-page TIFF file.

    Frames are written one chunk at a time, so a :class:`MovieSimulator` of any
    length is written with bounded memory.  Files below 4 GB are ImageJ
    hyperstacks (``axes="TYX"``) with the pixel size as XResolution/YResolution in
    pixels per micrometre (``unit=um``) and ``finterval`` (s) from ``exposure_ms``;
    larger files (or ``bigtiff=True``) are BigTIFF with resolution tags in pixels
    per centimetre and a JSON description holding ``pixel_nm`` and
    ``exposure_ms``.  The file is written under a temporary name and renamed
    when complete.

    Parameters
    ----------
    path : str or path-like
        Output file.
    source : MovieSimulator or array-like
        A simulator (streamed with :meth:`MovieSimulator.chunks`) or any frame
        stack ``(frames, height, width)`` that supports ``source[a:b]``.
    chunk_frames : int or None
        Frames read or simulated at a time (``None``: about 32 MB).
    bigtiff : bool or None
        Force BigTIFF on or off; ``None`` chooses it when the data exceed 4 GB.
    pixel_nm : float or tuple of float or None
        Pixel size to record, scalar or ``(y, x)``; defaults to the simulator's
        pixel size, or nothing for a plain stack.
    exposure_ms : float or None
        Frame time to record.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile
    >>> sim = MovieSimulator(6, (8, 8), seed=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_tiff(Path(folder) / "movie.tif", sim, chunk_frames=4)
    ...     data = tifffile.imread(path)
    >>> bool(np.array_equal(data, sim.movie()))
    True
    """
    path = Path(path)
    shape, dtype, frames = _frame_source(source, chunk_frames)
    if pixel_nm is None and isinstance(source, MovieSimulator):
        pixel_nm = source.pixel_nm
    pixel = None if pixel_nm is None else _pixel_pair(pixel_nm)
    exposure = None if exposure_ms is None else _positive("exposure_ms", exposure_ms)
    n_bytes = math.prod(shape) * dtype.itemsize
    if bigtiff is None:
        bigtiff = n_bytes > 2**32 - 2**25
    imagej = not bigtiff and dtype in (np.uint8, np.uint16, np.float32)

    options: dict[str, Any] = {"photometric": "minisblack"}
    if imagej:
        metadata: dict[str, Any] = {"axes": "TYX"}
        if pixel is not None:
            metadata["unit"] = "um"
            options["resolution"] = (1e3 / pixel[1], 1e3 / pixel[0])
        if exposure is not None:
            metadata["finterval"] = exposure * 1e-3
    else:
        metadata = {"axes": "TYX", "pixel_nm": None, "exposure_ms": exposure}
        if pixel is not None:
            metadata["pixel_nm"] = list(pixel)
            options["resolution"] = (1e7 / pixel[1], 1e7 / pixel[0])
            options["resolutionunit"] = "CENTIMETER"

    def pages() -> Iterator[np.ndarray]:
        for chunk in frames:
            yield from chunk

    with (
        atomic_path(path) as partial,
        tifffile.TiffWriter(partial, bigtiff=bigtiff, imagej=imagej) as writer,
    ):
        writer.write(pages(), shape=shape, dtype=dtype, metadata=metadata, **options)
    return path
