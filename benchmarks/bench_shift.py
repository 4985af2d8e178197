"""Cost of shifting frames by their block's reference frame, against a bare cast.

Every frame of the pass is shifted by its block's first frame and made float32
before its FFT (:func:`smlmlp.spectra.shift_by_reference`). This benchmark times
that step alone on uint16 frames, in the batches the pass uses (10 frames of 256²,
4 of 1024², 1 of 2048²), read from a stack larger than the caches as the pass
reads a chunk:

- ``cast``: the frames made float32, as the FFT floor does (``astype``);
- ``subtract``: one float32 ``numpy.subtract`` of the frames and the uint16
  reference, which casts as it goes;
- ``shift``: :func:`~smlmlp.spectra.shift_by_reference` (a cast in bands of rows,
  then a float32 subtraction of the reference's band).

The frames of a 4 x 4 field map (last rows: 10 frames of 256² in tiles of 64²) are
a strided view of the tiles, ``(frames, 4, 4, 64, 64)``, copied side by side; there
``subtract`` is the one buffered subtraction over that view and ``shift`` takes a row
of tiles at a time.

Each case runs ``--repeats`` times, alternated; the fastest counts. The table gives
milliseconds per megapixel and the ratios to ``cast``.

Run::

    python benchmarks/bench_shift.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from smlmlp.spectra import shift_by_reference

#: (frame side, frames per batch, tiles per side) as the pass takes them
BATCHES = [(256, 10, 1), (1024, 4, 1), (2048, 1, 1), (256, 10, 4)]
STACK_BYTES = 256 * 2**20


def cast(frames: np.ndarray, reference: np.ndarray, out: np.ndarray) -> None:
    frames.astype(np.float32)


def subtract(frames: np.ndarray, reference: np.ndarray, out: np.ndarray) -> None:
    np.subtract(frames, reference, out=out, dtype=np.float32, casting="unsafe")


def shift(frames: np.ndarray, reference: np.ndarray, out: np.ndarray) -> None:
    shift_by_reference(frames, reference, out, slice(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per case (default 5)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'frames':>20} | {'case':>8} | {'ms/Mpx':>7} | {'vs cast':>7}")
    print("-" * 52)
    for side, batch, tiles in BATCHES:
        n_frames = max(4 * batch, STACK_BYTES // (2 * side * side)) // batch * batch
        stack = rng.integers(100, 4000, size=(n_frames, side, side), dtype=np.uint16)
        tile = side // tiles
        # (frames, 1, side, side), or the tiles' strided view (frames, NY, NX, tile, tile)
        stack = stack.reshape(n_frames, tiles, tile, tiles, tile).transpose(0, 1, 3, 2, 4)
        if tiles == 1:
            stack = stack.reshape(n_frames, 1, side, side)
        reference = stack[0].copy()
        out = np.empty((batch, *stack.shape[1:]), np.float32)
        cases = {"cast": cast, "subtract": subtract, "shift": shift}
        best = dict.fromkeys(cases, float("inf"))
        for _ in range(args.repeats):
            for name, run in cases.items():
                started = time.perf_counter()
                for first in range(0, n_frames, batch):
                    run(stack[first : first + batch], reference, out)
                best[name] = min(best[name], time.perf_counter() - started)
        megapixels = n_frames * side * side / 1e6
        for name in cases:
            per_mpx = 1e3 * best[name] / megapixels
            label = f"{batch}x{side}^2" + (f" {tiles}x{tiles} tiles" if tiles > 1 else "")
            print(
                f"{label:>20} | {name:>8} | {per_mpx:7.3f} | "
                f"{best[name] / best['cast']:7.2f}"
            )


if __name__ == "__main__":
    main()
