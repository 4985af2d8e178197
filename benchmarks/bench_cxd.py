"""How fast an HCImage ``.cxd`` movie is opened and read, against olefile and a raw read.

One uint16 movie of random frames is written as a ``.cxd`` compound file (HCImage's
layout, by the tests' writer: per frame a storage with its time stamp, the image's
bitmap and four details: 11 directory entries a frame) and as the bare bytes of its
frames. With the files in the page cache (each is read once before timing):

- ``raw``: the baseline, ``numpy.fromfile`` of the frames' bytes in the pass's chunks
  (the least any reader must do);
- ``ours``: :func:`smlmlp.loading.open_movie` on the ``.cxd``, read in the same chunks
  (:mod:`smlmlp.compound_file` under :mod:`smlmlp.cxd_movie`);
- ``olefile``: ``olefile.OleFileIO`` on the ``.cxd`` (its ``openstream`` of each frame's
  bitmap), the well-kept reader of the format.

The table gives the milliseconds the file takes to open (its directory read), the
seconds of the first read of every frame (the file opened beforehand; the files come
into the page cache, and ours looks up each frame's entries, which it keeps), then of
reading them again (``--repeats`` times, the fastest run counts: what every later pass
over the movie costs), MB/s of the frames delivered then and that read's ratio to
``raw``.

Run::

    python benchmarks/bench_cxd.py
    python benchmarks/bench_cxd.py --frames 4000 --side 128 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from smlmlp.compound_file import CompoundFile
from smlmlp.loading import open_movie

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import movie_formats  # noqa: E402  (the tests' writers of movie formats)


def _fastest(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames (default 2000)")
    parser.add_argument("--side", type=int, default=128, help="frame side (default 128)")
    parser.add_argument("--chunk", type=int, default=100, help="frames per read (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args()
    import olefile

    shape = (args.frames, args.side, args.side)
    frames = np.random.default_rng(0).integers(0, 4000, shape, dtype=np.uint16)
    with tempfile.TemporaryDirectory() as folder:
        cxd = movie_formats.write_cxd(Path(folder) / "movie.cxd", frames, version=4)
        with CompoundFile(cxd) as compound:
            entries = int(np.count_nonzero(compound.types))
        raw = Path(folder) / "movie.bin"
        frames.tofile(raw)
        chunks = range(0, args.frames, args.chunk)
        names = [f"Field Data/Field {n + 1}/i_Image1/Bitmap 1" for n in range(args.frames)]

        def read_raw() -> None:
            with open(raw, "rb") as handle:
                for first in chunks:
                    count = min(args.chunk, args.frames - first) * args.side**2
                    np.fromfile(handle, np.uint16, count)

        def read_ours(movie) -> Callable[[], None]:  # noqa: ANN001 (an open movie)
            def run() -> None:
                for first in chunks:
                    movie[first : first + args.chunk]
            return run

        def read_olefile(ole) -> Callable[[], None]:  # noqa: ANN001 (an OleFileIO)
            def run() -> None:
                for name in names:
                    np.frombuffer(ole.openstream(name).read(), np.uint16)
            return run

        open_ours, movie = _fastest(lambda: open_movie(cxd), 1)
        open_ole, ole = _fastest(lambda: olefile.OleFileIO(str(cxd)), 1)
        methods = {"raw": (0.0, read_raw), "ours": (open_ours, read_ours(movie)),
                   "olefile": (open_ole, read_olefile(ole))}
        first = {}  # the first read: every file into the page cache, every entry looked up
        for name, (_, run) in methods.items():
            first[name] = _fastest(run, 1)[0]
        seconds = {name: _fastest(run, args.repeats)[0] for name, (_, run) in methods.items()}
        movie.close()
        ole.close()
    megabytes = frames.nbytes / 1e6
    print(f"{args.frames} frames of {args.side}^2 uint16 ({megabytes:.0f} MB, "
          f"{entries} directory entries), chunks of {args.chunk} frames")
    print(f"{'method':>8} | {'open ms':>8} | {'1st read s':>10} | {'read s':>7} | "
          f"{'MB/s':>6} | {'vs raw':>6}")
    print("-" * 60)
    for name, (opening, _) in methods.items():
        print(f"{name:>8} | {1e3 * opening:8.1f} | {first[name]:10.3f} | {seconds[name]:7.3f} | "
              f"{megabytes / seconds[name]:6.0f} | {seconds[name] / seconds['raw']:6.2f}")


if __name__ == "__main__":
    main()
