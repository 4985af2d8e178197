"""End to end: experiment folders of .dax, Picasso .raw, .ims, OME-Zarr, .czi, .nd2,
.sif, .spe movies, a Micro-Manager NDTiff dataset and image sequences (a TIFF file per frame).

One run: the same simulated movie as TIFF and in every other format (one experiment
each kind), the same two-camera movie split into halves as TIFF and as .dax / OME-Zarr /
.nd2, the two cameras' movies as the two channels of one file of each format that holds
channels (two image series of an OME-TIFF, two points of an .nd2, two scenes of a
.czi, an NDTiff dataset over several files too), and bad files of the other formats.
Every format must give the TIFF's widths to 1e-9, each bad file must fail its
experiment with one line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import tifffile

from smlmlp.formats import MOVIE_SUFFIXES, reader_package
from smlmlp.infofile import read_info

pytestmark = pytest.mark.workflow

N_FRAMES = 300
SHAPE = (32, 32)
#: Formats of the "formats" experiment: every one besides TIFF whose library is installed
FORMATS = [
    suffix[1:]
    for suffix in MOVIE_SUFFIXES
    if reader_package(suffix) is None or importlib.util.find_spec(reader_package(suffix))
]
#: Formats whose files hold several channels (besides TIFF), when installed
CHANNEL_FORMATS = [name for name in ("ims", "zarr", "czi", "nd2", "h5") if name in FORMATS]
#: Whether Micro-Manager's NDTiff writer is installed (the test extra has it)
NDTIFF = importlib.util.find_spec("ndtiff") is not None
#: bad experiment -> words its error line must hold
BAD = {
    "bad_dax": ["movie.dax", "truncated .dax"],
    "bad_raw": ["movie.raw", "movie.yaml is missing"],
    "bad_ims": ["movie.ims", "corrupt or truncated .ims"],
    "bad_nd2": ["movie.nd2", "corrupt or truncated .nd2"],
    "bad_sif": ["movie.sif", "corrupt or truncated .sif"],
    "bad_spe": ["movie.spe", "truncated .spe"],
    "bad_npy": ["movie.npy", "truncated .npy file", "needs 307328 bytes"],
    "bad_dcimg": ["movie.dcimg", "truncated .dcimg file", "4 frames of 32x32 px need"],
    "bad_sequence": ["00101.tif", "frame 100", "an image of 16x32 uint16"],
}
if "sifx" in FORMATS:
    BAD["bad_sifx"] = ["Spooled files.sifx", "frames 21..", "no 3000000000spool.dat"]


def _make(wf: SimpleNamespace, formats: ModuleType, root: Path) -> None:
    movie, _ = wf.simulate(N_FRAMES, SHAPE, sigx_nm=130.0, sigy_nm=120.0, seed=11)
    other, _ = wf.simulate(N_FRAMES, SHAPE, sigx_nm=150.0, seed=12)
    dual = np.concatenate([movie, other], axis=2)
    wf.write_tiff(root / "tiff" / "movie.tif", movie)
    for name in FORMATS:
        suffix, writer = formats.WRITERS[name]
        writer(root / "formats" / f"{name}{suffix}", movie)
    wf.write_tiff(root / "split_tiff" / "dual.tif", dual)
    formats.write_dax(root / "split_formats" / "dual_dax.dax", dual)
    if "zarr" in FORMATS:
        formats.write_ome_zarr(root / "split_formats" / "dual_zarr.zarr", dual, chunk_frames=100)
    if "nd2" in FORMATS:
        formats.write_nd2(root / "split_formats" / "dual_nd2.nd2", dual)
    for name in ("split_tiff", "split_formats"):
        wf.write_yaml(root / name / "experiment.yaml", {"split": "horizontal"})
    # the two cameras as the two channels of one file
    both = np.stack([movie, other], axis=1)  # frames, channels, y, x
    names = ["Cy5", "Cy3"]
    for folder in ("channels", "channels_named"):
        (root / folder).mkdir(parents=True)
        metadata = {"axes": "TCYX", "Channel": {"Name": names}}
        tifffile.imwrite(root / folder / "two.ome.tif", both, metadata=metadata)
    tifffile.imwrite(root / "channels" / "two_ij.tif", both, imagej=True, metadata={"axes": "TCYX"})
    with tifffile.TiffWriter(root / "channels" / "two_positions.ome.tif", ome=True) as tif:
        for position, frames in enumerate((movie, other)):  # an image series each
            tif.write(frames, metadata={"axes": "TYX", "Name": f"Pos{position}"})
    if "nd2" in FORMATS:  # a multi-point acquisition
        formats.write_nd2(root / "channels" / "two_points.nd2", np.stack([movie, other], 1),
                          position_names=["A1", "B2"])
    if "czi" in FORMATS:  # two scenes
        formats.write_czi(root / "channels" / "two_scenes.czi", [movie, other])
    for name in CHANNEL_FORMATS:
        suffix, writer = formats.WRITERS[name]
        path = root / "channels" / f"two_{name}{suffix}"
        if name == "nd2":  # the channels interleaved in each frame, named by the writer
            writer(path, np.stack([movie, other], -1), channels=2)
        else:
            writer(path, both, channel_names=names)
    if NDTIFF:  # a Micro-Manager NDTiff dataset over several files: its folder "two_1"
        formats.write_ndtiff(root, "two", both, channel_names=names, file_bytes=5_050_000)
    # named in experiment.yaml: one by its name, one by its index
    wf.write_yaml(
        root / "channels_named" / "experiment.yaml",
        {"channels": {"red": {"file": "two.ome.tif", "file_channel": "Cy5"},
                      "green": {"file": "two.ome.tif", "file_channel": 1}}},
    )
    # one TIFF file per frame: Micro-Manager's separate image files of the two cameras
    # beside a snapshot, numbers alone (named after the folder), and a bad frame
    formats.write_micromanager_images(root / "sequences", [movie, other])
    tifffile.imwrite(root / "sequences" / "bf.tif", movie[0])
    formats.write_image_sequence(root / "challenge", movie)
    # a Micro-Manager acquisition of two positions, as it writes them, a snapshot beside
    for position, camera in enumerate((movie, other)):
        formats.write_micromanager_images(root / "positions" / f"Pos{position}", [camera],
                                          channel_names=["Cy5"], position=position, positions=2)
    tifffile.imwrite(root / "positions" / "bf.tif", movie[0])
    if "sifx" in FORMATS:  # an Andor spooled series in a folder of its own; one missing a file
        formats.write_andor_spool(root / "spooled" / "cam" / "Spooled files.sifx", other)
        bad = formats.write_andor_spool(root / "bad_sifx" / "Spooled files.sifx", movie)
        (bad.parent / "3000000000spool.dat").unlink()
    bad = formats.write_image_sequence(root / "bad_sequence", movie)
    tifffile.imwrite(bad[100], movie[0, :16])
    # Picasso's sidecar is not a movie, and experiment.yaml stays the settings file
    formats.write_picasso_raw(root / "formats" / "raw.raw", movie, pixel_nm=100.0)
    # pco CamWare's recording: a TIFF, its .rec beside it not a movie
    formats.write_pcoraw(root / "formats" / "pcoraw.pcoraw", movie)

    bad = formats.write_dax(root / "bad_dax" / "movie.dax", movie[:150])
    bad.write_bytes(bad.read_bytes()[:1000])
    formats.write_picasso_raw(root / "bad_raw" / "movie.raw", movie[:150])
    (root / "bad_raw" / "movie.yaml").unlink()
    bad = formats.write_ims(root / "bad_ims" / "movie.ims", movie[:150])
    bad.write_bytes(bad.read_bytes()[:5000])
    (root / "bad_nd2").mkdir()
    (root / "bad_nd2" / "movie.nd2").write_bytes(b"\0" * 100)
    (root / "bad_sif").mkdir()
    (root / "bad_sif" / "movie.sif").write_bytes(b"\0" * 100)
    bad = formats.write_spe(root / "bad_spe" / "movie.spe", movie[:150])
    bad.write_bytes(bad.read_bytes()[:20000])
    bad = formats.write_npy(root / "bad_npy" / "movie.npy", movie[:150])
    bad.write_bytes(bad.read_bytes()[:20000])
    # a drift trace saved beside the movies is left out, not a channel
    np.save(root / "formats" / "drift.npy", np.zeros((N_FRAMES, 2)))
    bad = formats.write_dcimg(root / "bad_dcimg" / "movie.dcimg", movie[:4])
    bad.write_bytes(bad.read_bytes()[:5000])


@pytest.fixture(scope="module")
def run(wf: SimpleNamespace, movie_formats: ModuleType, tmp_path_factory) -> SimpleNamespace:
    workdir = tmp_path_factory.mktemp("formats")
    _make(wf, movie_formats, workdir / "experiments")
    wf.write_config(workdir, pixel_nm=100.0, crop_pix=21, on_time=False)
    targets = [
        f"results/{name}/psf_info.h5"
        for name in (
            "tiff", "formats", "split_tiff", "split_formats", "channels", "channels_named",
            "sequences", "challenge", "positions", *BAD,
        )
    ]
    if "sifx" in FORMATS:
        targets.append("results/spooled/psf_info.h5")
    if NDTIFF:
        targets.append("results/two_1/psf_info.h5")
    result = wf.run_snakemake(workdir, "--cores", "2", "--keep-going", *targets)
    return SimpleNamespace(
        workdir=workdir, result=result, output=result.stdout + result.stderr
    )


def _failure(output: str) -> str:
    return f"snakemake output:\n{output[-6000:]}"


def _sigmas(run: SimpleNamespace, experiment: str) -> dict[str, list[float]]:
    path = run.workdir / "results" / experiment / "psf_info.h5"
    assert path.exists(), _failure(run.output)
    info = read_info(path)
    return {name: [c.sigx_nm, c.sigy_nm] for name, c in info.channels.items()}


def test_every_format_gives_the_tiff_widths(run: SimpleNamespace) -> None:
    reference = _sigmas(run, "tiff")["movie"]
    found = _sigmas(run, "formats")
    assert sorted(found) == sorted([*FORMATS, "pcoraw"]), found
    assert "formats/drift.npy: left out: a NumPy array (300, 2), not a movie" in run.output
    for name, sigmas in found.items():
        np.testing.assert_allclose(sigmas, reference, rtol=1e-9, err_msg=name)
    assert 110 < min(reference) and max(reference) < 145


def test_split_halves_of_every_format(run: SimpleNamespace) -> None:
    reference = _sigmas(run, "split_tiff")
    found = _sigmas(run, "split_formats")
    kinds = ["dax", *(kind for kind in ("zarr", "nd2") if kind in FORMATS)]
    assert sorted(found) == sorted(f"dual_{k}_{h}" for k in kinds for h in ("left", "right"))
    for name, sigmas in found.items():
        half = name.rsplit("_", 1)[1]
        np.testing.assert_allclose(sigmas, reference[f"dual_{half}"], rtol=1e-9, err_msg=name)


def test_channels_of_one_file_of_every_format(run: SimpleNamespace) -> None:
    """Each channel of a multi-channel file is the movie it holds: the same widths as
    that movie alone (the TIFF movie, the split TIFF's right half), to 1e-9."""
    first, second = _sigmas(run, "tiff")["movie"], _sigmas(run, "split_tiff")["dual_right"]
    found = _sigmas(run, "channels")
    pairs = {"two": ("Cy5", "Cy3"), "two_ij": ("c0", "c1"), "two_positions": ("Pos0", "Pos1")}
    pairs.update({f"two_{kind}": ("Cy5", "Cy3") for kind in CHANNEL_FORMATS})
    if "nd2" in CHANNEL_FORMATS:
        pairs["two_nd2"] = ("channel_0", "channel_1")
        pairs["two_points"] = ("A1", "B2")
    if "czi" in CHANNEL_FORMATS:
        pairs["two_scenes"] = ("s0", "s1")
    assert sorted(found) == sorted(f"{stem}_{c}" for stem, two in pairs.items() for c in two)
    for stem, (one, two) in pairs.items():
        np.testing.assert_allclose(found[f"{stem}_{one}"], first, rtol=1e-9, err_msg=stem)
        np.testing.assert_allclose(found[f"{stem}_{two}"], second, rtol=1e-9, err_msg=stem)
    named = _sigmas(run, "channels_named")
    assert sorted(named) == ["green", "red"]
    np.testing.assert_allclose(named["red"], first, rtol=1e-9)
    np.testing.assert_allclose(named["green"], second, rtol=1e-9)
    info = read_info(run.workdir / "results" / "channels_named" / "psf_info.h5")
    assert info.channels["green"].attrs["file_channel"] == "Cy3"


@pytest.mark.skipif(not NDTIFF, reason="ndtiff (Micro-Manager's writer) is not installed")
def test_ndtiff_dataset_over_several_files(run: SimpleNamespace) -> None:
    """An NDTiff dataset's folder: one channel per channel of the dataset (not per file),
    each the movie it holds, all its files recorded."""
    first, second = _sigmas(run, "tiff")["movie"], _sigmas(run, "split_tiff")["dual_right"]
    found = _sigmas(run, "two_1")
    assert sorted(found) == ["two_NDTiffStack_Cy3", "two_NDTiffStack_Cy5"]
    np.testing.assert_allclose(found["two_NDTiffStack_Cy5"], first, rtol=1e-9)
    np.testing.assert_allclose(found["two_NDTiffStack_Cy3"], second, rtol=1e-9)
    info = read_info(run.workdir / "results" / "two_1" / "psf_info.h5")
    files = [Path(p).name for p in info.channels["two_NDTiffStack_Cy3"].source_files]
    tiffs = sorted(p.name for p in (run.workdir / "experiments" / "two_1").glob("*.tif"))
    assert len(tiffs) > 2 and sorted(files) == tiffs


def test_image_sequences(run: SimpleNamespace) -> None:
    """One TIFF file per frame: each camera of Micro-Manager's separate image files is a
    channel (the snapshot beside them is left out), numbered files alone are one named
    after their folder; the widths of the movies in one file, to 1e-9."""
    first, second = _sigmas(run, "tiff")["movie"], _sigmas(run, "split_tiff")["dual_right"]
    found = _sigmas(run, "sequences")
    names = ["cam0", "cam1"]  # Micro-Manager's channel names (metadata.txt)
    assert sorted(found) == names
    np.testing.assert_allclose(found[names[0]], first, rtol=1e-9)
    np.testing.assert_allclose(found[names[1]], second, rtol=1e-9)
    np.testing.assert_allclose(_sigmas(run, "challenge")["challenge"], first, rtol=1e-9)
    info = read_info(run.workdir / "results" / "sequences" / "psf_info.h5")
    files = [Path(p).name for p in info.channels[names[1]].source_files]
    assert files == [f"img_channel001_position000_time{t:09d}_z000.tif" for t in range(N_FRAMES)]
    # an acquisition's folder of positions: each position's camera a channel
    positions = _sigmas(run, "positions")
    assert sorted(positions) == ["Pos0_Cy5", "Pos1_Cy5"]
    np.testing.assert_allclose(positions["Pos0_Cy5"], first, rtol=1e-9)
    np.testing.assert_allclose(positions["Pos1_Cy5"], second, rtol=1e-9)
    assert "positions/bf.tif: left out: one image" in run.output


@pytest.mark.skipif("sifx" not in FORMATS, reason="sif_parser is not installed")
def test_spooled_series_in_a_folder_of_its_own(run: SimpleNamespace) -> None:
    """An Andor spooled series in a subfolder of the experiment: a channel named after
    that folder, the widths of the movie in a TIFF to 1e-9, every file recorded."""
    second = _sigmas(run, "split_tiff")["dual_right"]
    found = _sigmas(run, "spooled")
    assert list(found) == ["cam"]
    np.testing.assert_allclose(found["cam"], second, rtol=1e-9)
    info = read_info(run.workdir / "results" / "spooled" / "psf_info.h5")
    files = [Path(p).name for p in info.channels["cam"].source_files]
    assert files[:3] == ["Spooled files.sifx", "acquisitionmetadata.ini", "0000000000spool.dat"]
    assert len(files) == 2 + -(-N_FRAMES // 7)


def test_the_files_of_a_channel(run: SimpleNamespace) -> None:
    info = read_info(run.workdir / "results" / "formats" / "psf_info.h5")
    dax = info.channels["dax"].source_files
    assert [Path(p).name for p in dax] == ["dax.dax", "dax.inf"]
    assert [Path(p).name for p in info.channels["raw"].source_files] == ["raw.raw", "raw.yaml"]
    pco = info.channels["pcoraw"]
    assert [Path(p).name for p in pco.source_files] == ["pcoraw.pcoraw", "pcoraw.rec"]
    assert pco.attrs["exposure_ms"] == 30.0  # the .rec's
    if "zarr" in FORMATS:
        assert Path(info.channels["zarr"].source_files[0]).name == "zarr.zarr"


def test_bad_files_fail_with_one_line(wf: SimpleNamespace, run: SimpleNamespace) -> None:
    assert run.result.returncode != 0, _failure(run.output)
    errors = wf.error_lines(run.output)
    for experiment, words in BAD.items():
        mine = [line for line in errors if f" {experiment}" in line]
        assert mine, f"{experiment}: no error line\n" + _failure(run.output)
        for word in words:
            assert any(word in line for line in mine), f"{experiment}: {word!r} not in {mine}"
        assert not (run.workdir / "results" / experiment / "psf_info.h5").exists()


def test_nothing_reruns(wf: SimpleNamespace, run: SimpleNamespace) -> None:
    names = ("formats", "split_formats", "channels", "sequences", "positions",
             *(["spooled"] if "sifx" in FORMATS else []),
             *(["two_1"] if NDTIFF else []))
    targets = [f"results/{n}/psf_info.h5" for n in names]
    result = wf.run_snakemake(run.workdir, "--cores", "1", "-n", *targets)
    assert result.returncode == 0, _failure(result.stdout + result.stderr)
    assert "Nothing to be done" in result.stdout + result.stderr, _failure(result.stdout)
