"""``smlmlp psf FILE... -o OUT.h5``: the one-off command line."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile

from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.progress import ProgressBar
from smlmlp.simulation import simulate_movie

SIMULATION = {"photons": 2000.0, "background": 20.0, "on_density_per_um2": 0.5}


@pytest.fixture(scope="module")
def movies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("movies")
    green, _ = simulate_movie(500, (48, 48), sigx_nm=125.0, seed=1, **SIMULATION)
    red, _ = simulate_movie(500, (48, 48), sigx_nm=150.0, sigy_nm=140.0, seed=2, **SIMULATION)
    paths = {"green": folder / "green.tif", "red": folder / "red.tif"}
    tifffile.imwrite(paths["green"], green)
    tifffile.imwrite(paths["red"], red)
    paths["ome"] = folder / "calibrated.ome.tif"
    tifffile.imwrite(
        paths["ome"],
        green,
        ome=True,
        metadata={"axes": "TYX", "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1},
    )
    paths["dual"] = folder / "dual.tif"
    tifffile.imwrite(paths["dual"], np.concatenate([green, red], axis=2))
    paths["odd"] = folder / "odd.tif"
    tifffile.imwrite(paths["odd"], green[:, :, :47])
    paths["text"] = folder / "notes.tif"
    paths["text"].write_text("hello")
    return paths


def _sorted_sigmas(channel) -> list[float]:
    return sorted([channel.sigx_nm, channel.sigy_nm])


def test_two_files(movies: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "psf.h5"
    status = main(
        [
            "psf",
            str(movies["green"]),
            str(movies["red"]),
            "--pixel-nm",
            "100",
            "100",
            "--crop-pix",
            "31",
            "-o",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    info = read_info(out)
    assert list(info.channels) == ["green", "red"]
    np.testing.assert_allclose(_sorted_sigmas(info.channels["green"]), [125, 125], rtol=0.05)
    np.testing.assert_allclose(_sorted_sigmas(info.channels["red"]), [140, 150], rtol=0.05)
    red = info.channels["red"]
    assert red.ac.shape == (31, 31) and red.n_frames == 500
    assert red.source_sizes_bytes == (movies["red"].stat().st_size,)
    assert info.config["command"] == "smlmlp psf" and info.attrs["created"]
    lines = captured.out.splitlines()
    assert lines[0].split()[:2] == ["channel", "frames"]
    assert lines[1].startswith("green") and lines[2].startswith("red")


def test_pixel_size_from_the_file(movies: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "ome.h5"
    assert main(["psf", str(movies["ome"]), "-q", "-o", str(out)]) == 0
    channel = read_info(out).channels["calibrated"]
    assert channel.pixel_nm == pytest.approx((100.0, 100.0))
    assert channel.attrs["pixel_nm_origin"] == "movie file metadata"
    # --pixel-nm wins over the file (the fit is then in the wrong nm, on purpose); the
    # file after its value is a file
    assert main(["psf", "-q", "--pixel-nm", "50", str(movies["ome"]), "-o", str(out)]) == 0
    assert read_info(out).channels["calibrated"].pixel_nm == (50.0, 50.0)


def test_split(movies: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "dual.h5"
    args = ["psf", str(movies["dual"]), "--split", "horizontal", "--pixel-nm", "100"]
    assert main([*args, "-q", "-o", str(out)]) == 0
    info = read_info(out)
    assert list(info.channels) == ["dual_left", "dual_right"]
    np.testing.assert_allclose(_sorted_sigmas(info.channels["dual_right"]), [140, 150], rtol=0.05)


@pytest.mark.parametrize(
    ("key", "extra", "words"),
    [
        ("text", ["--pixel-nm", "100"], ["notes.tif", "not a TIFF"]),
        ("green", [], ["green.tif", "no pixel size", "--pixel-nm"]),
        ("odd", ["--split", "horizontal", "--pixel-nm", "100"], ["odd.tif", "odd"]),
        ("green", ["--pixel-nm", "100", "--min-frames", "1000"], ["green.tif", "500 frame(s)"]),
        ("green", ["--pixel-nm", "-1"], ["--pixel-nm", "positive"]),
        ("green", ["--pixel-nm", "100", "--chunk-frames", "0"], ["--chunk-frames", "at least 1"]),
        ("green", ["--pixel-nm", "100", "--min-frames", "-1"], ["--min-frames", "at least 1"]),
    ],
)
def test_bad_input_one_line_no_output(
    movies: dict[str, Path], tmp_path: Path, capsys, key: str, extra: list[str], words: list[str]
) -> None:
    out = tmp_path / "out.h5"
    status = main(["psf", str(movies[key]), *extra, "-q", "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smlmlp: error: ")
    for word in words:
        assert word in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder_fails_before_reading(
    movies: dict[str, Path], tmp_path: Path, capsys, monkeypatch
) -> None:
    """The output's folder is checked first: no pass over the movie is wasted."""
    import smlmlp.channel

    def refuse(*args, **kwargs):
        raise AssertionError("the movie was read before the output was checked")

    monkeypatch.setattr(smlmlp.channel, "accumulate_channel", refuse)
    out = tmp_path / "missing" / "out.h5"
    assert main(["psf", str(movies["green"]), "--pixel-nm", "100", "-q", "-o", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"smlmlp: error: {out}: the folder {out.parent} does not exist"]


def test_usage_errors(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["psf", "a.tif", "-o", "x.h5", "--pixel-nm", "1", "2", "3"])
    assert exit_info.value.code == 2
    assert "--pixel-nm takes one value or two" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # three numbers before the file: not a file "3"
        main(["psf", "--pixel-nm", "1", "2", "3", "a.tif", "-o", "x.h5"])
    assert "--pixel-nm takes one value or two" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["psf", "a.tif"])  # no -o


def test_progress_bar() -> None:
    stream = io.StringIO()
    with ProgressBar("red", stream, enabled=True) as bar:
        bar(2, 4)
        bar(4, 4)
        bar(4, 4)  # after the end: nothing more
    text = stream.getvalue()
    assert "red: 100%" in text and "4/4" in text and " frames/s" in text
    assert text.endswith("\n") and text.count("\n") == 1
    silent = io.StringIO()
    ProgressBar("red", silent)(4, 4)  # not a terminal: nothing drawn
    assert silent.getvalue() == ""
    never = io.StringIO()
    never.isatty = lambda: True  # type: ignore[method-assign]
    ProgressBar("red", never, enabled=False)(4, 4)
    assert never.getvalue() == ""
    unfinished = io.StringIO()
    with ProgressBar("red", unfinished, enabled=True) as bar:
        bar(1, 4)  # a pass stopped by an error: the bar ends its line
    assert "1/4" in unfinished.getvalue() and unfinished.getvalue().endswith("\n")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "smlmlp.cli", *args]


def _run_on_a_terminal(command: list[str]) -> tuple[int, str, str]:
    """Run ``command`` with its stderr on a pseudo-terminal of 100 columns.

    Returns the exit status, stdout, and what the terminal received.
    """
    termios = pytest.importorskip("termios")
    import fcntl
    import pty
    import struct

    main_fd, terminal_fd = pty.openpty()
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    received: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # EIO: every writer closed the terminal
                return
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=terminal_fd, text=True, timeout=300
        )
    finally:
        os.close(terminal_fd)
        reader.join(timeout=30)
        os.close(main_fd)
    return result.returncode, result.stdout, b"".join(received).decode("utf-8", "replace")


def test_progress_on_a_terminal(movies: dict[str, Path], tmp_path: Path) -> None:
    """A bar per channel and one for the on-time on a terminal's stderr; none with -q."""
    args = [
        "psf",
        str(movies["green"]),
        str(movies["red"]),
        "--pixel-nm",
        "100",
        "--on-time",
        "--temporal-lags",
        "20",
        "--crop-pix",
        "21",
    ]
    status, out, terminal = _run_on_a_terminal(_command(*args, "-o", str(tmp_path / "a.h5")))
    assert status == 0, terminal
    assert out.splitlines()[0].startswith("channel")  # the table stays on stdout
    for label, total in (("green", 500), ("red", 500), ("on-time", 2 * 2 * 500)):
        assert f"{label}: 100%" in terminal and f"{total}/{total}" in terminal, terminal
    assert " frames/s" in terminal and "\r" in terminal  # redrawn in place
    assert "wrote" in terminal.splitlines()[-1]
    status, out, terminal = _run_on_a_terminal(
        _command(*args, "-q", "-o", str(tmp_path / "b.h5"))
    )
    assert status == 0 and out.splitlines()[0].startswith("channel")
    assert terminal == ""


def test_progress_when_asked(movies: dict[str, Path], tmp_path: Path) -> None:
    """stderr redirected: the bar only with --progress; --progress and -q exclude each other."""
    args = ["psf", str(movies["green"]), "--pixel-nm", "100", "--crop-pix", "21"]
    result = subprocess.run(
        _command(*args, "--progress", "-o", str(tmp_path / "a.h5")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "green: 100%" in result.stderr and "500/500" in result.stderr
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--progress", "-q", "-o", str(tmp_path / "b.h5")])
    assert exit_info.value.code == 2


def test_entry_point(movies: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cli.h5"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smlmlp.cli",
            "psf",
            str(movies["green"]),
            "--pixel-nm",
            "100",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "green" in result.stdout and out.exists()
    # stderr is a pipe, not a terminal: no bar, only the line naming the file
    assert result.stderr.splitlines() == [f"wrote {out}"], result.stderr


def test_on_time(movies: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "on.h5"
    args = ["psf", str(movies["green"]), str(movies["red"]), "--pixel-nm", "100"]
    status = main(
        [*args, "--on-time", "--exposure-ms", "20", "--crop-pix", "25", "-q", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    info = read_info(out)
    temporal = info.temporal
    assert list(temporal.channels) == ["green", "red"] and temporal.crop_fr == 200
    # the simulation's default blinking: correlation time 1 / (k_on + k_off) = 2.94 frames
    assert temporal.on_time_frames == pytest.approx(2.94, rel=0.15)
    assert info.attrs["on_time_ms"] == pytest.approx(20.0 * temporal.on_time_frames)
    assert info.channels["red"].attrs["exposure_ms_origin"] == "--exposure-ms"
    assert info.config["on_time"] is True and info.config["exposure_ms"] == 20.0
    assert captured.out.splitlines()[-1].startswith("on-time: ")
    assert "ms (" in captured.out.splitlines()[-1]
    # its standard error: jackknife over groups of frames, in the file and the line
    assert 0 < info.attrs["on_time_ms_se"] < 0.2 * info.attrs["on_time_ms"]
    assert info.attrs["on_time_ms_se"] == pytest.approx(temporal.on_time_ms_se)
    assert " ± " in captured.out.splitlines()[-1]
    assert read_info(out).summary_rows()[0]["on_time_ms_se"] == info.attrs["on_time_ms_se"]


def test_on_time_without_exposure_is_in_frames(
    movies: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "frames.h5"
    args = ["psf", str(movies["dual"]), "--split", "horizontal", "--pixel-nm", "100"]
    assert main([*args, "--on-time", "--temporal-lags", "60", "-q", "-o", str(out)]) == 0
    info = read_info(out)
    assert list(info.temporal.channels) == ["dual_left", "dual_right"]
    assert info.temporal.crop_fr == 60
    assert np.isnan(info.attrs["on_time_ms"]) and np.isfinite(info.attrs["on_time_frames"])
    assert "exposure unknown" in capsys.readouterr().out


def test_without_on_time_no_temporal_group(movies: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "psf.h5"
    assert main(["psf", str(movies["green"]), "--pixel-nm", "100", "-q", "-o", str(out)]) == 0
    assert read_info(out).temporal is None


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--exposure-ms", "0"], ["--exposure-ms", "positive"]),
        (["--temporal-lags", "1"], ["--temporal-lags", "at least 2"]),
    ],
)
def test_on_time_bad_options(
    movies: dict[str, Path], tmp_path: Path, capsys, extra: list[str], words: list[str]
) -> None:
    out = tmp_path / "x.h5"
    args = ["psf", str(movies["green"]), "--pixel-nm", "100", "--on-time", *extra]
    assert main([*args, "-q", "-o", str(out)]) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("smlmlp: error: ") and "\n" not in line
    for word in words:
        assert word in line
    assert not out.exists()


def test_wavelength_and_na(movies: dict[str, Path], tmp_path: Path, capsys) -> None:
    """Given both, the expected sigma 0.21 wavelength / NA and the ratio: in the table,
    the file and the summary row; the movies' paths are absolute."""
    import h5py

    out = tmp_path / "psf.h5"
    # the lists of numbers before the files: each takes its numbers only
    args = ["psf", "--pixel-nm", "100", "--wavelength-nm", "520", "670"]
    args += [str(movies["green"]), str(movies["red"]), "--crop-pix", "31", "--na", "1.4"]
    assert main([*args, "-q", "-o", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "expected (nm)" in table[0] and "sigma/expected" in table[0]
    info = read_info(out)
    green, red = info.channels["green"], info.channels["red"]
    assert red.expected_sigma_nm == pytest.approx(100.5)  # 0.21 * 670 / 1.4, by hand
    assert green.expected_sigma_nm == pytest.approx(78.0)  # 0.21 * 520 / 1.4
    assert red.sigma_over_expected == pytest.approx(red.psf_sigma_nm / 100.5)
    assert table[2].split()[-3:] == ["100.5", f"{red.psf_sigma_nm / 100.5:.2f}", red.qc]
    with h5py.File(out, "r") as handle:
        attrs = handle["red"].attrs
        assert attrs["wavelength_nm"] == 670.0 and attrs["na"] == 1.4
        assert attrs["expected_sigma_nm"] == pytest.approx(100.5)
        assert attrs["sigma_over_expected"] == pytest.approx(red.psf_sigma_nm / 100.5)
        assert attrs["source_files_relative_to"] == ""
    assert red.source_files == (str(movies["red"].resolve()),)
    assert red.source_paths == red.source_files and Path(red.source_files[0]).is_absolute()
    row = info.summary_rows()[1]
    assert row["expected_sigma_nm"] == pytest.approx(100.5)


def test_options_without_their_partner_are_told(
    movies: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """One of --na and --wavelength-nm without the other: stored, no expected sigma, and
    a line that says why; --temporal-lags without --on-time: a line that it is ignored."""
    out = tmp_path / "psf.h5"
    args = ["psf", str(movies["green"]), "--pixel-nm", "100", "--crop-pix", "21", "-q"]
    for given, value, missing in (("--na", "1.4", "--wavelength-nm"),
                                  ("--wavelength-nm", "520", "--na")):
        assert main([*args, given, value, "-o", str(out)]) == 0
        printed = capsys.readouterr()
        assert printed.err.splitlines() == [
            f"smlmlp: warning: {given} without {missing}: stored, but no expected sigma "
            "(0.21 x wavelength / NA needs both)"
        ]
        assert "expected (nm)" not in printed.out
        green = read_info(out).channels["green"]
        stored = green.attrs["na" if given == "--na" else "wavelength_nm"]
        assert stored == float(value) and not math.isfinite(green.expected_sigma_nm)
    assert main([*args, "--temporal-lags", "50", "-o", str(out)]) == 0  # no --on-time
    assert capsys.readouterr().err.splitlines() == [
        "smlmlp: warning: --temporal-lags without --on-time: ignored (the lags of the on-time)"
    ]


def test_relative_movie_paths_are_stored_absolute(
    movies: dict[str, Path], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(movies["green"].parent)
    out = tmp_path / "psf.h5"
    assert (
        main(["psf", "green.tif", "--pixel-nm", "100", "--crop-pix", "21", "-q", "-o", str(out)])
        == 0
    )
    channel = read_info(out).channels["green"]
    assert channel.source_files == (str(movies["green"].resolve()),)
    assert math.isnan(channel.expected_sigma_nm)  # no wavelength, no NA


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--na", "1.8"], ["--na", "at most 1.7", "1.8"]),
        (["--na", "-1"], ["--na", "positive"]),
        (["--wavelength-nm", "0.67"], ["--wavelength-nm", "wavelength in nm", "0.67"]),
        (["--wavelength-nm", "500", "600"], ["--wavelength-nm", "2 wavelengths", "1 channel"]),
    ],
)
def test_bad_wavelength_or_na_one_line(
    movies: dict[str, Path], tmp_path: Path, capsys, monkeypatch, extra: list[str], words
) -> None:
    import smlmlp.channel

    def refuse(*args, **kwargs):
        raise AssertionError("the movie was read before the options were checked")

    monkeypatch.setattr(smlmlp.channel, "accumulate_channel", refuse)
    out = tmp_path / "x.h5"
    assert (
        main(["psf", str(movies["green"]), "--pixel-nm", "100", *extra, "-q", "-o", str(out)]) == 1
    )
    line = capsys.readouterr().err.strip()
    assert line.startswith("smlmlp: error: ") and "\n" not in line
    for word in words:
        assert word in line
    assert not out.exists()


def test_windows_and_tiles_are_printed_as_in_the_file(
    movies: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """`--time-windows` and `--tiles` print each window's and each tile's widths with
    their standard errors under the table: the numbers of the info file."""
    from smlmlp.estimate import is_round
    from smlmlp.infofile import format_value

    out = tmp_path / "parts.h5"
    arguments = ["psf", str(movies["red"]), "-q", "-o", str(out), "--pixel-nm", "100"]
    status = main([*arguments, "--crop-pix", "21", "--time-windows", "2", "--tiles", "2", "2"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    channel = read_info(out).channels["red"]
    lines = printed.out.splitlines()
    time, field = channel.sections["time"], channel.sections["field"]
    start = lines.index("red: PSF over time")
    assert lines[start + 1].split()[0] == "frames"
    for index in range(2):
        cells = lines[start + 2 + index].split("  ")
        assert cells[0] == f"{time['frame_start'][index]}-{time['frame_stop'][index] - 1}"
        numbers = [cell.strip() for cell in cells[1:] if cell.strip()]
        keys = ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm")
        expected = [format_value(time[k][index], time[f"{k}_se"][index]) for k in keys]
        widths = [time[k][index] for k in ("sigx_nm", "sigy_nm", "sigx_nm_se", "sigy_nm_se")]
        if is_round(*widths, time["psf_sigma_nm"][index]):  # its angle means nothing
            expected[2] = "round"
        assert numbers == expected
    start = [i for i, line in enumerate(lines) if line.startswith("red: sigma across the field")]
    rows = lines[start[0] + 2 : start[0] + 4]
    for row, line in zip(range(2), rows, strict=True):
        numbers = [cell.strip() for cell in line.split("  ")[1:] if cell.strip()]
        sigma, errors = field["psf_sigma_nm"][row], field["psf_sigma_nm_se"][row]
        assert numbers == [format_value(v, e) for v, e in zip(sigma, errors, strict=True)]
    # without either, nothing more than the table
    main([*arguments, "--crop-pix", "21"])
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_inspect_prints_an_info_file_as_psf_printed_it(
    movies: dict[str, Path], tmp_path: Path, capsys
) -> None:
    """`smlmlp inspect OUT.h5` prints the table, on-time and windows `smlmlp psf` printed
    when it wrote the file; an HDF5 file that is neither an info file nor a movie gets
    one line, and the other files are still described."""
    import h5py

    out = tmp_path / "run.h5"
    arguments = ["psf", str(movies["green"]), str(movies["red"]), "--pixel-nm", "100"]
    options = ["--crop-pix", "21", "--time-windows", "2", "--on-time", "--exposure-ms", "20"]
    assert main([*arguments, *options, "-q", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    other, empty = tmp_path / "other.h5", tmp_path / "empty.h5"
    with h5py.File(other, "w") as handle:
        handle["x"] = [1, 2]
    h5py.File(empty, "w").close()
    assert main(["inspect", str(other), str(out), str(empty)]) == 1
    captured = capsys.readouterr()
    head, *rest = captured.out.splitlines()
    assert head.startswith(f"{out}: PSF info file of 2 channel(s), written by smlmLP ")
    assert "\n".join(rest) + "\n" == printed
    no_movie = "no movie in this HDF5 file: no dataset of shape (frames, height, width)"
    assert captured.err.splitlines() == [
        f"smlmlp: error: {other}: {no_movie} with 2 frames or more (datasets: x (2,))",
        f"smlmlp: error: {empty}: {no_movie} with 2 frames or more (datasets: none)",
    ]
    assert main(["export", "--smap", str(other)]) == 1  # read_info's check
    assert capsys.readouterr().err.splitlines() == [
        f"smlmlp: error: {other}: not a PSF info file (no channel group 'x'; smlmlp psf and "
        "the workflow write them)",
    ]


def test_warnings_are_one_line_each(movies: dict[str, Path], tmp_path: Path, capsys) -> None:
    """The library's warnings reach the user as ``smlmlp: warning: ...`` lines: no PSF in
    a movie of noise, and fewer time windows than asked (500 frames: 25 groups)."""
    noise = tmp_path / "noise.tif"
    tifffile.imwrite(noise, np.random.default_rng(5).poisson(100, (200, 48, 48)).astype(np.uint16))
    arguments = ["psf", "-q", "--pixel-nm", "100", "--crop-pix", "21", "-o"]
    assert main([*arguments, str(tmp_path / "noise.h5"), str(noise)]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("smlmlp: warning: ") for line in lines), lines
    assert "noise (" in lines[0] and "no PSF found" in lines[0]
    out = tmp_path / "windows.h5"
    assert main([*arguments, str(out), str(movies["green"]), "--time-windows", "40"]) == 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    groups = len(read_info(out).channels["green"].sections["time"]["frame_start"])
    assert groups == 25
    assert line.startswith(f"smlmlp: warning: green ({movies['green']}): 25 time window(s), not 40")
