"""Plain-text tables, as the command line and ``snakemake plan`` print them."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def aligned_lines(
    header: Sequence[str], rows: Sequence[Sequence[str]], left: Collection[int] | None = None
) -> list[str]:
    """The lines of a table of ``header`` over ``rows``, two spaces between columns.

    The header and the columns ``left`` (all of them when None) are flush left, the
    other cells (numbers) flush right; nothing trails a line.

    Examples
    --------
    >>> print("\\n".join(aligned_lines(("name", "frames"), [("red", "500"), ("far red", "20")],
    ...                                left=(0,))))
    name     frames
    red         500
    far red      20
    """
    left = range(len(header)) if left is None else left
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for line_index, row in enumerate([header, *rows]):
        cells = [
            cell.ljust(width) if i in left or line_index == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines
