"""The HDF5 info file: layout, round trip, written whole or not at all."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from smlmlp import infofile
from smlmlp.infofile import (
    ARRAY_NAMES,
    SUMMARY_COLUMNS,
    ChannelInfo,
    atomic_path,
    read_info,
    read_summary,
    write_info,
    write_summary,
)
from smlmlp.psf import estimate_psf
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import accumulate_spectrum


@pytest.fixture(scope="module")
def measured() -> ChannelInfo:
    """A channel measured from a small simulated movie."""
    movie, _truth = simulate_movie(
        400, (48, 48), sigx_nm=140.0, photons=2000.0, background=20.0, seed=5
    )
    estimate = estimate_psf(accumulate_spectrum(movie).autocorrelation(25), (100.0, 100.0))
    return ChannelInfo.from_estimate(
        "red",
        estimate,
        n_frames=400,
        source_files=["experiments/day1/red.tif"],
        source_sizes_bytes=[123456],
        attrs={"crop_pix": 25, "pixel_nm_origin": "config", "exposure_ms": None},
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_layout(tmp_path: Path, measured: ChannelInfo) -> None:
    path = write_info(
        tmp_path / "psf_info.h5",
        [measured, ChannelInfo.empty_example("green")],
        config={"crop_pix": 25, "pixel_nm": [100, 100]},
        attrs={"experiment": "day1"},
    )
    with h5py.File(path, "r") as handle:
        assert list(handle.keys()) == ["green", "red"]
        assert json.loads(handle.attrs["config"]) == {"crop_pix": 25, "pixel_nm": [100, 100]}
        assert datetime.fromisoformat(handle.attrs["created"]).tzinfo is not None
        assert handle.attrs["smlmlp_version"]
        assert handle.attrs["experiment"] == "day1"
        group = handle["red"]
        for name in ARRAY_NAMES:
            np.testing.assert_array_equal(group[name][()], getattr(measured, name))
        assert group.attrs["sigx_nm"] == measured.sigx_nm
        assert group.attrs["psf_sigma_nm"] == pytest.approx(measured.psf_sigma_nm)
        assert list(group.attrs["pixel_nm"]) == [100.0, 100.0]
        assert group.attrs["n_frames"] == 400
        assert list(group.attrs["source_files"]) == ["experiments/day1/red.tif"]
        assert list(group.attrs["source_sizes_bytes"]) == [123456]
        assert group.attrs["crop_pix"] == 25
        assert "exposure_ms" not in group.attrs  # None is left out
    assert 130 < measured.psf_sigma_nm < 150


def test_round_trip(tmp_path: Path, measured: ChannelInfo) -> None:
    write_info(tmp_path / "a.h5", [measured], config={"x": 1}, attrs={"experiment": "day1"})
    info = read_info(tmp_path / "a.h5")
    back = info.channels["red"]
    for name in ARRAY_NAMES:
        np.testing.assert_array_equal(getattr(back, name), getattr(measured, name))
    assert (back.sigx_nm, back.sigy_nm, back.theta_deg) == (
        measured.sigx_nm,
        measured.sigy_nm,
        measured.theta_deg,
    )
    assert back.source_files == measured.source_files
    assert back.attrs["pixel_nm_origin"] == "config"
    assert info.config == {"x": 1}
    assert info.summary_rows()[0]["experiment"] == "day1"


def test_channel_npz_round_trip(tmp_path: Path, measured: ChannelInfo) -> None:
    path = measured.save(tmp_path / "red.npz")
    back = ChannelInfo.load(path)
    assert back.summary_row("e") == measured.summary_row("e")
    np.testing.assert_array_equal(back.coeffs, measured.coeffs)
    assert _files(tmp_path) == ["red.npz"]


def test_invalid_channel_keeps_nan(tmp_path: Path) -> None:
    channel = ChannelInfo.empty_example("noise")
    channel.sigx_nm = channel.sigy_nm = channel.theta_deg = math.nan
    channel.valid = False
    write_info(tmp_path / "n.h5", [channel])
    back = read_info(tmp_path / "n.h5").channels["noise"]
    assert not back.valid and math.isnan(back.sigx_nm) and math.isnan(back.psf_sigma_nm)


def test_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "psf_info.h5"
    write_info(target, [ChannelInfo.empty_example("old")])
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(infofile, "_set_attrs", broken)
    with pytest.raises(OSError, match="disk full"):
        write_info(target, [ChannelInfo.empty_example("new")])
    assert target.read_bytes() == before  # the old file is untouched
    assert _files(tmp_path) == ["psf_info.h5"]  # and no temporary file is left
    target.unlink()
    with pytest.raises(OSError):
        write_info(target, [ChannelInfo.empty_example("new")])
    assert _files(tmp_path) == []


def test_atomic_path_cleans_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "sub" / "x.txt") as part:
        part.write_text("half")
        raise RuntimeError("stop")
    assert _files(tmp_path / "sub") == []


def test_bad_names_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="channel name"):
        ChannelInfo.empty_example("a/b")
    with pytest.raises(ValueError, match="duplicate channel name"):
        write_info(tmp_path / "d.h5", [ChannelInfo.empty_example("a")] * 2)
    assert not (tmp_path / "d.h5").exists()


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="notes.h5"):
        read_info(text)
    with pytest.raises(ValueError, match="x.npz"):
        ChannelInfo.load(tmp_path / "x.npz")


def test_summary_table(tmp_path: Path) -> None:
    rows = [
        ChannelInfo.empty_example(c, s).summary_row(e)
        for e in ("day1", "day2")
        for c, s in (("green", 120.0), ("red", 140.0))
    ]
    path = write_summary(tmp_path / "summary.tsv", rows)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == list(SUMMARY_COLUMNS)
    assert len(lines) == 5
    back = read_summary(path)
    assert back[3]["experiment"] == "day2" and back[3]["psf_sigma_nm"] == 140.0
    assert back[0]["n_frames"] == 500
