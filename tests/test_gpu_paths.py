"""Every ``cuda=True`` path against ``cuda=False``.

Each test takes the ``gpu`` fixture (tests/conftest.py): it runs once with the strict
CuPy stand-in on the CPU (marker ``gpu_standin``, always, in CI) and once with the
real CuPy on a CUDA device (marker ``gpu``, skipped without one). With the stand-in
the tests also count the host <-> device copies: each chunk of frames crosses once,
in its own data type, and results come back once per pass (or per 32 groups of
frames), never a frame at a time.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf, blink_temporal_on
from smlmlp.backend import ChunkUploader, get_backend
from smlmlp.block_sums import merge_sums, plan_blocks
from smlmlp.channel import accumulate_channel, estimate_channel
from smlmlp.computer import chunk_frames, default_budget_bytes
from smlmlp.field_tiles import accumulate_field
from smlmlp.infofile import ChannelInfo, TemporalInfo
from smlmlp.loading import open_movie
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import PENDING_GROUPS, accumulate_spectrum
from smlmlp.sums_io import load_sums, save_sums
from smlmlp.temporal import plan_memory

N_FRAMES = 400
SHAPE = (48, 44)
CHUNK = 64
#: The GPU's float32 FFTs against the CPU's (the stand-in's are the CPU's: far closer).
SIGMA_RTOL, AC_RTOL = 1e-5, 1e-4


def _is_standin(gpu: ModuleType) -> bool:
    return bool(getattr(gpu, "STANDIN", False))


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(
        N_FRAMES, SHAPE, sigx_nm=140.0, sigy_nm=115.0, theta_deg=20.0, seed=11
    )
    return frames


@pytest.fixture(scope="module")
def movie_file(movie: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gpu") / "movie.tif"
    tifffile.imwrite(path, movie, photometric="minisblack")
    return path


def _host_bound(n_frames: int) -> int:
    """Copies back to the host of one spatial pass: crops and blinking maps, once per
    PENDING_GROUPS groups and at the end, and the groups' search for the ceiling
    (saturation), once at the end."""
    groups = math.ceil(n_frames / plan_blocks(n_frames)[1])
    return 2 * (groups // PENDING_GROUPS + 1) + 1


# ------------------------------------------------------------------ the stand-in itself
@pytest.mark.gpu_standin
def test_standin_is_strict(cupy_standin: ModuleType) -> None:
    """The stand-in refuses what CuPy refuses and counts what crosses (else these
    tests would prove nothing)."""
    import cupyx.scipy.fft

    cp = cupy_standin
    host = np.arange(12, dtype=np.uint16).reshape(3, 4)
    device = cp.asarray(host)
    assert cp.standin_transfers()["to_device_bytes"] == host.nbytes
    for refused in (
        lambda: np.asarray(device),
        lambda: device + np.ones((3, 4)),
        lambda: device.__setitem__(slice(None), np.ones((3, 4))),
        lambda: cupyx.scipy.fft.rfft2(host),
        lambda: cupyx.scipy.fft.rfft2(device.astype(np.float32), workers=2),
    ):
        with pytest.raises(TypeError):
            refused()
    total = device.astype(np.float32).sum()
    assert isinstance(total, cp.ndarray) and total.ndim == 0  # CuPy's 0-d results
    assert int(total) == 66
    assert cp.standin_transfers()["to_host"] == 1
    # a host array converted by asarray crosses in the converted type, as in CuPy
    cp.asarray(host, dtype=np.float64)
    assert cp.standin_transfers()["to_device_bytes"] == host.nbytes + 8 * host.size


@pytest.mark.gpu_standin
def test_uploader_double_buffers(cupy_standin: ModuleType) -> None:
    """Two pinned buffers, reused chunk after chunk; the copy stream waits for the
    compute queued two chunks back, the compute for its copy."""
    import cupyx

    uploader = ChunkUploader(get_backend(cuda=True))
    before = cupyx.pinned_allocations["count"]
    chunks = [np.full((5, 8, 8), k, np.uint16) for k in range(6)] + [np.ones((3, 8, 8))]
    seen = []
    for chunk in chunks:
        device = uploader.upload(chunk)
        assert device.dtype == chunk.dtype and device.shape == chunk.shape
        seen.append(float(device[0, 0, 0]))
    assert seen == [0, 1, 2, 3, 4, 5, 1]
    # two slots, grown once for the float64 chunk (8 bytes a pixel instead of 2)
    assert cupyx.pinned_allocations["count"] - before == 3
    assert uploader._stream.waited  # the copies waited for the compute


# ---------------------------------------------------------------------------- spatial
def test_spatial_from_tiff(gpu: ModuleType, movie: np.ndarray, movie_file: Path) -> None:
    with open_movie(movie_file) as stack:
        cpu_sigma, cpu = blink_spatial_psf([stack], 21, chunk_frames=CHUNK)
    if _is_standin(gpu):
        gpu.standin_reset_transfers()
    with open_movie(movie_file) as stack:
        gpu_sigma, result = blink_spatial_psf([stack], 21, cuda=True, chunk_frames=CHUNK)
    assert gpu_sigma[0] == pytest.approx(cpu_sigma[0], rel=SIGMA_RTOL)
    for key in ("sigx", "sigy"):
        assert result[key][0] == pytest.approx(cpu[key][0], rel=SIGMA_RTOL)
    assert _relative(result["ac"][0], cpu["ac"][0]) < AC_RTOL
    if _is_standin(gpu):
        moved = gpu.standin_transfers()
        # each chunk once, as uint16 (cast on the device)
        assert moved["to_device"] == math.ceil(N_FRAMES / CHUNK)
        assert moved["to_device_bytes"] == movie.nbytes
        assert moved["to_host"] <= _host_bound(N_FRAMES)


def test_spatial_channels_tiles_windows(gpu: ModuleType, movie: np.ndarray) -> None:
    """Two channels of different shapes, tiles of the field and windows of time."""
    second, _ = simulate_movie(N_FRAMES, (40, 56), sigx_nm=120.0, seed=12)
    options = dict(crop_pix=15, chunk_frames=CHUNK, field_tiles=(2, 2), time_windows=2)
    cpu_sigma, cpu = blink_spatial_psf([movie, second], **options)
    if _is_standin(gpu):
        gpu.standin_reset_transfers()
    gpu_sigma, result = blink_spatial_psf([movie, second], cuda=True, **options)
    np.testing.assert_allclose(gpu_sigma, cpu_sigma, rtol=SIGMA_RTOL)
    for channel in range(2):
        assert _relative(result["ac"][channel], cpu["ac"][channel]) < AC_RTOL
    if _is_standin(gpu):
        # one copy per chunk whatever the tiles
        assert gpu.standin_transfers()["to_device"] == 2 * math.ceil(N_FRAMES / CHUNK)


def test_clipping_tally(gpu: ModuleType, movie: np.ndarray) -> None:
    """The search for clipped values (both ends) gives the same tally on the device,
    whole frames and tiles, its arrays copied back once at the end."""
    low, high = (int(np.percentile(movie, q)) for q in (5, 99.8))
    frames = np.clip(movie, low, high)  # uint16: the chunks cross as they are

    def ends(sums):
        return sums.saturation(), sums.floor_clipping(), sums.above_floor()

    cpu = ends(accumulate_spectrum(frames, chunk_frames=CHUNK))
    if _is_standin(gpu):
        gpu.standin_reset_transfers()
    assert ends(accumulate_spectrum(frames, chunk_frames=CHUNK, cuda=True)) == cpu
    if _is_standin(gpu):
        assert gpu.standin_transfers()["to_host"] <= _host_bound(N_FRAMES)
    field = accumulate_field(frames, (2, 2), chunk_frames=CHUNK, cuda=True)
    assert ends(field.combined()) == cpu
    assert cpu[0][1] > 1e-3 and cpu[1][1] > 0.03 and cpu[2] > 1e-4


def test_float_movie_with_nan(gpu: ModuleType, movie: np.ndarray) -> None:
    frames = movie.astype(np.float32)
    frames[130, 7, 9] = np.nan
    messages = []
    for cuda in (False, True):
        with pytest.raises(ValueError, match="NaN") as caught:
            blink_spatial_psf([frames], 21, cuda=cuda, chunk_frames=CHUNK)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "first at frame 130, row 7, column 9" in messages[1]


def test_dropped_frames(gpu: ModuleType, movie: np.ndarray) -> None:
    """Dropped frames (one value in every pixel) are left out on the device too, found
    on the host for host chunks (no copy back) and on the device for device arrays."""
    frames = movie.copy()
    frames[[5, 20, 21, 130, 399]] = 0
    cpu = accumulate_spectrum(frames, chunk_frames=CHUNK)
    if _is_standin(gpu):
        gpu.standin_reset_transfers()
    ours = accumulate_spectrum(frames, cuda=True, chunk_frames=CHUNK)
    assert _relative(ours.ac_sums, cpu.ac_sums) < AC_RTOL
    assert ours.dropped_frames.tolist() == cpu.dropped_frames.tolist()
    assert ours.dropped_frames.sum() == 5
    if _is_standin(gpu):
        moved = gpu.standin_transfers()
        # the chunks, and for each of the 4 blocks holding dropped frames, the indices
        # and the times of the frames it keeps
        assert moved["to_device"] == math.ceil(N_FRAMES / CHUNK) + 2 * 4
        assert moved["to_host"] <= _host_bound(N_FRAMES)
    on_device = accumulate_spectrum(gpu.asarray(frames), cuda=True, chunk_frames=CHUNK)
    assert _relative(on_device.ac_sums, cpu.ac_sums) < AC_RTOL
    assert on_device.dropped_frames.tolist() == cpu.dropped_frames.tolist()


def test_device_arrays_as_channels(gpu: ModuleType, movie: np.ndarray) -> None:
    """Channels already in GPU memory are used there (no copy back); the CPU path
    refuses them with one clear line."""
    cpu_sigma, _ = blink_spatial_psf([movie], 21, chunk_frames=CHUNK)
    on_device = gpu.asarray(movie)
    if _is_standin(gpu):
        gpu.standin_reset_transfers()
    gpu_sigma, _ = blink_spatial_psf([on_device], 21, cuda=True, chunk_frames=CHUNK)
    assert gpu_sigma[0] == pytest.approx(cpu_sigma[0], rel=SIGMA_RTOL)
    if _is_standin(gpu):
        moved = gpu.standin_transfers()
        assert moved["to_device"] == 0
        # the groups' crops, a flag per frame of each chunk (dropped frames, looked
        # for where the frames are) and the search for fiducials' two images and its
        # count of frames, and its parts' images and counts, each stacked
        # (smlmlp.fiducials), never frames
        chunks = math.ceil(N_FRAMES / CHUNK)
        assert moved["to_host"] <= _host_bound(N_FRAMES) + chunks + 5
    with pytest.raises(TypeError, match=r"channel 0: the stack is in GPU memory .*cuda=True"):
        blink_spatial_psf([on_device])


def test_free_device_memory_sizes_chunks(gpu: ModuleType) -> None:
    """The GPU's chunks follow its free memory (a quarter, at most 1 GiB)."""
    free, _total = gpu.cuda.runtime.memGetInfo()
    expected = min(1024 * 2**20, free // 4)
    assert default_budget_bytes(cuda=True) == pytest.approx(expected, rel=0.05)
    if _is_standin(gpu):
        gpu.cuda.runtime.memory["free"] = 64 * 2**20
        try:
            assert default_budget_bytes(cuda=True) == 16 * 2**20
            assert chunk_frames((256, 256), cuda=True) == 16 * 2**20 // (24 * 256 * 256)
        finally:
            gpu.cuda.runtime.memory["free"] = 8 * 2**30


def test_merge_save_load_of_gpu_sums(gpu: ModuleType, movie: np.ndarray, tmp_path: Path):
    """Two frame ranges on the GPU, merged, saved and loaded: the CPU's one pass."""
    whole = accumulate_channel(movie, chunk_frames=CHUNK)
    parts = [
        accumulate_channel(movie, start=a, stop=b, chunk_frames=CHUNK, cuda=True)
        for a, b in ((0, 5 * CHUNK), (5 * CHUNK, N_FRAMES))
    ]
    merged = merge_sums(parts)
    save_sums(merged, tmp_path / "sums.npz")
    back = load_sums(tmp_path / "sums.npz")
    np.testing.assert_array_equal(back.n_frames, whole.n_frames)
    assert _relative(back.ac_sums, whole.ac_sums) < AC_RTOL
    pixel = (100.0, 100.0)
    cpu = estimate_channel(whole, 21, pixel)
    assert estimate_channel(back, 21, pixel).psf_sigma == pytest.approx(cpu.psf_sigma, rel=1e-5)


# --------------------------------------------------------------------------- temporal
def test_temporal_from_tiff_default_budgets(
    gpu: ModuleType, movie: np.ndarray, movie_file: Path
) -> None:
    """The on-time pass in float32 on the GPU equals the CPU's float64 one."""
    lags = 40
    with open_movie(movie_file) as stack:
        cpu_on, cpu = blink_temporal_on([stack], lags, psf_sigma_nm=130.0)
    if _is_standin(gpu):
        gpu.standin_reset_transfers()
    with open_movie(movie_file) as stack:
        gpu_on, result = blink_temporal_on([stack], lags, psf_sigma_nm=130.0, cuda=True)
    assert gpu_on == pytest.approx(cpu_on, rel=1e-5)
    assert _relative(result["ac"][0], cpu["ac"][0]) < 1e-5
    if _is_standin(gpu):
        plan = plan_memory(
            SHAPE, N_FRAMES, lags, cuda=True, memory_bytes=default_budget_bytes(cuda=True)
        )
        moved = gpu.standin_transfers()
        # two passes, each chunk once as uint16; results once per pass
        assert moved["to_device"] == 2 * math.ceil(N_FRAMES / plan.read_frames)
        assert moved["to_device_bytes"] == 2 * movie.nbytes
        assert moved["to_host"] <= 4


def test_temporal_float32_on_a_large_offset(gpu: ModuleType, movie: np.ndarray) -> None:
    """A camera offset of 30 000 ADU: float32 frames keep the on-time and the curve."""
    raised = movie + np.uint16(30_000)
    cpu_on, cpu = blink_temporal_on([raised], 40, psf_sigma_nm=130.0)
    gpu_on, result = blink_temporal_on([raised], 40, psf_sigma_nm=130.0, cuda=True)
    assert gpu_on == pytest.approx(cpu_on, rel=1e-4)
    assert _relative(result["ac"][0], cpu["ac"][0]) < 1e-5


def test_fiducials_are_left_out_of_the_on_time_on_the_gpu(gpu: ModuleType) -> None:
    """Beads under a flickering laser, in host and in device frames: the on-time's pass
    on the GPU leaves the same pixels out as the CPU's, and gives its curve."""
    frames, _ = simulate_movie(
        N_FRAMES, (64, 64), seed=4,
        artifacts={"fiducial_count": 2, "fiducial_photons": 5e4, "flicker": 0.1},
    )  # fmt: skip
    cpu_on, cpu = blink_temporal_on([frames], 40, psf_sigma_nm=130.0)
    _, kept = blink_temporal_on([frames], 40, psf_sigma_nm=130.0, fiducials=False)
    assert _relative(kept["ac"][0], cpu["ac"][0]) > 0.1  # the beads are left out
    for stack in (frames, gpu.asarray(frames)):
        gpu_on, result = blink_temporal_on([stack], 40, psf_sigma_nm=130.0, cuda=True)
        assert gpu_on == pytest.approx(cpu_on, rel=1e-4)
        assert _relative(result["ac"][0], cpu["ac"][0]) < 1e-5


# --------------------------------------------------------------------------- workflow
def test_workflow_jobs(gpu: ModuleType, movie_file: Path, tmp_path: Path) -> None:
    """The autocorr job over two frame ranges and the on_time job, on the GPU."""
    import smlmlp_workflow as ws

    def autocorr(folder: str, cuda: bool, frames: tuple[int, int] | None) -> tuple[Path, Path]:
        label = "whole" if frames is None else f"{frames[0]}-{frames[1]}"
        spectrum = tmp_path / folder / f"{label}.npz"
        source = tmp_path / folder / f"{label}.json"
        spectrum.parent.mkdir(exist_ok=True)
        ws.run_autocorr(
            [movie_file],
            spectrum,
            source,
            label="e/c",
            chunk_frames=CHUNK,
            cuda=cuda,
            frames=frames,
        )
        return spectrum, source

    cpu_spectrum, _ = autocorr("cpu", False, None)
    ranges = [autocorr("gpu", True, frames) for frames in ((0, 5 * CHUNK), (5 * CHUNK, N_FRAMES))]
    merged = (tmp_path / "gpu" / "merged.npz", tmp_path / "gpu" / "merged.json")
    ws.merge_autocorr(
        [r[0] for r in ranges], [r[1] for r in ranges], *merged, label="e/c"
    )
    assert _relative(load_sums(merged[0]).ac_sums, load_sums(cpu_spectrum).ac_sums) < AC_RTOL

    psf = ChannelInfo.empty_example("c").save(tmp_path / "c.npz")
    results = {}
    for cuda in (False, True):
        path = tmp_path / f"on_time_{cuda}.npz"
        ws.run_on_time(
            [["c", [str(movie_file)], None, None, None]],
            [psf],
            path,
            label="e",
            temporal_lags=40,
            cuda=cuda,
            logger=logging.getLogger("test.gpu.on_time"),
        )
        results[cuda] = TemporalInfo.load(path)
    assert results[True].on_time_frames == pytest.approx(results[False].on_time_frames, rel=1e-5)


# -------------------------------------------------------------------------------- CLI
def test_command_line(gpu: ModuleType, movie_file: Path, tmp_path: Path) -> None:
    """`smlmlp psf --cuda --on-time` writes the numbers of the CPU run."""
    import h5py

    from smlmlp.cli import main

    outputs = {}
    for cuda in (False, True):
        outputs[cuda] = tmp_path / f"psf_{cuda}.h5"
        args = ["psf", str(movie_file), "--pixel-nm", "100", "--crop-pix", "21", "--on-time"]
        args += ["--temporal-lags", "40", "--exposure-ms", "20", "-q", "-o", str(outputs[cuda])]
        assert main(args + (["--cuda"] if cuda else [])) == 0
    with h5py.File(outputs[False], "r") as cpu, h5py.File(outputs[True], "r") as result:
        channel = str(cpu.attrs["channels"][0])
        for attr in ("sigx_nm", "sigy_nm", "psf_sigma_nm"):
            expected = cpu[channel].attrs[attr]
            assert result[channel].attrs[attr] == pytest.approx(expected, rel=SIGMA_RTOL)
        assert result.attrs["on_time_ms"] == pytest.approx(cpu.attrs["on_time_ms"], rel=1e-5)


def test_fiducials_are_left_out_on_the_gpu_as_on_the_cpu(gpu: ModuleType) -> None:
    """Beads found in device frames as in host frames (only their two images and a count
    cross, and the movie's parts' images and counts, each stacked), and the same pixels
    left out of the sums and of the coverage's pairs."""
    frames, _ = simulate_movie(
        N_FRAMES, (64, 64), seed=4, artifacts={"fiducial_count": 2, "fiducial_photons": 5e4}
    )
    cpu = accumulate_spectrum(frames, chunk_frames=CHUNK)
    assert cpu.fiducials == 2 and cpu.masked_pixels > 0
    for stack in (frames, gpu.asarray(frames)):
        if _is_standin(gpu):
            gpu.standin_reset_transfers()
        ours = accumulate_spectrum(stack, cuda=True, chunk_frames=CHUNK)
        assert (ours.fiducials, ours.masked_pixels) == (cpu.fiducials, cpu.masked_pixels)
        assert _relative(ours.ac_sums, cpu.ac_sums) < AC_RTOL
        # the pairs lost to the beads' holes taken off the coverage as on the host
        assert _relative(ours.coverage_sums, cpu.coverage_sums) < AC_RTOL
        if _is_standin(gpu) and stack is not frames:
            chunks = math.ceil(N_FRAMES / CHUNK)
            moved = gpu.standin_transfers()
            # the masked pixels' indices, the holes' transforms and their pixels' weights
            assert moved["to_device"] == 3
            assert moved["to_host"] <= _host_bound(N_FRAMES) + chunks + 5
    # the tiles of the field, each with its own holes (or none), in one pass on the device
    host, device = (accumulate_field(frames, (2, 2), chunk_frames=CHUNK, cuda=cuda)
                    for cuda in (False, True))  # fmt: skip
    assert sum(part.masked_pixels for part in host.tile_sums) == cpu.masked_pixels
    for one, two in zip(host.tile_sums, device.tile_sums, strict=True):
        assert _relative(two.coverage_sums, one.coverage_sums) < AC_RTOL
