"""Report figures: one page per channel, and the sigmas of every experiment at a glance.

A channel's page shows its PSF and, when the info file holds the blinking on-time,
the temporal autocorrelation of the channel and of the experiment with their
fitted exponentials.

The figures are drawn with Matplotlib's object-oriented API on the Agg canvas
(no display, no global pyplot state), and written whole or not at all.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import PathLike, atomic_path
from .estimate import MIN_JACKKNIFE_GROUPS
from .infofile import (
    ChannelInfo,
    TemporalCurve,
    TemporalInfo,
    format_value,
    read_info,
)
from .psf import NO_PSF_NOTE

#: Most tiles a side for which the sigma map writes each tile's sigma and error.
LABELLED_TILES = 6


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _lags_nm(size: int, pixel_nm: float) -> np.ndarray:
    """Lag (or position) of each crop pixel in nm, zero at the centre."""
    return (np.arange(size) - size // 2) * pixel_nm


def channel_title(channel: ChannelInfo, experiment: str | None = None) -> str:
    """Title lines with the fitted numbers, their standard errors and the QC verdict.

    Examples
    --------
    >>> print(channel_title(ChannelInfo.empty_example("red"), "day1"))
    day1 / red: σx = 130.0 nm, σy = 130.0 nm, θ = 0.0°, σ = 130.0 nm
    (pixel 100 × 100 nm, 500 frames; QC valid)
    """
    name = f"{experiment} / {channel.name}" if experiment else channel.name
    pixel_y, pixel_x = channel.pixel_nm
    text = channel.formatted()
    fitted = (
        f"σx = {text['sigx']}, σy = {text['sigy']}, θ = {text['theta']}, σ = {text['sigma']}"
        if channel.valid
        else "no PSF found" + (f" ({why})" if (why := no_psf_reason(channel)) else "")
    )
    verdict = f"QC {channel.qc}"
    notes = [note.split(":")[0] for note in channel.qc_notes]
    if notes and channel.valid:
        verdict += ": " + ", ".join(notes)
    return (
        f"{name}: {fitted}\n(pixel {pixel_y:g} × {pixel_x:g} nm, {channel.n_frames} frames; "
        f"{verdict})"
    )


def no_psf_reason(channel: ChannelInfo) -> str:
    """Why an invalid channel has no PSF, from its QC notes ("" when they do not say).

    >>> channel = ChannelInfo.empty_example("noise")
    >>> channel.qc_notes = ("no PSF found: autocorrelation peak only 0.5 times its noise",)
    >>> no_psf_reason(channel)
    'autocorrelation peak only 0.5 times its noise'
    """
    return next(
        (note[len(NO_PSF_NOTE) :] for note in channel.qc_notes if note.startswith(NO_PSF_NOTE)),
        "",
    )


def _image(
    axes: Any,
    figure: Any,
    image: np.ndarray,
    extent: list[float],
    title: str,
    *,
    cmap: str = "viridis",
    symmetric: bool = False,
    label: str = "",
) -> None:
    if symmetric:
        limit = float(np.nanmax(np.abs(image))) or 1.0
        shown = axes.imshow(
            image,
            extent=extent,
            origin="lower",
            cmap=cmap,
            vmin=-limit,
            vmax=limit,
            interpolation="nearest",
        )
    else:
        shown = axes.imshow(
            image, extent=extent, origin="lower", cmap=cmap, interpolation="nearest"
        )
    axes.set_title(title)
    axes.set_xlabel("x (nm)")
    axes.set_ylabel("y (nm)")
    bar = figure.colorbar(shown, ax=axes, shrink=0.85)
    if label:
        bar.set_label(label)


def _on_time_text(curve: TemporalCurve) -> str:
    """The on-time in ms, or in frames when the exposure is unknown, ± its standard
    error where it has one (the experiment's).

    Examples
    --------
    >>> _on_time_text(TemporalCurve.example(3.0, 20.0)), _on_time_text(TemporalCurve.example(3.0))
    ('60.0 ms', '3.00 frames')
    >>> curve = TemporalCurve.example(3.0, 20.0)
    >>> curve.attrs["on_time_frames_se"] = 0.034
    >>> _on_time_text(curve), _on_time_text(curve.with_exposure(None))
    ('60.0 ± 0.7 ms', '3.00 ± 0.03 frames')
    """
    if not curve.valid:
        return "none found"
    if math.isfinite(curve.exposure_ms):
        return format_value(curve.on_time_ms, curve.on_time_ms_se, " ms")
    return format_value(curve.on_time_frames, curve.on_time_frames_se, " frames", digits=2)


def temporal_panel(axes: Any, temporal: TemporalInfo, channel: str | None = None) -> None:
    """The temporal autocorrelation of ``channel`` and of the experiment, with their fits.

    The lag axis is in ms (in frames when the exposure is unknown, or when the
    experiment's channels were recorded with different exposures, so that their average
    has no time scale) and shows the decay (the fitted range and a quarter more); the
    on-times are in the legend and the title.

    Examples
    --------
    >>> figure = _figure(6, 3)
    >>> temporal = TemporalInfo.example(["red", "green"]).with_exposures({"red": 20, "green": 20})
    >>> temporal_panel(figure.subplots(), temporal, "red")
    >>> figure.axes[0].get_xlabel()
    'lag (ms)'
    """
    average = temporal.average
    curve = temporal.channels.get(channel) if channel is not None else None
    in_ms = math.isfinite(average.exposure_ms) and (
        curve is None or math.isfinite(curve.exposure_ms)
    )
    exposures = [c.exposure_ms for c in temporal.channels.values()]
    differ = not in_ms and any(math.isfinite(e) for e in exposures)
    fitted = [c.attrs.get("fit_lags") for c in (average, curve) if c is not None and c.valid]
    shown = min(average.crop_fr, max([20, *(math.ceil(1.25 * int(n)) for n in fitted if n)]))

    def lag_axis(c: TemporalCurve) -> np.ndarray:
        return (c.time_ms if in_ms else c.lags.astype(float))[:shown]

    several = len(temporal.channels) > 1
    if curve is not None:
        axes.plot(
            lag_axis(curve),
            curve.ac[:shown],
            "o",
            color="tab:blue",
            ms=3.5,
            label=f"{channel}: on-time {_on_time_text(curve)}",
        )
        if curve.valid:  # no fit to draw where no decay was found
            axes.plot(
                lag_axis(curve),
                curve.fit[:shown],
                "-",
                color="tab:blue",
                lw=1.5,
                label=f"{channel}: fitted exponential",
            )
    if several or curve is None:
        axes.plot(
            lag_axis(average),
            average.ac[:shown],
            "s",
            color="0.45",
            ms=3,
            mfc="none",
            label=f"average of {len(temporal.channels)} channel(s): on-time "
            f"{_on_time_text(average)}",
        )
        if average.valid:
            axes.plot(
                lag_axis(average),
                average.fit[:shown],
                "--",
                color="black",
                lw=1.2,
                label="average: fitted exponential",
            )
    if average.valid:
        position = average.on_time_ms if in_ms else average.on_time_frames
        if math.isfinite(position):
            axes.axvline(position, color="tab:red", lw=0.9, ls=":", label="experiment's on-time")
    axes.axhline(0.0, color="0.6", lw=0.8)
    axes.set_xlim(0.0, float(lag_axis(average)[-1]))
    if in_ms:
        axes.set_xlabel("lag (ms)")
    else:
        why = "the channels' exposures differ" if differ else "exposure unknown"
        axes.set_xlabel(f"lag (frames; {why})")
    axes.set_ylabel("autocovariance per pixel (ADU²)")
    title = f"Temporal autocorrelation: on-time {_on_time_text(average)} (experiment)"
    if curve is not None and several:
        title += f", {_on_time_text(curve)} ({channel})"
    axes.set_title(f"{title}; lags 1–{shown} of {average.crop_fr} frames")
    axes.legend(fontsize="small", loc="upper right")
    axes.grid(True, alpha=0.3)


def channel_figure(
    channel: ChannelInfo, experiment: str | None = None, temporal: TemporalInfo | None = None
) -> Any:
    """Figure of one channel: AC, PSF, Gaussian fit, residual, spline and profiles.

    Parameters
    ----------
    channel : ChannelInfo
        The channel's result.
    experiment : str, optional
        Experiment name for the title.
    temporal : TemporalInfo, optional
        The experiment's on-time: adds a row with the temporal autocorrelation
        (:func:`temporal_panel`).

    The PSF over time (``channel.sections["time"]``) adds a row of sigma against
    frame (:func:`time_panel`), the PSF across the field (``"field"``) a row with
    the maps of sigma and of the ellipticity (:func:`field_panels`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = channel_figure(ChannelInfo.empty_example("red"), "day1")
    >>> len(figure.axes) >= 6
    True
    """
    pixel_y, pixel_x = channel.pixel_nm
    rows, columns = channel.psf.shape
    y_nm = _lags_nm(rows, pixel_y)
    x_nm = _lags_nm(columns, pixel_x)
    extent = [
        x_nm[0] - pixel_x / 2,
        x_nm[-1] + pixel_x / 2,
        y_nm[0] - pixel_y / 2,
        y_nm[-1] + pixel_y / 2,
    ]
    # show the centre: about +-5 autocorrelation widths (7 PSF sigmas), at least 5 pixels
    sigma = max(channel.sigx_nm, channel.sigy_nm) if channel.valid else math.inf
    half_y = float(np.clip(7.0 * sigma, 5 * pixel_y, extent[3]))
    half_x = float(np.clip(7.0 * sigma, 5 * pixel_x, extent[1]))
    psf_rows = 2 if channel.valid else 1  # without a PSF: no fit, residual or spline row
    layout, heights = [["0", "1", "2"], ["3", "4", "5"]][:psf_rows], [1.0] * psf_rows
    if temporal is not None:
        layout.append(["t", "t", "t"])
        heights.append(0.8)
    if "time" in channel.sections:
        layout.append(["w", "w", "w"])
        heights.append(0.8)
    if "field" in channel.sections:
        layout.append(["fs", "fe", "."])
        heights.append(1.0)
    figure = _figure(13.5, 4.0 * sum(heights))
    mosaic = figure.subplot_mosaic(layout, height_ratios=heights)
    grid = np.array([[mosaic[str(3 * r + c)] for c in range(3)] for r in range(psf_rows)])
    if temporal is not None:
        temporal_panel(mosaic["t"], temporal, channel.name)
    if "time" in channel.sections:
        time_panel(mosaic["w"], channel.sections["time"])
    if "field" in channel.sections:
        field_panels(mosaic["fs"], mosaic["fe"], figure, channel.sections["field"])
    _image(grid[0, 0], figure, channel.ac, extent, "Autocorrelation", label="ADU²")
    figure.suptitle(channel_title(channel, experiment))
    if not channel.valid:
        _no_psf_panels(grid, channel, x_nm, y_nm)
        return figure
    _image(grid[0, 1], figure, channel.psf, extent, "PSF", label="normalised")
    _image(grid[0, 2], figure, channel.fit, extent, "Gaussian fit", label="normalised")
    _image(
        grid[1, 0],
        figure,
        channel.psf - channel.fit,
        extent,
        "Residual (PSF − fit)",
        cmap="RdBu_r",
        symmetric=True,
        label="normalised",
    )
    _image(grid[1, 1], figure, channel.spline, extent, "Spline", label="normalised")

    for axes in grid.flat[:5]:
        axes.set_xlim(-half_x, half_x)
        axes.set_ylim(-half_y, half_y)

    profiles = grid[1, 2]
    centre_row, centre_column = rows // 2, columns // 2
    profiles.plot(
        x_nm, channel.psf[centre_row, :], "o", color="tab:blue", ms=4, label="PSF, x profile"
    )
    profiles.plot(x_nm, channel.fit[centre_row, :], "-", color="tab:blue", label="fit, x")
    profiles.plot(
        y_nm, channel.psf[:, centre_column], "s", color="tab:orange", ms=4, label="PSF, y profile"
    )
    profiles.plot(y_nm, channel.fit[:, centre_column], "-", color="tab:orange", label="fit, y")
    profiles.axhline(0.0, color="0.6", lw=0.8)
    profiles.set_xlim(-max(half_x, half_y), max(half_x, half_y))
    profiles.set_xlabel("position through the centre (nm)")
    profiles.set_ylabel("normalised intensity")
    profiles.set_title("Profiles through the centre")
    profiles.legend(fontsize="small", loc="center right")
    return figure


def _no_psf_panels(grid: np.ndarray, channel: ChannelInfo, x_nm: Any, y_nm: Any) -> None:
    """A channel without a PSF (its figure's first row): no PSF, fit or spline is drawn
    (they would be made of noise), but why, and the autocorrelation's profiles beside
    its image."""
    grid[0, 1].set_axis_off()
    reason = no_psf_reason(channel) or "see the QC notes in the info file"
    grid[0, 1].text(
        0.5,
        0.5,
        f"No PSF found:\n{reason}.\n\nNo PSF, fit or spline is drawn;\nthe "
        "autocorrelation is on the left.",
        ha="center",
        va="center",
        wrap=True,
        transform=grid[0, 1].transAxes,
    )
    profiles = grid[0, 2]
    rows, columns = channel.ac.shape
    profiles.plot(x_nm, channel.ac[rows // 2, :], "o-", color="tab:blue", ms=3, label="along x")
    profiles.plot(
        y_nm, channel.ac[:, columns // 2], "s-", color="tab:orange", ms=3, label="along y"
    )
    profiles.axhline(0.0, color="0.6", lw=0.8)
    profiles.set_xlabel("lag through the centre (nm)")
    profiles.set_ylabel("autocorrelation (ADU²)")
    profiles.set_title("Autocorrelation through the centre")
    profiles.legend(fontsize="small")


def time_panel(axes: Any, section: Mapping[str, np.ndarray]) -> None:
    """Sigma x, sigma y and sigma against frame, with 95 % error bars (1.96 SE).

    Examples
    --------
    >>> figure = _figure(6, 3)
    >>> section = {"frame_start": np.array([0, 100]), "frame_stop": np.array([100, 200]),
    ...            **{k: np.array([120.0, 130.0]) for k in ("sigx_nm", "sigy_nm", "psf_sigma_nm")},
    ...            **{k: np.array([1.0, 1.0]) for k in ("sigx_nm_se", "sigy_nm_se",
    ...                                                  "psf_sigma_nm_se")}}
    >>> axes = figure.subplots()
    >>> time_panel(axes, section)
    >>> section["psf_sigma_nm_se"] = np.array([1.0, np.nan])  # a window of 3 groups
    >>> time_panel(axes, section)
    >>> axes.get_title()
    'PSF over time (95 % error bars; none for a window of fewer than 5 groups of frames)'
    """
    centres = 0.5 * (np.asarray(section["frame_start"]) + np.asarray(section["frame_stop"]))
    styles = (("sigx_nm", "σx", "tab:blue"), ("sigy_nm", "σy", "tab:orange"))
    for key, label, color in (*styles, ("psf_sigma_nm", "σ", "k")):
        axes.errorbar(
            centres,
            section[key],
            yerr=1.96 * np.asarray(section[f"{key}_se"]),
            fmt="o-",
            color=color,
            ms=4,
            capsize=3,
            label=label,
        )
    axes.set_xlabel("frame (centre of the window)")
    axes.set_ylabel("width (nm)")
    errors = np.asarray(section["psf_sigma_nm_se"], dtype=float)
    if np.isfinite(errors).all():
        axes.set_title("PSF over time (95 % error bars)")
    else:  # the jackknife needs 5 groups of frames in a window
        axes.set_title(
            "PSF over time (95 % error bars; none for a window of fewer than "
            f"{MIN_JACKKNIFE_GROUPS} groups of frames)"
        )
    # beside the axes: the three curves leave no empty corner
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))


def field_panels(
    sigma_axes: Any, ellipticity_axes: Any, figure: Any, section: Mapping[str, np.ndarray]
) -> None:
    """Maps of sigma and of the ellipticity ``1 - min(σx, σy) / max(σx, σy)`` per tile;
    on grids of at most :data:`LABELLED_TILES` tiles a side, each tile of the sigma map
    is labelled with its sigma and standard error (``psf_sigma_nm_se``, where known),
    so that differences between tiles can be told from noise.

    Examples
    --------
    >>> figure = _figure(8, 3)
    >>> left, right = figure.subplots(1, 2)
    >>> widths = np.array([[120.0, 130.0], [125.0, 140.0]])
    >>> section = {"psf_sigma_nm": widths, "sigx_nm": widths, "sigy_nm": widths * 0.9,
    ...            "row_centre_px": np.array([10.0, 30.0]),
    ...            "column_centre_px": np.array([10.0, 30.0])}
    >>> field_panels(left, right, figure, section)
    """
    rows = np.asarray(section["row_centre_px"], dtype=float)
    columns = np.asarray(section["column_centre_px"], dtype=float)
    step_y = rows[1] - rows[0] if len(rows) > 1 else 2 * rows[0] + 1
    step_x = columns[1] - columns[0] if len(columns) > 1 else 2 * columns[0] + 1
    extent = [
        columns[0] - step_x / 2,
        columns[-1] + step_x / 2,
        rows[-1] + step_y / 2,
        rows[0] - step_y / 2,
    ]
    sigx, sigy = np.asarray(section["sigx_nm"]), np.asarray(section["sigy_nm"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ellipticity = 1.0 - np.minimum(sigx, sigy) / np.maximum(sigx, sigy)
    for axes, values, title, label in (
        (sigma_axes, section["psf_sigma_nm"], "σ across the field", "nm"),
        (ellipticity_axes, ellipticity, "Ellipticity across the field", "1 − min/max"),
    ):
        shown = axes.imshow(np.asarray(values), extent=extent, cmap="viridis")
        figure.colorbar(shown, ax=axes, label=label)
        axes.set_xlabel("column (px)")
        axes.set_ylabel("row (px)")
        axes.set_title(title)
    if max(len(rows), len(columns)) <= LABELLED_TILES:
        _label_tiles(sigma_axes, section, rows, columns)


def _label_tiles(
    axes: Any, section: Mapping[str, np.ndarray], rows: np.ndarray, columns: np.ndarray
) -> None:
    """Each tile's sigma (± its standard error where known) written on its map, in
    white on the dark end of the colour map and black on the light end."""
    sigma = np.asarray(section["psf_sigma_nm"], dtype=float)
    errors = np.asarray(section.get("psf_sigma_nm_se", np.full(sigma.shape, np.nan)), float)
    image = axes.get_images()[0]
    for row, y in enumerate(rows):
        for column, x in enumerate(columns):
            value, error = sigma[row, column], errors[row, column]
            if not math.isfinite(value):
                continue
            text = format_value(value, error).replace(" ± ", "\n± ")
            shade = image.cmap(image.norm(value))
            light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5
            axes.text(
                x,
                y,
                text,
                ha="center",
                va="center",
                fontsize="small",
                color="black" if light else "white",
            )


def save_figure(figure: Any, path: PathLike, *, dpi: int = 100) -> Path:
    """Write a figure as PNG, whole or not at all."""
    path = Path(path)
    with atomic_path(path, suffix=".png.part") as part:
        figure.savefig(part, format="png", dpi=dpi)
    return path


def experiment_figures(
    info_path: PathLike, folder: PathLike, experiment: str | None = None, *, dpi: int = 100
) -> list[Path]:
    """Write ``{folder}/{channel}.png`` for every channel of an info file.

    Parameters
    ----------
    info_path : str or path-like
        Info file written by :func:`smlmlp.infofile.write_info`.
    folder : str or path-like
        Output folder (created).
    experiment : str, optional
        Name for the titles; by default the info file's ``experiment`` attribute.
    dpi : int, optional
        Resolution.

    Returns
    -------
    list of Path
        The written PNG files.
    """
    info = read_info(info_path)
    experiment = experiment or info.attrs.get("experiment")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for channel in info.channels.values():
        figure = channel_figure(channel, experiment, info.temporal)
        written.append(save_figure(figure, folder / f"{channel.name}.png", dpi=dpi))
    return written


def summary_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Sigma per experiment and channel, to follow the optics across days.

    When some experiment has an on-time (column ``on_time_ms``), a second panel below
    shows the on-time per experiment, with its 95 % interval (``on_time_ms_se``); in
    frames (``on_time_frames``) when no experiment's exposure is known. An experiment
    whose on-time is known in frames only (its exposure unknown, or its channels'
    exposures different) is named below the panel with that value.

    Parameters
    ----------
    rows : sequence of mapping
        Rows of ``summary.tsv`` (see :data:`smlmlp.infofile.SUMMARY_COLUMNS`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [ChannelInfo.empty_example(c, s).summary_row(e)
    ...         for e in ("day1", "day2") for c, s in (("red", 140.0), ("green", 125.0))]
    >>> summary_figure(rows).axes[0].get_ylabel()
    'PSF sigma (nm)'
    """
    experiments = sorted({str(row["experiment"]) for row in rows})
    channels = sorted({str(row["channel"]) for row in rows})
    position = {name: index for index, name in enumerate(experiments)}
    on_times = {}  # experiment: (on-time, its standard error), in ms, else in frames
    in_frames_only = {}  # experiment: on-time in frames, when the others' are in ms
    known_ms = any(math.isfinite(float(row.get("on_time_ms", math.nan))) for row in rows)
    unit = "ms" if known_ms else "frames"
    for row in rows:
        value = float(row.get(f"on_time_{unit}", math.nan))
        frames = float(row.get("on_time_frames", math.nan))
        if math.isfinite(value):
            error = float(row.get(f"on_time_{unit}_se", math.nan))
            on_times[str(row["experiment"])] = (value, error)
        elif math.isfinite(frames):
            in_frames_only[str(row["experiment"])] = frames
    # wider with more experiments, up to a page's width (then fewer labels); the
    # on-time below the widths, experiment by experiment
    width = SUMMARY_WIDTH_PER_EXPERIMENT_IN * len(experiments) + 4.0
    width = min(SUMMARY_MAX_WIDTH_IN, max(7.0, width))
    if on_times:
        figure = _figure(width, 7.5)
        axes, on_time_axes = figure.subplots(2, 1, sharex=True, height_ratios=[4.5, 3.0])
        _on_time_summary(on_time_axes, experiments, on_times, unit, in_frames_only)
    else:
        figure = _figure(width, 4.5)
        axes = figure.subplots()
    colours = [f"C{i % 10}" for i in range(len(channels))]
    offset_step = 0.08 if len(channels) > 1 else 0.0
    for index, (channel, colour) in enumerate(zip(channels, colours, strict=True)):
        mine = sorted(
            (row for row in rows if str(row["channel"]) == channel),
            key=lambda row: position[str(row["experiment"])],
        )
        offset = (index - (len(channels) - 1) / 2) * offset_step
        x = np.array([position[str(row["experiment"])] for row in mine], dtype=float) + offset
        sigma = np.array([float(row["psf_sigma_nm"]) for row in mine])
        sigma_se = np.array([float(row.get("psf_sigma_nm_se", math.nan)) for row in mine])
        sigx = np.array([float(row["sigx_nm"]) for row in mine])
        sigy = np.array([float(row["sigy_nm"]) for row in mine])
        axes.plot(x, sigma, "-", color=colour, alpha=0.6)
        # 95 % intervals (1.96 standard errors); none drawn where no error is known
        axes.errorbar(
            x,
            sigma,
            yerr=np.where(np.isfinite(sigma_se), 1.96 * sigma_se, 0.0),
            fmt="o",
            color=colour,
            capsize=3,
            label=f"{channel}: σ = √(σx·σy) ± 1.96 SE"
            if np.isfinite(sigma).any()
            else f"{channel}: no PSF found",
        )
        axes.plot(x, sigx, ">", color=colour, ms=5, alpha=0.7, ls="none")
        axes.plot(x, sigy, "^", color=colour, ms=5, alpha=0.7, ls="none")
        axes.vlines(x, np.fmin(sigx, sigy), np.fmax(sigx, sigy), color=colour, alpha=0.4)
    axes.plot([], [], ">", color="0.4", ls="none", label="σx")
    axes.plot([], [], "^", color="0.4", ls="none", label="σy")
    _experiment_ticks(axes, experiments)
    if not on_times:
        axes.set_xlabel("experiment")
    axes.set_ylabel("PSF sigma (nm)")
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_title("PSF width per experiment and channel")
    if rows:
        axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        axes.text(0.5, 0.5, "no channel", ha="center", va="center", transform=axes.transAxes)
    return figure


#: The summary plot's width per experiment and at most (inches): beyond, fewer labels.
SUMMARY_WIDTH_PER_EXPERIMENT_IN = 0.4
SUMMARY_MAX_WIDTH_IN = 20.0
#: Characters per line of the note under the on-time panel (it fits the narrowest plot).
NOTE_WIDTH_CHARACTERS = 60
#: Experiment labels per inch of the summary plot, at most (rotated upright).
SUMMARY_LABELS_PER_IN = 2.5


def _experiment_ticks(axes: Any, experiments: Sequence[str]) -> None:
    """The experiments' names under a summary panel: every one while they fit, else
    every k-th (every one is on the row of ``summary.tsv`` / ``summary.html``)."""
    count = len(experiments)
    room = max(1, int(SUMMARY_LABELS_PER_IN * axes.figure.get_figwidth()))
    step = max(1, math.ceil(count / room))
    shown = range(0, count, step)
    upright = count > 8
    axes.set_xticks(
        list(shown),
        [experiments[i] for i in shown],
        rotation=90 if upright else (30 if count > 3 else 0),
        ha="center" if upright or count <= 3 else "right",
    )
    if step > 1:
        axes.set_xticks(range(count), minor=True)  # a tick for every experiment still
    axes.set_xlim(-0.5, max(count - 0.5, 0.5))


def _on_time_summary(
    axes: Any,
    experiments: Sequence[str],
    on_times: Mapping[str, tuple[float, float]],
    unit: str = "ms",
    in_frames_only: Mapping[str, float] | None = None,
) -> None:
    """On-time per experiment ± 1.96 standard errors (NaN ones left out; no bar
    where no error is known); those known in frames only named in a note."""
    x = [index for index, name in enumerate(experiments) if name in on_times]
    values, errors = (np.array([on_times[experiments[i]][k] for i in x]) for k in (0, 1))
    axes.plot(x, values, "-", color="0.2")
    axes.errorbar(
        x,
        values,
        yerr=np.where(np.isfinite(errors), 1.96 * errors, 0.0),
        fmt="o",
        color="0.2",
        capsize=3,
        label="on-time ± 1.96 SE",
    )
    _experiment_ticks(axes, experiments)
    tops = values + np.where(np.isfinite(errors), 1.96 * errors, 0.0)
    axes.set_ylim(0.0, 1.25 * float(tops.max()))
    axes.set_xlabel("experiment")
    axes.set_ylabel(f"on-time ({unit})")
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_title("Blinking on-time per experiment")
    axes.legend(fontsize="small", loc="best")
    if in_frames_only:
        listed = ", ".join(f"{name} {value:.2f}" for name, value in sorted(in_frames_only.items()))
        note = textwrap.fill(f"on-time in frames only: {listed}", NOTE_WIDTH_CHARACTERS)
        axes.text(
            0.01, 0.02, f"{note}\n(exposure unknown, or not the same in every channel)",
            transform=axes.transAxes, fontsize="small", color="0.3", va="bottom",
        )
