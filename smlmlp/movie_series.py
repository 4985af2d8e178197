"""Which files make one movie: multi-file TIFF series and Micro-Manager NDTiff datasets.

A rig writes a long movie over several files: Micro-Manager's OME-TIFF series
(``name.ome.tif``, ``name_1.ome.tif``, ..., or files listed in the first file's
OME-XML; a multi-position acquisition's ``name_MMStack_Pos0.ome.tif``,
``name_MMStack_Pos1.ome.tif``, ...) and its NDTiff datasets (``name_NDTiffStack.tif``,
``name_NDTiffStack_1.tif``, ... beside one ``NDTiff.index`` that lists every image of
every file). Opening the first file reads the whole movie; the command and the
workflow use :func:`group_series` so that the further files are not taken for movies
of their own.

Some rigs write one TIFF file per frame instead (Micro-Manager's "separate image
files", ``img_channel000_position000_time000000000_z000.tif``; home-built rigs; the
SMLM challenge's ``00001.tif``, ``00002.tif``, ...): :data:`MIN_SEQUENCE_FILES` or more
TIFF files of one image each whose names differ in one number, the frame number, are
one movie, in the order of that number (:func:`frame_sequences`; a further number
that differs too, such as Micro-Manager's channel, makes a movie of each of its
values). Its first frame's file opens it and names it, less the frame number
(:func:`sequence_name`).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

PathLike = str | os.PathLike

#: The index of a Micro-Manager NDTiff dataset, beside its TIFF files.
NDTIFF_INDEX = "NDTiff.index"

#: Suffixes of TIFF movie files (case-insensitive): BigTIFF files as Bio-Formats names
#: them (``.ome.btf``, ``.ome.tf8``, ``.ome.tf2``); MetaMorph's ``.stk`` stacks are TIFF
#: files too (their planes after the first image's, described by its UIC tags), and so
#: are pco CamWare's ``.pcoraw`` recordings (their exposure in the ``.rec`` beside them).
TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".tf2", ".stk", ".pcoraw")

#: Single-image TIFF files with names alike but for one number that make a movie of
#: their own. Fewer are snapshots taken beside the movies (``bf_01.tif`` .. ``bf_12.tif``
#: at twelve positions), left out as such: a movie that short would be refused anyway
#: (the workflow's ``min_frames`` is 100 unless set lower).
MIN_SEQUENCE_FILES = 100

_NUMBER = re.compile(r"\d+")
# separators at the ends of a name, or doubled where a frame number was taken out
_LOOSE_SEPARATORS = re.compile(r"^[-_. ]+|[-_. ]+$")

#: The metadata file Micro-Manager writes beside its "separate image files", one in each
#: position's folder (``Default/``, ``Pos0/``, ...): its ``Summary`` names the channels.
MICROMANAGER_METADATA = "metadata.txt"
#: Bytes of a Micro-Manager metadata file read for its channel names (its ``Summary``
#: comes first; the rest, one entry per image, may run to many megabytes).
MICROMANAGER_SUMMARY_BYTES = 2**20
_MM_CHANNEL_NAMES = re.compile(r'"ChNames"\s*:\s*(\[[^\]]*\])')
_MM_POSITIONS = re.compile(r'"(?:Positions|position)"\s*:\s*(\d+)')
# the first key of an image's entry, after the summary (its coordinates name a position)
_MM_IMAGE_ENTRY = re.compile(r'"(?:Coords|Metadata|FrameKey)-')
# a Micro-Manager 2 sequence's name less the frame number: its channel's index
_MM_SEQUENCE = re.compile(r"^img_channel(\d+)_position\d+_time_z\d+$")
# Micro-Manager 1.4's (``img_000000000_Cy5_000.tif``): its channel's name
_MM14_SEQUENCE = re.compile(r"^img_(.+)_\d+$")

_SERIES_CONTINUATION = re.compile(r"^(?P<base>.+)_(?P<index>\d+)(?P<ome>\.ome)?\.tiff?$", re.I)


def is_tiff_name(filename: str) -> bool:
    """Whether a file name is a TIFF movie (``*.tif``, ``*.tiff``, MetaMorph's ``*.stk``,
    not hidden).

    Examples
    --------
    >>> is_tiff_name("a.TIF"), is_tiff_name(".a.tif"), is_tiff_name("a.dax")
    (True, False, False)
    """
    return not filename.startswith(".") and filename.lower().endswith(TIFF_SUFFIXES)


def dataset_index(path: PathLike) -> str | None:
    """The ``NDTiff.index`` of the NDTiff dataset a TIFF file is part of (the index
    beside it lists it), else None."""
    folder, name = os.path.split(os.path.abspath(path))
    if not is_tiff_name(name) or name not in _dataset_files(folder):
        return None
    return os.path.join(folder, NDTIFF_INDEX)


def dataset_movie(folder: PathLike) -> str | None:
    """The file that opens the NDTiff dataset a folder holds (the first its index
    lists: the dataset is one movie, named after it), else None."""
    text = os.fspath(folder)
    files = _dataset_files(text) if os.path.isdir(text) else []
    return os.path.join(text, files[0]) if files else None


def _dataset_files(folder: PathLike) -> list[str]:
    """The files the folder's ``NDTiff.index`` lists; none without an index, or when
    it cannot be read (opening the movie reports that)."""
    index = os.path.join(folder, NDTIFF_INDEX)
    if not os.path.isfile(index):
        return []
    try:
        return ndtiff_files(index)
    except Exception:  # the job that reads the movie reports an unreadable index
        return []


class NdtiffLayout(NamedTuple):
    """What an NDTiff dataset's index says, read once (:func:`ndtiff_layout`).

    Attributes
    ----------
    files : tuple of str
        The TIFF files it lists, in the order their first images come.
    channel_values : tuple
        The distinct values of the images' ``channel`` axis in the order they first
        come (the order of tifffile's series), empty without such an axis.
    first_images : dict
        Where the metadata of the first image of each channel value (key None: of
        the dataset) is: ``(file name, offset, byte count, compression)``.
    axis_sizes : dict
        How many distinct values each axis of the images takes (``time``,
        ``channel``, ``z``, ``position``, ...).
    """

    files: tuple[str, ...]
    channel_values: tuple
    first_images: dict
    axis_sizes: dict

    @property
    def channel_names(self) -> list[str]:
        """The channel names (the ``channel`` values when all are text), else empty."""
        values = self.channel_values
        return list(values) if values and all(isinstance(v, str) for v in values) else []


@functools.lru_cache(maxsize=4)
def _layout(path: str, mtime_ns: int, size: int) -> NdtiffLayout:
    import tifffile

    files: dict[str, None] = {}
    first: dict = {}
    seen: dict[str, set] = {}
    for axes, filename, _, _, _, _, _, offset, count, compression in tifffile.read_ndtiff_index(
        path
    ):
        files.setdefault(filename)
        where = (filename, offset, count, compression)
        first.setdefault(None, where)
        if "channel" in axes:
            first.setdefault(axes["channel"], where)
        for axis, value in axes.items():
            seen.setdefault(axis, set()).add(value)
    values = tuple(key for key in first if key is not None)
    sizes = {axis: len(found) for axis, found in seen.items()}
    return NdtiffLayout(tuple(files), values, first, sizes)


def ndtiff_layout(index_path: PathLike) -> NdtiffLayout:
    """The layout of an NDTiff dataset from its ``NDTiff.index`` (parsed once while
    the file is unchanged: opening a movie asks for it several times)."""
    path = os.path.abspath(index_path)
    status = os.stat(path)
    return _layout(path, status.st_mtime_ns, status.st_size)


def ndtiff_files(index_path: PathLike) -> list[str]:
    """The names of the TIFF files an NDTiff dataset's index lists, in the order their
    first images come."""
    return list(ndtiff_layout(index_path).files)


def ndtiff_channel_names(index_path: PathLike) -> list[str]:
    """The channel names of an NDTiff dataset, from its index: the string values of
    the images' ``channel`` axis in the order they first come (the order of the
    channels of tifffile's series of the dataset); empty when the images have no
    ``channel`` axis or number their channels."""
    return ndtiff_layout(index_path).channel_names


def ndtiff_image_metadata(index_path: PathLike, channel: int | None = None) -> dict:
    """The Micro-Manager metadata of an NDTiff dataset's first image (of its channel
    ``channel``, an index into :attr:`NdtiffLayout.channel_values`): the JSON the
    index points to in its file; empty when there is none or it cannot be read."""
    layout = ndtiff_layout(index_path)
    key = layout.channel_values[channel] if channel is not None and layout.channel_values else None
    where = layout.first_images.get(key)
    if where is None:
        return {}
    filename, offset, size, compression = where
    if compression or size <= 0:
        return {}
    with open(os.path.join(os.path.dirname(os.fspath(index_path)), filename), "rb") as file:
        file.seek(offset)
        text = file.read(size)
    try:
        value = json.loads(text.decode("utf-8").rstrip("\0"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ome_referenced_files(path: Path) -> set[str]:
    """File names an OME-TIFF's XML lists besides itself (empty when unreadable)."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            xml = tif.pages[0].description if tif.pages else ""
    except Exception:  # the job that reads the movie reports unreadable files
        return set()
    if "<OME" not in xml:
        return set()
    names = set(re.findall(r'FileName\s*=\s*"([^"]+)"', xml))
    names.update(re.findall(r'MetadataFile\s*=\s*"([^"]+)"', xml))
    return {os.path.basename(name) for name in names} - {path.name}


def _mmstack_prefix(name: str) -> str | None:
    """The acquisition a Micro-Manager stack file belongs to (``PREFIX_MMStack*.tif``:
    every position's files and their continuations, which tifffile reads together
    from any of them), None for any other file.

    Examples
    --------
    >>> _mmstack_prefix("run_MMStack_Pos1_2.ome.tif"), _mmstack_prefix("run.ome.tif")
    ('run', None)
    """
    if not is_tiff_name(name) or "_MMStack" not in name:
        return None
    return name.split("_MMStack")[0]


def group_series(folder: PathLike, filenames: Sequence[str]) -> dict[str, list[str]]:
    """Group movie file names into movies: first file -> all files of its series.

    A file ``X_N.ome.tif`` (N digits) continues ``X.ome.tif`` when that exists
    (Micro-Manager's naming), OME-TIFF files listed in another file's OME-XML
    belong to that file's series, the files of one Micro-Manager acquisition
    (``PREFIX_MMStack*.tif``: its positions and their continuations) are one movie,
    and the files an ``NDTiff.index`` in the folder lists are one NDTiff dataset; the
    alphabetically first file of a series opens it. The files of an image sequence
    (:func:`folder_sequences`) are one movie, in frame order, opened by the first
    frame's file. A movie of another format is one file (its sidecar is added by the
    caller).

    Examples
    --------
    >>> group_series(".", ["a.tif", "cam_MMStack_Pos0.ome.tif", "cam_MMStack_Pos0_1.ome.tif"])
    {'a.tif': ['a.tif'], 'cam_MMStack_Pos0.ome.tif': ['cam_MMStack_Pos0.ome.tif', \
'cam_MMStack_Pos0_1.ome.tif']}
    >>> group_series(".", ["b.dax", "c_1.ome.zarr", "c.ome.zarr"])
    {'b.dax': ['b.dax'], 'c.ome.zarr': ['c.ome.zarr'], 'c_1.ome.zarr': ['c_1.ome.zarr']}
    >>> group_series(".", ["x_MMStack_Pos1.ome.tif", "x_MMStack_Pos0.ome.tif"])
    {'x_MMStack_Pos0.ome.tif': ['x_MMStack_Pos0.ome.tif', 'x_MMStack_Pos1.ome.tif']}
    """
    names = sorted(filenames)
    present = set(names)
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    def join(a: str, b: str) -> None:
        first, second = sorted((root(a), root(b)))
        parent[second] = first

    for name in names:
        match = _SERIES_CONTINUATION.match(name)
        if match and match["ome"]:
            for suffix in (".ome.tif", ".ome.tiff"):
                if match["base"] + suffix in present:
                    join(match["base"] + suffix, name)
        if ".ome." in name.lower() and is_tiff_name(name):
            for other in _ome_referenced_files(Path(folder) / name):
                if other in present:
                    join(name, other)
    dataset = [name for name in _dataset_files(folder) if name in present]
    for name in dataset[1:]:
        join(dataset[0], name)
    acquisitions: dict[str, list[str]] = {}
    for name in names:
        prefix = _mmstack_prefix(name)
        if prefix is not None:
            acquisitions.setdefault(prefix, []).append(name)
    for files in acquisitions.values():
        for name in files[1:]:
            join(files[0], name)
    sequences = []
    for sequence in folder_sequences(folder).values():
        files = [name for name in sequence.files if name in present]
        for name in files[1:]:
            join(files[0], name)
        if files:
            sequences.append(files)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(root(name), []).append(name)
    for files in sequences:  # in frame order, opened by the first frame's file
        group, members = groups.pop(root(files[0])), set(files)
        groups[files[0]] = files + [name for name in group if name not in members]
    return dict(sorted(groups.items()))


class FrameSequence(NamedTuple):
    """A movie of one TIFF file per frame (:func:`frame_sequences`).

    Attributes
    ----------
    files : tuple of str
        Its files, in frame order.
    name : str
        The files' common name less the frame number and the separators beside it
        (empty when the names are numbers alone).
    """

    files: tuple[str, ...]
    name: str


def frame_sequences(names: Sequence[str]) -> dict[str, FrameSequence]:
    """The image sequences file names may make: first file -> its sequence.

    :data:`MIN_SEQUENCE_FILES` or more TIFF names alike but for their numbers; the
    number that takes the most values is the frame number (on a tie, one whose values
    follow each other, then the last), and where another number of a few values
    differs too, each of its values has a sequence of its own (Micro-Manager's
    ``channel000``, ``channel001``); one of many values (a time stamp in each name)
    is left as it is. Names alone: whether the files hold one image each is for
    :func:`folder_sequences` to check.

    Examples
    --------
    >>> names = [f"img_{t:03d}.tif" for t in range(200)] + ["bf.tif", "run_1.tif"]
    >>> found = frame_sequences(names)
    >>> list(found), found["img_000.tif"].name, found["img_000.tif"].files[-1]
    (['img_000.tif'], 'img', 'img_199.tif')
    >>> mm = [f"img_channel{c:03d}_position000_time{t:09d}_z000.tif"
    ...       for c in (0, 1) for t in range(100)]
    >>> [sequence.name for sequence in frame_sequences(mm).values()]
    ['img_channel000_position000_time_z000', 'img_channel001_position000_time_z000']
    >>> [s.files[:3] for s in frame_sequences([f"{t}.tif" for t in range(1, 101)]).values()]
    [('1.tif', '2.tif', '3.tif')]
    >>> stamped = [f"frame{t:04d}_{t * 0.033:.3f}s.tif" for t in range(100)]
    >>> [(s.name, s.files[1]) for s in frame_sequences(stamped).values()]
    [('frame_0.000s', 'frame0001_0.033s.tif')]
    >>> frame_sequences([f"bf_{t:02d}.tif" for t in range(12)])  # snapshots
    {}
    """
    alike: dict[tuple[str, ...], list[tuple[str, list[int]]]] = defaultdict(list)
    for name in names:
        numbers = [int(run) for run in _NUMBER.findall(name)]
        if numbers and is_tiff_name(name):
            alike[tuple(_NUMBER.split(name))].append((name, numbers))
    found = {}
    for members in alike.values():
        if len(members) < MIN_SEQUENCE_FILES:
            continue
        values = [{numbers[i] for _, numbers in members} for i in range(len(members[0][1]))]
        varying = [i for i, seen in enumerate(values) if len(seen) > 1]
        if not varying:
            continue
        frame = max(varying, key=lambda i: (len(values[i]), _consecutive(values[i]), i))
        # a number of few values tells movies apart (a channel); one of as many values
        # as the frames is the frame's own (a time stamp) and tells nothing
        apart = [
            i for i in varying
            if i != frame and len(values[i]) * MIN_SEQUENCE_FILES <= len(members)
        ]
        movies: dict[tuple[int, ...], list[tuple[int, str]]] = defaultdict(list)
        for name, numbers in members:
            movies[tuple(numbers[i] for i in apart)].append((numbers[frame], name))
        for frames in movies.values():
            frames.sort()
            distinct = len({number for number, _ in frames}) == len(frames)  # not 1 and 01
            if len(frames) >= MIN_SEQUENCE_FILES and distinct:
                files = tuple(name for _, name in frames)
                found[files[0]] = FrameSequence(files, _without_number(files[0], frame))
    return dict(sorted(found.items()))


def _consecutive(values: set[int]) -> bool:
    """Whether ``values`` are whole numbers one after the other (frame numbers)."""
    return max(values) - min(values) + 1 == len(values)


def _without_number(name: str, index: int) -> str:
    """``name`` less its suffix and its ``index``-th number, the parts beside it joined
    by one ``_``."""
    number = list(_NUMBER.finditer(name))[index]
    before = name[: number.start()]
    after = re.sub(r"(\.ome)?\.tiff?$", "", name[number.end() :], flags=re.I)
    before = _LOOSE_SEPARATORS.sub("", before) if before.strip("-_. ") else ""
    after = _LOOSE_SEPARATORS.sub("", after) if after.strip("-_. ") else ""
    return "_".join(part for part in (before, after) if part)


class _FolderSequences(NamedTuple):
    """A folder's image sequences by first file, and the first file of each file's."""

    sequences: dict[str, FrameSequence]
    head_of: dict[str, str]


@functools.lru_cache(maxsize=16)
def _sequences_in(folder: str, mtime_ns: int) -> _FolderSequences:
    from .tiff_movie import tiff_single_image  # (it reads this module's names)

    try:
        names = os.listdir(folder)
    except OSError:
        return _FolderSequences({}, {})
    found = {}
    for head, sequence in frame_sequences(names).items():
        ends = (sequence.files[0], sequence.files[-1])
        if all(tiff_single_image(os.path.join(folder, end)) is not None for end in ends):
            found[head] = sequence
    found = _named_after_channels(folder, found)
    head_of = {name: head for head, sequence in found.items() for name in sequence.files}
    return _FolderSequences(found, head_of)


def micromanager_channel_names(folder: PathLike) -> list[str] | None:
    """The channel names (``Summary`` / ``ChNames``) of the Micro-Manager metadata file
    in ``folder`` (:data:`MICROMANAGER_METADATA`); None without one, or when it names
    none (its first :data:`MICROMANAGER_SUMMARY_BYTES` are read: a file cut short by an
    aborted acquisition still names them).

    Examples
    --------
    >>> import shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> text = '{"Summary": {"ChNames": ["Cy5", "Cy3"], "Positions": 2}, "Metadata-Pos0'
    >>> _ = open(os.path.join(folder, "metadata.txt"), "w").write(text)
    >>> micromanager_channel_names(folder), micromanager_positions(folder)
    (['Cy5', 'Cy3'], 2)
    >>> text = '{"Summary": {"ChNames": ["Cy5"]}, "Coords-Pos3/img.tif": {"position": 3}}'
    >>> _ = open(os.path.join(folder, "metadata.txt"), "w").write(text)
    >>> micromanager_positions(folder)  # an image's position is not their number
    1
    >>> shutil.rmtree(folder)
    """
    match = _MM_CHANNEL_NAMES.search(_micromanager_summary(folder))
    if match is None:
        return None
    try:
        names = json.loads(match[1])
    except ValueError:
        return None
    return [str(name) for name in names] if isinstance(names, list) else None


def micromanager_positions(folder: PathLike) -> int:
    """The number of positions of the acquisition whose Micro-Manager metadata file is
    in ``folder`` (``Summary`` / ``Positions``, or ``IntendedDimensions`` / ``position``);
    1 when it does not say."""
    text = _micromanager_summary(folder)
    match = _MM_POSITIONS.search(text)
    return max(1, int(match[1])) if match else 1


def _micromanager_summary(folder: PathLike) -> str:
    """The text of the Micro-Manager metadata file in ``folder`` before its first image's
    entry (``"Coords-``, ``"Metadata-``, ``"FrameKey-``): its ``Summary``, within the
    first :data:`MICROMANAGER_SUMMARY_BYTES` (empty without the file); read once while
    the file is unchanged."""
    path = os.path.join(os.path.abspath(folder or "."), MICROMANAGER_METADATA)
    try:
        stat = os.stat(path)
    except OSError:
        return ""
    return _summary_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _summary_of(path: str, mtime_ns: int, size: int) -> str:
    try:
        with open(path, "rb") as handle:
            text = handle.read(MICROMANAGER_SUMMARY_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
    return _MM_IMAGE_ENTRY.split(text, maxsplit=1)[0]


def _named_after_channels(
    folder: str, sequences: dict[str, FrameSequence]
) -> dict[str, FrameSequence]:
    """Micro-Manager's sequences, in a folder with its metadata file, named after their
    channels: Micro-Manager 2's (``img_channel001_position000_time_z000``) after the
    names the file gives (``ChNames``), 1.4's (``img_Cy5_000``) after the name in
    theirs; where every one of them has a name and the names tell them apart (else all
    stay as they are)."""
    if not os.path.isfile(os.path.join(folder, MICROMANAGER_METADATA)):
        return sequences
    listed: list[str] | None = None
    renamed = {}
    for head, sequence in sequences.items():
        if match := _MM_SEQUENCE.match(sequence.name):
            if listed is None:
                listed = micromanager_channel_names(folder) or []
            index = int(match[1])
            name = listed[index] if index < len(listed) else ""
        elif match := _MM14_SEQUENCE.match(sequence.name):
            name = match[1]
        else:
            continue
        name = name.strip().replace("/", "-").replace("\\", "-")
        if not name or name.startswith("."):
            return sequences
        renamed[head] = name
    kept = [s.name for head, s in sequences.items() if head not in renamed]
    if len(set(renamed.values())) < len(renamed) or set(renamed.values()) & set(kept):
        return sequences
    return {
        head: sequence._replace(name=renamed.get(head, sequence.name))
        for head, sequence in sequences.items()
    }


def position_folders(folder: PathLike) -> list[str]:
    """The position folders of a Micro-Manager acquisition saved as "separate image
    files", in name order: the subfolders of ``folder`` (``Default``, or ``Pos0``,
    ``Pos1``, ...) that hold a Micro-Manager metadata file and an image sequence."""
    found = []
    try:
        entries = sorted(os.scandir(folder or "."), key=lambda entry: entry.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if os.path.isfile(os.path.join(entry.path, MICROMANAGER_METADATA)):
            if folder_sequences(entry.path):
                found.append(entry.name)
    return found


def _position_of(folder: str) -> str | None:
    """The name of ``folder`` when it is the folder of one of several positions of a
    Micro-Manager acquisition (its metadata file says so: :func:`micromanager_positions`),
    else None."""
    if micromanager_positions(folder) < 2:
        return None
    return os.path.basename(os.path.abspath(folder))


def _folder_sequences(folder: PathLike) -> _FolderSequences:
    path = os.path.abspath(folder or ".")
    try:
        mtime_ns = os.stat(path).st_mtime_ns
    except OSError:
        return _FolderSequences({}, {})
    return _sequences_in(path, mtime_ns)


def folder_sequences(folder: PathLike) -> dict[str, FrameSequence]:
    """The image sequences of a folder (:func:`frame_sequences` of its file names whose
    first and last files hold one image each), first file -> sequence; worked out once
    while the folder's list of files is unchanged."""
    return _folder_sequences(folder).sequences


def sequence_of(path: PathLike) -> FrameSequence | None:
    """The image sequence a file is part of (:func:`folder_sequences`), its files as
    paths beside ``path``; None for a file of no sequence."""
    folder, name = os.path.split(os.fspath(path))
    if not _NUMBER.search(name) or not is_tiff_name(name):
        return None
    found = _folder_sequences(folder)
    head = found.head_of.get(name)
    if head is None:
        return None
    sequence = found.sequences[head]
    return FrameSequence(tuple(os.path.join(folder, f) for f in sequence.files), sequence.name)


def sequence_name(path: PathLike) -> str | None:
    """The name of the image sequence a file is part of: its files' name less the frame
    number (Micro-Manager's: its channel's name, :func:`micromanager_channel_names`),
    after its position's folder when the acquisition has several (``Pos1_Cy5``), or
    its folder's name when the names are numbers alone; None for a file of no
    sequence."""
    sequence = sequence_of(path)
    if sequence is None:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    name = sequence.name or os.path.basename(folder)
    position = _position_of(folder)
    return name if position is None or not sequence.name else f"{position}_{name}"


def _series_companions(path: str) -> list[str]:
    """The names of the files beside ``path`` that begin or share its series: the
    other files of its NDTiff dataset or Micro-Manager acquisition, the first file
    ``X.ome.tif`` of ``X_N.ome.tif``."""
    folder, name = os.path.split(path)
    names = []
    index = dataset_index(path)
    if index is not None:
        names += [n for n in ndtiff_files(index) if os.path.isfile(os.path.join(folder, n))]
    match = _SERIES_CONTINUATION.match(name)
    if match and match["ome"]:
        for suffix in (".ome.tif", ".ome.tiff"):
            if os.path.isfile(os.path.join(folder, match["base"] + suffix)):
                names.append(match["base"] + suffix)
    prefix = _mmstack_prefix(name)
    if prefix is not None:
        with os.scandir(folder or ".") as entries:
            names += [e.name for e in entries if _mmstack_prefix(e.name) == prefix]
    return names


def group_movie_paths(paths: Sequence[PathLike]) -> list[list[str]]:
    """The movies of a list of files, each the list of its files (first the one that
    opens it and names it), in the order the movies first come: the files of one
    series or NDTiff dataset make one movie, whichever of them are given and in any
    order (:func:`group_series`, folder by folder; a series' first file and the rest
    of a dataset are looked for beside the files given).

    Examples
    --------
    >>> group_movie_paths(["a.tif", "run_1.ome.tif", "b.tif", "run.ome.tif"])
    [['a.tif'], ['run.ome.tif', 'run_1.ome.tif'], ['b.tif']]
    """
    by_folder: dict[str, dict[str, str]] = {}
    in_sequences: set[str] = set()  # paths brought in with an image sequence
    for path in paths:
        text = os.fspath(path)
        folder, name = os.path.split(text)
        names = by_folder.setdefault(folder, {})
        names.setdefault(name, text)
        if text in in_sequences:
            continue  # its sequence's files are all there (a pattern of thousands)
        sequence = sequence_of(text)
        others = _series_companions(text) if sequence is None else sequence.files
        for other in others:
            names.setdefault(os.path.basename(other), os.path.join(folder, os.path.basename(other)))
        if sequence is not None:
            in_sequences.update(sequence.files)
    head_of: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for folder, names in by_folder.items():
        for head, group in group_series(folder or ".", list(names)).items():
            members[names[head]] = [names[name] for name in group]
            for name in group:
                head_of[names[name]] = names[head]
    movies: dict[str, list[str]] = {}
    for path in paths:
        head = head_of[os.fspath(path)]
        movies.setdefault(head, members[head])
    return list(movies.values())
