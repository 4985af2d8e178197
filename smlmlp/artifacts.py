"""The artifacts of real acquisitions, for the simulator.

:class:`Artifacts` lists what a real dSTORM/PALM/PAINT movie has and an ideal one
lacks; every field is off by default, and each one on is drawn from its own
seeded random stream of the simulator (:class:`smlmlp.simulation.MovieSimulator`,
``artifacts=``), so adding one artifact leaves the others' draws unchanged.

- **Photobleaching**: every emitter has an exponential lifetime (frames from the
  start); it stops emitting, partway through the frame it bleaches in.
- **Stage drift**: every emitter moves by the same shift, linear over the movie
  plus a random walk.
- **Laser flicker**: the excitation, and so every emitter's photons, is scaled
  per frame by ``1 + flicker * N(0, 1)`` (clipped at 0).
- **Out-of-focus haze**: a background of ``haze_photons`` per pixel on average,
  the sum of two smooth random patterns (Gaussian-smoothed noise of scale
  ``haze_scale_px``, exponentiated, mean 1) whose levels wander smoothly and
  independently by ``haze_fluctuation`` (relative rms) over about ``haze_frames``
  frames (clipped at 0).
- **Hot pixels** (a fixed fraction of the pixels with ``hot_pixel_electrons`` of
  dark signal per frame, shot noise included) and **cosmic rays** (Poisson count
  per frame; short straight tracks of 1 to 5 pixels of 2000 electrons each).
- **Random telegraph noise** (sCMOS): a fraction of the pixels whose readout
  jumps between two levels ``telegraph_electrons`` apart, switching at random
  with a mean dwell of ``telegraph_dwell_frames`` frames in each (a readout
  level, not light: no shot noise).
- **Banding** (CMOS readout): every row (``row_noise_electrons``) and every column
  (``column_noise_electrons``) of a frame shifted by its own offset, normal with that
  rms, drawn anew in every frame (a readout level, not light: no shot noise).
- **A PSF that varies**: across the field (``field_sigma_factor``: the widths are
  multiplied by a factor growing linearly from 1 at the left edge, top edge or
  centre to ``field_sigma_factor`` at the right edge, bottom edge or corners,
  ``field_profile`` "x", "y" or "radial") and over time (``focus_sigma_factor``:
  linearly from 1 at the first frame to the factor at the last).
- **Out-of-focus emitters**: a fraction of the emitters blinks with widths
  ``defocused_sigma_factor`` times the in-focus ones.
- **Partial coverage**: the emitters lie in ``sample_region`` ``(top, bottom,
  left, right)``, fractions of the frame height and width, not over the whole
  field (a cell or an origami field inside a larger field of view).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy import ndimage, special

FIELD_PROFILES = ("x", "y", "radial")
#: Electrons a cosmic ray leaves in each pixel of its track.
COSMIC_RAY_ELECTRONS = 2000.0
#: Gauss-Legendre nodes per pixel side for rotated Gaussians of varying width.
_ROTATED_NODES = 8


@dataclass(frozen=True)
class Artifacts:
    """Artifacts of a real acquisition added to a simulated movie (all off by default).

    Attributes
    ----------
    bleach_lifetime_frames : float or None
        Mean emitter lifetime in frames (exponential); ``n_frames / ln 5`` leaves
        20 % of the emitters at the end.
    drift_px : tuple of float
        Linear stage drift ``(y, x)`` over the whole movie, pixels.
    drift_walk_px : float
        Rms random-walk step of the stage per frame, pixels.
    drift_jitter_px : float
        Rms displacement of the stage in each frame about its path (vibration,
        drawn anew every frame), pixels.
    fiducial_count : int
        Fiducial markers (beads, gold particles): bright points that never blink,
        spread over the field (away from its edges) and carried by the stage.
    fiducial_photons : float
        Photo-electrons of each fiducial marker per frame (its mean; shot noise
        and the laser's flicker apply).
    flicker : float
        Relative rms of the per-frame laser intensity.
    flicker_background : bool
        Whether the laser's flicker also scales the uniform background
        (autofluorescence and scattered light, excited by the same laser): a level
        shared by the whole frame that jumps from frame to frame.
    background_beam : float or None
        The uniform background under a Gaussian illumination beam centred on the
        frame: its rms width as a fraction of the frame's side (None: flat). The
        profile's mean over the frame is 1, so the background keeps its mean;
        with ``flicker_background`` the flicker follows the beam's profile. The
        emitters' photons do not follow it.
    haze_photons : float
        Mean out-of-focus background, photo-electrons per pixel per frame.
    haze_fluctuation : float
        Relative rms of the haze level over time.
    haze_frames : float
        Correlation time of the haze level, frames.
    haze_scale_px : float
        Spatial scale of the haze patterns, pixels.
    hot_pixel_fraction : float
        Fraction of hot pixels.
    hot_pixel_electrons : float
        Dark signal of a hot pixel, electrons per frame.
    cosmic_rays_per_frame : float
        Mean number of cosmic-ray tracks per frame.
    telegraph_pixel_fraction, telegraph_electrons, telegraph_dwell_frames : float
        Fraction of random telegraph pixels, the electrons between their two
        readout levels and the mean dwell in each, frames.
    row_noise_electrons, column_noise_electrons : float
        Rms of the readout offset of each row, and of each column, drawn anew in
        every frame, electrons (banding).
    field_sigma_factor : float
        PSF width at the far edge of the field over the width at its start.
    field_profile : {"x", "y", "radial"}
        Direction in which the PSF widens across the field.
    focus_sigma_factor : float
        PSF width at the last frame over the width at the first.
    defocused_fraction : float
        Fraction of the emitters out of focus, in [0, 1).
    defocused_sigma_factor : float
        Width of the out-of-focus emitters over the in-focus ones.
    sample_region : tuple of float or None
        ``(top, bottom, left, right)`` of the region holding the emitters, as
        fractions of the frame height and width (``None``: the whole field).
    ceiling_adu : float or None
        The camera's largest value: pixel values above it are clipped to it
        (saturation; 4095 for 12 bits). ``None``: 65535, the largest uint16.
    subtracted_adu : float
        A level subtracted from every pixel value after the camera, the negative
        values set to zero, as in a movie whose offset or background was removed
        before it was saved (0: none).
    dropped_fraction : float
        Fraction of the frames, drawn at random, that the camera failed to
        deliver and that were saved filled with zeros (0: none).

    Examples
    --------
    >>> Artifacts(flicker=0.05).active
    True
    >>> Artifacts().active
    False
    >>> Artifacts(field_profile="z")
    Traceback (most recent call last):
        ...
    ValueError: artifacts.field_profile must be one of x, y, radial, got 'z'
    """

    bleach_lifetime_frames: float | None = None
    drift_px: tuple[float, float] = (0.0, 0.0)
    drift_walk_px: float = 0.0
    drift_jitter_px: float = 0.0
    fiducial_count: int = 0
    fiducial_photons: float = 50000.0
    flicker: float = 0.0
    flicker_background: bool = False
    background_beam: float | None = None
    haze_photons: float = 0.0
    haze_fluctuation: float = 0.5
    haze_frames: float = 50.0
    haze_scale_px: float = 16.0
    hot_pixel_fraction: float = 0.0
    hot_pixel_electrons: float = 300.0
    cosmic_rays_per_frame: float = 0.0
    telegraph_pixel_fraction: float = 0.0
    telegraph_electrons: float = 20.0
    telegraph_dwell_frames: float = 5.0
    row_noise_electrons: float = 0.0
    column_noise_electrons: float = 0.0
    field_sigma_factor: float = 1.0
    field_profile: str = "x"
    focus_sigma_factor: float = 1.0
    defocused_fraction: float = 0.0
    defocused_sigma_factor: float = 3.0
    sample_region: tuple[float, float, float, float] | None = None
    ceiling_adu: float | None = None
    subtracted_adu: float = 0.0
    dropped_fraction: float = 0.0

    def __post_init__(self) -> None:
        def number(name: str, low: float, high: float = math.inf, *, open_low=False) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"artifacts.{name} must be a number, got {value!r}")
            bad = value <= low if open_low else value < low
            if not math.isfinite(value) or bad or value > high:
                if math.isfinite(high):
                    bounds = f"in {'(' if open_low else '['}{low:g}, {high:g}]"
                else:
                    bounds = f"{'>' if open_low else '>='} {low:g}"
                raise ValueError(f"artifacts.{name} must be {bounds}, got {value!r}")

        if self.bleach_lifetime_frames is not None:
            number("bleach_lifetime_frames", 0.0, open_low=True)
        if self.ceiling_adu is not None:
            number("ceiling_adu", 0.0, 65535.0, open_low=True)
        if self.background_beam is not None:
            number("background_beam", 0.0, open_low=True)
        for name in ("drift_walk_px", "flicker", "haze_photons", "haze_fluctuation"):
            number(name, 0.0)
        number("drift_jitter_px", 0.0)
        number("fiducial_photons", 0.0)
        count = self.fiducial_count
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            raise ValueError(f"artifacts.fiducial_count must be an integer >= 0, got {count!r}")
        object.__setattr__(self, "fiducial_count", int(count))
        for name in ("hot_pixel_electrons", "cosmic_rays_per_frame", "subtracted_adu"):
            number(name, 0.0)
        number("telegraph_electrons", 0.0)
        number("row_noise_electrons", 0.0)
        number("column_noise_electrons", 0.0)
        number("hot_pixel_fraction", 0.0, 1.0)
        number("telegraph_pixel_fraction", 0.0, 1.0)
        number("telegraph_dwell_frames", 0.0, open_low=True)
        number("dropped_fraction", 0.0, 0.999)
        for name in ("haze_frames", "haze_scale_px", "field_sigma_factor"):
            number(name, 0.0, open_low=True)
        for name in ("focus_sigma_factor", "defocused_sigma_factor"):
            number(name, 0.0, open_low=True)
        number("defocused_fraction", 0.0, 0.999)
        if not isinstance(self.flicker_background, bool | np.bool_):
            raise ValueError(
                f"artifacts.flicker_background must be true or false, got "
                f"{self.flicker_background!r}"
            )
        object.__setattr__(self, "flicker_background", bool(self.flicker_background))
        if self.field_profile not in FIELD_PROFILES:
            raise ValueError(
                f"artifacts.field_profile must be one of {', '.join(FIELD_PROFILES)}, "
                f"got {self.field_profile!r}"
            )
        drift = tuple(self.drift_px)
        if len(drift) != 2 or not all(math.isfinite(float(v)) for v in drift):
            raise ValueError(f"artifacts.drift_px must be a (y, x) pair, got {self.drift_px!r}")
        object.__setattr__(self, "drift_px", (float(drift[0]), float(drift[1])))
        if self.sample_region is not None:
            region = tuple(float(v) for v in self.sample_region)
            if len(region) != 4 or not (
                0.0 <= region[0] < region[1] <= 1.0 and 0.0 <= region[2] < region[3] <= 1.0
            ):
                raise ValueError(
                    "artifacts.sample_region must be (top, bottom, left, right) fractions "
                    f"with top < bottom and left < right in [0, 1], got {self.sample_region!r}"
                )
            object.__setattr__(self, "sample_region", region)

    @classmethod
    def from_value(cls, value: Any) -> Artifacts:
        """An :class:`Artifacts` from itself, a dict of its fields, or ``None`` (none)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = {field.name for field in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"artifacts: unknown field(s) {', '.join(unknown)}")
            return cls(**value)
        raise ValueError(f"artifacts must be an Artifacts, a dict or None, got {value!r}")

    @property
    def active(self) -> bool:
        """Whether any artifact is on."""
        return self != Artifacts()

    @property
    def moves_or_reshapes(self) -> bool:
        """Whether the PSF patches change from frame to frame or emitter to emitter."""
        moves = self.drift_walk_px > 0 or self.drift_jitter_px > 0
        return self.drift_px != (0.0, 0.0) or moves or self.varies_width

    @property
    def varies_width(self) -> bool:
        """Whether the PSF width depends on the emitter or the frame."""
        return (
            self.field_sigma_factor != 1.0
            or self.focus_sigma_factor != 1.0
            or self.defocused_fraction > 0
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields."""
        out = asdict(self)
        out["drift_px"] = list(self.drift_px)
        if self.sample_region is not None:
            out["sample_region"] = list(self.sample_region)
        return out


# ------------------------------------------------------------------ time series
def bleach_lifetimes(rng: np.random.Generator, n: int, lifetime: float | None) -> np.ndarray:
    """Frame at which each of ``n`` emitters bleaches (``inf``: never)."""
    if lifetime is None:
        return np.full(n, np.inf)
    return rng.exponential(lifetime, n)


def drift_path_px(
    rng: np.random.Generator, n_frames: int, linear: tuple[float, float], walk: float
) -> np.ndarray:
    """Stage shift ``(y, x)`` in pixels of every frame, shape ``(n_frames, 2)``
    (its vibration, :func:`stage_jitter_px`, is added apart)."""
    ramp = np.linspace(0.0, 1.0, n_frames)[:, None] * np.asarray(linear)[None, :]
    if walk > 0:
        steps = walk * rng.standard_normal((n_frames, 2))
        steps[0] = 0.0
        ramp = ramp + np.cumsum(steps, axis=0)
    return ramp


def stage_jitter_px(rng: np.random.Generator, n_frames: int, rms: float) -> np.ndarray:
    """Stage vibration: a displacement ``(y, x)`` in pixels drawn anew in every frame,
    ``rms`` along each axis, shape ``(n_frames, 2)`` (zeros for ``rms`` 0)."""
    if rms <= 0:
        return np.zeros((n_frames, 2))
    return rms * rng.standard_normal((n_frames, 2))


def fiducial_positions_nm(
    rng: np.random.Generator, count: int, field_nm: tuple[float, float], margin_nm: float
) -> np.ndarray:
    """``(count, 2)`` positions ``(y, x)`` of fiducial markers, uniform over the field
    at least ``margin_nm`` from its edges (anywhere in it when the field is smaller)."""
    low = np.minimum(margin_nm, 0.5 * np.asarray(field_nm))
    high = np.asarray(field_nm) - low
    return low + (high - low) * rng.random((count, 2))


def laser_factors(rng: np.random.Generator, n_frames: int, flicker: float) -> np.ndarray:
    """Per-frame excitation factor, mean 1 (clipped at 0)."""
    if flicker <= 0:
        return np.ones(n_frames)
    return np.clip(1.0 + flicker * rng.standard_normal(n_frames), 0.0, None)


def beam_profile(shape: tuple[int, int], width: float | None) -> np.ndarray | float:
    """Gaussian illumination profile of mean 1 over a frame of ``shape``, its rms
    width ``width`` times the frame's side along each axis (1.0 for None: flat)."""
    if width is None:
        return 1.0
    axes = [(np.arange(side) - 0.5 * (side - 1)) / (width * side) for side in shape]
    profile = np.exp(-0.5 * (axes[0][:, None] ** 2 + axes[1][None, :] ** 2))
    return profile / profile.mean()


def slow_levels(
    rng: np.random.Generator, n_frames: int, relative_rms: float, frames: float, count: int
) -> np.ndarray:
    """``count`` smooth levels of mean 1, shape ``(n_frames, count)``, clipped at 0.

    White noise smoothed by a Gaussian of ``frames / 2`` frames (so the level
    changes by about its rms over ``frames`` frames), scaled to ``relative_rms``.
    """
    width = max(frames / 2.0, 0.5)
    margin = int(4 * width) + 1
    noise = rng.standard_normal((n_frames + 2 * margin, count))
    smooth = ndimage.gaussian_filter1d(noise, width, axis=0, mode="wrap")[margin:-margin]
    smooth /= math.sqrt(1.0 / (2.0 * math.sqrt(math.pi) * width))  # unit variance
    return np.clip(1.0 + relative_rms * smooth, 0.0, None)


def smooth_patterns(
    rng: np.random.Generator, shape: tuple[int, int], scale_px: float, count: int
) -> np.ndarray:
    """``count`` smooth positive random patterns of mean 1, shape ``(count, *shape)``.

    A scale so much larger than the frame that the filter leaves only rounding
    (``field.std() < 1e-6`` of the white noise's) gives uniform patterns.
    """
    patterns = np.empty((count, *shape))
    for index in range(count):
        field = ndimage.gaussian_filter(rng.standard_normal(shape), scale_px, mode="wrap")
        spread = float(field.std())
        if spread < 1e-6:  # nothing left but the mean: a uniform haze
            patterns[index] = 1.0
            continue
        field /= spread
        pattern = np.exp(0.5 * field)
        patterns[index] = pattern / pattern.mean()
    return patterns


def hot_pixel_map(
    rng: np.random.Generator, shape: tuple[int, int], fraction: float, electrons: float
) -> np.ndarray:
    """Dark signal of every pixel (electrons per frame): ``electrons`` on the hot ones."""
    return np.where(rng.random(shape) < fraction, electrons, 0.0)


def telegraph_levels(
    rng: np.random.Generator,
    shape: tuple[int, int],
    n_frames: int,
    fraction: float,
    dwell_frames: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Random telegraph pixels: their flat indices, and their level (0 or 1) in every
    frame, ``(n_frames, pixels)`` int8.

    Each starts in either level with equal odds (the stationary state) and leaves
    it in each frame with probability ``1 - exp(-1 / dwell_frames)``: dwells of
    ``dwell_frames`` frames on average, a correlation time of half that.
    """
    pixels = np.flatnonzero(rng.random(shape) < fraction)
    first = rng.integers(0, 2, size=pixels.size)
    switches = rng.random((n_frames, pixels.size)) < -math.expm1(-1.0 / dwell_frames)
    switches[0] = False
    levels = (first[None, :] + np.cumsum(switches, axis=0)) % 2
    return pixels, levels.astype(np.int8)


def cosmic_ray_image(rng: np.random.Generator, shape: tuple[int, int], rate: float) -> np.ndarray:
    """Electrons left by the cosmic rays of one frame (short straight tracks)."""
    image = np.zeros(shape)
    for _ in range(int(rng.poisson(rate))):
        length = int(rng.integers(1, 6))
        angle = rng.uniform(0.0, math.pi)
        start = rng.random(2) * np.asarray(shape)
        steps = np.arange(length)[:, None] * np.array([math.sin(angle), math.cos(angle)])
        pixels = np.floor(start + steps).astype(int)
        inside = np.all((pixels >= 0) & (pixels < np.asarray(shape)), axis=1)
        image[pixels[inside, 0], pixels[inside, 1]] += COSMIC_RAY_ELECTRONS
    return image


# ------------------------------------------------------------- varying widths
def field_factor(
    y_nm: np.ndarray,
    x_nm: np.ndarray,
    field_nm: tuple[float, float],
    factor: float,
    profile: str,
) -> np.ndarray:
    """PSF width factor at positions ``(y, x)`` (nm) of a field ``(height, width)`` nm."""
    height, width = field_nm
    if profile == "x":
        fraction = np.clip(x_nm / width, 0.0, 1.0)
    elif profile == "y":
        fraction = np.clip(y_nm / height, 0.0, 1.0)
    else:
        radius = np.hypot(y_nm - height / 2.0, x_nm - width / 2.0)
        fraction = np.clip(radius / math.hypot(height / 2.0, width / 2.0), 0.0, 1.0)
    return 1.0 + (factor - 1.0) * fraction


def focus_factor(frame: int | np.ndarray, n_frames: int, factor: float) -> np.ndarray:
    """PSF width factor of frame ``frame`` (linear from 1 to ``factor``)."""
    fraction = np.asarray(frame, dtype=float) / max(n_frames - 1, 1)
    return 1.0 + (factor - 1.0) * fraction


def _interval_mass(lo: np.ndarray, hi: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Normal mass between ``lo`` and ``hi`` for per-row widths, tails kept precise."""
    a, b = lo / sigma, hi / sigma
    return np.where(a > 0, special.ndtr(-a) - special.ndtr(-b), special.ndtr(b) - special.ndtr(a))


def gaussian_patches(
    y_nm: np.ndarray,
    x_nm: np.ndarray,
    sigx_nm: np.ndarray,
    sigy_nm: np.ndarray,
    theta_deg: float,
    pixel_nm: tuple[float, float],
    half: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-integrated rotated Gaussians of per-emitter widths on square patches.

    Parameters
    ----------
    y_nm, x_nm : ndarray
        Emitter positions, nm.
    sigx_nm, sigy_nm : ndarray
        Per-emitter widths along the rotated axes, nm.
    theta_deg : float
        Rotation (the convention of :class:`smlmlp.simulation.MovieSimulator`).
    pixel_nm : tuple of float
        ``(y, x)`` pixel size.
    half : tuple of int
        Patch half-size ``(rows, columns)``.

    Returns
    -------
    row0, col0, values
        Top-left pixel of each patch and the ``(n, 2 half + 1, 2 half + 1)`` values
        (unit energy, exact erf differences for axis-aligned Gaussians, 8 x 8
        Gauss-Legendre nodes per pixel otherwise).
    """
    py, px = pixel_nm
    centre_row, centre_col = np.floor(y_nm / py), np.floor(x_nm / px)
    uy, ux = y_nm - centre_row * py, x_nm - centre_col * px
    row0 = centre_row.astype(np.int64) - half[0]
    col0 = centre_col.astype(np.int64) - half[1]
    lo_y = np.arange(-half[0], half[0] + 1)[None, :] * py - uy[:, None]
    lo_x = np.arange(-half[1], half[1] + 1)[None, :] * px - ux[:, None]
    sigx = np.asarray(sigx_nm, dtype=float)[:, None]
    sigy = np.asarray(sigy_nm, dtype=float)[:, None]
    turn = theta_deg % 180.0
    if turn in (0.0, 90.0):
        along_y, along_x = (sigy, sigx) if turn == 0.0 else (sigx, sigy)
        mass_y = _interval_mass(lo_y, lo_y + py, along_y)
        mass_x = _interval_mass(lo_x, lo_x + px, along_x)
        return row0, col0, mass_y[:, :, None] * mass_x[:, None, :]
    nodes, weights = np.polynomial.legendre.leggauss(_ROTATED_NODES)
    nodes, weights = 0.5 * (nodes + 1.0), 0.5 * weights
    yy = (lo_y[:, :, None] + nodes * py).reshape(len(uy), -1)[:, :, None]
    xx = (lo_x[:, :, None] + nodes * px).reshape(len(ux), -1)[:, None, :]
    t = math.radians(theta_deg)
    c, s = math.cos(t), math.sin(t)
    sigx3, sigy3 = sigx[:, :, None], sigy[:, :, None]
    a = c * c / sigx3**2 + s * s / sigy3**2
    cc = s * s / sigx3**2 + c * c / sigy3**2
    b = c * s * (1.0 / sigy3**2 - 1.0 / sigx3**2)
    density = np.exp(-0.5 * (a * xx * xx + 2.0 * b * xx * yy + cc * yy * yy))
    n = _ROTATED_NODES
    ny, nx = 2 * half[0] + 1, 2 * half[1] + 1
    along_x = density.reshape(len(uy), ny, n, nx, n) @ weights
    summed = along_x.transpose(0, 1, 3, 2) @ weights
    norm = py * px / (2.0 * math.pi * sigx[:, :, None] * sigy[:, :, None])
    return row0, col0, summed * norm
