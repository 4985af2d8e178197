"""The pixel size, exposure and channel names a TIFF file's metadata give.

OME-XML first (``PhysicalSizeX/Y`` with their units, the planes' ``ExposureTime``
of the channel read, ``Channel/@Name``), then the TIFF resolution tags when their
unit is a length, then Micro-Manager's metadata (the first image's, of the channel's
first image in an NDTiff dataset, then the summary's), then MetaMorph's (an ``.stk``
stack's UIC tags and plane descriptions, a MetaSeries TIFF's XML description), and
for the exposure pco CamWare's ``.rec`` text beside the file, then ImageJ's frame
interval last. A metadata reader that fails counts
as absent: metadata never prevent reading the frames.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import tifffile

from .movie_series import NDTIFF_INDEX, ndtiff_channel_names, ndtiff_image_metadata

# Length units to nanometres (OME UnitsLength symbols and ImageJ spellings).
_LENGTH_TO_NM = {
    "pm": 1e-3,
    "å": 0.1,
    "angstrom": 0.1,
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "µm": 1e3,  # micro sign U+00B5
    "μm": 1e3,  # Greek small letter mu U+03BC
    "um": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "mm": 1e6,
    "cm": 1e7,
    "m": 1e9,
}

# Time units to milliseconds (OME UnitsTime symbols).
_TIME_TO_MS = {
    "ns": 1e-6,
    "µs": 1e-3,
    "μs": 1e-3,
    "us": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "min": 6e4,
    "h": 3.6e6,
}

# TIFF ResolutionUnit values that give an absolute length (nanometres per unit).
# Inch and centimetre are left out: many writers store a meaningless default
# (72 pixels per inch) there.
_RESOLUTION_UNIT_TO_NM = {4: 1e6, 5: 1e3}  # millimetre, micrometre

_MICROMANAGER_TAG = 51123


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Captures:
    """How many blocks capture tifffile's log now, and whether it propagated before."""

    lock = threading.Lock()
    open = 0
    propagate = True


@contextlib.contextmanager
def _capture_tifffile_log() -> Iterator[list[logging.LogRecord]]:
    """Collect what tifffile logs (warnings and errors) inside the block, instead of
    passing it on (to the handlers of the root logger, such as Snakemake's): the
    caller passes on what is worth telling (``logging.getLogger("tifffile").handle``)."""
    logger = logging.getLogger("tifffile")
    handler = _ListHandler()
    with _Captures.lock:
        if _Captures.open == 0:
            _Captures.propagate = logger.propagate
            logger.propagate = False
        _Captures.open += 1
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        with _Captures.lock:
            _Captures.open -= 1
            if _Captures.open == 0:
                logger.propagate = _Captures.propagate


def _local(tag: str) -> str:
    """Tag name without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _unit_factor(unit: str | None, table: dict[str, float], default: str) -> float | None:
    if unit is None:
        unit = default
    key = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").lower()
    return table.get(key)


def _positive_float(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _ome_pixels(root: ElementTree.Element, image: int = 0) -> ElementTree.Element | None:
    """The ``Pixels`` element of the OME ``Image`` number ``image`` (the image series
    of that number), None when there is none."""
    images = [e for e in root.iter() if _local(e.tag) == "Image"]
    if not 0 <= image < len(images):
        return None
    return next((e for e in images[image] if _local(e.tag) == "Pixels"), None)


def _ome_metadata(
    xml: str | None, channel: int = 0, image: int = 0
) -> tuple[tuple[float, float] | None, float | None]:
    """Pixel size (y, x) in nm and exposure in ms (of the first plane of the channel
    ``channel``) from the OME Image number ``image``."""
    if not xml:
        return None, None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None, None
    pixels = _ome_pixels(root, image)
    if pixels is None:
        return None, None
    sizes = []
    for axis in ("Y", "X"):
        value = _positive_float(pixels.get(f"PhysicalSize{axis}"))
        factor = _unit_factor(pixels.get(f"PhysicalSize{axis}Unit"), _LENGTH_TO_NM, "µm")
        sizes.append(None if value is None or factor is None else value * factor)
    if sizes[0] is None:  # square pixels are assumed when one size is given
        sizes[0] = sizes[1]
    if sizes[1] is None:
        sizes[1] = sizes[0]
    pixel_nm = None if sizes[0] is None else (float(sizes[0]), float(sizes[1]))
    exposure_ms = None
    for plane in pixels:
        if _local(plane.tag) != "Plane" or plane.get("ExposureTime") is None:
            continue
        if str(plane.get("TheC", "0")) != str(channel):
            continue
        value = _positive_float(plane.get("ExposureTime"))
        factor = _unit_factor(plane.get("ExposureTimeUnit"), _TIME_TO_MS, "s")
        if value is not None and factor is not None:
            exposure_ms = value * factor
        break
    return pixel_nm, exposure_ms


def _resolution_metadata(tif: tifffile.TiffFile) -> tuple[float, float] | None:
    """Pixel size (y, x) in nm from the resolution tags, when their unit is a length."""
    page = tif.pages[0]
    factor = None
    imagej = tif.imagej_metadata or {}
    if imagej.get("unit") is not None:
        factor = _unit_factor(str(imagej["unit"]), _LENGTH_TO_NM, "")
    else:
        unit_tag = page.tags.get(296)
        if unit_tag is not None:
            factor = _RESOLUTION_UNIT_TO_NM.get(int(unit_tag.value))
    if factor is None:
        return None
    sizes = []
    for code in (283, 282):  # YResolution, XResolution: pixels per unit
        tag = page.tags.get(code)
        if tag is None:
            return None
        value = tag.value
        try:
            per_unit = value[0] / value[1] if isinstance(value, tuple) else float(value)
        except (TypeError, ValueError, ZeroDivisionError, IndexError):
            return None
        size = _positive_float(1.0 / per_unit) if per_unit else None
        if size is None:
            return None
        sizes.append(size * factor)
    return (sizes[0], sizes[1])


def _micromanager_metadata(
    tif: tifffile.TiffFile, channel: int = 0
) -> tuple[float | None, float | None]:
    """Pixel size (nm) and exposure (ms) from Micro-Manager metadata, if any: the
    first image's (of the channel ``channel`` in an NDTiff dataset), then the
    summary's."""
    candidates = []
    # a missing file header (an image file of Micro-Manager's without the header of its
    # stack files) is only logged by tifffile, when it looks for it
    with _capture_tifffile_log():
        ndtiff = tif.is_ndtiff
        summary = (tif.micromanager_metadata or {}).get("Summary")
    if ndtiff:
        index = os.path.join(tif.filehandle.dirname, NDTIFF_INDEX)
        candidates.append(ndtiff_image_metadata(index, channel))
    else:
        tag = tif.pages[0].tags.get(_MICROMANAGER_TAG)
        if tag is not None and isinstance(tag.value, dict):
            candidates.append(tag.value)
    if isinstance(summary, dict):
        candidates.append(summary)
    pixel = exposure = None
    for values in candidates:
        if pixel is None:  # an image's key, then the summary's
            pixel = _positive_float(values.get("PixelSizeUm", values.get("PixelSize_um")))
            pixel = None if pixel is None else pixel * 1e3
        if exposure is None:
            exposure = _positive_float(values.get("Exposure-ms"))
    return pixel, exposure


# MetaMorph's "Exposure: 30 ms" line of a plane's description (a comma may be the
# decimal mark; an "=" may stand for the colon)
_METAMORPH_EXPOSURE = re.compile(
    r"(?:^|[\r\n])\s*Exposure\s*[:=]\s*([0-9]+(?:[.,][0-9]+)?)\s*(ms|s|us|µs|μs)?\b",
    re.IGNORECASE,
)


def _metamorph_exposure_ms(text: Any) -> float | None:
    """The exposure (ms) of a MetaMorph plane description, None without one."""
    if not isinstance(text, str):
        return None
    found = _METAMORPH_EXPOSURE.search(text.replace("&#13;&#10;", "\n"))
    if found is None:
        return None
    factor = _unit_factor(found[2], _TIME_TO_MS, "ms")
    value = _positive_float(found[1].replace(",", "."))
    return None if value is None or factor is None else value * factor


def _metamorph_calibration(x: Any, y: Any, units: Any) -> tuple[float, float] | None:
    """Pixel size (y, x) in nm of MetaMorph's calibration: ``x`` and ``y`` per pixel in
    ``units`` (µm when it names none); None for an uncalibrated image (its units are
    pixels, or its calibration 1 without units)."""
    sizes = (_positive_float(y if y is not None else x), _positive_float(x))
    if sizes[0] is None or sizes[1] is None:
        return None
    if units is None or not str(units).strip():
        if sizes == (1.0, 1.0):
            return None
        units = "um"
    factor = _unit_factor(str(units), _LENGTH_TO_NM, "um")
    if factor is None:  # "pixel", "pixels": not calibrated
        return None
    return (sizes[0] * factor, sizes[1] * factor)


def _metamorph_metadata(tif: tifffile.TiffFile) -> tuple[tuple[float, float] | None, float | None]:
    """Pixel size (y, x) in nm and exposure (ms) of a MetaMorph file: an ``.stk``
    stack (its UIC tags' ``XCalibration``, ``YCalibration``, ``CalibrationUnits``; the
    first plane's description) or a MetaSeries TIFF (the ``spatial-calibration-x``,
    ``-y``, ``-units`` properties of its description's XML, and the plane's
    ``Description``); (None, None) for other files."""
    if tif.is_stk:
        meta = tif.stk_metadata or {}
        pixel = _metamorph_calibration(
            meta.get("XCalibration"), meta.get("YCalibration"), meta.get("CalibrationUnits")
        )
        planes = meta.get("PlaneDescriptions") or [""]
        return pixel, _metamorph_exposure_ms(planes[0])
    if tif.is_metaseries:
        meta = tif.metaseries_metadata or {}
        plane = meta.get("PlaneInfo", meta)
        pixel = _metamorph_calibration(
            plane.get("spatial-calibration-x"),
            plane.get("spatial-calibration-y"),
            plane.get("spatial-calibration-units"),
        )
        return pixel, _metamorph_exposure_ms(plane.get("Description", meta.get("Description")))
    return None, None


def tiff_channel_names(
    tif: tifffile.TiffFile, n_channels: int, image: int = 0
) -> list[str] | None:
    """The channels' names given by the file: OME ``Channel/@Name`` of the image
    ``image``, else the ``channel`` values of an NDTiff dataset's index, else
    Micro-Manager's ``ChNames``; None when none has ``n_channels``."""
    with _capture_tifffile_log():
        ndtiff = tif.is_ndtiff
    if ndtiff:
        names = ndtiff_channel_names(os.path.join(tif.filehandle.dirname, NDTIFF_INDEX))
        if len(names) == n_channels:
            return names
    xml = tif.ome_metadata if tif.is_ome else None
    if xml:
        pixels = _ome_pixels(ElementTree.fromstring(xml), image)
        if pixels is not None:
            names = [e.get("Name") for e in pixels if _local(e.tag) == "Channel"]
            if len(names) == n_channels and all(names):
                return [str(name) for name in names]
    with _capture_tifffile_log():
        summary = (tif.micromanager_metadata or {}).get("Summary")
    names = summary.get("ChNames") if isinstance(summary, dict) else None
    if isinstance(names, list) and len(names) == n_channels:
        return [str(name) for name in names]
    return None


def _optional(reader: Any, *args: Any) -> Any:
    """Call a metadata reader; unreadable optional metadata count as absent."""
    try:
        return reader(*args)
    except Exception:  # metadata never prevent reading the frames
        return None


def read_tiff_metadata(tif: tifffile.TiffFile, channel: int = 0, image: int = 0) -> dict[str, Any]:
    """Pixel size and exposure (of the channel ``channel`` of the image series
    ``image``), from OME-XML first, then ImageJ/TIFF, then Micro-Manager, then MetaMorph
    (and, for the exposure, pco CamWare's ``.rec`` beside the file, then ImageJ's frame
    interval last)."""
    xml = _optional(lambda: tif.ome_metadata if tif.is_ome else None)
    pixel_nm, exposure_ms = _optional(_ome_metadata, xml, channel, image) or (None, None)
    if pixel_nm is None:
        pixel_nm = _optional(_resolution_metadata, tif)
    if pixel_nm is None or exposure_ms is None:
        mm_pixel, mm_exposure = _optional(_micromanager_metadata, tif, channel) or (None, None)
        if pixel_nm is None and mm_pixel is not None:
            pixel_nm = (mm_pixel, mm_pixel)
        if exposure_ms is None:
            exposure_ms = mm_exposure
    if pixel_nm is None or exposure_ms is None:
        mm_pixel, mm_exposure = _optional(_metamorph_metadata, tif) or (None, None)
        pixel_nm = mm_pixel if pixel_nm is None else pixel_nm
        exposure_ms = mm_exposure if exposure_ms is None else exposure_ms
    if exposure_ms is None:
        exposure_ms = _optional(pco_rec_exposure_ms, tif.filehandle.path)
    if exposure_ms is None:
        exposure_ms = _optional(_imagej_frame_interval_ms, tif)
    return {"pixel_nm": pixel_nm, "exposure_ms": exposure_ms}


#: pco CamWare's exposure line in a recording's ``.rec`` text: ``Exposure / Delay :
#: 30.000000 ms / 0.000000 ms`` (the exposure first, with its unit)
_PCO_EXPOSURE = re.compile(r"^\s*Exposure\s*/\s*Delay\s*:\s*([0-9.,]+)\s*([a-zµμ]+)", re.M | re.I)


def pco_rec_path(path: str) -> str | None:
    """The ``.rec`` text pco CamWare writes beside a recording ``path``: ``name.rec``
    beside ``name.pcoraw``, or ``name.tif.rec`` beside ``name.tif``; None when there
    is none.

    Examples
    --------
    >>> pco_rec_path("/no/such/cells.pcoraw") is None
    True
    """
    stem, _ = os.path.splitext(path)
    for candidate in (f"{stem}.rec", f"{path}.rec"):
        if os.path.isfile(candidate):
            return candidate
    return None


def pco_rec_text(path: str) -> str | None:
    """The ``.rec`` text beside a pco CamWare recording ``path`` (:func:`pco_rec_path`),
    decoded (UTF-16 with its byte-order mark, as CamWare writes it, else UTF-8 or
    Latin-1); None when there is none."""
    rec = pco_rec_path(path)
    if rec is None:
        return None
    with open(rec, "rb") as fh:
        raw = fh.read(1 << 16)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    if raw[1:2] == b"\0":  # UTF-16 LE without its mark
        return raw.decode("utf-16-le", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def pco_rec_exposure_ms(path: str) -> float | None:
    """The exposure in ms of the pco CamWare recording ``path``, from its ``.rec``
    text's ``Exposure / Delay`` line (:func:`pco_rec_text`); None without one."""
    text = pco_rec_text(path)
    found = _PCO_EXPOSURE.search(text or "")
    if not found:
        return None
    factor = _unit_factor(found[2], _TIME_TO_MS, "ms")
    value = _positive_float(found[1].replace(",", "."))
    return None if value is None or factor is None else value * factor


def _imagej_frame_interval_ms(tif: tifffile.TiffFile) -> float | None:
    """ImageJ's frame interval (``finterval``, seconds) in ms: the exposure of a
    camera streaming without gaps, as SMLM acquisitions do."""
    metadata = tif.imagej_metadata if tif.is_imagej else None
    if not metadata or "finterval" not in metadata:
        return None
    return _positive_float(float(metadata["finterval"]) * 1000.0)
