"""Rules figures and summary: PNGs per experiment, a table and a plot over all of them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smlmlp.infofile import read_info, write_summary

from ._common import PathLike


def run_figures(
    info_path: PathLike,
    folder: PathLike,
    *,
    experiment: str,
    logger: logging.Logger | None = None,
) -> list[Path]:
    """One PNG per channel of an info file into ``folder``."""
    from smlmlp.figures import experiment_figures

    logger = logger or logging.getLogger("smlmlp.workflow")
    written = experiment_figures(info_path, folder, experiment)
    for path in written:
        logger.info("%s: wrote %s", experiment, path)
    return written


def run_summary(
    info_paths: Sequence[PathLike],
    table_path: PathLike,
    figure_path: PathLike,
    *,
    logger: logging.Logger | None = None,
) -> list[dict[str, Any]]:
    """``summary.tsv`` and ``summary.png`` over the info files of all experiments."""
    from smlmlp.figures import save_figure, summary_figure

    logger = logger or logging.getLogger("smlmlp.workflow")
    rows: list[dict[str, Any]] = []
    for path in info_paths:
        info = read_info(path)
        rows.extend(info.summary_rows(str(info.attrs.get("experiment", Path(path).parent.name))))
    write_summary(table_path, rows)
    save_figure(summary_figure(rows), figure_path)
    logger.info("summary of %d channel(s) in %d experiment(s)", len(rows), len(info_paths))
    return rows
