"""Bad inputs, each answered with one line naming the file (or argument) and the problem.

One table per entry point: files given to the ``smlmlp psf`` command, arrays and
arguments given to the library, ``experiment.yaml`` files met by the workflow's
discovery. Every row is a real bad input (written by the test); the line the user
sees must name where the problem is and what it is. Unusual but valid inputs
(other data types, odd folder names) must give the numbers of the usual ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

import smlmlp_workflow as ws
from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.simulation import simulate_movie

MOVIE, _ = simulate_movie(300, (32, 32), seed=41)


def _grey(path: Path, frames: np.ndarray) -> None:
    tifffile.imwrite(path, frames, photometric="minisblack")


def _with_bad_value(value: float, frame: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        frames = MOVIE.astype(np.float32)
        frames[frame, 5, 7] = value
        _grey(path, frames)

    return write


def _truncated(path: Path) -> None:
    _grey(path, MOVIE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(path.with_suffix(".png"), MOVIE[0])
    os.replace(path.with_suffix(".png"), path)


#: name -> (writer of the bad file, extra command-line arguments, words of the line)
FILES = {
    "zero_byte": (lambda p: p.write_bytes(b""), [], ["not a TIFF file", "empty"]),
    "png_renamed": (_png, [], ["not a TIFF file", "PNG"]),
    "text": (lambda p: p.write_text("frames\n"), [], ["not a TIFF file"]),
    "truncated": (_truncated, [], ["truncated"]),
    "rgb": (
        lambda p: tifffile.imwrite(p, np.zeros((32, 32, 3), np.uint8), photometric="rgb"),
        [],
        ["colour (RGB) samples are not supported"],
    ),
    "single_image": (lambda p: _grey(p, MOVIE[0]), [], ["a single image cannot give a PSF"]),
    "three_frames": (lambda p: _grey(p, MOVIE[:3]), ["--min-frames", "100"], ["3 frame(s)"]),
    "nan_late_chunk": (
        _with_bad_value(np.nan, 250),
        ["--chunk-frames", "64"],
        ["NaN or infinite", "frame 250, row 5, column 7"],
    ),
    "inf_late_chunk": (
        _with_bad_value(np.inf, 290),
        ["--chunk-frames", "64"],
        ["NaN or infinite", "frame 290, row 5, column 7"],
    ),
    "constant": (lambda p: _grey(p, np.full((300, 32, 32), 7, np.uint16)), [], ["does not change"]),
    "all_zero": (lambda p: _grey(p, np.zeros((300, 32, 32), np.uint16)), [], ["does not change"]),
    "crop_too_large": (lambda p: _grey(p, MOVIE), ["--crop-pix", "41"], ["smaller than the 41x41"]),
    "odd_split": (
        lambda p: _grey(p, MOVIE[:, :, :31]),
        ["--split", "horizontal"],
        ["odd"],
    ),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_command_line_bad_files(case: str, tmp_path: Path, capsys) -> None:
    write, extra, words = FILES[case]
    path = tmp_path / f"{case}.tif"
    write(path)
    out = tmp_path / "out" / "psf_info.h5"
    out.parent.mkdir()
    args = ["psf", str(path), "--pixel-nm", "100", "--crop-pix", "21", "--min-frames", "3"]
    status = main([*args, *extra, "-q", "-o", str(out)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(lines) == 1 and lines[0].startswith("smlmlp: error: "), lines
    assert path.name in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert list(out.parent.iterdir()) == []  # nothing written


#: name -> (call, exception type, words of the message)
LIBRARY = {
    "one_array_not_a_list": (lambda: blink_spatial_psf(MOVIE), TypeError, ["channels", "[stack]"]),
    "no_channel": (lambda: blink_spatial_psf([]), ValueError, ["at least one channel"]),
    "two_d": (lambda: blink_spatial_psf([MOVIE[0]]), ValueError, ["channel 0", "3-D"]),
    "complex": (
        lambda: blink_spatial_psf([MOVIE.astype(np.complex64)]),
        TypeError,
        ["channel 0", "complex"],
    ),
    "boolean": (lambda: blink_spatial_psf([MOVIE > 100]), TypeError, ["channel 0", "bool"]),
    "crop_below_five": (lambda: blink_spatial_psf([MOVIE], 3), ValueError, ["crop_pix"]),
    "frames_smaller_than_crop": (
        lambda: blink_spatial_psf([MOVIE[:, :20, :20]], 21),
        ValueError,
        ["channel 0", "smaller than the 21x21 crop"],
    ),
    "negative_pixel": (
        lambda: blink_spatial_psf([MOVIE], 21, channels_pixels_nm=-100.0),
        ValueError,
        ["positive"],
    ),
    "second_channel_nan": (
        lambda: blink_spatial_psf([MOVIE, np.full(MOVIE.shape, np.nan, np.float32)], 21),
        ValueError,
        ["channel 1", "NaN"],
    ),
}


@pytest.mark.parametrize("case", sorted(LIBRARY))
def test_library_bad_inputs(case: str) -> None:
    call, error, words = LIBRARY[case]
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


#: name -> (experiment.yaml text, words of the problem)
SETTINGS = {
    "yaml_syntax_error": ("pixel_nm: [100, 100\n", ["not valid YAML", "line"]),
    "unknown_key": ("pixel_nmm: 100\n", ["unknown key 'pixel_nmm'"]),
    "negative_pixel": ("pixel_nm: -100\n", ["pixel_nm", "positive"]),
    "zero_pixel": ("pixel_nm: 0\n", ["pixel_nm", "positive"]),
    "pixel_wrong_type": ("pixel_nm: hundred\n", ["pixel_nm", "'hundred'"]),
    "exposure_wrong_type": ("exposure_ms: [1, 2]\n", ["exposure_ms", "positive number"]),
    "not_a_mapping": ("- 100\n- 200\n", ["experiment.yaml"]),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_workflow_bad_settings(case: str, tmp_path: Path) -> None:
    text, words = SETTINGS[case]
    folder = tmp_path / case
    folder.mkdir()
    _grey(folder / "movie.tif", MOVIE)
    (folder / "experiment.yaml").write_text(text)
    experiment = ws.inspect_experiment(folder)
    assert not experiment.ok
    assert experiment.problem.startswith(f"{folder / 'experiment.yaml'}: ")
    assert "\n" not in experiment.problem
    for word in words:
        assert word in experiment.problem, experiment.problem


def test_odd_folders_are_found(tmp_path: Path) -> None:
    """Spaces and non-ASCII characters in names, and a symlink loop in the folder."""
    root = tmp_path / "experiments"
    odd = root / "day 2 – ünïcode é"
    odd.mkdir(parents=True)
    _grey(odd / "mövie 1.tif", MOVIE)
    (odd / "experiment.yaml").write_text("pixel_nm: 100\n")
    looped = root / "looped"
    looped.mkdir()
    _grey(looped / "movie.tif", MOVIE)
    os.symlink(looped, looped / "again")  # a loop: discovery must not follow it forever
    experiments = ws.discover_experiments(str(root), {})
    assert sorted(experiments) == sorted([odd.name, "looped"])
    assert list(experiments[odd.name].channels) == ["mövie 1"]
    assert list(experiments["looped"].channels) == ["movie"]


@pytest.mark.parametrize("dtype", ["uint32", "int16", "float32", "float64", ">u2"])
def test_other_data_types_give_the_same_numbers(dtype: str, tmp_path: Path) -> None:
    reference = tmp_path / "uint16.tif"
    _grey(reference, MOVIE)
    other = tmp_path / f"{dtype.replace('>', 'be_')}.tif"
    _grey(other, MOVIE.astype(dtype))
    widths = {}
    for path in (reference, other):
        out = tmp_path / f"{path.stem}.h5"
        assert (
            main(["psf", str(path), "--pixel-nm", "100", "--crop-pix", "21", "-q", "-o", str(out)])
            == 0
        )

        with h5py.File(out, "r") as handle:
            channel = str(handle.attrs["channels"][0])
            widths[path] = (handle[channel].attrs["sigx_nm"], handle[channel].attrs["sigy_nm"])
    assert widths[other] == widths[reference]


def test_the_suite_holds_at_least_25_bad_inputs() -> None:
    assert len(FILES) + len(LIBRARY) + len(SETTINGS) >= 25
