"""How fast movies are read, chunk by chunk, against one raw read of the same bytes.

One simulated-size uint16 movie (random frames) is written as TIFF files of several
layouts in a temporary folder; each is then read whole through
:func:`smlmlp.loading.open_movie` in the chunks the PSF pass reads (``--chunk``
frames), with the files in the page cache (each is read once before timing), so the
table shows the readers' own cost, not the disk's:

- ``raw``: the baseline, ``numpy.fromfile`` of the frames' bytes from the plain TIFF
  in the same chunks (the least any reader must do);
- ``plain``: the plain TIFF (one seek and one read per chunk);
- ``TCYX ch 1``: channel 1 of an OME-TIFF of two channels stored frame by frame
  (each frame's channels one after the other: one seek and read per frame, the
  other channel's frames are not read);
- ``CTYX ch 1``: channel 1 of two channels stored channel by channel (one read per
  chunk);
- ``TCYX deflate ch 1``: the same as ``TCYX ch 1``, zlib-compressed (page by page,
  decoded by tifffile);
- ``sequence``: the plain TIFF's frames as an image sequence, one TIFF file each
  (every file laid out as the first: each read straight from its bytes);
- ``sequence, metadata``: the same with each frame's own metadata in its file, as
  Micro-Manager writes it (files laid out differently: each parsed by tifffile);
- ``HDF5 gzip``, ``HDF5 Blosc``: the plain TIFF's frames as an HDF5 dataset, one chunk
  per frame, compressed with HDF5's own gzip (level 4) or with Blosc (LZ4, byte
  shuffle: the filter PyTables and PYME write, decoded through hdf5plugin). The frames
  are random, the worst case for a compressor: real frames shrink more.

Every method runs ``--repeats`` times; the fastest run counts. The table gives
seconds of reading (the movie opened beforehand), MB/s of the frames delivered, the
ratio to ``raw``, and the milliseconds ``open_movie`` takes (an OME-TIFF's XML and
pages are indexed once, when it is opened).

Run::

    python benchmarks/bench_reading.py
    python benchmarks/bench_reading.py --frames 4000 --side 256 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile

from smlmlp.loading import open_movie


def _fastest(run: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _read_movie(movie, chunk: int) -> Callable[[], None]:
    def run() -> None:
        for first in range(0, movie.shape[0], chunk):
            movie[first : first + chunk]

    return run


def _open_ms(path: Path, channel: int | None, repeats: int) -> float:
    return 1e3 * _fastest(lambda: open_movie(path, channel=channel).close(), repeats)


def _read_raw(path: Path, n_frames: int, frame_shape: tuple[int, int], chunk: int):
    with tifffile.TiffFile(path) as tif:
        offset = int(tif.series[0].dataoffset)
    count = frame_shape[0] * frame_shape[1]

    def run() -> None:
        with open(path, "rb") as handle:
            for first in range(0, n_frames, chunk):
                handle.seek(offset + first * count * 2)
                size = min(chunk, n_frames - first) * count
                np.fromfile(handle, np.uint16, count=size)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames (default 2000)")
    parser.add_argument("--side", type=int, default=256, help="frame side (default 256)")
    parser.add_argument("--chunk", type=int, default=100, help="frames per read (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args()
    shape = (args.side, args.side)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 4000, (args.frames, 2, *shape), dtype=np.uint16)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        plain, tcyx = root / "plain.tif", root / "tcyx.ome.tif"
        ctyx, deflate = root / "ctyx.ome.tif", root / "deflate.ome.tif"
        tifffile.imwrite(plain, np.ascontiguousarray(frames[:, 1]))
        tifffile.imwrite(tcyx, frames, metadata={"axes": "TCYX"})
        across = np.ascontiguousarray(frames.transpose(1, 0, 2, 3))
        tifffile.imwrite(ctyx, across, metadata={"axes": "CTYX"})
        tifffile.imwrite(deflate, frames, metadata={"axes": "TCYX"}, compression="zlib")
        sequence, tagged = root / "sequence", root / "tagged"
        for folder_of_frames in (sequence, tagged):
            folder_of_frames.mkdir()
        for t, frame in enumerate(frames[:, 1]):
            tifffile.imwrite(sequence / f"img_{t:06d}.tif", frame)
            image = json.dumps({"FrameIndex": t, "ElapsedTime-ms": round(30.0 * t, 3)})
            tag = (51123, "s", 0, image, True)
            tifffile.imwrite(tagged / f"img_{t:06d}.tif", frame, extratags=[tag])
        files = {
            "plain": (plain, None),
            "TCYX ch 1": (tcyx, 1),
            "CTYX ch 1": (ctyx, 1),
            "TCYX deflate ch 1": (deflate, 1),
            "sequence": (sequence / "img_000000.tif", None),
            "sequence, metadata": (tagged / "img_000000.tif", None),
        }
        import h5py
        import hdf5plugin

        for name, filters in (("gzip", {"compression": "gzip", "compression_opts": 4}),
                              ("blosc", hdf5plugin.Blosc(cname="lz4", shuffle=1))):
            with h5py.File(root / f"{name}.h5", "w") as handle:
                handle.create_dataset("frames", data=frames[:, 1], chunks=(1, *shape), **filters)
        files["HDF5 gzip"] = (root / "gzip.h5", None)
        files["HDF5 Blosc"] = (root / "blosc.h5", None)
        opened = {name: open_movie(path, channel=c) for name, (path, c) in files.items()}
        methods = {"raw": _read_raw(plain, args.frames, shape, args.chunk)}
        methods.update({name: _read_movie(movie, args.chunk) for name, movie in opened.items()})
        for run in methods.values():  # every file into the page cache
            run()
        seconds = {name: _fastest(run, args.repeats) for name, run in methods.items()}
        for movie in opened.values():
            movie.close()
        opening = {name: _open_ms(path, c, args.repeats) for name, (path, c) in files.items()}
    megabytes = args.frames * shape[0] * shape[1] * 2 / 1e6
    print(f"{args.frames} frames of {args.side}x{args.side} uint16 ({megabytes:.0f} MB per "
          f"channel), chunks of {args.chunk}, fastest of {args.repeats}")
    print(f"{'method':<20} | {'seconds':>8} | {'MB/s':>7} | {'vs raw':>6} | {'open ms':>7}")
    for name, value in seconds.items():
        opens = f"{opening[name]:7.1f}" if name in opening else f"{'':>7}"
        print(f"{name:<20} | {value:8.3f} | {megabytes / value:7.0f} | "
              f"{value / seconds['raw']:6.2f} | {opens}")


if __name__ == "__main__":
    main()
