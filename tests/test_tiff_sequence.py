"""Image sequences, one TIFF file per frame: which files make one, the same frames and
PSF as the movie in one file, the command, and one line for every bad file."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.loading import open_movie
from smlmlp.movie_series import (
    MIN_SEQUENCE_FILES,
    folder_sequences,
    frame_sequences,
    group_movie_paths,
    group_series,
    sequence_name,
)
from smlmlp.simulation import simulate_movie
from smlmlp.tiff_sequence import TiffSequenceMovie

N_FRAMES = 300
SHAPE = (32, 32)


@pytest.fixture(scope="module")
def movies() -> tuple[np.ndarray, np.ndarray]:
    options = {"pixel_nm": 100.0, "photons": 2000.0, "background": 20.0}
    first, _ = simulate_movie(N_FRAMES, SHAPE, sigx_nm=130.0, sigy_nm=120.0, seed=21, **options)
    second, _ = simulate_movie(N_FRAMES, SHAPE, sigx_nm=155.0, seed=22, **options)
    return first, second


def _sigmas(stack: object) -> list[float]:
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=64)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


# ------------------------------------------------------------------ which files


def test_names_alike_but_for_the_frame_number() -> None:
    unpadded = [f"f{t}.tif" for t in range(1, 101)]  # f1, f2, ... f100: frame order
    found = frame_sequences([*unpadded, "f.tif", "bf_1.tif", "bf_2.tif", "notes_1.txt"])
    assert list(found) == ["f1.tif"]
    assert found["f1.tif"].files == tuple(unpadded) and found["f1.tif"].name == "f"
    # a further number that differs (the channel) makes a sequence of each of its values
    mm = [f"img_channel{c:03d}_position000_time{t:09d}_z000.tif"
          for t in range(100) for c in (0, 1)]
    found = frame_sequences(mm)
    assert [s.files[:2] for s in found.values()] == [
        ("img_channel000_position000_time000000000_z000.tif",
         "img_channel000_position000_time000000001_z000.tif"),
        ("img_channel001_position000_time000000000_z000.tif",
         "img_channel001_position000_time000000001_z000.tif"),
    ]
    # too few files, frame numbers written twice (1 and 01), other suffixes: none
    few = [f"img_{t}.tif" for t in range(MIN_SEQUENCE_FILES - 1)]
    twice = [f"img_{t}.tif" for t in range(100)] + ["img_01.tif"]
    others = [f"img_{t}.dax" for t in range(100)]
    assert frame_sequences(few) == frame_sequences(twice) == frame_sequences(others) == {}
    ome = frame_sequences([f"run-{t:03d}.ome.tiff" for t in range(100)])
    assert ome["run-000.ome.tiff"].name == "run"


def test_only_files_of_one_image_make_a_sequence(movies, tmp_path: Path) -> None:
    """Movies numbered alike (cell_1.tif, cell_2.tif, ...) stay movies of their own."""
    first, _ = movies
    for index in range(MIN_SEQUENCE_FILES):
        tifffile.imwrite(tmp_path / f"cell_{index + 1}.tif", first[:5])
    assert folder_sequences(tmp_path) == {}
    names = sorted(p.name for p in tmp_path.iterdir())
    assert group_series(tmp_path, names) == {name: [name] for name in names}


def test_files_of_a_sequence_are_one_movie_in_frame_order(movie_formats: ModuleType,
                                                          movies, tmp_path: Path) -> None:
    first, second = movies
    paths = movie_formats.write_micromanager_images(tmp_path, [first[:100], second[:100]])
    tifffile.imwrite(tmp_path / "bf.tif", first[0])
    names = sorted(p.name for p in tmp_path.glob("*.tif"))
    groups = group_series(tmp_path, names)
    heads = [p.name for p in paths[:: 100]]
    assert list(groups) == sorted(["bf.tif", *heads])
    assert groups[heads[1]] == [p.name for p in paths[100:]]
    assert sequence_name(paths[5]) == "cam0"  # its channel's name in metadata.txt
    # any file given brings its sequence, in frame order
    assert group_movie_paths([str(paths[120]), str(tmp_path / "bf.tif")]) == [
        [str(p) for p in paths[100:]], [str(tmp_path / "bf.tif")]
    ]


# ------------------------------------------------------------------ reading


def test_same_frames_and_psf_as_one_file(movie_formats: ModuleType, movies,
                                         tmp_path: Path) -> None:
    first, _ = movies
    paths = movie_formats.write_image_sequence(tmp_path / "sequence", first)
    with open_movie(paths[37]) as lazy:  # any of its files opens it
        assert isinstance(lazy, TiffSequenceMovie)
        assert lazy.shape == first.shape and lazy.dtype == np.uint16
        assert lazy.paths == [str(p.resolve()) for p in paths]
        np.testing.assert_array_equal(lazy[17:83], first[17:83])
        np.testing.assert_array_equal(lazy[-1], first[-1])
        assert lazy.metadata["kind"] == "tiff-sequence" and lazy.metadata["pixel_nm"] is None
        sigmas = _sigmas(lazy)
    np.testing.assert_allclose(sigmas, _sigmas(first), rtol=1e-9)
    assert 110 < min(sigmas) and max(sigmas) < 145
    with pytest.raises(ValueError, match="closed"):
        lazy[0:2]
    assert sequence_name(paths[0]) == "sequence"  # numbers alone: the folder names it


def test_pixel_size_and_exposure_from_the_first_file(movie_formats: ModuleType, movies,
                                                     tmp_path: Path) -> None:
    first, _ = movies
    paths = movie_formats.write_micromanager_images(tmp_path, [first[:100]], pixel_nm=108.0,
                                                    exposure_ms=30.0)
    with open_movie(paths[0]) as lazy:
        assert lazy.metadata["pixel_nm"] == pytest.approx((108.0, 108.0))
        assert lazy.metadata["exposure_ms"] == pytest.approx(30.0)


def test_a_bad_file_is_named(movie_formats: ModuleType, movies, tmp_path: Path) -> None:
    first, _ = movies
    paths = movie_formats.write_image_sequence(tmp_path, first[:101])
    tifffile.imwrite(paths[13], first[0, :16])  # another frame shape
    paths[25].write_bytes(paths[25].read_bytes()[:300])  # truncated
    tifffile.imwrite(paths[33], first[:2])  # two images
    with open_movie(paths[0]) as lazy:
        np.testing.assert_array_equal(lazy[:13], first[:13])
        with pytest.raises(ValueError, match=r"frame 13, .*00014\.tif: an image of 16x32 uint16"):
            lazy[10:20]
        with pytest.raises(ValueError, match=r"frame 25, .*00026\.tif: cannot be read"):
            lazy[25]
        with pytest.raises(ValueError, match=r"frame 33, .*00034\.tif: holds 2 images"):
            lazy[33]
    os.remove(paths[30])
    with open_movie(paths[0]) as lazy:  # a file missing: the frames that are there
        assert lazy.shape[0] == 100
        np.testing.assert_array_equal(lazy[29:31], first[[29, 31]])


# ------------------------------------------------------------------ the command


def test_command_measures_a_folder_of_frames(movie_formats: ModuleType, movies, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    first, second = movies
    folder = tmp_path / "acquisition"
    movie_formats.write_micromanager_images(folder, [first, second], pixel_nm=100.0)
    out = tmp_path / "psf.h5"
    assert main(["psf", str(folder), "-o", str(out), "--crop-pix", "21", "-q"]) == 0
    channels = read_info(out).channels
    names = ["cam0", "cam1"]
    assert list(channels) == names
    for name, movie in zip(names, (first, second), strict=True):
        widths = [channels[name].sigx_nm, channels[name].sigy_nm]
        np.testing.assert_allclose(widths, _sigmas(movie), rtol=1e-9)
        assert len(channels[name].source_files) == N_FRAMES
    # the files given by a pattern: the same movie
    files = sorted(str(p) for p in folder.glob("img_channel000_*.tif"))[:3]
    again = tmp_path / "again.h5"
    assert main(["psf", *files, "-o", str(again), "--crop-pix", "21", "-q"]) == 0
    assert read_info(again).channels[names[0]].sigx_nm == channels[names[0]].sigx_nm
    capsys.readouterr()
    assert main(["inspect", str(folder)]) == 0
    described = capsys.readouterr().out
    assert described.count(f"frames      {N_FRAMES} of 32 x 32 px") == 2
    assert "format      tiff-sequence (300 files, img_channel001_position000_time000000000_z000" \
        ".tif .. img_channel001_position000_time000000299_z000.tif), axes TYX" in described


# ------------------------------------------------------------------ the workflow's folders


def test_experiment_folder_of_sequences(movie_formats: ModuleType, movies, tmp_path: Path) -> None:
    """Each camera of Micro-Manager's separate image files is a channel, named after the
    files or in experiment.yaml by its first frame's file; the snapshot is left out."""
    from smlmlp_workflow import discover_experiments
    from smlmlp_workflow.plan import format_plan

    first, second = movies
    folder = tmp_path / "e1"
    movie_formats.write_micromanager_images(folder, [first[:120], second[:120]], pixel_nm=108.0)
    tifffile.imwrite(folder / "bf.tif", first[0])
    for position in range(12):  # snapshots at twelve positions: not a movie
        tifffile.imwrite(folder / f"wf_{position:02d}.tif", first[position])
    config = {"experiments_dir": str(tmp_path), "pixel_nm": None, "exposure_ms": None}
    plan = format_plan(discover_experiments(tmp_path, config), config)
    for c in (0, 1):  # named after Micro-Manager's channels (metadata.txt)
        row = (f"e1          cam{c}     e1/img_channel00{c}_position000_time000000000_z000.tif "
               "[first of 120 files, one per frame]  120 of 32 x 32  108 108 from movie file "
               "metadata  none")
        assert row in plan, plan
    assert "e1/bf.tif: left out: one image (32 x 32), not a movie" in plan
    assert "e1/wf_11.tif: left out: one image (32 x 32), not a movie" in plan
    assert "2 channel(s) in 1 experiment(s); 0 problem(s)" in plan
    (folder / "experiment.yaml").write_text(
        "channels:\n  cy5:\n    file: img_channel001_position000_time000000000_z000.tif\n"
    )
    channels = discover_experiments(tmp_path, config)["e1"].channels
    assert sorted(channels) == ["cam0", "cy5"]
    assert len(channels["cy5"].files) == 120
    last = "img_channel001_position000_time000000119_z000.tif"
    assert Path(channels["cy5"].files[-1]).name == last


def test_command_measures_every_movie_of_a_folder(movie_formats: ModuleType, movies,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A folder given to ``smlmlp psf``: its movies as the workflow reads an experiment
    folder (a movie file, an image sequence; the snapshot left out with a line); a
    folder of experiment folders names them."""
    first, second = movies
    folder = tmp_path / "data" / "e1"
    movie_formats.write_image_sequence(folder, second, pattern="cam2_{t:04d}.tif")
    tifffile.imwrite(folder / "cam1.tif", first, photometric="minisblack")
    tifffile.imwrite(folder / "bf.tif", first[0])
    out = tmp_path / "psf.h5"
    assert main(["psf", str(folder), "-o", str(out), "--pixel-nm", "100", "--crop-pix", "21",
                 "-q"]) == 0
    channels = read_info(out).channels
    assert list(channels) == ["cam1", "cam2"]
    np.testing.assert_allclose([channels["cam1"].sigx_nm, channels["cam1"].sigy_nm],
                               _sigmas(first), rtol=1e-9)
    np.testing.assert_allclose([channels["cam2"].sigx_nm, channels["cam2"].sigy_nm],
                               _sigmas(second), rtol=1e-9)
    err = capsys.readouterr().err
    assert f"smlmlp: {folder / 'bf.tif'}: left out: one image (32 x 32), not a movie" in err
    assert main(["psf", str(folder.parent), "-o", str(tmp_path / "no.h5"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"smlmlp: error: {folder.parent}: no movie in this folder") and (
        f"its subfolder e1 holds movies: give {folder}" in err
    ) and "\n" not in err
    assert not (tmp_path / "no.h5").exists()


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_files_laid_out_alike_are_read_from_their_bytes(byteorder: str, movies,
                                                        tmp_path: Path) -> None:
    """Files of one writer without per-frame metadata, either byte order: the frames
    as tifffile reads them, a compressed file among them read through tifffile."""
    first, _ = movies
    for t, frame in enumerate(first[:120]):
        compression = "zlib" if t == 50 else None
        tifffile.imwrite(tmp_path / f"f{t:03d}.tif", frame, byteorder=byteorder,
                         compression=compression, photometric="minisblack")
    with open_movie(tmp_path / "f000.tif") as lazy:
        assert lazy.dtype == np.dtype("uint16")
        np.testing.assert_array_equal(lazy[:], first[:120])


# ------------------------------------------------------------------ Micro-Manager's folders


def test_micromanager_channel_names(movie_formats: ModuleType, movies, tmp_path: Path) -> None:
    """Micro-Manager's sequences are named after the channels its metadata file names,
    where they tell the sequences apart; else after their files."""
    first, second = movies
    cases = {
        "named": (["Cy5", "Cy3"], ["Cy3", "Cy5"]),
        "unnamed": (None, [f"img_channel00{c}_position000_time_z000" for c in (0, 1)]),
        "alike": (["Cy5", "Cy5"], [f"img_channel00{c}_position000_time_z000" for c in (0, 1)]),
        "slash": (["GFP/mCherry", " Cy5 "], ["Cy5", "GFP-mCherry"]),
    }
    for case, (names, expected) in cases.items():
        paths = movie_formats.write_micromanager_images(
            tmp_path / case, [first[:100], second[:100]], channel_names=names
        )
        found = sorted({sequence_name(path) for path in paths})
        assert found == expected, case
    # Micro-Manager 1.4's names hold the channel's name
    mm14 = tmp_path / "mm14"
    for channel, movie in (("Cy5", first[:100]), ("Cy3", second[:100])):
        movie_formats.write_image_sequence(mm14, movie, pattern=f"img_{{t:09d}}_{channel}_000.tif")
    (mm14 / "metadata.txt").write_text('{"Summary": {"ChNames": ["Cy5", "Cy3"]}}')
    found = {sequence_name(mm14 / f"img_000000042_{c}_000.tif") for c in ("Cy3", "Cy5")}
    assert found == {"Cy3", "Cy5"}
    # cut short after its summary (an aborted acquisition): the names are still read
    cut = tmp_path / "cut"
    paths = movie_formats.write_micromanager_images(cut, [first[:100]], channel_names=["Cy5"])
    text = (cut / "metadata.txt").read_text()
    (cut / "metadata.txt").write_text(text[: text.index('"Metadata-')])
    os.utime(cut, ns=(0, 0))  # (a folder's sequences are worked out again when it changes)
    assert sequence_name(paths[0]) == "Cy5"


def test_acquisition_folder_of_positions(movie_formats: ModuleType, movies, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A Micro-Manager acquisition saved as separate image files, its positions in
    folders of their own (``Pos0/``, ``Pos1/``; ``Default/`` for one): the workflow's
    experiment and the command's folder, every position's camera a channel."""
    from smlmlp_workflow import discover_experiments
    from smlmlp_workflow.plan import format_plan

    first, second = movies
    acquisition = tmp_path / "data" / "acq_1"
    for position, movie in enumerate((first[:120], second[:120])):
        movie_formats.write_micromanager_images(acquisition / f"Pos{position}", [movie],
                                                pixel_nm=100.0, position=position, positions=2)
    tifffile.imwrite(acquisition / "bf.tif", first[0])  # a snapshot beside them
    single = tmp_path / "data" / "acq_2"
    movie_formats.write_micromanager_images(single / "Default", [first[:120], second[:120]],
                                            pixel_nm=100.0)
    config = {"experiments_dir": str(tmp_path / "data"), "pixel_nm": None, "exposure_ms": None}
    experiments = discover_experiments(tmp_path / "data", config)
    assert sorted(experiments["acq_1"].channels) == ["Pos0_cam0", "Pos1_cam0"]
    assert sorted(experiments["acq_2"].channels) == ["cam0", "cam1"]
    far = experiments["acq_1"].channels["Pos1_cam0"]
    assert [Path(f).parent.name for f in far.files] == ["Pos1"] * 120
    plan = format_plan(experiments, config)
    assert ("acq_1       Pos1_cam0  acq_1/Pos1/img_channel000_position001_time000000000_z000.tif "
            "[first of 120 files, one per frame]") in plan, plan
    assert "acq_1/bf.tif: left out: one image (32 x 32), not a movie" in plan
    assert "0 problem(s)" in plan
    # experiment.yaml names a position's movie by its path in the acquisition
    (acquisition / "experiment.yaml").write_text(
        "channels:\n  far:\n    file: Pos1/img_channel000_position001_time000000000_z000.tif\n"
    )
    channels = discover_experiments(tmp_path / "data", config)["acq_1"].channels
    assert sorted(channels) == ["Pos0_cam0", "far"] and channels["far"].files == far.files
    # the command on the acquisition's folder: the widths of the movies in one file
    out = tmp_path / "psf.h5"
    assert main(["psf", str(acquisition), "-o", str(out), "--crop-pix", "21", "-q"]) == 0
    assert f"{acquisition / 'bf.tif'}: left out" in capsys.readouterr().err
    measured = read_info(out).channels
    assert list(measured) == ["Pos0_cam0", "Pos1_cam0"]
    for name, movie in (("Pos0_cam0", first[:120]), ("Pos1_cam0", second[:120])):
        widths = [measured[name].sigx_nm, measured[name].sigy_nm]
        np.testing.assert_allclose(widths, _sigmas(movie), rtol=1e-9)


def test_micromanager_files_log_nothing(movie_formats: ModuleType, movies, tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """tifffile's lines about the stack-file header that Micro-Manager's image files lack
    ("failed to read summary settings") reach no handler, not even the root logger's
    (Snakemake's), however the files are looked at."""
    import logging

    from smlmlp_workflow import discover_experiments
    from smlmlp_workflow.plan import format_plan

    first, _ = movies
    movie_formats.write_micromanager_images(tmp_path / "e1", [first[:100]], pixel_nm=100.0)
    config = {"experiments_dir": str(tmp_path), "pixel_nm": None, "exposure_ms": None}
    with caplog.at_level(logging.DEBUG):
        format_plan(discover_experiments(tmp_path, config), config)
        with open_movie(tmp_path / "e1" / "img_channel000_position000_time000000000_z000.tif"):
            pass
    assert not [r for r in caplog.records if r.name.startswith("tifffile")], caplog.text
    assert logging.getLogger("tifffile").propagate
