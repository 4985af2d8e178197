"""Backend choice and memory-derived chunk sizes."""

from __future__ import annotations

import numpy as np
import pytest

from smlmlp import computer
from smlmlp.backend import CudaUnavailableError, cpu_workers, cuda_status, get_backend


def test_cpu_backend_round_trips_odd_widths():
    backend = get_backend(parallel=True)
    frames = np.random.default_rng(0).normal(size=(3, 10, 13))
    back = backend.irfft2(backend.rfft2(frames), (10, 13))
    assert np.allclose(back, frames)
    assert backend.workers == cpu_workers(True) >= 1
    assert get_backend().workers == 1


def test_cuda_request_without_gpu_explains_the_fix():
    if cuda_status()[0]:
        pytest.skip("a GPU is available here")
    with pytest.raises(CudaUnavailableError, match=r"pip install \.\[cuda12\]|CUDA") as caught:
        get_backend(cuda=True)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RuntimeError)


def test_chunk_frames_follow_the_budget():
    small = computer.chunk_frames((512, 512), budget_bytes=64 * 2**20)
    large = computer.chunk_frames((128, 128), budget_bytes=64 * 2**20)
    assert small >= 1 and large > small
    assert computer.working_memory_bytes((512, 512), small) <= 64 * 2**20 + 16 * 512 * 512
    assert computer.chunk_frames((4096, 4096), budget_bytes=1) == 1
    assert computer.chunk_frames((8, 8), budget_bytes=2**40) == computer.MAX_CHUNK_FRAMES
    with pytest.raises(ValueError, match="frame_shape"):
        computer.chunk_frames((0, 10))


def test_default_budget_stays_within_available_memory():
    frames = computer.chunk_frames((256, 256))
    assert computer.working_memory_bytes((256, 256), frames) <= max(
        computer.DEFAULT_CPU_BUDGET_BYTES, computer.available_ram_bytes() // 8
    ) + 16 * 256 * 256
    assert computer.available_ram_bytes() > 0
    assert computer.free_vram_bytes() >= 0


def test_explicit_worker_count_wins_over_parallel():
    assert get_backend(parallel=True, workers=1).workers == 1
    assert get_backend(parallel=False, workers=3).workers == 3
    with pytest.raises(ValueError, match="workers"):
        get_backend(workers=0)


GIB = 2**30
V1_NO_LIMIT = "9223372036854771712"  # what cgroup v1 shows without a limit (4 KiB pages)


def _files(folder, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text + "\n")


def test_cgroup_v2_nested_limits(tmp_path):
    """A SLURM job under cgroup v2: the smallest room left on the way up to the root."""
    proc = tmp_path / "cgroup"
    proc.write_text("0::/system.slice/slurmstepd.scope/job_42/step_batch\n")
    root = tmp_path / "sys"
    _files(root, memory__stat="anon 1\n")  # the root: no memory.max
    _files(root / "system.slice", memory__max="max", memory__current=str(5 * GIB))
    job = root / "system.slice" / "slurmstepd.scope" / "job_42"
    _files(
        job,
        memory__max=str(4 * GIB),
        memory__current=str(GIB),
        memory__stat=f"anon {GIB // 2}\ninactive_file {GIB // 2}\nactive_file 0",
    )
    _files(job / "step_batch")  # no memory files of its own
    # 4 GiB - (1 GiB used - 0.5 GiB of inactive cache)
    assert computer.cgroup_available_bytes(proc, root) == int(3.5 * GIB)
    # a tighter limit further down wins
    _files(job / "step_batch", memory__max=str(2 * GIB), memory__current=str(GIB))
    assert computer.cgroup_available_bytes(proc, root) == GIB
    # and one further up too
    _files(root / "system.slice", memory__max=str(5 * GIB + 1000))
    assert computer.cgroup_available_bytes(proc, root) == 1000
    # a usage above the limit leaves nothing
    _files(job, memory__current=str(5 * GIB), memory__stat="")
    assert computer.cgroup_available_bytes(proc, root) == 0


def test_cgroup_v2_without_limits(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/user.slice/session-3.scope\n")
    root = tmp_path / "sys"
    scope = root / "user.slice" / "session-3.scope"
    _files(scope, memory__max="max", memory__current="12345")
    _files(root / "user.slice", memory__max="max", memory__current="99999")
    assert computer.cgroup_available_bytes(proc, root) is None
    # a limit without its usage file, or unreadable numbers, count as no limit
    _files(scope, memory__max=str(GIB))
    (scope / "memory.current").unlink()
    _files(root / "user.slice", memory__max="lots", memory__current="1")
    assert computer.cgroup_available_bytes(proc, root) is None


def test_cgroup_v1_memory_controller(tmp_path):
    """A SLURM job under cgroup v1 (hybrid: a v2 line too), the huge no-limit ignored."""
    proc = tmp_path / "cgroup"
    proc.write_text(
        "12:pids:/slurm/uid_1000/job_7/step_0\n"
        "5:cpuset,memory:/slurm/uid_1000/job_7/step_0\n"
        "4:cpu,cpuacct:/slurm/uid_1000/job_7/step_0\n"
        "1:name=systemd:/user.slice\n"
        "0::/\n"
    )
    root = tmp_path / "sys"
    memory = root / "memory"
    _files(memory, memory__limit_in_bytes=V1_NO_LIMIT, memory__usage_in_bytes=str(20 * GIB))
    job = memory / "slurm" / "uid_1000" / "job_7"
    _files(
        job,
        memory__limit_in_bytes=str(8 * GIB),
        memory__usage_in_bytes=str(2 * GIB),
        memory__stat=f"inactive_file 0\ntotal_inactive_file {GIB}",
    )
    _files(
        job / "step_0", memory__limit_in_bytes=V1_NO_LIMIT, memory__usage_in_bytes=str(GIB)
    )
    # the v2 line's folder (the hybrid's unified root) has no memory.max: v1 decides
    assert computer.cgroup_available_bytes(proc, root) == 7 * GIB


def test_cgroup_v1_container_sees_its_own_cgroup_at_the_mount(tmp_path):
    """Without a cgroup namespace the path is the host's; the mount is the container's."""
    proc = tmp_path / "cgroup"
    proc.write_text("9:memory:/docker/0123abcd\n")
    root = tmp_path / "sys"
    _files(root / "memory", memory__limit_in_bytes=str(2 * GIB), memory__usage_in_bytes="0")
    assert computer.cgroup_available_bytes(proc, root) == 2 * GIB


def test_cgroup_missing_files(tmp_path):
    root = tmp_path / "sys"
    assert computer.cgroup_available_bytes(tmp_path / "no such file", root) is None
    proc = tmp_path / "cgroup"
    proc.write_text("garbage\n0::/a/b\n")
    assert computer.cgroup_available_bytes(proc, root) is None  # no cgroup folders
    proc.write_text("")
    assert computer.cgroup_available_bytes(proc, root) is None


def test_available_memory_and_budget_take_the_smallest(tmp_path, monkeypatch):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/job\n")
    root = tmp_path / "sys"
    _files(root / "job", memory__max=str(GIB), memory__current=str(GIB // 4))
    monkeypatch.setattr(computer, "system_available_bytes", lambda: 16 * GIB)
    assert computer.available_ram_bytes(proc, root) == 3 * GIB // 4
    monkeypatch.setattr(computer, "system_available_bytes", lambda: GIB // 2)
    assert computer.available_ram_bytes(proc, root) == GIB // 2
    assert computer.available_ram_bytes(tmp_path / "none", root) == GIB // 2
    # the budget: an eighth of what is left, at most 96 MiB, at least 8 MiB
    for available, budget in (
        (16 * GIB, computer.DEFAULT_CPU_BUDGET_BYTES),
        (400 * 2**20, 50 * 2**20),
        (0, computer.MIN_CPU_BUDGET_BYTES),
    ):
        monkeypatch.setattr(computer, "available_ram_bytes", lambda value=available: value)
        assert computer.default_budget_bytes() == budget
        frames = computer.chunk_frames((256, 256))
        assert frames == max(1, budget // (computer.BYTES_PER_PIXEL_IN_CHUNK * 256 * 256))


def test_this_machine_memory():
    system = computer.system_available_bytes()
    assert 0 < computer.available_ram_bytes() <= system * 1.1 + 2**20


def test_single_threaded_blas_is_lifted_where_it_was_set():
    """The limit is set and lifted by the main thread, nested or not; a pass in another
    thread leaves the count as it finds it (OpenBLAS would not take it back up from
    there), so BLAS gets its own count back in the end."""
    import threading

    from threadpoolctl import threadpool_info

    from smlmlp.backend import single_threaded_blas

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    seen = []

    def other_pass() -> None:
        with single_threaded_blas():
            seen.append(blas_threads())

    with single_threaded_blas():
        with single_threaded_blas():
            assert all(count == 1 for count in blas_threads())
        assert all(count == 1 for count in blas_threads())
        thread = threading.Thread(target=other_pass)
        thread.start()
        thread.join(10)
    assert blas_threads() == before
    thread = threading.Thread(target=other_pass)
    thread.start()
    thread.join(10)
    assert seen == [[1] * len(before), before]
    assert blas_threads() == before
