"""Command line: ``smlmlp psf FILE... -o OUT.h5`` for one-off use without Snakemake,
``smlmlp export --smap INFO.h5 [--channel NAME] [-o OUT_3dcal.mat]`` to hand a channel's
spline PSF to SMAP or DECODE (:mod:`smlmlp.export`), and ``smlmlp inspect FILE...`` to
see what the readers find in movie files (frames, pixel size, exposure, channels).

Each movie file is one channel (two with ``--split``), and each channel of a file of
several one channel, ``STEM_NAME`` (:mod:`smlmlp.file_channels`). The info file has the
same layout as the workflow's ``psf_info.h5`` (see :mod:`smlmlp.infofile`).
A file is read by the reader of its extension (TIFF and MetaMorph ``.stk``,
``.dax``, Picasso ``.raw``, ``.ims``, OME-Zarr, ``.czi``, ``.nd2``, Leica ``.lif`` / ``.lof``,
``.sif``, ``.spe``, HDF5, NumPy ``.npy``, Hamamatsu ``.dcimg`` and HCImage ``.cxd``:
:func:`smlmlp.loading.open_movie`).
Pixel size: ``--pixel-nm`` when given, else the one stored in the file
(OME-XML, ImageJ or Micro-Manager metadata, or the other formats' own, see
:mod:`smlmlp.formats`); a file with neither is an error
(the precedence of :func:`smlmlp.config.resolve_setting`, the workflow's too).
The table gives every width with its standard error (``126.2 ± 0.8``) and the QC
verdict of each channel; notes explain a "warn". With ``--wavelength-nm`` and ``--na``
it also gives the diffraction-limited sigma ``0.21 * wavelength / NA`` and sigma over
it (also in the file: ``expected_sigma_nm``, ``sigma_over_expected``). The movies'
paths are stored absolute (``source_files``; ``source_files_relative_to`` is empty).
With ``--on-time`` the blinking on-time of the movies is measured too
(:func:`smlmlp.blink_temporal_on`, every movie read twice more) and written as
the workflow writes it (``/{channel}/temporal``, ``/temporal_average``, root
attributes ``on_time_ms``, ``on_time_frames``). Exposure: ``--exposure-ms``, else
the file's; unknown, the on-time is in frames only (``on_time_ms`` NaN).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .backend import cpu_workers
from .blink_temporal_on import DEFAULT_TEMPORAL_LAGS, FALLBACK_PSF_SIGMA_NM
from .config import numerical_aperture, optics_half_given, wavelength_nm
from .estimate import MIN_JACKKNIFE_GROUPS, PART_WIDTHS
from .formats import movie_name
from .infofile import (
    ChannelInfo,
    TemporalInfo,
    format_value,
    format_widths,
    package_version,
    write_info,
)
from .loading import HALF_NAMES
from .progress import ProgressBar
from .text_table import aligned_lines


@contextlib.contextmanager
def _warnings_printed() -> Iterator[None]:
    """The warnings of the work inside, printed on stderr as one line each
    (``smlmlp: warning: ...``) once it is done, not as Python shows them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        _print_warning(str(warning.message))


def _print_warning(message: str) -> None:
    """One warning line on stderr, as the command prints every warning."""
    print(f"smlmlp: warning: {message}", file=sys.stderr)


def _progress_bar(label: str, args: argparse.Namespace) -> ProgressBar:
    """The bar of one pass on stderr: none with ``-q``; with ``--progress`` even when
    stderr is not a terminal (then the bar's redraws are lines ending in ``\\r``)."""
    enabled = False if args.quiet else (True if args.progress else None)
    return ProgressBar(label, sys.stderr, enabled=enabled)


def _channel_names(
    files: Sequence[str], split: str | None, file_channels: Sequence[Sequence[str]] | None = None
) -> list[str]:
    """One unique name per channel: the file stem, ``_NAME`` for each channel of a file
    of several (``file_channels``: each file's channels, empty for a file of one), then
    ``_left``/``_right`` with a split.

    Examples
    --------
    >>> _channel_names(["a/red.ome.tif", "b/red.dax", "cell.ome.zarr"], None)
    ['red', 'red_2', 'cell']
    >>> _channel_names(["two.ome.tif"], "horizontal", [("Cy5", "Cy3")])
    ['two_Cy5_left', 'two_Cy5_right', 'two_Cy3_left', 'two_Cy3_right']
    """
    names: list[str] = []
    for index, file in enumerate(files):
        stem = movie_name(file)
        inside = file_channels[index] if file_channels else ()
        stems = [f"{stem}_{channel}" for channel in inside] or [stem]
        if split:
            stems = [f"{one}_{half}" for one in stems for half in HALF_NAMES[split]]
        for candidate in stems:
            name, number = candidate, 2
            while name in names:
                name, number = f"{candidate}_{number}", number + 1
            names.append(name)
    return names


def _movie_files(path: str) -> list[str]:
    """A movie given on the command line as the file(s) that open it: a Micro-Manager
    NDTiff dataset's folder as its first file, any other folder (but an OME-Zarr image)
    as the first file of every movie in it, read as the workflow reads an experiment
    folder (:mod:`smlmlp.folder_movies`: its series and image sequences are one movie
    each; a snapshot beside them is left out, with a line on stderr). A folder without
    a movie is refused with one line."""
    from .folder_movies import folder_series, left_out_files, subfolders_with_movies
    from .formats import supported_formats_text
    from .movie_series import dataset_movie

    if not os.path.isdir(path) or path.rstrip("/\\").lower().endswith(".zarr"):
        return [path]
    head = dataset_movie(path)
    if head is not None:
        return [head]
    movies = folder_series(path)
    left_out = left_out_files(path, movies)
    for name, why in left_out.items():
        print(f"smlmlp: {os.path.join(path, name)}: left out: {why}", file=sys.stderr)
    heads = [os.path.join(path, first) for first in movies if first not in left_out]
    if not heads:
        deeper = subfolders_with_movies(path)
        hint = ""
        if len(deeper) == 1:
            hint = f"its subfolder {deeper[0]} holds movies: give {os.path.join(path, deeper[0])}; "
        elif deeper:
            hint = f"its subfolders {', '.join(deeper)} hold movies: give them; "
        raise ValueError(
            f"{path}: no movie in this folder (movie files: {supported_formats_text()}; "
            f"{hint}the workflow reads folders of experiments, `snakemake plan` lists what "
            "it would read)"
        )
    return heads


def _movie_sources(
    files: Sequence[str],
) -> tuple[list[str], list[tuple], list[tuple[str, int | None]]]:
    """The movies of the files given: the file that opens each (the further files of
    a multi-file series or NDTiff dataset belong to its movie,
    :func:`smlmlp.movie_series.group_movie_paths`), each one's channels (empty for a
    file of one movie, :func:`smlmlp.loading.list_channels`), and ``(file, channel)``
    of every movie to measure, in order (channel None for a file of one movie)."""
    from .loading import list_channels
    from .movie_series import group_movie_paths

    given = [movie for file in files for movie in _movie_files(file)]
    heads = [group[0] for group in group_movie_paths(given)]
    file_channels = [list_channels(file) for file in heads]
    sources: list[tuple[str, int | None]] = []
    for file, channels in zip(heads, file_channels, strict=True):
        sources += [(file, index) for index in range(len(channels))] or [(file, None)]
    return heads, file_channels, sources


def _pixel_from_args(values: Sequence[float] | None) -> tuple[float, float] | None:
    if not values:
        return None
    from .config import normalise_pixels_nm

    value: Any = values[0] if len(values) == 1 else list(values)
    return normalise_pixels_nm(value, 1, name="--pixel-nm")[0]


def _wavelengths_from_args(
    values: Sequence[float] | None, names: Sequence[str]
) -> dict[str, float | None]:
    """``--wavelength-nm``: one value for every channel or one per channel, checked.

    Examples
    --------
    >>> _wavelengths_from_args([670.0], ["red", "green"])
    {'red': 670.0, 'green': 670.0}
    >>> _wavelengths_from_args([670, 520, 600], ["red", "green"])
    Traceback (most recent call last):
    ...
    ValueError: --wavelength-nm: 3 wavelengths for 2 channel(s) (red, green); give one ...
    """
    if not values:
        return dict.fromkeys(names)
    checked = [wavelength_nm(value, "--wavelength-nm") for value in values]
    if len(checked) == 1:
        return dict.fromkeys(names, checked[0])
    if len(checked) != len(names):
        raise ValueError(
            f"--wavelength-nm: {len(checked)} wavelengths for {len(names)} channel(s) "
            f"({', '.join(names)}); give one for every channel or one per channel"
        )
    return dict(zip(names, checked, strict=True))


def format_table(channels: Sequence[ChannelInfo]) -> str:
    """The table of sigmas, with their standard errors and QC verdicts, printed at the end.

    Examples
    --------
    >>> print(format_table([ChannelInfo.empty_example("red")]))
    channel  frames  pixel y x (nm)  sigx (nm)  sigy (nm)  theta (deg)  sigma (nm)  QC
    red         500  100.0 100.0         130.0      130.0          0.0       130.0  valid

    With the wavelength and the numerical aperture (``--wavelength-nm``, ``--na``), the
    diffraction-limited sigma ``0.21 * wavelength / NA`` and the ratio follow sigma:

    >>> info = ChannelInfo.empty_example("red")
    >>> info.attrs.update(wavelength_nm=670.0, na=1.4)
    >>> header, row = format_table([info]).splitlines()
    >>> header.split("  ")[-4:], row.split()[-4:]
    (['sigma (nm)', 'expected (nm)', 'sigma/expected', 'QC'], ['130.0', '100.5', '1.29', 'valid'])
    """
    header = (
        "channel",
        "frames",
        "pixel y x (nm)",
        "sigx (nm)",
        "sigy (nm)",
        "theta (deg)",
        "sigma (nm)",
        "QC",
    )
    optics = any(math.isfinite(c.expected_sigma_nm) for c in channels)
    if optics:  # beside sigma: the diffraction limit 0.21 wavelength / NA, and the ratio
        header = (*header[:7], "expected (nm)", "sigma/expected", header[-1])
    rows = []
    notes = []
    for c in channels:
        text = {
            key: value.removesuffix(" nm").removesuffix("°") for key, value in c.formatted().items()
        }
        row = [
            c.name,
            str(c.n_frames),
            f"{c.pixel_nm[0]:.1f} {c.pixel_nm[1]:.1f}",
            text["sigx"],
            text["sigy"],
            text["theta"],
            text["sigma"],
        ]
        if optics:
            ratio = format_value(c.sigma_over_expected, digits=2)
            row += [format_value(c.expected_sigma_nm), ratio]
        rows.append((*row, c.qc))
        notes += [f"{c.name}: {note}" for note in c.qc_notes]
    return "\n".join(aligned_lines(header, rows, left=(0, 2, len(header) - 1)) + notes)


def format_sections(channel: ChannelInfo) -> str:
    """The channel's PSF over time (``--time-windows``) and across the field
    (``--tiles``), as printed under the table; empty when it has neither.

    Examples
    --------
    The angle of a window whose PSF is round within its errors says ``round``, as the
    channel's table does (:func:`smlmlp.estimate.is_round`):

    >>> info = ChannelInfo.empty_example("red")
    >>> info.sections["time"] = {
    ...     "frame_start": np.array([0, 500]), "frame_stop": np.array([500, 1000]),
    ...     "sigx_nm": np.array([135.0, 129.5]), "sigy_nm": np.array([127.0, 128.5]),
    ...     "psf_sigma_nm": np.array([131.0, 129.0]), "theta_deg": np.array([0.5, -0.5]),
    ...     **{key + "_se": np.array([0.8, 0.7]) for key in
    ...        ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm")}}
    >>> print(format_sections(info))
    red: PSF over time
    frames   sigx (nm)    sigy (nm)    theta (deg)  sigma (nm)
    0-499    135.0 ± 0.8  127.0 ± 0.8    0.5 ± 0.8  131.0 ± 0.8
    500-999  129.5 ± 0.7  128.5 ± 0.7        round  129.0 ± 0.7
    >>> for key in ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm"):
    ...     info.sections["time"][key + "_se"][1] = np.nan  # fewer than 5 groups of frames
    >>> print(format_sections(info).splitlines()[-1])
    (no ±: a window of fewer than 5 groups of frames; ask for fewer windows)
    >>> info.sections = {"field": {
    ...     "psf_sigma_nm": np.array([[131.0, 128.5]]), "psf_sigma_nm_se": np.array([[0.8, 0.7]]),
    ...     "row_centre_px": np.array([63.5]), "column_centre_px": np.array([31.5, 95.5])}}
    >>> print(format_sections(info))
    red: sigma across the field (nm; tiles by the pixel at their centre)
    y \\ x (px)  31.5         95.5
    63.5        131.0 ± 0.8  128.5 ± 0.7
    """
    blocks = []
    time = channel.sections.get("time")
    if time is not None:
        keys = PART_WIDTHS
        header = ("frames", "sigx (nm)", "sigy (nm)", "theta (deg)", "sigma (nm)")
        rows, without_errors = [], False
        for i in range(len(time["frame_start"])):
            values = {k: (float(time[k][i]), float(time[f"{k}_se"][i])) for k in keys}
            cells = format_widths(values)  # a round window's angle reads "round"
            sigma, sigma_se = values["psf_sigma_nm"]
            without_errors |= math.isfinite(sigma) and not math.isfinite(sigma_se)
            frames = f"{int(time['frame_start'][i])}-{int(time['frame_stop'][i]) - 1}"
            rows.append((frames, *(cells[k] for k in keys)))
        lines = [f"{channel.name}: PSF over time", *aligned_lines(header, rows, left=(0,))]
        if without_errors:
            lines.append(
                f"(no ±: a window of fewer than {MIN_JACKKNIFE_GROUPS} groups of frames; ask "
                "for fewer windows)"
            )
        blocks.append(lines)
    field = channel.sections.get("field")
    if field is not None:
        sigma, errors = np.asarray(field["psf_sigma_nm"]), np.asarray(field["psf_sigma_nm_se"])
        header = ("y \\ x (px)", *(f"{x:g}" for x in field["column_centre_px"]))
        rows = [
            (
                f"{y:g}",
                *(
                    format_value(float(v), float(e))
                    for v, e in zip(sigma[i], errors[i], strict=True)
                ),
            )
            for i, y in enumerate(field["row_centre_px"])
        ]
        title = f"{channel.name}: sigma across the field (nm; tiles by the pixel at their centre)"
        blocks.append([title, *aligned_lines(header, rows, left=(0,))])
    return "\n\n".join("\n".join(block) for block in blocks)


def run_psf(args: argparse.Namespace) -> int:
    """The ``psf`` command: the same stages and checks as the library and the workflow."""
    from .block_sums import crop_size
    from .channel import accumulate_channel, estimate_channel
    from .computer import chunk_frames as free_memory_chunk_frames
    from .config import resolve_setting
    from .field_tiles import check_tiles
    from .formats import path_size
    from .loading import check_frame_count, open_movie, split_movie
    from .time_windows import check_windows

    output = Path(args.output)
    if output.suffix.lower() not in (".h5", ".hdf5"):
        raise ValueError(f"{output}: the output must be an .h5 file")
    if output.is_dir():
        raise ValueError(f"{output}: is a folder; give the info file to write")
    folder = output.parent
    if not folder.is_dir():
        raise ValueError(f"{output}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{output}: cannot write in {folder} (permission denied)")
    crop_size(args.crop_pix, "--crop-pix")
    check_windows(args.time_windows, "--time-windows")
    tiles = None if args.tiles is None else check_tiles(args.tiles, "--tiles")
    pixel_arg = _pixel_from_args(args.pixel_nm)
    if args.exposure_ms is not None and not (
        math.isfinite(args.exposure_ms) and args.exposure_ms > 0
    ):
        raise ValueError(f"--exposure-ms: must be positive, got {args.exposure_ms:g}")
    for option, value, least in (
        ("--temporal-lags", args.temporal_lags, 2),
        ("--workers", args.workers, 1),
        ("--chunk-frames", args.chunk_frames, 1),
        ("--min-frames", args.min_frames, 1),
    ):
        if value is not None and value < least:
            raise ValueError(f"{option}: must be at least {least}, got {value}")
    workers = None if args.cuda else (args.workers or cpu_workers(True))
    heads, file_channels, sources = _movie_sources(args.files)
    names = _channel_names(heads, args.split, file_channels)
    wavelengths = _wavelengths_from_args(args.wavelength_nm, names)
    na = None if args.na is None else numerical_aperture(args.na, "--na")
    if message := optics_half_given(args.wavelength_nm, na, "--wavelength-nm", "--na"):
        _print_warning(message)
    if not args.on_time and args.temporal_lags != DEFAULT_TEMPORAL_LAGS:
        _print_warning("--temporal-lags without --on-time: ignored (the lags of the on-time)")
    channels: list[ChannelInfo] = []
    name_iter = iter(names)
    for file, file_channel in sources:
        with open_movie(file, channel=file_channel) as movie:
            stacks = split_movie(movie, args.split, name=file) if args.split else [movie]
            inside = movie.channel_names[movie.channel] if file_channel is not None else None
            pixel, origin = resolve_setting(
                [["--pixel-nm", pixel_arg]], movie.metadata.get("pixel_nm")
            )
            if pixel is None:
                where = file if inside is None else f"{file} (channel {inside})"
                raise ValueError(
                    f"{where}: no pixel size in the file's metadata; give it with --pixel-nm"
                )
            exposure, exposure_origin = resolve_setting(
                [["--exposure-ms", args.exposure_ms]], movie.metadata.get("exposure_ms")
            )
            for half, stack in enumerate(stacks):
                name = next(name_iter)
                label = f"{name} ({file})"
                check_frame_count(int(stack.shape[0]), label, args.min_frames)
                frame_shape = (int(stack.shape[1]), int(stack.shape[2]))
                with _warnings_printed(), _progress_bar(name, args) as progress:
                    sums = accumulate_channel(
                        stack,
                        crop_pix=args.crop_pix,
                        field_tiles=tiles,
                        time_windows=args.time_windows,
                        chunk_frames=free_memory_chunk_frames(frame_shape, cuda=args.cuda)
                        if args.chunk_frames is None
                        else args.chunk_frames,
                        cuda=args.cuda,
                        workers=workers,
                        progress=progress,
                        name=label,
                        kept_crop=args.crop_pix,  # estimated right away
                        fiducials=not args.keep_fiducials,
                    )
                with _warnings_printed():
                    estimate = estimate_channel(
                        sums, args.crop_pix, pixel, name=label, time_windows=args.time_windows
                    )
                channels.append(
                    ChannelInfo.from_estimate(
                        name,
                        estimate,
                        n_frames=sums.total_frames,
                        source_files=[os.path.abspath(p) for p in movie.paths],
                        source_sizes_bytes=[path_size(p) for p in movie.paths],
                        attrs={
                            "source_files_relative_to": "",  # absolute paths
                            "crop_pix": int(estimate.ac.shape[0]),
                            "pixel_nm_origin": origin,
                            "exposure_ms": exposure,
                            "exposure_ms_origin": exposure_origin,
                            "wavelength_nm": wavelengths[name],
                            "na": na,
                            "file_channel": inside,
                            "split": args.split,
                            "half": half if args.split else None,
                            "block_frames": sums.block_frames,
                            "group_frames": sums.group_frames,
                        },
                    )
                )
    temporal = _on_time(args, channels, sources) if args.on_time else None
    settings = {
        "command": "smlmlp psf",
        "files": [str(f) for f in args.files],
        "pixel_nm": list(pixel_arg) if pixel_arg else None,
        "crop_pix": args.crop_pix,
        "split": args.split,
        "cuda": args.cuda,
        "min_frames": args.min_frames,
        "time_windows": args.time_windows,
        "field_tiles": list(tiles) if tiles else None,
        "fiducials": not args.keep_fiducials,
        "wavelength_nm": args.wavelength_nm,
        "na": args.na,
    }
    if args.on_time:
        settings.update(
            on_time=True, exposure_ms=args.exposure_ms, temporal_lags=args.temporal_lags
        )
    write_info(output, channels, config=settings, temporal=temporal)
    print(results_text(channels, temporal))
    if not args.quiet:
        print(f"wrote {output}", file=sys.stderr)
    return 0


def results_text(channels: Sequence[ChannelInfo], temporal: TemporalInfo | None) -> str:
    """What ``smlmlp psf`` prints of its results, and ``smlmlp inspect`` of an info file:
    the channels' table (:func:`format_table`), the on-time line when there is one, then
    each channel's windows and tiles (:func:`format_sections`)."""
    lines = [format_table(channels)]
    if temporal is not None:
        lines.append(_on_time_line(temporal))
    lines += [f"\n{parts}" for channel in channels if (parts := format_sections(channel))]
    return "\n".join(lines)


def _on_time(
    args: argparse.Namespace,
    channels: Sequence[ChannelInfo],
    sources: Sequence[tuple[str, int | None]],
) -> TemporalInfo:
    """The ``--on-time`` pass over every channel (their movies read twice more), the
    movies ``sources`` of :func:`_movie_sources`."""
    from .blink_temporal_on import blink_temporal_on
    from .loading import open_movie, split_movie

    sigmas = []
    for channel in channels:
        sigma = channel.psf_sigma_nm
        if not math.isfinite(sigma):
            sigma = FALLBACK_PSF_SIGMA_NM
            print(
                f"smlmlp: {channel.name}: no PSF found; the on-time's background filter uses "
                f"a PSF sigma of {sigma:g} nm",
                file=sys.stderr,
            )
        sigmas.append(sigma)
    with contextlib.ExitStack() as opened:
        stacks: list[Any] = []
        for file, file_channel in sources:
            movie = opened.enter_context(open_movie(file, channel=file_channel))
            stacks += split_movie(movie, args.split, name=file) if args.split else [movie]
        most = min(int(stack.shape[0]) for stack in stacks) // 2 - 1
        crop_fr = most if args.temporal_lags is None else min(args.temporal_lags, most)
        if crop_fr < 1:
            raise ValueError("too few frames for a temporal autocorrelation")
        with _warnings_printed(), _progress_bar("on-time", args) as progress:
            on_time, info, errors = blink_temporal_on(
                stacks,
                crop_fr,
                sigmas,
                exposure_ms=1.0,
                channels_pixels_nm=[channel.pixel_nm for channel in channels],
                cuda=args.cuda,
                parallel=args.workers != 1,
                progress=progress,
                names=[f"channel {channel.name}" for channel in channels],
                full_output=True,
                fiducials=not args.keep_fiducials,
            )
    names = [channel.name for channel in channels]
    temporal = TemporalInfo.from_result(
        names,
        on_time,
        info,
        channel_attrs={
            name: {"background_psf_sigma_nm": sigma}
            for name, sigma in zip(names, sigmas, strict=True)
        },
        attrs={"temporal_lags": args.temporal_lags},
        errors=errors,
    )
    return temporal.with_exposures({c.name: c.attrs.get("exposure_ms") for c in channels})


def _on_time_line(temporal: TemporalInfo) -> str:
    """The on-time line printed under the table.

    Examples
    --------
    >>> info = TemporalInfo.example(["red"], tau=3.0)
    >>> _on_time_line(info.with_exposures({"red": 20.0}))
    'on-time: 60.0 ms (3.000 frames x 20 ms)'
    >>> _on_time_line(info)
    'on-time: 3.000 frames (exposure unknown, or not the same in every file: give --exposure-ms)'
    >>> info.average.attrs["on_time_frames_se"] = 0.1
    >>> _on_time_line(info.with_exposures({"red": 20.0}))
    'on-time: 60.0 ± 2.0 ms (3.000 frames x 20 ms)'
    """
    if not temporal.average.valid:
        return f"on-time: none found ({temporal.average.attrs.get('reason') or 'no decay'})"
    frames, exposure = temporal.on_time_frames, temporal.exposure_ms
    frames_se = temporal.average.on_time_frames_se
    if math.isfinite(exposure):
        on_time = format_value(temporal.on_time_ms, temporal.on_time_ms_se, " ms")
        return f"on-time: {on_time} ({frames:.3f} frames x {exposure:g} ms)"
    return (
        f"on-time: {format_value(frames, frames_se, ' frames', 3)} (exposure unknown, or not "
        "the same in every file: give --exposure-ms)"
    )


#: The options of ``smlmlp psf`` that take a list of numbers.
NUMBER_LIST_OPTIONS = ("--pixel-nm", "--wavelength-nm")


def numbers_after_files(argv: Sequence[str]) -> list[str]:
    """``argv`` with each option of :data:`NUMBER_LIST_OPTIONS` and the numbers after
    it moved to the end, so that the files after its numbers stay files.

    A list option takes every value after it up to the next option, files included:
    ``psf --pixel-nm 100 movie.tif -o out.h5`` would read ``movie.tif`` as a pixel
    size. Nothing after ``--`` is moved, nor an option given as ``--pixel-nm=100``.

    Examples
    --------
    >>> numbers_after_files(["psf", "--pixel-nm", "108", "104", "a.tif", "-o", "a.h5"])
    ['psf', 'a.tif', '-o', 'a.h5', '--pixel-nm', '108', '104']
    >>> numbers_after_files(["psf", "a.tif", "--wavelength-nm", "670", "b.tif", "-q"])
    ['psf', 'a.tif', 'b.tif', '-q', '--wavelength-nm', '670']
    """
    tokens = list(argv)
    end = tokens.index("--") if "--" in tokens else len(tokens)
    kept: list[str] = []
    moved: list[str] = []
    index = 0
    while index < end:
        token = tokens[index]
        index += 1
        if token not in NUMBER_LIST_OPTIONS:
            kept.append(token)
            continue
        moved.append(token)
        while index < end and _is_number(tokens[index]):
            moved.append(tokens[index])
            index += 1
    return [*kept, *moved, *tokens[end:]]


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    """The ``smlmlp`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="smlmlp",
        description="Point-spread functions of SMLM channels from raw blinking movies.",
    )
    parser.add_argument("--version", action="version", version=f"smlmlp {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    psf = commands.add_parser(
        "psf",
        help="measure the PSF of one or more movies and write an HDF5 info file",
        description=(
            "Measure the PSF of every movie (one channel per file, one per channel of a "
            "file of several, two with --split) and write them to one HDF5 info file; "
            "print the fitted sigmas."
        ),
    )
    psf.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=(
            "movie file(s): TIFF, MetaMorph .stk, pco .pcoraw, .dax, Picasso .raw, .ims, "
            "OME-Zarr (.zarr), .czi, .nd2, Leica .lif / .lof, .sif, an Andor spooled series "
            "(.sifx), .spe, an HDF5 stack (.h5, .hdf5), a NumPy stack (.npy) or a Hamamatsu "
            ".dcimg or HCImage .cxd; the "
            "files of one multi-file OME-TIFF series or Micro-Manager NDTiff dataset are one "
            "movie (its first file names it), "
            "and so are those of an image sequence (one TIFF file per frame); a folder: "
            "every movie in it"
        ),
    )
    psf.add_argument("-o", "--output", required=True, metavar="OUT.h5", help="info file")
    psf.add_argument(
        "--pixel-nm",
        nargs="+",
        type=float,
        metavar=("Y", "X"),
        help="pixel size in nm, one value (square) or Y X; default: from the file",
    )
    psf.add_argument(
        "--crop-pix",
        type=int,
        default=41,
        metavar="N",
        help="side of the autocorrelation crop in pixels (default 41)",
    )
    psf.add_argument(
        "--split",
        choices=sorted(HALF_NAMES),
        help="each frame holds two camera halves: left|right (horizontal) or top/bottom",
    )
    psf.add_argument("--cuda", action="store_true", help="use the GPU (CuPy)")
    psf.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for the FFTs (default: every available core)",
    )
    # every core is the default now; kept so that older command lines still run
    psf.add_argument("--parallel", action="store_true", help=argparse.SUPPRESS)
    psf.add_argument(
        "--time-windows",
        type=int,
        default=1,
        metavar="N",
        help="also the PSF in N consecutive windows of frames (focus drift), same pass",
    )
    psf.add_argument(
        "--tiles",
        type=int,
        nargs=2,
        default=None,
        metavar=("NY", "NX"),
        help="also the PSF in each tile of an NY x NX grid over the field, same pass",
    )
    psf.add_argument(
        "--keep-fiducials",
        action="store_true",
        help="keep fiducial beads (bright spots that never blink) in the passes; by default "
        "they are found and their pixels left out of the PSF's and the on-time's",
    )
    psf.add_argument(
        "--chunk-frames",
        type=int,
        default=None,
        metavar="N",
        help="frames processed at once (default: sized to the free memory)",
    )
    psf.add_argument(
        "--min-frames",
        type=int,
        default=100,
        metavar="N",
        help="reject movies with fewer frames (default 100)",
    )
    psf.add_argument(
        "--on-time",
        action="store_true",
        help="also measure the blinking on-time (reads every movie twice more)",
    )
    psf.add_argument(
        "--exposure-ms",
        type=float,
        default=None,
        metavar="MS",
        help="frame time in ms, for the on-time in ms (default: from the file)",
    )
    psf.add_argument(
        "--temporal-lags",
        type=int,
        default=DEFAULT_TEMPORAL_LAGS,
        metavar="N",
        help=f"lags of the temporal autocorrelation for --on-time (default "
        f"{DEFAULT_TEMPORAL_LAGS}, at most half the frames)",
    )
    psf.add_argument(
        "--wavelength-nm",
        nargs="+",
        type=float,
        metavar="NM",
        help="emission wavelength in nm, one for every channel or one per channel; with "
        "--na the table and the file give the diffraction-limited sigma 0.21 x "
        "wavelength / NA and sigma over it",
    )
    psf.add_argument(
        "--na",
        type=float,
        metavar="NA",
        help="numerical aperture of the objective (at most 1.7)",
    )
    shown = psf.add_mutually_exclusive_group()
    shown.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    shown.add_argument(
        "--progress",
        action="store_true",
        help="draw the progress bar on stderr even when it is not a terminal "
        "(by default only on a terminal)",
    )
    psf.set_defaults(func=run_psf)
    export = commands.add_parser(
        "export",
        help="write a channel's spline PSF for other software (SMAP / DECODE _3dcal.mat)",
        description=(
            "Write a channel's spline PSF from an info file as a SMAP 3-D calibration "
            "(_3dcal.mat, also read by DECODE): one z plane repeated, for 2-D fitting "
            "and simulation with the measured PSF shape."
        ),
    )
    export.add_argument(
        "--smap",
        required=True,
        metavar="INFO.h5",
        help="info file to export from (smlmlp psf or the workflow's psf_info.h5)",
    )
    export.add_argument(
        "--channel",
        metavar="NAME",
        help="channel to export (default: every channel with a PSF, each to its own file)",
    )
    export.add_argument(
        "-o",
        "--output",
        metavar="OUT_3dcal.mat",
        help="file to write (default: INFO_CHANNEL_3dcal.mat beside the info file)",
    )
    export.add_argument("-q", "--quiet", action="store_true", help="no line per file written")
    export.set_defaults(func=run_export)

    inspect = commands.add_parser(
        "inspect",
        help=(
            "what smlmLP reads from movie files (frames, pixel size, exposure, channels), "
            "or the PSFs an info file holds"
        ),
        description=(
            "Print what the readers find in each movie file: its frames, format, the "
            "pixel size and exposure stored in it (used unless --pixel-nm / "
            "experiment.yaml say otherwise), and its channels when it holds several. "
            "For an info file (smlmlp psf's, the workflow's psf_info.h5): the table of "
            "its channels' PSFs, as smlmlp psf printed it."
        ),
    )
    inspect.add_argument("files", nargs="+", metavar="FILE", help="movie or info files")
    inspect.set_defaults(func=run_inspect)
    return parser


def describe_movie(file: str) -> list[str]:
    """What the readers find in a movie file: the lines ``smlmlp inspect`` prints.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, tifffile
    >>> path = os.path.join(tempfile.mkdtemp(), "cell.ome.tif")
    >>> tifffile.imwrite(path, np.zeros((30, 2, 16, 24), np.uint16), metadata={
    ...     "axes": "TCYX", "Channel": {"Name": ["Cy5", "Cy3"]}, "PhysicalSizeX": 0.108,
    ...     "PhysicalSizeY": 0.108})
    >>> for line in describe_movie(path)[1:]:
    ...     print(line)
      frames      30 of 16 x 24 px (height x width), uint16
      format      ome, axes TCYX
      pixel size  108 x 108 nm (y, x)
      exposure    not in the file
      channels    2: Cy5, Cy3 (smlmlp psf names them cell_Cy5, cell_Cy3)
    """
    from .loading import open_movie
    from .movie_series import group_movie_paths

    with open_movie(file, channel=0) as movie:  # channel 0 opens any file: a look at it
        n_frames, height, width = (int(n) for n in movie.shape)
        metadata = dict(movie.metadata)
        dtype = movie.dtype
        channels = tuple(movie.channel_names)
        paths = list(movie.paths)
    pixel, exposure = metadata.get("pixel_nm"), metadata.get("exposure_ms")
    head = group_movie_paths([file])[0][0]  # the file that names its series' movie
    names = ", ".join(_channel_names([head], None, [channels])) if channels else ""
    # the dataset read from an HDF5 file of one (of several, the channels name them)
    dataset = f" (dataset {metadata['dataset']})" if "dataset" in metadata and not channels else ""
    if "image" in metadata and not channels:  # the image read from a Leica project of one
        dataset = f" (image {metadata['image']})"
    if metadata.get("kind") == "tiff-sequence":
        ends = " .. ".join(os.path.basename(path) for path in (paths[0], paths[-1]))
        dataset = f" ({len(paths)} files, {ends})"
    elif metadata.get("kind") == "andor-spool":  # header, layout, then the frames files
        ends = " .. ".join(os.path.basename(path) for path in (paths[2], paths[-1]))
        dataset = f" ({len(paths) - 2} frames files, {ends})"
    return [
        file,
        f"  frames      {n_frames} of {height} x {width} px (height x width), {dtype}",
        f"  format      {metadata.get('kind')}{dataset}, axes {metadata.get('axes')}",
        "  pixel size  "
        + ("not in the file" if pixel is None else f"{pixel[0]:g} x {pixel[1]:g} nm (y, x)"),
        "  exposure    " + ("not in the file" if exposure is None else f"{exposure:g} ms"),
        "  channels    "
        + (f"{len(channels)}: {', '.join(channels)} (smlmlp psf names them {names})"
           if channels else "one"),
    ]


def describe_info_file(file: str) -> list[str]:
    """The lines ``smlmlp inspect`` prints of an info file (``smlmlp psf``'s, the
    workflow's ``psf_info.h5``): what ``smlmlp psf`` printed when it wrote it
    (:func:`results_text`)."""
    from .infofile import INFO_FILE_MARK, read_info

    info = read_info(file)
    version = info.attrs.get(INFO_FILE_MARK)
    written = f", written by smlmLP {version}" if version else ""
    head = f"{file}: PSF info file of {len(info.channels)} channel(s){written}"
    return [head, results_text(list(info.channels.values()), info.temporal)]


def run_inspect(args: argparse.Namespace) -> int:
    """The ``inspect`` command: each movie file as the readers see it, each info file's
    results; a file that cannot be read gets one error line, and the others are still
    described (exit status 1)."""
    from .infofile import is_info_file

    failed, described = False, 0
    for file in args.files:
        try:
            if is_info_file(file):
                blocks = [describe_info_file(file)]
            else:  # a folder: every movie in it
                blocks = [describe_movie(movie) for movie in _movie_files(file)]
        except (ValueError, TypeError, OSError) as error:
            failed = True
            message = " ".join(str(error).split()) or type(error).__name__
            print(f"smlmlp: error: {message}", file=sys.stderr)
            continue
        for lines in blocks:
            print(("\n" if described else "") + "\n".join(lines))  # a blank line between
            described += 1
    return 1 if failed else 0


def run_export(args: argparse.Namespace) -> int:
    """The ``export`` command: a channel's spline as a SMAP / DECODE ``_3dcal.mat``;
    without ``--channel`` every channel with a PSF (a channel without one is told in a
    warning line), each to its own file."""
    from .export import (
        NoPsfFound,
        channel_names,
        default_smap_path,
        read_channel_spline,
        write_smap_calibration,
    )

    info = Path(args.smap)
    if not info.is_file():
        raise ValueError(f"{info}: no such info file")
    names = [args.channel] if args.channel is not None else channel_names(info)
    if not names:
        raise ValueError(f"{info}: holds no channel")
    if args.output is not None and len(names) > 1:
        raise ValueError(
            f"{info}: -o names one file, the info file holds channels {', '.join(names)}: "
            "give --channel NAME"
        )
    without_psf: dict[str, NoPsfFound] = {}
    for name in names:  # every channel checked before anything is written
        try:
            read_channel_spline(info, name)
        except NoPsfFound as error:
            if args.channel is not None:
                raise
            without_psf[name] = error  # every channel asked: the others are exported
    if len(without_psf) == len(names):
        if len(names) == 1:
            raise without_psf[names[0]]
        raise ValueError(f"{info}: no channel with a PSF ({', '.join(names)}): nothing exported")
    for error in without_psf.values():
        _print_warning(str(error))
    names = [name for name in names if name not in without_psf]
    targets = [Path(args.output) if args.output else default_smap_path(info, n) for n in names]
    for target in targets:
        if target.suffix.lower() != ".mat":
            raise ValueError(f"{target}: the output must be a .mat file (SMAP: *_3dcal.mat)")
        if not target.parent.is_dir():
            raise ValueError(f"{target}: the folder {target.parent} does not exist")
    for name, target in zip(names, targets, strict=True):
        write_smap_calibration(info, name, target)
        if not args.quiet:
            print(f"wrote {target} (channel {name})", file=sys.stderr)
    return 0


class Terminated(BaseException):
    """SIGTERM received (a scheduler's or a user's ``kill``): unwind like Ctrl-C."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` in the main thread while the command runs,
    so that its ``finally`` blocks run: reader threads stop, no partial file stays."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smlmlp`` command; returns the exit status.

    Ctrl-C (SIGINT) and SIGTERM stop it cleanly, with nothing written: exit status
    130 and 143, as a shell reports a process ended by those signals.
    """
    parser = build_parser()
    args = parser.parse_args(numbers_after_files(sys.argv[1:] if argv is None else argv))
    if getattr(args, "pixel_nm", None) is not None and len(args.pixel_nm) > 2:
        parser.error("--pixel-nm takes one value or two (Y X)")
    try:
        with _terminate_cleanly():
            return int(args.func(args))
    except KeyboardInterrupt:
        print("smlmlp: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("smlmlp: terminated", file=sys.stderr)
        return 143
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"smlmlp: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
