"""The specified ``blink_spatial_psf``: one PSF per channel from raw blinking movies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .backend import cpu_workers, get_backend
from .block import block
from .block_sums import crop_size
from .channel import accumulate_channel, estimate_channel
from .computer import chunk_frames as free_memory_chunk_frames
from .config import Config
from .loading import check_channels
from .psf import PsfEstimate

INFO_KEYS = ("ac", "psf", "fit", "spline", "sigx", "sigy", "theta", "tx", "ty", "coeffs")


@block
def blink_spatial_psf(
    channels: Sequence[Any],
    /,
    crop_pix: int = 41,
    *,
    channels_pixels_nm: Any = 100.0,
    cuda: bool = False,
    parallel: bool = False,
    chunk_frames: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    full_output: bool = False,
    time_windows: int = 1,
    field_tiles: Sequence[int] | None = None,
    fiducials: bool = True,
) -> (
    tuple[list[float], dict[str, list[Any]]]
    | tuple[list[float], dict[str, list[Any]], list[PsfEstimate]]
):
    """Estimate a global PSF for each channel from spatial autocorrelations.

    This function computes, for each channel, a mean spatial autocorrelation,
    derives a PSF image from it, fits a 2D Gaussian model, and builds a 2D spline
    representation of the normalized PSF.

    The returned info dictionary gathers the main intermediate results for each
    channel, including the autocorrelation, PSF, Gaussian fit, spline
    reconstruction, and fitted parameters.

    Parameters
    ----------
    channels : sequence of ndarray
        Sequence of image stacks, one per channel. Each channel is expected to have
        shape (n_frames, height, width). Memmaps and lazily read movies
        (:func:`smlmlp.loading.open_movie`) are read chunk by chunk; channels may
        differ in shape.
    crop_pix : int, optional
        Size of the square crop used around the autocorrelation center. The
        effective crop shape is (crop_pix, crop_pix), made odd as
        ``2 * (crop_pix // 2) + 1`` so that zero lag is the central pixel.
    channels_pixels_nm : float or sequence, optional
        Pixel size in nanometers for each channel. This value is normalized through
        smlmlp.Config so that one pixel size pair is available for each channel: a
        scalar, one ``(y, x)`` pair, or one scalar or pair per channel.
    cuda : bool, optional
        Whether to use CUDA-enabled array operations when supported.
    parallel : bool, optional
        Whether to enable parallel execution in the backend functions (all cores
        as FFT workers).
    chunk_frames : int, optional
        Frames transformed at once; by default sized from the free memory
        (:func:`smlmlp.computer.chunk_frames`). Memory does not grow with the
        number of frames.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` over all channels.
    full_output : bool, optional
        Also return, third, one :class:`smlmlp.psf.PsfEstimate` per channel: the
        standard errors (``sigx_se``, ``sigy_se``, ``theta_se``,
        ``psf_sigma_se``), the QC verdict (``qc``, ``qc_notes``, ``round``) and
        everything in ``info``. ``info`` keeps its ten keys either way.
    time_windows : int, optional
        With ``full_output``, also the PSF in this many consecutive windows of
        frames (focus drift), from the same pass: ``sections["time"]`` of each
        estimate (:mod:`smlmlp.time_windows`).
    field_tiles : (int, int), optional
        With ``full_output``, also the PSF in each tile of an ``(NY, NX)`` grid
        over the field, from the same pass: ``sections["field"]``
        (:mod:`smlmlp.field_tiles`). The channel's PSF then comes from the pixel
        pairs inside the tiles.
    fiducials : bool, optional
        Find fiducial markers (bright spots that never blink, such as beads) in
        frames spread over each channel and leave their pixels out of the pass
        (:mod:`smlmlp.fiducials`; on a vibrating stage they narrow the PSF); False
        keeps them.

    Returns
    -------
    tuple
        A tuple (psf_sigma, info) where:

        - psf_sigma is a list containing one effective PSF width per channel,
          computed as sqrt(sigx * sigy), in nanometers,
        - info is a dictionary containing the main intermediate results.

        The dictionary contains the following keys, each a list with one entry
        per channel:

        'ac'
            Mean cropped autocorrelation image for each channel.
        'psf'
            Normalized PSF image for each channel.
        'fit'
            Normalized Gaussian fit image for each channel.
        'spline'
            Spline-interpolated PSF image for each channel.
        'sigx'
            Fitted Gaussian sigma along x, in nanometers.
        'sigy'
            Fitted Gaussian sigma along y, in nanometers.
        'theta'
            Fitted Gaussian rotation angle, in degrees.
        'tx'
            Spline knot positions along x.
        'ty'
            Spline knot positions along y.
        'coeffs'
            Spline coefficients.

    Raises
    ------
    TypeError, ValueError
        Naming the channel or argument: not a sequence of 3-D stacks, fewer than 2
        frames, frames smaller than the crop, ``crop_pix < 5``, NaN or infinite
        pixels, a stack without any temporal fluctuation, invalid pixel sizes, or
        ``cuda=True`` where CuPy or a CUDA device is missing.

    Warns
    -----
    RuntimeWarning
        When a channel holds no detectable PSF (pure noise); its widths are NaN.

    Notes
    -----
    The PSF image is computed from the autocorrelation using:

    .. math:: \\mathrm{PSF} = \\mathcal{F}^{-1}\\left(\\sqrt{|\\mathcal{F}(AC)|}\\right)

    followed by centering, real-part extraction, and normalization.

    The Gaussian fit is performed away from the central row and column
    intersection defined by the initial mask (Y != 0) & (X != 0).

    Details of this implementation:

    - The autocorrelation is that of the temporal fluctuations (each frame minus
      the mean of its block of frames): static background and overlapping
      emitters do not bias it. It is accumulated from power spectra chunk by
      chunk, summed over blocks in float64, and corrected for the pixel pairs a
      lag loses at the frame edge.
    - Its zero lag holds the white camera noise and its central row and column
      the row/column-correlated noise. They are left out of the fit and replaced
      by the fitted model before the PSF transform, so the noise does not spread
      over the PSF.
    - The Gaussian is fitted with the exact model of what a pixel-integrated,
      rotated elliptical Gaussian PSF gives in the autocorrelation, so pixel
      integration, the square root of an aliased spectrum and the crop do not
      bias sigx and sigy. 'fit' is that model passed through the same transform
      as the PSF image, on the same scale (peak 1).
    - Angle convention: the model is evaluated at x' = x cos(theta) - y sin(theta),
      y' = x sin(theta) + y cos(theta), x the column and y the row offset from
      the centre, as exp(-x'^2 / (2 sigx^2) - y'^2 / (2 sigy^2)), theta in
      (-45, 45]: sigx is the width along the principal axis nearest x, so a PSF
      wider along y has sigy > sigx and theta near 0.
    - Each frame's fluctuation is taken about the mean of its block of frames
      (20 frames, :func:`smlmlp.block_sums.plan_blocks`): slow changes such as
      bleaching, drift or haze do not widen the autocorrelation, and a broad
      background fitted under the Gaussian (:mod:`smlmlp.ac_fit`) takes up what
      remains of them.
    - Standard errors (``full_output=True``): delete-one-group jackknife over
      20 to 39 groups of blocks (:mod:`smlmlp.estimate`).
    - The spline is cubic, interpolating the PSF on the crop grid in nm from the
      centre (:func:`smlmlp.psf.evaluate_spline` evaluates it elsewhere).
    - Pure noise gives NaN widths and a RuntimeWarning, never a plausible value.

    Examples
    --------
    Estimate the PSF for one channel:

    >>> import numpy as np
    >>> channel = np.random.rand(20, 64, 64).astype(np.float32)
    >>> psf_sigma, info = blink_spatial_psf([channel], crop_pix=41)
    >>> len(psf_sigma)
    1
    >>> sorted(info.keys())
    ['ac', 'coeffs', 'fit', 'psf', 'sigx', 'sigy', 'spline', 'theta', 'tx', 'ty']

    Estimate the PSF for multiple channels with different pixel sizes:

    >>> channels = [
    ...     np.random.rand(20, 64, 64).astype(np.float32),
    ...     np.random.rand(20, 64, 64).astype(np.float32),
    ... ]
    >>> psf_sigma, info = blink_spatial_psf(
    ...     channels,
    ...     crop_pix=31,
    ...     channels_pixels_nm=[(100.0, 100.0), (110.0, 110.0)],
    ... )
    >>> len(info["psf"])
    2
    >>> len(info["sigx"])
    2
    """
    size = crop_size(crop_pix)
    stacks = check_channels(channels, min_side=size, cuda=bool(cuda))
    pixels_nm = Config(len(stacks), channels_pixels_nm=channels_pixels_nm).pixels_nm
    if cuda:
        get_backend(cuda=True)  # fail before any work when the GPU is missing
    workers = None if cuda else cpu_workers(bool(parallel))
    totals = [int(stack.shape[0]) for stack in stacks]
    done_before = 0

    estimates: list[PsfEstimate] = []
    for index, (stack, pixel_nm) in enumerate(zip(stacks, pixels_nm, strict=True)):
        name = f"channel {index}"

        def report(done: int, _total: int, offset: int = done_before) -> None:
            if progress is not None:
                progress(offset + done, sum(totals))

        frame_shape = (int(stack.shape[1]), int(stack.shape[2]))
        sums = accumulate_channel(
            stack,
            crop_pix=size,
            field_tiles=field_tiles,
            fiducials=fiducials,
            time_windows=time_windows,
            chunk_frames=chunk_frames or free_memory_chunk_frames(frame_shape, cuda=bool(cuda)),
            cuda=bool(cuda),
            workers=workers,
            progress=report,
            name=name,
            kept_crop=size,  # estimated right away: no larger crop is asked for
        )
        estimate = estimate_channel(
            sums,
            size,
            pixel_nm,
            name=name,
            errors=full_output,
            time_windows=time_windows if full_output else 1,
        )
        estimates.append(estimate)
        done_before += totals[index]

    info = {key: [getattr(estimate, key) for estimate in estimates] for key in INFO_KEYS}
    psf_sigma = [estimate.psf_sigma for estimate in estimates]
    if full_output:
        return psf_sigma, info, estimates
    return psf_sigma, info
