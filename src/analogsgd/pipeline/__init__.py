"""Pipeline training across analog accelerators: a network split into stages, one per
accelerator, trained under a synchronous (GPipe-style) or an asynchronous (PipeDream-style)
schedule, executed in one process or in one process per stage (torch.distributed, gloo).

* :mod:`.schedule`: the cycle timelines as data, their closed forms (cycles, bubbles,
  staleness) and measurements;
* :mod:`.stages`: splitting a sequential analog network; a stage's forward, backward, update;
* :mod:`.simulate`: the single-process execution of a timeline;
* :mod:`.distributed`: the multi-process execution.

See docs/pipeline.md.
"""

from .distributed import PipelineJob, PipelineStageError, run_distributed
from .schedule import (
    SCHEDULES,
    Event,
    TimelineStats,
    async_staleness,
    async_timeline,
    async_total_cycles,
    check_timeline,
    sync_bubble_fraction,
    sync_step_cycles,
    sync_timeline,
    timeline,
    timeline_stats,
    versions_seen,
)
from .simulate import MicroBatches, SimulationResult, micro_batch_stream, simulate
from .stages import Stage, split_stages, stage_tensors

__all__ = [
    "SCHEDULES", "Event", "MicroBatches", "PipelineJob", "PipelineStageError",
    "SimulationResult", "Stage", "TimelineStats", "async_staleness", "async_timeline",
    "async_total_cycles", "check_timeline", "micro_batch_stream", "run_distributed",
    "simulate", "split_stages", "stage_tensors", "sync_bubble_fraction", "sync_step_cycles",
    "sync_timeline", "timeline", "timeline_stats", "versions_seen",
]
