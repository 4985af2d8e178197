"""Shared fixtures: the GPU path on a real device, or on the CPU through the CuPy stand-in."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from smlmlp.backend import cuda_status

#: The CuPy stand-in (tests/gpu_standin/README.md) is a test double, not tests.
collect_ignore = ["gpu_standin"]

STANDIN_PATH = Path(__file__).resolve().parent / "gpu_standin"
_CUDA_OK, _CUDA_WHY = cuda_status()


def _cupy_modules() -> dict[str, ModuleType]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name.split(".")[0] in ("cupy", "cupyx")
    }


def install_standin() -> tuple[ModuleType, dict[str, ModuleType]]:
    """Import the stand-in as ``cupy``/``cupyx``; returns it and the modules it hides."""
    hidden = _cupy_modules()
    for name in hidden:
        del sys.modules[name]
    # until remove_standin: cupyx and its submodules are imported when first used
    sys.path.insert(0, str(STANDIN_PATH))
    import cupy

    assert getattr(cupy, "STANDIN", False), "the CuPy stand-in did not load"
    cupy.standin_reset_transfers()
    return cupy, hidden


def remove_standin(hidden: dict[str, ModuleType]) -> None:
    """Forget the stand-in's modules and bring back the ones it hid."""
    while str(STANDIN_PATH) in sys.path:
        sys.path.remove(str(STANDIN_PATH))
    for name in _cupy_modules():
        del sys.modules[name]
    sys.modules.update(hidden)


@pytest.fixture
def cupy_standin() -> Iterator[ModuleType]:
    """The strict CuPy stand-in as ``cupy`` for one test (runs ``cuda=True`` on the CPU)."""
    cupy, hidden = install_standin()
    try:
        yield cupy
    finally:
        remove_standin(hidden)


@pytest.fixture(
    params=[
        pytest.param("standin", marks=pytest.mark.gpu_standin),
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not _CUDA_OK, reason=f"no usable GPU: {_CUDA_WHY}"),
            ],
        ),
    ]
)
def gpu(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """``cupy`` for a GPU test: the CuPy stand-in on the CPU (always), and the real
    CuPy on a CUDA device (only where there is one)."""
    if request.param == "cuda":
        import cupy

        yield cupy
        return
    cupy, hidden = install_standin()
    try:
        yield cupy
    finally:
        remove_standin(hidden)


@pytest.fixture(scope="session")
def movie_formats() -> ModuleType:
    """The writers of the movie formats besides TIFF (tests/movie_formats.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "smlmlp_test_movie_formats", Path(__file__).with_name("movie_formats.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
