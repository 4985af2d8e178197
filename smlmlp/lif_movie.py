"""Leica ``.lif`` movies (LAS X, LAS AF: Leica's SR GSD, DMi8 and THUNDER widefield
systems record SMLM movies in them).

A ``.lif`` file is a project: an XML description, then memory blocks, each named
(``MemBlock_233``); liffile reads the file's headers, its XML and where each block's
bytes lie (:func:`read_lif_layout`). In the XML, every ``Element`` of the project tree
that holds an image (``Data/Image``) names its block (``Memory/@MemoryBlockID``) and
describes it: its ``ChannelDescription`` (bits per sample in ``Resolution``, the
channel's offset in ``BytesInc``) and its ``DimensionDescription`` (``DimID`` 1 x, 2 y,
3 z, 4 t, 5 and 9 wavelengths, 10 tiles; ``NumberOfElements``; ``BytesInc``, the step
in bytes along it; ``Length`` over the first to the last element in ``Unit``).

Every image of x and y with one axis of frames (t, or z when it is the only one) is a
movie, and each of its channels one; an image of one frame (a snapshot), an x-z scan or
an image with several axes of frames (a z stack in time, a wavelength sweep, tiles) is
not. Frames are read lazily from a memory map, whatever the steps along the axes.
Pixel size: x's and y's ``Length / (NumberOfElements - 1)``; exposure: the camera's,
from the image's hardware settings (``Attachment[@Name="HardwareSetting"]``, its
``ATLCameraSettingDefinition``'s ``WideFieldChannelInfo/@ExposureTime``, one per
channel, in seconds unless a unit follows; those of a sequential acquisition's steps
when the main settings list none), else the frame interval (t's ``Length /
(NumberOfElements - 1)``), which stands for it as for a camera streaming without gaps.
"""

from __future__ import annotations

import math
import os
import re
import struct
from typing import NamedTuple
from xml.etree import ElementTree

import liffile
import numpy as np

from .file_channels import channel_names
from .formats import MappedMovie, PathLike, _clean
from .tiff_metadata import _LENGTH_TO_NM, _TIME_TO_MS, _unit_factor

__all__ = ["LifImage", "LifMovie", "lif_images", "lif_left_out", "read_lif_layout"]

#: Names of the axes (``DimID``) for messages.
LIF_AXES = {
    1: "x",
    2: "y",
    3: "z",
    4: "t",
    5: "emission wavelength",
    9: "excitation wavelength",
    10: "tile",
}


class LifAxis(NamedTuple):
    """One ``DimensionDescription`` of an image."""

    ident: int
    count: int
    step: int
    length: float | None
    unit: str


class LifImage(NamedTuple):
    """An image of a ``.lif`` file as its XML describes it."""

    name: str
    path: str
    block: str
    size: int
    axes: tuple[LifAxis, ...]
    channels: tuple[tuple[int, int, int], ...]  # (offset in bytes, bits, data type)
    exposures_ms: tuple[float | None, ...] = ()  # the camera's, one per channel listed

    def exposure_ms(self, channel: int) -> float | None:
        """The camera's exposure for ``channel``, in ms (the one listed when a single
        one is); None when the settings list none for it."""
        if channel < len(self.exposures_ms):
            return self.exposures_ms[channel]
        return self.exposures_ms[0] if len(self.exposures_ms) == 1 else None

    def why_not_a_movie(self) -> str | None:
        """Why this image is no movie; None when it is one."""
        shape = " x ".join(f"{LIF_AXES.get(a.ident, a.ident)} {a.count}" for a in self.axes)
        if len(self.axes) < 2 or (self.axes[0].ident, self.axes[1].ident) != (1, 2):
            return f"{self.path}: not an x-y image ({shape})"
        frames = [a for a in self.axes[2:] if a.count > 1]
        if not frames:
            return f"{self.path}: one image ({self.axes[1].count} x {self.axes[0].count})"
        if len(frames) > 1 or frames[0].ident not in (3, 4):
            return f"{self.path}: not a movie of one frame axis, t or z ({shape})"
        return None

    @property
    def frame_axis(self) -> LifAxis:
        """The axis of the frames of a movie (see :meth:`why_not_a_movie`)."""
        return next(a for a in self.axes[2:] if a.count > 1)


def read_lif_layout(path: PathLike) -> tuple[ElementTree.Element, dict[str, tuple[int, int]]]:
    """The XML description of the Leica file ``path`` (a ``.lif`` project or a ``.lof``
    image, read by liffile) and its memory blocks, by name: ``(offset of the bytes,
    bytes present)`` (fewer than the block's size in a file cut short). A ``.lof``'s one
    block is named after the image's ``Memory/@MemoryBlockID``.

    Raises
    ------
    ValueError
        Not a Leica image file, or its header or XML is corrupt.
    """
    try:
        with liffile.LifFile(path, squeeze=False) as lif:
            root = lif.xml_element
            found = {name: (block.offset, block.size) for name, block in lif.memory_blocks.items()}
    except (liffile.LifFileError, ValueError, KeyError, SyntaxError, struct.error) as exc:
        why = f"not a Leica image file, or one cut short or corrupt ({_clean(exc)})"
        raise ValueError(why) from exc
    file_size = os.path.getsize(path)
    blocks = {
        name: (offset, max(0, min(size, file_size - offset)))
        for name, (offset, size) in found.items()
        if offset >= 0
    }
    return root, blocks


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


#: An exposure of the hardware settings: a number, then an optional unit (seconds).
_EXPOSURE = re.compile(r"^\s*([-+0-9.eE]+)\s*([a-zA-Zµμ]*)\s*$")


def _camera_exposures(image: ElementTree.Element) -> tuple[float | None, ...]:
    """The camera's exposure of each channel of an image (``Data/Image``), in ms, from
    its hardware settings; empty when they list none (a confocal image)."""
    for setting in image.iterfind("Attachment"):
        if setting.get("Name") != "HardwareSetting":
            continue
        paths = (
            "ATLCameraSettingDefinition/WideFieldChannelConfigurator/WideFieldChannelInfo",
            "LDM_Block_Widefield_Sequential/LDM_Block_Sequential_List/"
            "ATLCameraSettingDefinition/WideFieldChannelConfigurator/WideFieldChannelInfo",
        )
        for path in paths:
            infos = setting.findall(path)
            if infos:
                return tuple(_exposure_ms(info.get("ExposureTime")) for info in infos)
    return ()


def _exposure_ms(text: str | None) -> float | None:
    """``"0.03"`` (seconds), ``"30 ms"``, ``"30ms"`` -> 30.0; None when not a positive
    time.

    >>> _exposure_ms("0.03"), _exposure_ms("30 ms"), _exposure_ms("x"), _exposure_ms("0")
    (30.0, 30.0, None, None)
    """
    match = _EXPOSURE.match(text or "")
    value = _number(match.group(1)) if match else None
    factor = _unit_factor(match.group(2) or "s", _TIME_TO_MS, "s") if match else None
    if value is None or factor is None or value <= 0:
        return None
    return value * factor


def lif_images(
    root: ElementTree.Element, blocks: dict[str, tuple[int, int]] | None = None
) -> list[LifImage]:
    """Every image of a Leica file's XML description that has bytes, in the order of
    the project tree; its ``path``: the names of the elements down to it, less the
    project's own. An image without a ``Memory`` element (older ``.lof`` files) owns
    the file's memory block when ``blocks`` holds one."""
    found: list[LifImage] = []
    lone = next(iter(blocks)) if blocks is not None and len(blocks) == 1 else None

    def visit(element: ElementTree.Element, names: tuple[str, ...]) -> None:
        image = element.find("Data/Image")
        memory = element.find("Memory")
        if memory is not None:
            block, size = memory.get("MemoryBlockID", ""), int(memory.get("Size", "0"))
        elif lone is not None and blocks is not None:
            block, size = lone, blocks[lone][1]
        else:
            block, size = "", 0
        if image is not None and size > 0:
            axes = tuple(
                LifAxis(
                    int(d.get("DimID", "0")),
                    int(d.get("NumberOfElements", "1")),
                    int(d.get("BytesInc", "0")),
                    _number(d.get("Length")),
                    d.get("Unit", ""),
                )
                for d in image.iterfind("ImageDescription/Dimensions/DimensionDescription")
            )
            channels = tuple(
                (int(c.get("BytesInc", "0")), int(c.get("Resolution", "8")),
                 int(c.get("DataType", "0")))
                for c in image.iterfind("ImageDescription/Channels/ChannelDescription")
            )
            path = "/".join(names[1:]) or names[-1]
            found.append(
                LifImage(names[-1], path, block, size, axes, channels or ((0, 8, 0),),
                         _camera_exposures(image))
            )
        for child in element.iterfind("Children/Element"):
            visit(child, (*names, child.get("Name", "")))

    for top in root.iterfind("Element"):
        visit(top, (top.get("Name", ""),))
    return found


def _movies(images: list[LifImage]) -> list[tuple[int, int, str]]:
    """The movies of a file's images: ``(image, channel, name)``, named after the images
    (their paths when two share a name; ``s0``, ``s1``, ... when those do too) when the
    file holds several, and after their channels (``c0``, ``c1``, ...) for an image of
    several."""
    movies = [i for i, image in enumerate(images) if image.why_not_a_movie() is None]
    names = [images[i].name for i in movies]
    if len(set(names)) != len(names):
        names = ["_".join(images[i].path.split("/")) for i in movies]
    places = channel_names(names, len(movies), "s") if len(movies) > 1 else ("",)
    found = []
    for place, index in zip(places, movies, strict=False):
        count = len(images[index].channels)
        for c, channel in enumerate(channel_names(None, count) if count > 1 else ("",)):
            found.append((index, c, "_".join(part for part in (place, channel) if part)))
    return found


def lif_left_out(path: PathLike) -> str | None:
    """Why a ``.lif`` file beside the movies is not one (its images are snapshots,
    z stacks in time, wavelength sweeps): None when it holds a movie, or when it
    cannot be read (opening it tells why)."""
    try:
        images = lif_images(*read_lif_layout(path))
    except (OSError, ValueError):
        return None
    if _movies(images):
        return None
    kind = os.path.splitext(os.fspath(path))[1].lower()
    return f"a Leica {kind} file without a movie ({_images_text(images)})"


def _images_text(images: list[LifImage]) -> str:
    """What a file's images are (the first three), for messages."""
    reasons = [image.why_not_a_movie() or image.path for image in images[:3]]
    more = f", and {len(images) - 3} more" if len(images) > 3 else ""
    return "; ".join(reasons) + more if images else "no image"


def _per_element(axis: LifAxis, table: dict[str, float]) -> float | None:
    """An axis's step between elements in the unit of ``table`` (nm or ms)."""
    factor = _unit_factor(axis.unit, table, "")
    if axis.length is None or axis.count < 2 or factor is None or axis.length <= 0:
        return None
    return axis.length / (axis.count - 1) * factor


def _sample_dtype(bits: int, data_type: int) -> np.dtype | None:
    if data_type == 1 and bits == 32:
        return np.dtype("<f4")
    if data_type != 0 or bits < 1 or bits > 16:
        return None
    return np.dtype("u1") if bits <= 8 else np.dtype("<u2")


class LifMovie(MappedMovie):
    """A Leica ``.lif`` movie (see the module), one channel of one image of the file
    (``channel``: the movie's name, or its index among the file's movies); or the
    image of a ``.lof`` file (LAS X's object file: one image, read alike).

    Use :func:`smlmlp.loading.open_movie` to create one.
    """

    kind = "lif"
    what = ".lif"

    def _open(self) -> None:
        if os.path.splitext(self.path)[1].lower() == ".lof":
            self.kind = self.metadata["kind"] = "lof"
            self.what = ".lof"
        try:
            root, blocks = read_lif_layout(self.path)
            images = lif_images(root, blocks)
        except (OSError, ValueError) as exc:
            raise self._corrupt(exc) from exc
        movies = _movies(images)
        if not movies:
            raise ValueError(
                f"{self.label}: no movie in this {self.what} file ({_images_text(images)})"
            )
        pick = 0
        if len(movies) > 1:
            pick = self._choose_channel([name for _, _, name in movies], len(movies))
        index, channel, _ = movies[pick]
        image = images[index]
        offset, bits, data_type = image.channels[channel]
        dtype = _sample_dtype(bits, data_type)
        if dtype is None:
            raise ValueError(
                f"{self.label}: {image.path}: samples of {bits} bits (data type {data_type}) "
                "are not supported (8 or 16-bit integers, 32-bit floats)"
            )
        x, y, frames = image.axes[0], image.axes[1], image.frame_axis
        self.shape = (frames.count, y.count, x.count)  # type: ignore[assignment]
        self.dtype = dtype
        start, present = blocks.get(image.block, (0, -1))
        if present < 0:
            raise self._corrupt(f"{image.path}: its memory block {image.block} is missing")
        steps = (frames.step, y.step, x.step)
        need = offset + sum((n - 1) * s for n, s in zip(self.shape, steps, strict=True))
        need += dtype.itemsize
        if present < need:
            raise ValueError(
                f"{self.label}: truncated .lif file: {image.path} needs {need} bytes of its "
                f"memory block {image.block}, the file holds {present}"
            )
        self._mapped = np.memmap(self.path, dtype=np.uint8, mode="r")
        self._frames = np.ndarray(
            self.shape, dtype=dtype, buffer=self._mapped, offset=start + offset, strides=steps
        )
        pixel = (_per_element(y, _LENGTH_TO_NM), _per_element(x, _LENGTH_TO_NM))
        self.metadata["pixel_nm"] = None if None in pixel else pixel
        exposure = image.exposure_ms(channel)
        if exposure is None and frames.ident == 4:
            exposure = _per_element(frames, _TIME_TO_MS)
        self.metadata["exposure_ms"] = exposure
        self.metadata["axes"] = ("T" if frames.ident == 4 else "Z") + "YX"
        self.metadata["image"] = image.path
