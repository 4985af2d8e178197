"""Report figures: one readable PNG per channel and the summary plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from smlmlp.figures import (
    channel_figure,
    channel_title,
    experiment_figures,
    save_figure,
    summary_figure,
)
from smlmlp.infofile import ChannelInfo, write_info

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
    channel = ChannelInfo.empty_example("noise")
    channel.sigx_nm = channel.sigy_nm = channel.theta_deg = math.nan
    channel.valid = False
    assert "no PSF found" in channel_title(channel)
    channel_figure(channel)


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


def test_summary_figure_without_rows() -> None:
    figure = summary_figure([])
    assert figure.axes[0].texts[0].get_text() == "no channel"
