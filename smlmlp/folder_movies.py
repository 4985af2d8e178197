"""The movies of a folder: which of its files are movies, and which are left out.

The workflow's experiment folders and a folder given to ``smlmlp psf`` are read alike:
every file of a movie format and every OME-Zarr folder (:func:`list_movies`), grouped
into movies (:func:`smlmlp.movie_series.group_series`: multi-file series, NDTiff datasets, image
sequences), less the files that are no movies (:func:`left_out_files`: a snapshot of
one image, an HDF5 file without a movie, an smlmLP info file), each with why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .andor_spool import spool_header
from .formats import HDF5_SUFFIXES, hdf5_left_out, is_movie_name
from .lif_movie import lif_left_out
from .movie_series import group_series, is_tiff_name, position_folders
from .npy_movie import npy_left_out
from .tiff_movie import tiff_single_image

__all__ = [
    "folder_series",
    "left_out_files",
    "list_movies",
    "single_images",
    "subfolders_with_movies",
]

PathLike = str | os.PathLike


def list_movies(folder: PathLike) -> list[str]:
    """Names of the movies in an experiment folder, in name order: files of a supported
    format and OME-Zarr folders (a ``.inf`` / ``.yaml`` sidecar is not a movie), and the
    header of an Andor spooled series in a folder of its own (``cell 1/Spooled
    files.sifx``, :func:`smlmlp.andor_spool.spool_header`)."""
    names = []
    for entry in sorted(Path(folder).iterdir()):
        if not is_movie_name(entry.name):
            if entry.is_dir() and not entry.name.startswith("."):
                header = spool_header(entry)
                if header is not None:
                    names.append(f"{entry.name}/{header}")
            continue
        if entry.name.lower().endswith(".zarr") and entry.is_dir():
            names.append(entry.name)
        elif entry.is_file() and not entry.name.lower().endswith(".zarr"):
            names.append(entry.name)
    return names


def folder_series(folder: PathLike) -> dict[str, list[str]]:
    """The movies of a folder, first file -> its files (:func:`list_movies` grouped by
    :func:`smlmlp.movie_series.group_series`), as paths relative to ``folder``.

    A folder without a movie of its own (but snapshots, :func:`left_out_files`, kept
    here for the caller to leave out) that holds the position folders of a
    Micro-Manager acquisition saved as "separate image files"
    (:func:`smlmlp.movie_series.position_folders`: ``Default/``, or ``Pos0/``,
    ``Pos1/``, ...) has their movies (``Pos0/img_channel000_...tif``): the acquisition's
    folder is read as Micro-Manager writes it.
    """
    series = group_series(folder, list_movies(folder))
    positions = position_folders(folder)
    if not positions or set(series) - set(left_out_files(folder, series)):
        return series
    for position in positions:
        inside = Path(folder) / position
        for head, files in group_series(inside, list_movies(inside)).items():
            series[f"{position}/{head}"] = [f"{position}/{name}" for name in files]
    return series


def single_images(folder: PathLike, series: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The TIFF files of ``series`` (:func:`smlmlp.movie_series.group_series`) that hold
    one image, not a movie (a bright-field or wide-field snapshot taken beside the
    movies, :func:`smlmlp.tiff_movie.tiff_single_image`), each with why it is left out.

    Examples
    --------
    >>> import shutil, tempfile, numpy as np, tifffile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> tifffile.imwrite(folder / "bf.tif", np.zeros((48, 64), np.uint16))
    >>> tifffile.imwrite(folder / "cell.tif", np.zeros((5, 48, 64), np.uint16))
    >>> single_images(folder, {"bf.tif": ["bf.tif"], "cell.tif": ["cell.tif"]})
    {'bf.tif': 'one image (48 x 64), not a movie'}
    >>> shutil.rmtree(folder)
    """
    found = {}
    for head, files in series.items():
        if len(files) == 1 and is_tiff_name(head):
            shape = tiff_single_image(Path(folder) / head)
            if shape is not None:
                sizes = " x ".join(str(size) for size in shape if size > 1)
                found[head] = f"one image ({sizes}), not a movie"
    return found


def left_out_files(folder: PathLike, series: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The files of ``series`` that are no movies, each with why: a TIFF of one image
    (:func:`single_images`), an HDF5 file without a dataset of frames (localisations
    such as Picasso's ``_locs.hdf5``) or an smlmLP info file
    (:func:`smlmlp.formats.hdf5_left_out`), an ``.npy`` array that is no stack of
    frames (:func:`smlmlp.npy_movie.npy_left_out`), a Leica ``.lif`` project or ``.lof``
    image without a movie (:func:`smlmlp.lif_movie.lif_left_out`).

    Examples
    --------
    >>> import shutil, tempfile, h5py, numpy as np
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> with h5py.File(folder / "cell_locs.hdf5", "w") as handle:
    ...     handle["locs"] = np.zeros(4, [("x", "f4"), ("y", "f4")])
    >>> left_out_files(folder, {"cell_locs.hdf5": ["cell_locs.hdf5"]})
    {'cell_locs.hdf5': 'an HDF5 file without a movie (its datasets: locs (4,))'}
    >>> shutil.rmtree(folder)
    """
    found = single_images(folder, series)
    for head in series:
        suffix = Path(head).suffix.lower()
        if suffix in HDF5_SUFFIXES:
            why = hdf5_left_out(Path(folder) / head)
        elif suffix == ".npy":
            why = npy_left_out(Path(folder) / head)
        elif suffix in (".lif", ".lof"):
            why = lif_left_out(Path(folder) / head)
        else:
            continue
        if why is not None:
            found[head] = why
    return found


def subfolders_with_movies(folder: PathLike) -> list[str]:
    """Subfolders of ``folder`` (not hidden, not OME-Zarr images) that hold movies
    (:func:`folder_series`): the experiments of a layout one level deeper than
    ``experiments_dir``, the experiment folders of a folder given to ``smlmlp psf``."""
    found = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith(".") or is_movie_name(entry.name) or not entry.is_dir():
            continue
        try:
            if list_movies(entry) or position_folders(entry):
                found.append(entry.name)
        except OSError:  # a subfolder nobody may read: not this folder's problem
            continue
    return found
