"""Report figures: one readable PNG per channel and the summary plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from smlmlp.figures import (
    LABELLED_TILES,
    SUMMARY_MAX_WIDTH_IN,
    _figure,
    channel_figure,
    channel_title,
    experiment_figures,
    field_panels,
    save_figure,
    summary_figure,
    time_panel,
)
from smlmlp.infofile import ChannelInfo, TemporalCurve, TemporalInfo, read_info, write_info

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _astigmatic() -> ChannelInfo:
    channel = ChannelInfo.empty_example("red", 150.0)
    channel.sigy_nm = 120.0
    channel.theta_deg = 12.5
    channel.pixel_nm = (110.0, 100.0)
    return channel


def test_channel_figure_panels_and_nm_axes() -> None:
    figure = channel_figure(_astigmatic(), "day1")
    images = [axes for axes in figure.axes if axes.images]
    assert len(images) == 5  # AC, PSF, fit, residual, spline
    titles = [axes.get_title() for axes in figure.axes]
    for title in ("Autocorrelation", "PSF", "Gaussian fit", "Residual (PSF − fit)", "Spline"):
        assert title in titles
    assert all(axes.get_xlabel() == "x (nm)" for axes in images)
    # the extent is in nm: 15 pixels of 100 nm along x, 110 nm along y
    left, right, bottom, top = images[0].images[0].get_extent()
    assert (right - left, top - bottom) == pytest.approx((1500.0, 1650.0))
    profiles = [axes for axes in figure.axes if axes.get_title().startswith("Profiles")][0]
    assert len(profiles.lines) >= 4  # PSF and fit, along x and y
    suptitle = figure.get_suptitle()
    assert "σx = 150.0 nm" in suptitle and "σy = 120.0 nm" in suptitle
    assert "θ = 12.5°" in suptitle and "day1 / red" in suptitle


def test_residual_is_psf_minus_fit() -> None:
    channel = ChannelInfo.empty_example("c")
    channel.psf = channel.psf + 0.1
    figure = channel_figure(channel)
    residual = [a for a in figure.axes if a.get_title().startswith("Residual")][0]
    np.testing.assert_allclose(residual.images[0].get_array(), 0.1)


def test_invalid_channel_is_drawn() -> None:
    """No PSF: the title and a panel say why; only the autocorrelation is drawn (its
    image and profiles), no PSF, fit or spline made of noise, nor a fit of an on-time
    that was not found."""
    channel = ChannelInfo.empty_example("noise")
    channel.sigx_nm = channel.sigy_nm = channel.theta_deg = math.nan
    channel.valid = False
    channel.qc_notes = ("no PSF found: autocorrelation peak only 0.5 times its noise",)
    assert "no PSF found (autocorrelation peak only 0.5 times its noise)" in channel_title(
        channel
    )
    temporal = _temporal(["noise", "red"])
    temporal.channels["noise"].on_time_frames = math.nan  # no decay found
    figure = channel_figure(channel, "day1", temporal)
    images = [axes for axes in figure.axes if axes.images]
    assert [axes.get_title() for axes in images] == ["Autocorrelation"]
    texts = [text.get_text() for axes in figure.axes for text in axes.texts]
    assert any("autocorrelation peak only 0.5 times its noise" in text for text in texts)
    profiles = [a for a in figure.axes if a.get_title() == "Autocorrelation through the centre"]
    np.testing.assert_allclose(profiles[0].lines[0].get_ydata(), channel.ac[7, :])
    panel = [a for a in figure.axes if a.get_title().startswith("Temporal autocorrelation")][0]
    labels = [line.get_label() for line in panel.lines]
    assert "noise: fitted exponential" not in labels
    assert "average: fitted exponential" in labels


def test_experiment_figures_write_pngs(tmp_path: Path) -> None:
    info = write_info(
        tmp_path / "psf_info.h5",
        [ChannelInfo.empty_example("green", 120.0), _astigmatic()],
        attrs={"experiment": "day1"},
    )
    written = experiment_figures(info, tmp_path / "figures")
    assert [p.name for p in written] == ["green.png", "red.png"]
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 20_000
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["green.png", "red.png"]


def test_save_figure_leaves_nothing_on_failure(tmp_path: Path) -> None:
    class Broken:
        def savefig(self, *args, **kwargs):
            Path(args[0]).write_bytes(b"half")
            raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError):
        save_figure(Broken(), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_summary_figure(tmp_path: Path) -> None:
    rows = [
        ChannelInfo.empty_example(channel, sigma + shift).summary_row(experiment)
        for shift, experiment in enumerate(("2024-05-13", "2024-05-20", "2024-06-01"))
        for channel, sigma in (("green", 120.0), ("red", 140.0))
    ]
    figure = summary_figure(rows)
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        "2024-05-13",
        "2024-05-20",
        "2024-06-01",
    ]
    assert axes.get_ylabel() == "PSF sigma (nm)"
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert any(label.startswith("green") for label in labels)
    path = save_figure(figure, tmp_path / "summary.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_titles_and_summary_show_standard_errors_and_the_verdict() -> None:
    channel = _astigmatic()
    channel.sigx_nm_se, channel.sigy_nm_se, channel.theta_deg_se = 0.84, 1.26, 2.04
    channel.psf_sigma_nm_se = 0.77
    channel.qc, channel.qc_notes = "warn", ("too few frames: 12 groups",)
    title = channel_title(channel, "day1")
    assert "σx = 150.0 ± 0.8 nm" in title and "σy = 120.0 ± 1.3 nm" in title
    assert "θ = 12.5 ± 2.0°" in title and "σ = 134.2 ± 0.8 nm" in title
    assert "QC warn: too few frames" in title
    channel.qc_notes = ("near-round PSF: theta is meaningless",)
    assert "θ = round" in channel_title(channel)
    rows = [channel.summary_row(day) for day in ("day1", "day2")]
    axes = summary_figure(rows).axes[0]
    bars = [c for c in axes.containers if hasattr(c, "has_yerr") and c.has_yerr]
    assert len(bars) == 1
    segments = bars[0].lines[2][0].get_segments()
    low, high = segments[0][:, 1]
    assert high - low == pytest.approx(2 * 1.96 * 0.77)


def test_summary_legend_says_which_channels_have_no_psf() -> None:
    noise = ChannelInfo.empty_example("noise")
    noise.sigx_nm = noise.sigy_nm = noise.theta_deg = math.nan
    noise.valid = False
    rows = [channel.summary_row("day1") for channel in (ChannelInfo.empty_example("red"), noise)]
    labels = [text.get_text() for text in summary_figure(rows).axes[0].get_legend().get_texts()]
    assert labels[-2:] == ["noise: no PSF found", "red: σ = √(σx·σy) ± 1.96 SE"]


def test_summary_figure_without_rows() -> None:
    figure = summary_figure([])
    assert figure.axes[0].texts[0].get_text() == "no channel"


# ------------------------------------------------------------------------ on-time
def _temporal(names: list[str], exposure: float | None = 20.0) -> TemporalInfo:
    return TemporalInfo.example(names, tau=3.0).with_exposures(dict.fromkeys(names, exposure))


def test_temporal_panel_in_ms() -> None:
    figure = channel_figure(_astigmatic(), "day1", _temporal(["green", "red"]))
    images = [axes for axes in figure.axes if axes.images]
    assert len(images) == 5  # the PSF panels are kept
    panel = [a for a in figure.axes if a.get_title().startswith("Temporal autocorrelation")][0]
    title = panel.get_title()
    assert "on-time 60.0 ms (experiment)" in title and "60.0 ms (red)" in title
    assert panel.get_xlabel() == "lag (ms)"
    labels = [text.get_text() for text in panel.get_legend().get_texts()]
    assert "red: on-time 60.0 ms" in labels
    assert any(label.startswith("average of 2 channel(s)") for label in labels)
    assert any(label.endswith("fitted exponential") for label in labels)
    # the decay is shown: lags up to 1.25 x the fitted range (30 lags), in ms
    assert panel.get_xlim()[1] == pytest.approx(38 * 20.0)
    red = [line for line in panel.lines if line.get_label() == "red: on-time 60.0 ms"][0]
    np.testing.assert_allclose(red.get_xdata()[:2], [20.0, 40.0])


def test_temporal_panel_title_gives_the_experiments_standard_error() -> None:
    temporal = _temporal(["green", "red"])
    temporal.average.attrs["on_time_frames_se"] = 0.05  # the jackknife's, 1 ms at 20 ms
    figure = channel_figure(_astigmatic(), "day1", temporal)
    panel = [a for a in figure.axes if a.get_title().startswith("Temporal autocorrelation")][0]
    assert "on-time 60.0 ± 1.0 ms (experiment)" in panel.get_title()
    assert "60.0 ms (red)" in panel.get_title()  # a channel's own: no error known


def test_temporal_panel_in_frames_when_the_exposure_is_unknown() -> None:
    temporal = _temporal(["red"], None)
    figure = channel_figure(_astigmatic(), "day1", temporal)
    panel = [a for a in figure.axes if a.get_title().startswith("Temporal autocorrelation")][0]
    assert panel.get_xlabel() == "lag (frames; exposure unknown)"
    assert "on-time 3.00 frames" in panel.get_title()
    # one channel: no separate average
    assert not any("average" in t.get_text() for t in panel.get_legend().get_texts())


def test_temporal_panel_in_frames_when_the_channels_exposures_differ() -> None:
    """Two channels recorded at 12 and 15 ms: their average has no time scale, so the
    panel is in frames (it failed on NaN axis limits)."""
    names = ["green", "red"]
    temporal = TemporalInfo.example(names, tau=3.0).with_exposures({"green": 12.0, "red": 15.0})
    assert math.isnan(temporal.average.exposure_ms)
    for channel in (_astigmatic(), ChannelInfo.empty_example("green", 120.0)):
        figure = channel_figure(channel, "day1", temporal)
        panel = [a for a in figure.axes if a.get_title().startswith("Temporal autocorrelation")]
        assert panel[0].get_xlabel() == "lag (frames; the channels' exposures differ)"
        assert np.isfinite(panel[0].get_xlim()).all()


def test_temporal_panel_without_decay() -> None:
    temporal = _temporal(["red"])
    curve = temporal.average
    temporal.average = TemporalCurve(curve.ac, np.full(curve.crop_fr, np.nan), np.nan, 20.0)
    temporal.channels["red"] = temporal.average
    figure = channel_figure(ChannelInfo.empty_example("red"), None, temporal)
    panel = [a for a in figure.axes if a.get_title().startswith("Temporal autocorrelation")][0]
    assert "on-time none found" in panel.get_title()


def test_experiment_figures_with_on_time(tmp_path: Path) -> None:
    info = write_info(
        tmp_path / "psf_info.h5",
        [ChannelInfo.empty_example("green", 120.0), _astigmatic()],
        attrs={"experiment": "day1"},
        temporal=_temporal(["green", "red"]),
    )
    written = experiment_figures(info, tmp_path / "figures")
    assert [p.name for p in written] == ["green.png", "red.png"]
    assert written[1].read_bytes()[:8] == PNG_MAGIC


def test_summary_figure_of_many_experiments_stays_readable() -> None:
    """150 experiments: the plot is no wider than a page, every experiment keeps a
    tick, every k-th its name (upright); the on-time panel is below, on the same axis."""
    names = [f"2024-{day // 28 + 1:02d}-{day % 28 + 1:02d}_slide{day % 3}" for day in range(150)]
    rows = [ChannelInfo.empty_example("red", 140.0).summary_row(name, 58.0) for name in names]
    figure = summary_figure(rows)
    widths, on_time = figure.axes
    assert figure.get_figwidth() == SUMMARY_MAX_WIDTH_IN
    labels = [t.get_text() for t in on_time.get_xticklabels()]
    step = names.index(labels[1])
    assert 1 < step < 5 and labels == names[::step]
    assert all(t.get_rotation() == 90 for t in on_time.get_xticklabels())
    ticks = {*on_time.get_xticks(minor=True), *on_time.get_xticks()}
    assert sorted(ticks) == list(range(150))
    assert on_time.get_position().y1 < widths.get_position().y0  # below
    assert widths.get_shared_x_axes().joined(widths, on_time)


def test_summary_figure_with_on_times(tmp_path: Path) -> None:
    rows = [
        ChannelInfo.empty_example(channel, sigma).summary_row(experiment, on_time)
        for experiment, on_time in (("2024-05-13", 58.0), ("2024-05-20", math.nan))
        for channel, sigma in (("green", 120.0), ("red", 140.0))
    ]
    figure = summary_figure(rows)
    assert [axes.get_ylabel() for axes in figure.axes] == ["PSF sigma (nm)", "on-time (ms)"]
    line = figure.axes[1].lines[0]
    assert list(line.get_xdata()) == [0] and list(line.get_ydata()) == [58.0]
    without = [ChannelInfo.empty_example("red").summary_row("day1")]
    assert len(summary_figure(without).axes) == 1
    # no exposure known anywhere: the on-times in frames, from the info files' curves
    info = write_info(
        tmp_path / "psf_info.h5",
        [ChannelInfo.empty_example("red")],
        temporal=_temporal(["red"], exposure=None),
    )
    rows = read_info(info).summary_rows("day1")
    assert math.isnan(rows[0]["on_time_ms"]) and rows[0]["on_time_frames"] == pytest.approx(3.0)
    figure = summary_figure(rows)
    assert figure.axes[1].get_ylabel() == "on-time (frames)"
    assert list(figure.axes[1].lines[0].get_ydata()) == [pytest.approx(3.0)]


def test_summary_names_the_on_times_known_in_frames_only() -> None:
    """An experiment whose channels' exposures differ has its on-time in frames only:
    named below the panel of on-times in ms, not left out silently."""
    rows = [
        ChannelInfo.empty_example("red", 140.0).summary_row("day1", 58.0, 0.7, 2.9, 0.03),
        ChannelInfo.empty_example("red", 140.0).summary_row("day2", math.nan, math.nan, 3.07),
    ]
    panel = summary_figure(rows).axes[1]
    assert panel.get_ylabel() == "on-time (ms)"
    assert list(panel.lines[0].get_ydata()) == [58.0]
    notes = [text.get_text() for text in panel.texts]
    why = "exposure unknown, or not the same in every channel"
    assert notes == [f"on-time in frames only: day2 3.07\n({why})"]


@pytest.mark.parametrize("n_experiments", [1, 2, 6])
def test_summary_on_times_have_error_bars_and_every_title_fits(n_experiments) -> None:
    """The on-time panel shows the 95 % interval of each on-time, and no title runs
    off the figure (the on-time panel is narrow)."""
    days = [f"2024-05-{13 + day:02d}" for day in range(n_experiments)]
    rows = [
        ChannelInfo.empty_example(channel, sigma).summary_row(day, 58.0 + index, 0.68)
        for index, day in enumerate(days)
        for channel, sigma in (("green", 120.0), ("red", 140.0))
    ]
    figure = summary_figure(rows)
    on_time = figure.axes[1]
    bars = [c for c in on_time.containers if hasattr(c, "has_yerr") and c.has_yerr]
    assert len(bars) == 1
    low, high = bars[0].lines[2][0].get_segments()[0][:, 1]
    assert high - low == pytest.approx(2 * 1.96 * 0.68)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for axes in figure.axes:
        extent = axes.title.get_window_extent(renderer)
        assert figure.bbox.x0 <= extent.x0 and extent.x1 <= figure.bbox.x1, axes.get_title()


def _field_section(n: int) -> dict[str, np.ndarray]:
    widths = 120.0 + np.arange(n * n, dtype=float).reshape(n, n)
    centres = 16.0 * np.arange(n) + 8.0
    return {
        "psf_sigma_nm": widths,
        "psf_sigma_nm_se": np.full((n, n), 0.5),
        "sigx_nm": widths * 1.05,
        "sigy_nm": widths * 0.95,
        "row_centre_px": centres,
        "column_centre_px": centres,
    }


def test_field_map_labels_each_tile_with_its_sigma_and_error() -> None:
    figure = _figure(8, 3)
    sigma_axes, ellipticity_axes = figure.subplots(1, 2)
    section = _field_section(2)
    section["psf_sigma_nm"][1, 0] = np.nan  # a tile without a PSF: no label
    field_panels(sigma_axes, ellipticity_axes, figure, section)
    labels = {(t.get_position(), t.get_text()) for t in sigma_axes.texts}
    assert labels == {
        ((8.0, 8.0), "120.0\n± 0.5"),
        ((24.0, 8.0), "121.0\n± 0.5"),
        ((24.0, 24.0), "123.0\n± 0.5"),
    }
    assert not ellipticity_axes.texts
    # too many tiles to read: the colours alone
    figure = _figure(8, 3)
    sigma_axes, ellipticity_axes = figure.subplots(1, 2)
    field_panels(sigma_axes, ellipticity_axes, figure, _field_section(LABELLED_TILES + 1))
    assert not sigma_axes.texts


def test_time_panel_legend_leaves_the_curves_alone() -> None:
    figure = _figure(10, 3)
    axes = figure.subplots()
    section = {"frame_start": np.array([0, 100, 200]), "frame_stop": np.array([100, 200, 300])}
    for key, value in (("sigx_nm", 140.0), ("sigy_nm", 120.0), ("psf_sigma_nm", 130.0)):
        section[key] = np.full(3, value)
        section[f"{key}_se"] = np.full(3, 1.0)
    time_panel(axes, section)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = axes.get_legend().get_window_extent(renderer)
    assert legend.x0 >= axes.get_window_extent(renderer).x1
    assert legend.x1 <= figure.bbox.x1
