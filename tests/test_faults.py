"""Faults a lab meets, done for real: a file-size limit, a full file system, killed writers.

Every file the package writes whole or not at all goes through
:func:`smlmlp.atomic.atomic_path`; these tests make its writes fail the way a full
disk does and check what the user sees: one error naming the file system and the
file being written, the previous file intact, nothing partial left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from smlmlp.atomic import STALE_PART_SECONDS
from smlmlp.infofile import ChannelInfo, read_info, write_info

pytestmark = pytest.mark.faults


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_file_size_limit_while_writing_the_info_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE (the kernel refuses to grow a file): EFBIG, named, nothing partial."""
    target = tmp_path / "psf_info.h5"
    write_info(target, [ChannelInfo.empty_example("old")])
    before = target.read_bytes()
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from smlmlp.infofile import ChannelInfo, write_info
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
        try:
            write_info({str(target)!r}, [ChannelInfo.empty_example("new")])
        except OSError as error:
            print(f"{{type(error).__name__}}: {{error}}", file=sys.stderr)
            sys.exit(1)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"OSError: [Errno 27] file size limit reached writing {target}"
    assert target.read_bytes() == before
    assert _files(tmp_path) == ["psf_info.h5"]


def _mount_tmpfs(folder: Path, size: str) -> bool:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def test_full_file_system_while_writing_the_info_file(tmp_path: Path) -> None:
    """A real full file system (a 1 MiB tmpfs): ENOSPC names the mount and the file."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("mounting a small tmpfs needs root and mount rights")
    try:
        target = disk / "results" / "psf_info.h5"
        write_info(target, [ChannelInfo.empty_example("old")])
        before = target.read_bytes()
        filler = disk / "filler"
        with open(filler, "wb", buffering=0) as handle, pytest.raises(OSError):
            while True:
                handle.write(b"\0" * 4096)
        with pytest.raises(OSError) as caught:
            write_info(target, [ChannelInfo.empty_example("new")])
        assert str(caught.value) == f"[Errno 28] no space left on {disk} writing {target}"
        assert target.read_bytes() == before
        assert _files(target.parent) == ["psf_info.h5"]
        filler.unlink()
        write_info(target, [ChannelInfo.empty_example("new")])  # space again: it works
        assert list(read_info(target).channels) == ["new"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_parts_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    """A writer killed mid-file leaves its temporary file; the next write removes it
    (and leaves alone a temporary file that is being written right now)."""
    target = tmp_path / "psf_info.h5"
    stale = tmp_path / ".psf_info.h5.killed1.h5.part"
    fresh = tmp_path / ".psf_info.h5.running.h5.part"
    other = tmp_path / ".summary.tsv.killed2.part"
    for part in (stale, fresh, other):
        part.write_bytes(b"half")
    old = time.time() - 2 * STALE_PART_SECONDS
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_info(target, [ChannelInfo.empty_example("c")])
    assert _files(tmp_path) == sorted([fresh.name, other.name, "psf_info.h5"])


def _wait_until_it_reads(process: subprocess.Popen, path: Path, timeout: float = 60) -> None:
    """Wait until ``process`` has ``path`` open (it is reading the movie): a signal
    sent then falls mid-run however fast the machine is."""
    target = str(path.resolve())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the command ended before it was seen reading"
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{process.pid}/fd").iterdir()]
        except OSError:  # a descriptor closed while listed
            links = []
        if target in links:
            return
        time.sleep(0.002)
    raise AssertionError(f"the command did not open {path} within {timeout} s")


@pytest.mark.parametrize("signum, status", [(2, 130), (15, 143)], ids=["SIGINT", "SIGTERM"])
def test_command_stopped_by_a_signal_leaves_nothing(
    tmp_path: Path, signum: int, status: int
) -> None:
    """Ctrl-C or a scheduler's kill mid-run: exit 130 / 143, one line, no traceback from
    any thread, no output and no temporary file; a previous output stays as it was."""
    import numpy as np
    import tifffile

    from smlmlp.simulation import simulate_movie

    base, _ = simulate_movie(500, (96, 96), seed=3)
    movie = tmp_path / "movie.tif"
    tifffile.imwrite(movie, np.concatenate([base] * 10), photometric="minisblack")  # 5000
    out = tmp_path / "out" / "psf_info.h5"
    out.parent.mkdir()
    out.write_bytes(b"previous result")
    command = [sys.executable, "-m", "smlmlp.cli", "psf", str(movie), "--pixel-nm", "100"]
    command += ["--on-time", "--workers", "2", "-o", str(out)]
    # as from a terminal: a test run started in the background has SIGINT ignored,
    # which its children would inherit (Python then never sees a Ctrl-C)
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_until_it_reads(process, movie)
    assert process.poll() is None, "the command ended before the signal"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr and "Exception in thread" not in stderr, stderr
    word = "interrupted" if signum == 2 else "terminated"
    assert stderr.strip().splitlines()[-1] == f"smlmlp: {word}"
    assert _files(out.parent) == ["psf_info.h5"]
    assert out.read_bytes() == b"previous result"
