"""Files written whole or not at all, with the permissions of any new file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from smlmlp import atomic
from smlmlp.atomic import atomic_path
from smlmlp.infofile import ChannelInfo, write_info, write_summary


def test_atomic_path_cleans_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "sub" / "x.txt") as part:
        part.write_text("half")
        raise RuntimeError("stop")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
@pytest.mark.parametrize("read_proc", [True, False], ids=["proc", "os.umask"])
def test_atomic_path_honours_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int, mode: int, read_proc: bool
) -> None:
    """Files written through atomic_path get 0o666 & ~umask, as any new file would."""
    if not read_proc:  # where /proc/self/status cannot be read: os.umask, restored

        def no_proc(*args: Any, **kwargs: Any) -> Any:
            raise OSError("no /proc")

        monkeypatch.setattr(atomic, "open", no_proc, raising=False)
    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "plain.txt") as part:
            part.write_text("complete")
        assert atomic._current_umask() == umask
        monkeypatch.undo()
        write_info(tmp_path / "psf_info.h5", [ChannelInfo.empty_example("red")])
        write_summary(tmp_path / "summary.tsv", [])
        assert os.umask(umask) == umask  # reading it left it as it was
    finally:
        os.umask(previous)
    for name in ("plain.txt", "psf_info.h5", "summary.tsv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
