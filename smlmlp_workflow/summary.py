"""Rules figures and summary: PNGs per experiment, a table and a plot over all of them."""

from __future__ import annotations

import contextlib
import html
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smlmlp.atomic import atomic_path
from smlmlp.infofile import SUMMARY_COLUMNS, format_cell, read_info, write_summary

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


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>smlmLP summary</title>
<style>
body {{ font-family: sans-serif; font-size: 13px; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
th {{ background: #eee; }}
td.text {{ text-align: left; }}
</style></head><body>
<p>PSF of every experiment and channel (the rows of summary.tsv); the last column links
each experiment's info file, relative to the results folder.</p>
<table>
<thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def write_summary_html(
    path: PathLike, rows: Sequence[Mapping[str, Any]], info_files: Mapping[str, PathLike]
) -> Path:
    """The summary as an HTML table (the report shows it), whole or not at all.

    ``info_files`` maps each experiment to its info file; the table links it relative
    to the HTML file's folder.

    Examples
    --------
    >>> import tempfile
    >>> from smlmlp.infofile import ChannelInfo
    >>> folder = Path(tempfile.mkdtemp())
    >>> row = ChannelInfo.empty_example("red").summary_row("day <1>")
    >>> page = write_summary_html(
    ...     folder / "summary.html", [row], {"day <1>": folder / "day <1>" / "psf_info.h5"}
    ... ).read_text()
    >>> '<td class="text">day &lt;1&gt;</td>' in page, 'href="day%20%3C1%3E/psf_info.h5"' in page
    (True, True)
    """
    from urllib.parse import quote

    path = Path(path)
    columns = [*SUMMARY_COLUMNS, "info file"]
    header = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    lines = []
    for row in rows:
        cells = []
        for column in SUMMARY_COLUMNS:
            value = row[column]
            kind = ' class="text"' if isinstance(value, str) else ""
            cells.append(f"<td{kind}>{html.escape(format_cell(value, column))}</td>")
        info = info_files.get(str(row["experiment"]))
        if info is None:
            cells.append("<td></td>")
        else:
            link = Path(os.path.relpath(info, path.parent)).as_posix()
            cells.append(
                f'<td class="text"><a href="{html.escape(quote(link))}">'
                f"{html.escape(link)}</a></td>"
            )
        lines.append(f"<tr>{''.join(cells)}</tr>")
    page = _PAGE.format(header=header, body="\n".join(lines))
    with atomic_path(path) as part:
        part.write_text(page, encoding="utf-8")
    return path


def run_summary(
    info_paths: Sequence[PathLike],
    table_path: PathLike,
    figure_path: PathLike,
    *,
    html_path: PathLike | None = None,
    logger: logging.Logger | None = None,
) -> list[dict[str, Any]]:
    """``summary.tsv``, ``summary.png`` and (``html_path``) ``summary.html`` over the
    info files of all experiments."""
    from smlmlp.figures import save_figure, summary_figure

    logger = logger or logging.getLogger("smlmlp.workflow")
    rows: list[dict[str, Any]] = []
    info_files: dict[str, PathLike] = {}
    for path in info_paths:
        info = read_info(path)
        experiment = str(info.attrs.get("experiment", Path(path).parent.name))
        info_files[experiment] = path
        rows.extend(info.summary_rows(experiment))
    write_summary(table_path, rows)
    if html_path is not None:
        write_summary_html(html_path, rows, info_files)
    save_figure(summary_figure(rows), figure_path)
    logger.info("summary of %d channel(s) in %d experiment(s)", len(rows), len(info_paths))
    return rows


def format_summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of ``summary.tsv`` as the table a run prints when it ends: each width
    with its standard error, the angle (``round`` where sigx and sigy agree within their
    errors, as ``smlmlp psf`` prints it), the QC verdict and the experiment's on-time;
    under it the QC notes (why a channel is ``warn`` or ``invalid``), each once with the
    channels it is about.

    Examples
    --------
    >>> from smlmlp.infofile import ChannelInfo
    >>> red = ChannelInfo.empty_example("red", 140.0)
    >>> red.sigx_nm_se = red.sigy_nm_se = red.psf_sigma_nm_se = 0.9
    >>> print(format_summary_table([red.summary_row("day1", 58.04, 0.71)]))
    experiment  channel  sigx (nm)    sigy (nm)    theta (deg)  sigma (nm)   QC     on-time
    day1        red      140.0 ± 0.9  140.0 ± 0.9        round  140.0 ± 0.9  valid  58.0 ± 0.7 ms
    >>> red.qc, red.qc_notes = "warn", ("too few frames", "relative SE 4 %")
    >>> green = ChannelInfo.empty_example("green", 130.0)
    >>> green.qc, green.qc_notes = "warn", ("too few frames",)
    >>> rows = [red.summary_row("day1"), green.summary_row("day1")]
    >>> print(format_summary_table(rows).splitlines()[3:])
    ['day1/red, day1/green: too few frames', 'day1/red: relative SE 4 %']
    """
    from smlmlp.estimate import PART_WIDTHS
    from smlmlp.infofile import QC_NOTES_SEPARATOR, format_value, format_widths
    from smlmlp.text_table import aligned_lines

    header = ("experiment", "channel", "sigx (nm)", "sigy (nm)", "theta (deg)", "sigma (nm)")
    header += ("QC", "on-time")
    cells: list[tuple[str, ...]] = []
    notes: dict[str, list[str]] = {}  # note -> the channels it is about, in table order
    for row in rows:
        widths = {key: (float(row[key]), float(row[f"{key}_se"])) for key in PART_WIDTHS}
        text = format_widths(widths)
        on_time = ""
        for unit, digits in (("ms", 1), ("frames", 2)):
            level = float(row.get(f"on_time_{unit}", math.nan))
            if math.isfinite(level):
                error = float(row.get(f"on_time_{unit}_se", math.nan))
                on_time = f"{format_value(level, error, digits=digits)} {unit}"
                break
        names = (str(row["experiment"]), str(row["channel"]))
        cells.append((*names, *text.values(), str(row["qc"]), on_time))
        for note in str(row.get("qc_notes") or "").split(QC_NOTES_SEPARATOR):
            if note:
                notes.setdefault(note, []).append("/".join(names))
    lines = [f"{', '.join(labels)}: {note}" for note, labels in notes.items()]
    return "\n".join(aligned_lines(header, cells, left=(0, 1, 6, 7)) + lines)


#: At most this many warnings are printed when a run ends (the rest: in the job logs).
MAX_PRINTED_WARNINGS = 20


def _problem_line(experiment: str, text: str) -> str:
    """``experiment: text``, unless the text names the experiment first already."""
    named = not experiment or text.startswith((f"{experiment}:", f"{experiment}/"))
    return f"  {text}" if named else f"  {experiment}: {text}"


def run_end_text(results_dir: PathLike, experiments: Sequence[str], since: float) -> str:
    """What a run prints when it ends (:func:`print_run_summary`); empty when it wrote
    no summary and no job of it failed.

    The table is ``summary.tsv`` when this run wrote it (modified at ``since``, a
    ``time.time()``, or later), else, when jobs failed, the experiments of
    ``experiments`` that have an info file and no failed job (their numbers, as the
    summary would give them). Then the warnings and the one-line errors of this run's
    jobs, from their logs (:func:`smlmlp_workflow.logs.logged_problems`).
    """
    from smlmlp.infofile import read_summary

    from .logs import logged_problems

    results_dir = Path(results_dir)
    problems = logged_problems(results_dir / "logs", since)
    failed = {experiment for experiment, _ in problems["ERROR"]}
    path = results_dir / "summary.tsv"
    blocks = []
    if path.is_file() and path.stat().st_mtime >= since:
        blocks.append(f"smlmLP: {path}\n{format_summary_table(read_summary(path))}")
    elif failed:
        rows = []
        for experiment in experiments:
            info_path = results_dir / experiment / "psf_info.h5"
            if experiment not in failed and info_path.is_file():
                with contextlib.suppress(ValueError, OSError):  # unreadable: not finished
                    rows.extend(read_info(info_path).summary_rows(experiment))
        title = f"smlmLP: jobs failed, so {path} was not written"
        if rows:
            blocks.append(f"{title}; the experiments that finished:\n{format_summary_table(rows)}")
        else:
            blocks.append(f"{title}; no experiment finished")
    if not blocks:
        return ""
    warnings = problems["WARNING"]
    if warnings:
        lines = [_problem_line(*w) for w in warnings[:MAX_PRINTED_WARNINGS]]
        if len(warnings) > MAX_PRINTED_WARNINGS:
            more = len(warnings) - MAX_PRINTED_WARNINGS
            lines.append(f"  ... and {more} more in {results_dir / 'logs'}")
        blocks.append("\n".join([f"warnings ({len(warnings)}):", *lines]))
    if problems["ERROR"]:
        lines = [_problem_line("", text) for _, text in problems["ERROR"]]
        names = ", ".join(sorted(name for name in failed if name))
        title = f"failed jobs ({len(lines)}" + (f"; experiments {names}):" if names else "):")
        blocks.append("\n".join([title, *lines]))
    return "\n".join(blocks)


def print_run_summary(results_dir: PathLike, since: float, experiments: Sequence[str] = ()) -> None:
    """Print :func:`run_end_text`: the numbers of a run, its warnings and its failed
    jobs, in the terminal that started it."""
    text = run_end_text(results_dir, experiments, since)
    if text:
        print(f"\n{text}")
