"""The info file as other programs see it: units, dimension scales, Fiji's element size,
MATLAB-readable flags, and files written before these were added."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from smlmlp.infofile import (
    ARRAY_NAMES,
    IMAGE_NAMES,
    TEMPORAL_AVERAGE,
    UNITS,
    ChannelInfo,
    TemporalInfo,
    read_info,
    write_info,
)


def _channel(name: str = "red", pixel_nm: tuple[float, float] = (110.0, 95.0)) -> ChannelInfo:
    channel = ChannelInfo.empty_example(name)
    channel.pixel_nm = pixel_nm
    channel.sections = {
        "time": {
            "frame_start": np.array([0, 250]),
            "frame_stop": np.array([250, 500]),
            "sigx_nm": np.array([130.0, 131.0]),
            "sigx_nm_se": np.array([1.0, 1.1]),
            "theta_deg": np.array([0.0, 1.0]),
            "n_groups": np.array([20, 20]),
        },
        "field": {
            "sigx_nm": np.full((2, 3), 130.0),
            "valid": np.ones((2, 3), np.int8),
            "row_centre_px": np.array([12.0, 36.0]),
            "column_centre_px": np.array([8.0, 24.0, 40.0]),
        },
    }
    return channel


@pytest.fixture()
def written(tmp_path: Path) -> Path:
    names = ["green", "red"]
    temporal = TemporalInfo.example(names, tau=3.0).with_exposures(dict.fromkeys(names, 20.0))
    channels = [_channel("green", (100.0, 100.0)), _channel("red")]
    return write_info(tmp_path / "psf_info.h5", channels, temporal=temporal)


def _datasets(handle: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}

    def keep(name: str, item: h5py.HLObject) -> None:
        if isinstance(item, h5py.Dataset):
            found[name] = item

    handle.visititems(keep)
    return found


def test_every_dataset_has_units(written: Path) -> None:
    with h5py.File(written, "r") as handle:
        datasets = _datasets(handle)
        assert len(datasets) > 30
        for name, dataset in datasets.items():
            assert "units" in dataset.attrs, name
        red = handle["red"]
        assert red["ac"].attrs["units"] == "ADU^2"
        for name in ("psf", "fit", "spline", "coeffs"):
            assert red[name].attrs["units"] == "1"
        for name in ("tx", "ty", "x_nm", "y_nm"):
            assert red[name].attrs["units"] == "nm"
        temporal = red["temporal"]
        assert temporal["lags"].attrs["units"] == "frame"
        assert temporal["time_ms"].attrs["units"] == "ms"
        assert temporal["ac"].attrs["units"] == temporal["fit"].attrs["units"] == "ADU^2"
        assert handle[TEMPORAL_AVERAGE]["fit"].attrs["units"] == "ADU^2"
        assert red["time/sigx_nm_se"].attrs["units"] == "nm"
        assert red["time/theta_deg"].attrs["units"] == "degree"
        assert red["time/frame_start"].attrs["units"] == "frame"
        assert red["field/column_centre_px"].attrs["units"] == "pixel"
    # the units of the channel's datasets are said in one place
    assert set(UNITS["channel"]) == {*ARRAY_NAMES, "x_nm", "y_nm"}


def test_images_carry_their_coordinates(written: Path) -> None:
    with h5py.File(written, "r") as handle:
        red = handle["red"]
        np.testing.assert_allclose(red["x_nm"][()], np.arange(-7, 8) * 95.0)
        np.testing.assert_allclose(red["y_nm"][()], np.arange(-7, 8) * 110.0)
        assert red["x_nm"].is_scale and red["y_nm"].is_scale
        for name in IMAGE_NAMES:
            dataset = red[name]
            assert dataset.dims[0][0].name == "/red/y_nm"
            assert dataset.dims[1][0].name == "/red/x_nm"
            assert (dataset.dims[0].label, dataset.dims[1].label) == ("y", "x")
            assert dataset.attrs["axes"] == "yx"
            np.testing.assert_allclose(dataset.attrs["element_size_um"], [0.110, 0.095])
        np.testing.assert_allclose(handle["green/psf"].attrs["element_size_um"], [0.1, 0.1])
        assert red["coeffs"].attrs["axes"] == "yx"
        for name in ("ac", "fit"):
            dims = red["temporal"][name].dims[0]
            assert [scale.name for scale in dims.values()] == [
                "/red/temporal/lags",
                "/red/temporal/time_ms",
            ]
        assert handle[TEMPORAL_AVERAGE]["ac"].dims[0][0].name == "/temporal_average/lags"
        assert red["time/sigx_nm"].dims[0][0].name == "/red/time/frame_start"
        field = red["field/sigx_nm"]
        assert field.dims[0][0].name == "/red/field/row_centre_px"
        assert field.dims[1][0].name == "/red/field/column_centre_px"
        assert red["field/valid"].attrs["axes"] == "yx"


def test_flags_are_integers_matlab_reads(written: Path) -> None:
    with h5py.File(written, "r") as handle:
        for group in (handle["red"], handle["red/temporal"], handle[TEMPORAL_AVERAGE]):
            assert isinstance(group.attrs.get_id("valid").get_type(), h5py.h5t.TypeIntegerID)
            assert group.attrs["valid"] == 1
        # no attribute anywhere is an HDF5 enum (what h5py makes of numpy.bool_)
        found: list[str] = []

        def check(name: str, item: h5py.HLObject) -> None:
            for key in item.attrs:
                if isinstance(item.attrs.get_id(key).get_type(), h5py.h5t.TypeEnumID):
                    found.append(f"{name}@{key}")

        check("/", handle)
        handle.visititems(check)
        assert found == []
    info = read_info(written)
    assert info.channels["red"].valid is True
    assert info.temporal is not None and info.temporal.average.valid


def test_an_invalid_channel_reads_back_invalid(tmp_path: Path) -> None:
    channel = ChannelInfo.empty_example("noise")
    channel.valid, channel.qc = False, "invalid"
    path = write_info(tmp_path / "n.h5", [channel])
    with h5py.File(path, "r") as handle:
        assert handle["noise"].attrs["valid"] == 0
    back = read_info(path).channels["noise"]
    assert back.valid is False and math.isnan(back.psf_sigma_nm)


def test_files_without_the_new_attributes_are_read(tmp_path: Path) -> None:
    """A file of an earlier version: no scales, units or coordinates, ``valid`` an enum."""
    channel = ChannelInfo.empty_example("red")
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["channels"] = np.array(["red"], dtype=h5py.string_dtype())
        handle.attrs["config"] = "{}"
        group = handle.create_group("red")
        for name in ARRAY_NAMES:
            group.create_dataset(name, data=getattr(channel, name))
        for key in ("sigx_nm", "sigy_nm", "theta_deg", "n_frames"):
            group.attrs[key] = getattr(channel, key)
        group.attrs["pixel_nm"] = np.array(channel.pixel_nm)
        group.attrs["source_files"] = np.array(["red.tif"], dtype=h5py.string_dtype())
        group.attrs["source_sizes_bytes"] = np.array([1], dtype=np.int64)
        group.attrs["valid"] = np.bool_(True)
        group.attrs["qc"] = "valid"
    back = read_info(path).channels["red"]
    assert back.valid is True and back.sigx_nm == 130.0
    assert math.isnan(back.expected_sigma_nm) and math.isnan(back.sigma_over_expected)
    assert back.source_paths == ("red.tif",)
    row = back.summary_row("day1")
    assert math.isnan(row["expected_sigma_nm"]) and math.isnan(row["sigma_over_expected"])
