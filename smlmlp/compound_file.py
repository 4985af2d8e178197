"""OLE2 compound files (Microsoft's structured storage), read for their streams' bytes.

A compound file is a small file system inside one file: sectors of 512 bytes (version 3)
or 4096 (version 4) after a header of one sector; a file allocation table (FAT) chains
the sectors of each stream; a directory of 128-byte entries names the storages (folders)
and streams, the children of each storage forming a binary tree of siblings; streams
under a cutoff (4096 bytes) live in 64-byte mini sectors of the mini stream, chained by
the mini FAT. This reader holds the directory as a few NumPy arrays (names, siblings,
first sectors, sizes) and looks storages' children up when asked, so that opening a
file of hundreds of thousands of streams (an HCImage movie keeps several per frame)
costs a read of its directory, not an object per entry; a stream is read as runs of
consecutive sectors, straight into the caller's array.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["CompoundFile", "CompoundFileError", "is_compound_file"]

#: The first eight bytes of every compound file.
SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
#: Special sector numbers.
FREE_SECTOR, END_OF_CHAIN, FAT_SECTOR, DIFAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
#: No entry (a missing sibling or child).
NO_ENTRY = 0xFFFFFFFF
#: Directory entry types.
STORAGE, STREAM, ROOT = 1, 2, 5
#: Storages of at least this many children keep their names' table (looked up again and
#: again: a movie's storage of frames); smaller ones are walked anew (a frame's own, of a
#: few streams: kept, their tables would grow with the frames).
KEPT_CHILDREN = 64
#: The directory's 128-byte entries.
ENTRY = np.dtype([
    ("name", "V64"), ("name_bytes", "<u2"), ("type", "u1"), ("color", "u1"),
    ("left", "<u4"), ("right", "<u4"), ("child", "<u4"), ("clsid", "V16"),
    ("state", "<u4"), ("created", "<u8"), ("modified", "<u8"), ("start", "<u4"),
    ("size", "<u8"),
])


class CompoundFileError(ValueError):
    """The file is no compound file, or its tables do not hold together."""


def is_compound_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file begins with the compound file signature."""
    with open(path, "rb") as handle:
        return handle.read(len(SIGNATURE)) == SIGNATURE


class CompoundFile:
    """A compound file open for reading (see the module); a context manager.

    Parameters
    ----------
    path : str or path-like
        The file.

    Raises
    ------
    CompoundFileError
        No compound file header, or a table that points outside the file or loops.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._handle: Any = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ tables

    def _load(self) -> None:
        header = self._handle.read(512)
        if len(header) < 512 or header[:8] != SIGNATURE:
            raise CompoundFileError("no compound file header")
        fields = np.frombuffer(header, "<u2", 6, 24)  # minor, major, order, shifts, -
        major, sector_shift, mini_shift = int(fields[1]), int(fields[3]), int(fields[4])
        if major not in (3, 4) or sector_shift not in (9, 12) or mini_shift != 6:
            raise CompoundFileError(
                f"version {major} with sectors of 2^{sector_shift} bytes is not read"
            )
        self.sector_size, self.mini_sector_size = 1 << sector_shift, 1 << mini_shift
        words = np.frombuffer(header, "<u4", 9, 40)
        n_fat, first_directory, cutoff = int(words[1]), int(words[2]), int(words[4])
        first_mini_fat, first_difat, n_difat = int(words[5]), int(words[7]), int(words[8])
        self.mini_cutoff = cutoff
        self._size = os.fstat(self._handle.fileno()).st_size
        self._n_sectors = max(0, -(-(self._size - self.sector_size) // self.sector_size))
        fat_sectors = [int(s) for s in np.frombuffer(header, "<u4", 109, 76)[: min(n_fat, 109)]]
        sector = first_difat
        for _ in range(n_difat):  # the DIFAT beyond the header's 109 entries
            if sector >= self._n_sectors:
                raise CompoundFileError(f"its DIFAT points at sector {sector}, past its end")
            table = np.frombuffer(self._sector(sector), "<u4")  # ids, then the next sector
            fat_sectors += [int(s) for s in table[:-1] if s < DIFAT_SECTOR]
            sector = int(table[-1])
        fat_sectors = fat_sectors[:n_fat]
        if any(s >= self._n_sectors for s in fat_sectors) or len(fat_sectors) < n_fat:
            raise CompoundFileError("its FAT points past the end of the file")
        self.fat = np.frombuffer(b"".join(self._sector(s) for s in fat_sectors), "<u4")
        directory = self._chain_bytes(first_directory)
        usable = len(directory) // ENTRY.itemsize
        entries = np.frombuffer(directory, ENTRY, usable)
        if usable == 0 or entries["type"][0] != ROOT:
            raise CompoundFileError("its directory has no root entry")
        # the columns it needs, each one contiguous array (fast to index one by one)
        self._names = np.ascontiguousarray(entries["name"]).view(np.uint8).reshape(usable, 64)
        self._name_bytes = np.minimum(entries["name_bytes"], 64).astype(np.int32)
        self._left, self._right, self._child = (
            np.ascontiguousarray(entries[column]) for column in ("left", "right", "child")
        )
        self.types = np.ascontiguousarray(entries["type"])
        self.starts = np.ascontiguousarray(entries["start"])
        sizes = entries["size"]
        self.sizes = sizes & 0xFFFFFFFF if self.sector_size == 512 else sizes.copy()
        self.mini_fat = np.frombuffer(self._chain_bytes(first_mini_fat), "<u4")
        self._mini_stream = self._chain(int(self.starts[0])) if int(self.sizes[0]) else []
        self._children: dict[int, dict[str, int]] = {}

    def _sector(self, sector: int) -> bytes:
        self._handle.seek((sector + 1) * self.sector_size)
        return self._handle.read(self.sector_size)

    def _chain(self, start: int, table: np.ndarray | None = None) -> list[int]:
        """The sectors of a chain from ``start`` (the FAT's, or ``table``'s)."""
        table = self.fat if table is None else table
        chain: list[int] = []
        sector = start
        while sector != END_OF_CHAIN:
            if sector >= table.size or len(chain) > table.size:
                raise CompoundFileError(f"a chain of sectors loops or breaks at sector {sector}")
            chain.append(sector)
            sector = int(table[sector])
        return chain

    def _chain_bytes(self, start: int) -> bytes:
        if start in (END_OF_CHAIN, FREE_SECTOR):
            return b""
        return b"".join(self._sector(s) for s in self._chain(start))

    # --------------------------------------------------------------- directory

    def name(self, entry: int) -> str:
        """An entry's name."""
        length = max(0, int(self._name_bytes[entry]) - 2)
        return self._names[entry, :length].tobytes().decode("utf-16-le", errors="replace")

    def children(self, storage: int) -> dict[str, int]:
        """The children of a storage entry by lower-case name (the format compares
        names without case); kept for storages of :data:`KEPT_CHILDREN` or more."""
        found = self._children.get(storage)
        if found is not None:
            return found
        found = {}
        n_entries = self.types.size
        waiting = [int(self._child[storage])]
        while waiting:  # the siblings' tree, without recursion (any depth)
            entry = waiting.pop()
            if entry == NO_ENTRY:
                continue
            if entry >= n_entries or len(found) >= n_entries:
                raise CompoundFileError("its directory's tree of siblings is broken")
            found[self.name(entry).lower()] = entry
            waiting += [int(self._left[entry]), int(self._right[entry])]
        if len(found) >= KEPT_CHILDREN:
            self._children[storage] = found
        return found

    def find(self, path: str) -> int | None:
        """The entry of a ``/``-separated path from the root, or None."""
        entry = 0
        for part in path.split("/"):
            entry = self.children(entry).get(part.lower())
            if entry is None:
                return None
        return entry

    def size(self, entry: int) -> int:
        """A stream's size in bytes (version 3 files: the low 32 bits of the field, as
        the format asks)."""
        return int(self.sizes[entry])

    # ------------------------------------------------------------------ streams

    def runs(self, entry: int) -> list[tuple[int, int]]:
        """Where a stream's bytes are in the file: ``(offset, length)`` runs in order."""
        size = self.size(entry)
        if size == 0:
            return []
        if size < self.mini_cutoff:
            unit, start = self.mini_sector_size, int(self.starts[entry])
            places = []
            for mini in self._chain(start, self.mini_fat):
                at = mini * unit
                sector = at // self.sector_size
                if sector >= len(self._mini_stream):
                    raise CompoundFileError("a small stream lies past the mini stream's end")
                places.append((self._mini_stream[sector] + 1) * self.sector_size
                              + at % self.sector_size)
        else:
            unit, start = self.sector_size, int(self.starts[entry])
            count = -(-size // unit)
            following = np.arange(start + 1, start + count, dtype=np.uint32)
            if start + count <= self.fat.size and np.array_equal(
                self.fat[start : start + count - 1], following
            ) and int(self.fat[start + count - 1]) == END_OF_CHAIN:
                return [((start + 1) * unit, size)]  # sectors in order: one run
            places = [(s + 1) * unit for s in self._chain(start)]
        runs: list[tuple[int, int]] = []
        left = size
        for place in places:
            length = min(unit, left)
            if runs and runs[-1][0] + runs[-1][1] == place:
                runs[-1] = (runs[-1][0], runs[-1][1] + length)
            else:
                runs.append((place, length))
            left -= length
            if left <= 0:
                break
        if left > 0:
            raise CompoundFileError(f"a stream of {size} bytes has a chain {size - left} long")
        return runs

    def read_into(self, entry: int, out: Any) -> None:
        """Read a stream into ``out`` (a writable buffer of the stream's size)."""
        view = memoryview(out).cast("B")
        done = 0
        for offset, length in self.runs(entry):
            self._handle.seek(offset)
            if self._handle.readinto(view[done : done + length]) != length:
                raise CompoundFileError("a stream is cut short (truncated file)")
            done += length

    def read(self, entry: int) -> bytes:
        """A stream's bytes."""
        out = bytearray(self.size(entry))
        self.read_into(entry, out)
        return bytes(out)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def __enter__(self) -> CompoundFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
