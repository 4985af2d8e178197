"""The HDF5 info file: layout, round trip, written whole or not at all."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from smlmlp import infofile
from smlmlp.estimate import estimate_from_sums
from smlmlp.infofile import (
    ARRAY_NAMES,
    SUMMARY_COLUMNS,
    TEMPORAL_ARRAYS,
    TEMPORAL_AVERAGE,
    ChannelInfo,
    TemporalCurve,
    TemporalInfo,
    read_info,
    read_summary,
    write_info,
    write_summary,
)
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import accumulate_spectrum

SIMULATION = {"photons": 2000.0, "background": 20.0, "on_density_per_um2": 0.5}


@pytest.fixture(scope="module")
def measured() -> ChannelInfo:
    """A channel measured from a small simulated movie."""
    movie, _truth = simulate_movie(
        400, (48, 48), sigx_nm=140.0, photons=2000.0, background=20.0, seed=5
    )
    estimate = estimate_from_sums(accumulate_spectrum(movie), 25, (100.0, 100.0))
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
        for name in ("sigx_nm_se", "sigy_nm_se", "theta_deg_se", "psf_sigma_nm_se"):
            assert group.attrs[name] == getattr(measured, name) > 0
        assert group.attrs["qc"] == measured.qc and group.attrs["n_groups"] == 20
        assert isinstance(group.attrs["qc_notes"], str)
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
    assert back.quality == measured.quality
    assert 0 < back.psf_sigma_nm_se < 0.05 * back.psf_sigma_nm and back.n_groups == 20
    assert back.qc in ("valid", "warn")
    assert back.source_files == measured.source_files
    assert back.attrs["pixel_nm_origin"] == "config"
    assert info.config == {"x": 1}
    assert info.summary_rows()[0]["experiment"] == "day1"


def test_channel_npz_round_trip(tmp_path: Path, measured: ChannelInfo) -> None:
    path = measured.save(tmp_path / "red.npz")
    back = ChannelInfo.load(path)
    assert back.summary_row("e", 12.0, 0.5) == measured.summary_row("e", 12.0, 0.5)
    assert back.quality == measured.quality
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
    assert SUMMARY_COLUMNS[-4:] == ("on_time_ms", "on_time_ms_se", "on_time_frames",
                                    "on_time_frames_se")
    assert math.isnan(back[0]["on_time_ms"]) and back[0]["qc"] == "valid"
    row = ChannelInfo.empty_example("red").summary_row(
        "day1", on_time_ms=58.1234, on_time_frames=2.9062, on_time_frames_se=0.05
    )
    write_summary(path, [row])
    assert path.read_text().splitlines()[1].endswith("\t500\t58.12\tnan\t2.91\t0.05")


# ------------------------------------------------------------------------ on-time
def _temporal(names: list[str], exposure: float | None = 20.0) -> TemporalInfo:
    return TemporalInfo.example(names, tau=3.0).with_exposures(dict.fromkeys(names, exposure))


def test_temporal_layout_and_round_trip(tmp_path: Path) -> None:
    channels = [ChannelInfo.empty_example("green"), ChannelInfo.empty_example("red")]
    temporal = _temporal(["green", "red"])
    path = write_info(tmp_path / "t.h5", channels, attrs={"experiment": "day1"}, temporal=temporal)
    with h5py.File(path, "r") as handle:
        assert set(handle.keys()) == {"green", "red", TEMPORAL_AVERAGE}
        assert list(handle.attrs["channels"]) == ["green", "red"]
        assert handle.attrs["on_time_ms"] == 60.0 and handle.attrs["on_time_frames"] == 3.0
        group = handle["red/temporal"]
        assert set(group.keys()) == set(TEMPORAL_ARRAYS)
        np.testing.assert_array_equal(group["lags"][()], np.arange(1, 61))
        np.testing.assert_allclose(group["time_ms"][()], np.arange(1, 61) * 20.0)
        for name in ("on_time_ms", "on_time_frames", "exposure_ms", "crop_fr", "valid"):
            assert name in group.attrs
        assert group.attrs["crop_fr"] == 60 and group.attrs["exposure_ms"] == 20.0
        assert set(ARRAY_NAMES) <= set(handle["red"].keys())  # the PSF layout is kept
    info = read_info(path)
    assert list(info.channels) == ["green", "red"]  # the average is no channel
    assert info.on_time_ms == 60.0 and info.temporal.exposure_ms == 20.0
    back = info.temporal.channels["red"]
    np.testing.assert_array_equal(back.ac, temporal.channels["red"].ac)
    assert back.attrs["fit_lags"] == 30
    assert info.summary_rows()[1]["on_time_ms"] == 60.0


def test_unknown_exposure_is_nan(tmp_path: Path) -> None:
    path = write_info(
        tmp_path / "u.h5", [ChannelInfo.empty_example("a")], temporal=_temporal(["a"], None)
    )
    with h5py.File(path, "r") as handle:
        assert np.isnan(handle.attrs["on_time_ms"]) and handle.attrs["on_time_frames"] == 3.0
        assert np.isnan(handle["a/temporal"].attrs["exposure_ms"])
    assert np.isnan(read_info(path).summary_rows()[0]["on_time_ms"])


def test_temporal_must_match_the_channels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on-time curves of channel"):
        write_info(tmp_path / "m.h5", [ChannelInfo.empty_example("a")], temporal=_temporal(["b"]))
    with pytest.raises(ValueError, match="clashes"):
        write_info(
            tmp_path / "m.h5",
            [ChannelInfo.empty_example(TEMPORAL_AVERAGE)],
            temporal=_temporal([TEMPORAL_AVERAGE]),
        )
    assert _files(tmp_path) == []


def test_without_temporal_nothing_is_written(tmp_path: Path) -> None:
    path = write_info(tmp_path / "n.h5", [ChannelInfo.empty_example("a")])
    with h5py.File(path, "r") as handle:
        assert "temporal" not in handle["a"] and "on_time_ms" not in handle.attrs
        assert TEMPORAL_AVERAGE not in handle
    assert read_info(path).temporal is None


def test_temporal_npz_round_trip(tmp_path: Path) -> None:
    temporal = TemporalInfo.example(["a", "b"], tau=2.5)
    temporal.channels["b"] = TemporalCurve(
        temporal.channels["b"].ac, np.full(60, np.nan), math.nan, attrs={"reason": "noise"}
    )
    back = TemporalInfo.load(temporal.save(tmp_path / "on_time.npz"))
    assert list(back.channels) == ["a", "b"] and back.on_time_frames == 2.5
    assert not back.channels["b"].valid and back.channels["b"].attrs["reason"] == "noise"
    assert _files(tmp_path) == ["on_time.npz"]
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.npz: not an on-time file"):
        TemporalInfo.load(tmp_path / "bad.npz")


def test_temporal_from_a_measurement() -> None:
    from smlmlp.blink_temporal_on import blink_temporal_on

    movies = [
        simulate_movie(800, (24, 24), on_time_frames=4.0, seed=s, **SIMULATION)[0] for s in (1, 2)
    ]
    on_time, result = blink_temporal_on(movies, 60, exposure_ms=1.0)
    temporal = TemporalInfo.from_result(["a", "b"], on_time, result)
    assert temporal.on_time_frames == on_time and temporal.crop_fr == 60
    np.testing.assert_array_equal(temporal.average.fit, result["fit"])
    for name, curve in zip(["a", "b"], result["ac"], strict=True):
        np.testing.assert_array_equal(temporal.channels[name].ac, curve)
        assert temporal.channels[name].valid
        assert temporal.channels[name].on_time_frames == pytest.approx(on_time, rel=0.2)


def test_a_channel_of_thousands_of_files(tmp_path: Path) -> None:
    """An image sequence's 20 000 file names (1.3 MB, beyond HDF5's 64 KiB for an
    attribute of the original file format) are kept whole."""
    files = tuple(f"/data/2024-05-13/cells/img_{t:06d}.tif" for t in range(20_000))
    channel = dataclasses.replace(
        ChannelInfo.empty_example("img"), source_files=files, source_sizes_bytes=(131_262,) * 20_000
    )
    path = write_info(tmp_path / "info.h5", [channel])
    back = read_info(path).channels["img"]
    assert back.source_files == files and back.source_sizes_bytes == (131_262,) * 20_000
