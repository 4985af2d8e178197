"""MetaMorph's files: ``.stk`` stacks (a TIFF of one image file directory, the planes
after the first, described by the UIC tags) and MetaSeries TIFF files, read as TIFF with
their pixel size and exposure."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.loading import TiffMovie, open_movie
from smlmlp.simulation import simulate_movie

SHAPE = (32, 32)


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(
        300, SHAPE, sigx_nm=130.0, sigy_nm=115.0, seed=21, pixel_nm=100.0, photons=2000.0,
        background=20.0, on_density_per_um2=0.5,
    )
    return frames


def _sigmas(stack) -> list[float]:
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=64)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


def test_stk_gives_the_frames_and_widths_of_the_tiff(movie, movie_formats, tmp_path) -> None:
    tiff = tmp_path / "movie.tif"
    tifffile.imwrite(tiff, movie, photometric="minisblack")
    path = movie_formats.write_stk(
        tmp_path / "cell_w1Cy5.stk", movie, calibration=0.107, exposure="Exposure: 30 ms"
    )
    with open_movie(path) as stk, open_movie(tiff) as plain:
        assert isinstance(stk, TiffMovie) and stk.fast_path  # read straight from its bytes
        assert stk.shape == movie.shape and stk.dtype == np.uint16
        np.testing.assert_array_equal(stk[40:95], movie[40:95])
        assert stk.metadata == {
            "pixel_nm": pytest.approx((107.0, 107.0), rel=1e-9),
            "exposure_ms": 30.0,
            "axes": "TYX",
            "kind": "stk",
        }
        np.testing.assert_allclose(_sigmas(stk), _sigmas(plain), rtol=1e-9)
    # every plane stamped alike: tifffile cannot tell time from z, still a movie
    same = movie_formats.write_stk(tmp_path / "same.stk", movie[:50], same_times=True)
    with open_movie(same) as stk:
        assert stk.metadata["axes"] == "IYX" and stk.metadata["pixel_nm"] is None
        np.testing.assert_array_equal(stk[7:9], movie[7:9])


@pytest.mark.parametrize(
    ("calibration", "units", "pixel_nm"),
    [(0.107, "um", 107.0), (0.065, "µm", 65.0), (160.0, "nm", 160.0), (1.0, "pixel", None)],
)
def test_stk_calibration(calibration, units, pixel_nm, movie_formats, tmp_path) -> None:
    path = movie_formats.write_stk(
        tmp_path / "m.stk", np.ones((4, 8, 8), np.uint16), calibration=calibration, units=units
    )
    with open_movie(path) as stk:
        expected = None if pixel_nm is None else pytest.approx((pixel_nm, pixel_nm), rel=1e-6)
        assert stk.metadata["pixel_nm"] == expected


@pytest.mark.parametrize(
    ("line", "exposure_ms"),
    [
        ("Exposure: 30 ms", 30.0),
        ("Exposure: 0,05 s", 50.0),
        ("Exposure = 100 ms", 100.0),
        ("Exposure: 250 us", 0.25),
        ("Exposure: 12.5", 12.5),
        ("Exposure Mode: Normal", None),
        (None, None),
    ],
)
def test_stk_exposure(line, exposure_ms, movie_formats, tmp_path) -> None:
    path = movie_formats.write_stk(tmp_path / "m.stk", np.ones((4, 8, 8), np.uint16), exposure=line)
    with open_movie(path) as stk:
        assert stk.metadata["exposure_ms"] == exposure_ms


def test_metaseries_tiff(tmp_path) -> None:
    """A MetaSeries TIFF: its description's XML gives the calibration and exposure."""
    xml = (
        "<MetaData>\n"
        '<prop id="Description" type="string" value="Exposure: 20 ms&#13;&#10;Binning: 2 x 2"/>\n'
        "<PlaneInfo>\n"
        '<prop id="spatial-calibration-x" type="float" value="0.16"/>\n'
        '<prop id="spatial-calibration-y" type="float" value="0.17"/>\n'
        '<prop id="spatial-calibration-units" type="string" value="um"/>\n'
        "</PlaneInfo>\n"
        "</MetaData>"
    )
    frames = np.arange(5 * 8 * 8, dtype=np.uint16).reshape(5, 8, 8)
    path = tmp_path / "ms.tif"
    tifffile.imwrite(
        path, frames, software="MetaSeries", description=xml, metadata=None,
        photometric="minisblack",
    )
    with open_movie(path) as tif:
        assert tif.metadata["pixel_nm"] == pytest.approx((170.0, 160.0), rel=1e-9)
        assert tif.metadata["exposure_ms"] == 20.0
        np.testing.assert_array_equal(np.asarray(tif), frames)


def test_stk_in_the_command_and_an_experiment_folder(movie, movie_formats, tmp_path, capsys):
    """An ``.stk`` is a channel of an experiment folder named after its stem, and the
    command reads its pixel size from the file; a truncated one fails with one line."""
    from smlmlp_workflow.discovery import inspect_experiment

    folder = tmp_path / "2024-05-13"
    path = movie_formats.write_stk(folder / "cell_w1Cy5.STK", movie, calibration=0.1)
    (folder / "cell.nd").write_text('"NDInfoFile", Version 1.0\n"NWavelengths", 1\n')
    experiment = inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    assert list(experiment.channels) == ["cell_w1Cy5"]
    out = tmp_path / "psf.h5"
    assert main(["psf", str(folder), "--crop-pix", "21", "-q", "-o", str(out)]) == 0
    channel = read_info(out).channels["cell_w1Cy5"]
    assert channel.attrs["pixel_nm_origin"] == "movie file metadata"
    with open_movie(path) as stk:
        np.testing.assert_allclose([channel.sigx_nm, channel.sigy_nm], _sigmas(stk), rtol=1e-9)
    cut = tmp_path / "cut.stk"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    capsys.readouterr()
    assert main(["psf", str(cut), "--pixel-nm", "100", "-q", "-o", str(tmp_path / "c.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"smlmlp: error: {cut}") and "truncated" in err
