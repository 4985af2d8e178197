"""One channel from movie to PSF: the two stages every entry point calls.

:func:`smlmlp.blink_spatial_psf`, the ``smlmlp psf`` command and the workflow's
``autocorr`` and ``psf`` rules all go through :func:`accumulate_channel` (one pass
over the frames into block sums, per tile of the field when asked) and
:func:`estimate_channel` (the PSF, its standard errors and verdict, and the PSF
over time and across the field when asked), so they share options, checks and
messages.
"""

from __future__ import annotations

from typing import Any

from .backend import single_threaded_blas
from .block_sums import BlockSums, check_crop_fits, crop_size
from .estimate import estimate_from_sums, fit_start
from .field_tiles import FieldSums, accumulate_field, check_tiles, estimate_field
from .psf import PsfEstimate
from .spectra import ProgressCallback, accumulate_spectrum
from .time_windows import check_windows


def accumulate_channel(
    stack: Any,
    *,
    crop_pix: Any = 5,
    field_tiles: Any = None,
    time_windows: int = 1,
    start: int = 0,
    stop: int | None = None,
    chunk_frames: int | None = None,
    cuda: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
    kept_crop: Any = None,
    fiducials: bool = True,
) -> BlockSums | FieldSums:
    """Block sums of one channel (or frame range of it) in one pass.

    Parameters
    ----------
    stack : array-like
        ``(n_frames, height, width)``.
    crop_pix : int, optional
        The crop the estimate will use: the frames, and every tile, must hold it
        (checked before a frame is read).
    field_tiles : (int, int), optional
        ``(NY, NX)``: sums per tile of the field (:class:`FieldSums`) for the PSF
        across the field. ``None`` or ``(1, 1)``: the whole frame.
    time_windows : int, optional
        Windows of frames the PSF will be estimated in (shorter groups).
    start, stop, chunk_frames, cuda, workers, progress, name, kept_crop, fiducials
        As :func:`smlmlp.spectra.accumulate_spectrum` (``kept_crop``: the largest
        crop the sums will be asked for, by default the largest the frames allow;
        ``fiducials``: leave out the beads that never blink, :mod:`smlmlp.fiducials`).

    Returns
    -------
    BlockSums or FieldSums
    """
    time_windows = check_windows(time_windows)
    tiles = None if field_tiles is None else check_tiles(field_tiles)
    check_crop_fits(stack.shape[1:], crop_pix, name)  # before a frame is read
    options = dict(
        start=start,
        stop=stop,
        chunk_frames=chunk_frames,
        time_windows=time_windows,
        cuda=cuda,
        workers=workers,
        progress=progress,
        name=name,
        kept_crop=kept_crop,
        fiducials=fiducials,
    )
    if tiles is None or tiles == (1, 1):
        return accumulate_spectrum(stack, **options)
    return accumulate_field(stack, tiles, min_side=crop_size(crop_pix), **options)


def estimate_channel(
    sums: BlockSums | FieldSums,
    crop_pix: Any,
    pixel_nm: tuple[float, float],
    *,
    name: str = "channel 0",
    errors: bool = True,
    time_windows: int = 1,
) -> PsfEstimate:
    """The channel's PSF; with field sums also per tile (``sections["field"]``).

    Parameters
    ----------
    sums : BlockSums or FieldSums
        From :func:`accumulate_channel` (merged when the movie was cut).
    crop_pix, pixel_nm, name, errors, time_windows
        As :func:`smlmlp.estimate.estimate_from_sums`.

    Returns
    -------
    PsfEstimate

    Examples
    --------
    >>> from smlmlp.simulation import simulate_movie
    >>> movie, _ = simulate_movie(400, (64, 64), sigx_nm=130.0, seed=4)
    >>> sums = accumulate_channel(movie, crop_pix=21, field_tiles=(2, 2))
    >>> estimate = estimate_channel(sums, 21, (100.0, 100.0))
    >>> estimate.sections["field"]["psf_sigma_nm"].shape
    (2, 2)
    """
    with single_threaded_blas():  # small products: threads would only wait spinning
        return _estimate_channel(sums, crop_pix, pixel_nm, name, errors, time_windows)


def _estimate_channel(
    sums: BlockSums | FieldSums,
    crop_pix: Any,
    pixel_nm: tuple[float, float],
    name: str,
    errors: bool,
    time_windows: int,
) -> PsfEstimate:
    if isinstance(sums, FieldSums):
        estimate = estimate_from_sums(
            sums.combined(),
            crop_pix,
            pixel_nm,
            name=name,
            errors=errors,
            time_windows=time_windows,
        )
        estimate.sections["field"] = estimate_field(
            sums, crop_pix, estimate.pixel_nm, name=name, start=fit_start(estimate)
        )
        return estimate
    return estimate_from_sums(
        sums, crop_pix, pixel_nm, name=name, errors=errors, time_windows=time_windows
    )
