"""``smlmlp export --smap``: the spline PSF as a SMAP / DECODE ``_3dcal.mat``."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import loadmat

from smlmlp.cli import main
from smlmlp.estimate import estimate_from_sums
from smlmlp.export import SMAP_DZ_NM, SMAP_Z_PLANES
from smlmlp.infofile import ChannelInfo, read_info, write_info
from smlmlp.psf import evaluate_spline
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import accumulate_spectrum

CROP = 21


@pytest.fixture(scope="module")
def info_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two measured channels, one elongated and rotated (the axes must not swap)."""
    folder = tmp_path_factory.mktemp("export")
    channels = []
    for name, seed, shape in (("red", 5, (150.0, 105.0, 20.0)), ("green", 6, (125.0, 125.0, 0))):
        movie, _ = simulate_movie(
            400,
            (48, 48),
            sigx_nm=shape[0],
            sigy_nm=shape[1],
            theta_deg=shape[2],
            photons=2000.0,
            background=20.0,
            seed=seed,
        )
        estimate = estimate_from_sums(accumulate_spectrum(movie), CROP, (100.0, 90.0))
        channels.append(ChannelInfo.from_estimate(name, estimate, n_frames=400))
    return write_info(folder / "psf_info.h5", channels)


def smap_psf(coeff: np.ndarray, u: float, v: float, w: float) -> float:
    """The PSF at continuous voxel coordinates (0-based, along MATLAB axes 1, 2, 3) as
    SMAP's format defines it: the cell ``floor`` of each (the last cell at the far edge)
    and ``sum coeff[i, j, k, 16 c + 4 b + a] u^a v^b w^c`` of the position inside it."""
    cells = []
    for position, count in zip((u, v, w), coeff.shape[:3], strict=True):
        index = min(int(math.floor(position)), count - 1)
        cells.append((index, position - index))
    (i, du), (j, dv), (k, dw) = cells
    total = 0.0
    for c in range(4):
        for b in range(4):
            for a in range(4):
                total += float(coeff[i, j, k, 16 * c + 4 * b + a]) * du**a * dv**b * dw**c
    return total


def _load(path: Path):
    """As DECODE's SMAPSplineCoefficient loads it."""
    content = loadmat(path, struct_as_record=False, squeeze_me=True)
    return content["SXY"], content["parameters"]


def test_round_trip_reproduces_the_spline(info_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "red_3dcal.mat"
    assert main(["export", "--smap", str(info_file), "--channel", "red", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    sxy, parameters = _load(out)
    coeff = sxy.cspline.coeff
    assert isinstance(coeff, np.ndarray) and coeff.dtype == np.float32
    assert coeff.shape == (CROP - 1, CROP - 1, SMAP_Z_PLANES - 1, 64)
    assert sxy.cspline.x0 == (CROP + 1) // 2 and sxy.cspline.dz == SMAP_DZ_NM
    assert sxy.cspline.z0 == math.ceil(SMAP_Z_PLANES / 2)
    assert list(sxy.Xrange) == [-np.inf, np.inf] and not sxy.EMon
    assert list(parameters.fminmax) == [1, SMAP_Z_PLANES] and parameters.dz == SMAP_DZ_NM
    channel = read_info(info_file).channels["red"]
    scale = float(parameters.psf_normalisation)
    assert scale == pytest.approx(channel.spline.sum())
    # at every pixel of the crop, in every plane: our spline (= our PSF there)
    for k in (0.0, 1.5, SMAP_Z_PLANES - 1.0):
        values = np.array([[smap_psf(coeff, r, c, k) for c in range(CROP)] for r in range(CROP)])
        np.testing.assert_allclose(values * scale, channel.spline, rtol=0, atol=1e-6)
        np.testing.assert_allclose(values * scale, channel.psf, rtol=0, atol=1e-6)
    # and between the pixels: the same bicubic polynomials, not an approximation
    half = CROP // 2
    for r, c in ((half + 0.5, half - 2.25), (3.7, 15.2), (half, half + 0.4)):
        ours = evaluate_spline(
            channel.tx, channel.ty, channel.coeffs, [(c - half) * 90.0], [(r - half) * 100.0]
        )
        assert smap_psf(coeff, r, c, 1.0) * scale == pytest.approx(ours[0, 0], abs=1e-6)
    # axis 1 is the image rows: the PSF rotated by theta is not transposed
    assert not np.allclose(channel.spline, channel.spline.T, atol=1e-3)
    assert np.asarray(sxy.PSF).shape == (CROP, CROP, SMAP_Z_PLANES)
    np.testing.assert_allclose(np.asarray(sxy.PSF)[:, :, 0] * scale, channel.spline, atol=1e-6)


def test_every_channel_to_its_default_file(info_file: Path, tmp_path: Path) -> None:
    info = tmp_path / "day1.h5"
    info.write_bytes(info_file.read_bytes())
    assert main(["export", "--smap", str(info), "-q"]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["day1.h5", "day1_green_3dcal.mat", "day1_red_3dcal.mat"]
    sxy, parameters = _load(tmp_path / "day1_green_3dcal.mat")
    assert parameters.channel == "green" and sxy.cspline.coeff.shape[0] == CROP - 1


def test_every_channel_skips_those_without_a_psf(
    info_file: Path, tmp_path: Path, capsys
) -> None:
    """Without --channel, a channel without a PSF is told in a warning line and the
    others are exported; asked by name, it is an error; with none left, one line."""
    good = read_info(info_file).channels["red"]
    noise = ChannelInfo.empty_example("noise")
    noise.coeffs = np.ones_like(noise.coeffs)
    noise.valid, noise.qc = False, "invalid"
    info = write_info(tmp_path / "day1.h5", [noise, good])
    assert main(["export", "--smap", str(info), "-q"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"smlmlp: warning: {info}: channel noise: no PSF was found (QC invalid); its spline "
        "would model noise, nothing exported"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day1.h5", "day1_red_3dcal.mat"]
    _one_line_error(
        capsys, ["export", "--smap", str(info), "--channel", "noise"], tmp_path, "no PSF"
    )
    second = ChannelInfo.empty_example("noise2")
    second.coeffs, second.valid, second.qc = noise.coeffs, False, "invalid"
    none = write_info(tmp_path / "none.h5", [noise, second])
    _one_line_error(
        capsys, ["export", "--smap", str(none)], tmp_path, "no channel with a PSF (noise, noise2)"
    )


def _one_line_error(capsys, args: list[str], folder: Path, *words: str) -> None:
    before = sorted(folder.iterdir())
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("smlmlp: error: ") and "\n" not in err, err
    for word in words:
        assert word in err, err
    assert sorted(folder.iterdir()) == before  # nothing written


def test_missing_channel_one_line(info_file: Path, tmp_path: Path, capsys) -> None:
    info = tmp_path / "i.h5"
    info.write_bytes(info_file.read_bytes())
    args = ["export", "--smap", str(info), "--channel", "blue"]
    _one_line_error(capsys, args, tmp_path, str(info), "no channel 'blue'", "red, green")
    args = ["export", "--smap", str(info), "-o", str(tmp_path / "x_3dcal.mat")]
    _one_line_error(capsys, args, tmp_path, "-o names one file", "--channel")
    missing = tmp_path / "missing.h5"
    _one_line_error(capsys, ["export", "--smap", str(missing)], tmp_path, "no such info file")


def test_file_without_a_spline_one_line(info_file: Path, tmp_path: Path, capsys) -> None:
    info = tmp_path / "nospline.h5"
    info.write_bytes(info_file.read_bytes())
    with h5py.File(info, "a") as handle:
        del handle["red/coeffs"]
    args = ["export", "--smap", str(info), "--channel", "red"]
    _one_line_error(capsys, args, tmp_path, str(info), "channel red holds no spline", "coeffs")
    # all channels are checked before any is written
    _one_line_error(capsys, ["export", "--smap", str(info)], tmp_path, "channel red")

    zeros = write_info(tmp_path / "zeros.h5", [ChannelInfo.empty_example("red")])
    args = ["export", "--smap", str(zeros)]
    _one_line_error(capsys, args, tmp_path, "zeros.h5", "holds no spline", "all zero")

    noise = ChannelInfo.empty_example("noise")
    noise.coeffs = np.ones_like(noise.coeffs)
    noise.valid, noise.qc = False, "invalid"
    invalid = write_info(tmp_path / "invalid.h5", [noise])
    args = ["export", "--smap", str(invalid)]
    _one_line_error(capsys, args, tmp_path, "channel noise", "no PSF was found")

    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    _one_line_error(capsys, ["export", "--smap", str(text)], tmp_path, "text.h5", "HDF5")
