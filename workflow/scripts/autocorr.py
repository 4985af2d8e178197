"""Rule autocorr: stream one channel's movie (or a frame range of it) into summed spectra."""

from smlmlp_workflow.autocorr import run_autocorr
from smlmlp_workflow.frames import WHOLE_MOVIE, parse_frame_range
from smlmlp_workflow.logs import rule_log

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)
# with frames_per_job, the job's frame range (its sums do not depend on the chunks)
frames = parse_frame_range(sm.wildcards.get("frames", WHOLE_MOVIE))
chunk_frames = sm.config["chunk_frames"]
step = f"autocorr {sm.params.label}"
if frames is not None:
    step += f" frames {frames[0]}-{frames[1]}"

with rule_log(sm.log[0], step=step, subject=sm.input.movie) as log:
    run_autocorr(
        sm.input.movie,
        sm.output.spectrum,
        sm.output.source,
        label=sm.params.label,
        file_channel=sm.params.file_channel,
        split=sm.params.split,
        half=sm.params.half,
        min_frames=sm.params.min_frames,
        crop_pix=sm.params.crop_pix or 5,
        time_windows=sm.params.time_windows,
        field_tiles=sm.params.field_tiles,
        fiducials=sm.params.fiducials,
        chunk_frames=chunk_frames,
        memory_budget_mb=sm.config["memory_budget_mb"],
        cuda=sm.resources.gpu > 0,
        threads=sm.threads,
        frames=frames,
        logger=log,
    )
