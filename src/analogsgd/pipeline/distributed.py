"""The multi-process execution of a pipeline timeline: one process per stage, torch.distributed.

:func:`run_distributed` starts L processes (``torch.multiprocessing``, spawn) that join a gloo
process group on 127.0.0.1 at a free port. Process s receives its stage's modules (pickled, with
their tiles' generator states) and the events of its stage, and runs them in cycle order:

* F: stage 0 reads its micro-batch, the others receive the activations from stage s − 1; the
  output goes to stage s + 1 (the last stage keeps the loss);
* B: the last stage starts from its loss, the others receive the error from stage s + 1; the
  input error goes to stage s − 1;
* U: local.

Sends are non-blocking (``isend``), so no stage waits for a neighbour to take a message and a
timeline that is valid (:func:`.schedule.check_timeline`) cannot deadlock: every receive waits for
an operation of an earlier cycle, which itself waits only for earlier cycles. Each message is a
header (the tensor's shape) and the tensor, tagged with the micro-batch. Every receive, the final
barrier and the process group carry a timeout.

Since each stage runs the same operations in the same order as in the single-process simulation
(:mod:`.simulate`), on the same bits, its tiles draw the same numbers and the final weights are
identical (``torch.equal``). The parent watches the children's sentinels and pipes: when a stage
process dies (it exits without reporting) or raises, the parent stops every other stage within
seconds and raises :class:`PipelineStageError` naming that stage.
"""

from __future__ import annotations

import os
import pickle
import socket
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing import connection

import torch
from torch import Tensor, nn

from ..crossbar.tile import auto_kernel
from ..errors import AnalogSGDError, ConfigError
from .schedule import Event
from .simulate import MicroBatches

#: exit status of a stage process stopped by the test hook ``die``
DIE_EXIT_CODE = 17
_HEADER = 8     # ndim and up to 7 sizes


class PipelineStageError(AnalogSGDError, RuntimeError):
    """A stage process of a multi-process pipeline died or raised; ``stage`` names it."""

    def __init__(self, stage: int, message: str):
        self.stage = stage
        super().__init__(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(t: Tensor, dst: int, tag: int, keep: list) -> None:
    import torch.distributed as dist

    t = t.detach().contiguous()
    if t.dim() > _HEADER - 1:
        raise ValueError(f"a message of {t.dim()} dimensions (at most {_HEADER - 1})")
    header = torch.zeros(_HEADER, dtype=torch.int64)
    header[0] = t.dim()
    header[1:1 + t.dim()] = torch.tensor(t.shape, dtype=torch.int64)
    keep.append((dist.isend(header, dst, tag=2 * tag), header))
    keep.append((dist.isend(t, dst, tag=2 * tag + 1), t))


def _recv(src: int, tag: int, dtype: torch.dtype, timeout: timedelta) -> Tensor:
    import torch.distributed as dist

    header = torch.zeros(_HEADER, dtype=torch.int64)
    dist.irecv(header, src, tag=2 * tag).wait(timeout)
    shape = tuple(int(v) for v in header[1:1 + int(header[0])])
    t = torch.empty(shape, dtype=dtype)
    dist.irecv(t, src, tag=2 * tag + 1).wait(timeout)
    return t


@dataclass(frozen=True)
class PipelineJob:
    """One training run for :func:`run_distributed`: the L stages' modules
    (:func:`.stages.split_stages`; not changed, each process trains a copy), the timeline, the
    micro-batches and the rates of :class:`.stages.Stage`."""

    stage_modules: Sequence[nn.Module]
    events: Sequence[Event]
    batches: MicroBatches
    write_lr: float
    digital_lr: float


def _run_job(rank: int, world: int, part: dict, timeout: timedelta, die_after: int | None):
    """One job on stage ``rank``: its events in cycle order; its modules and losses."""
    import torch.distributed as dist

    from .stages import Stage

    stage = Stage(rank, world, pickle.loads(part["modules"]), part["write_lr"],
                  part["digital_lr"])
    batches: MicroBatches = part["batches"]
    dtype = next((q.dtype for q in stage.params), torch.get_default_dtype())
    keep: list = []
    losses: dict[int, float] = {}
    for i, e in enumerate(part["events"]):
        if die_after is not None and i == die_after:
            os._exit(DIE_EXIT_CODE)          # the test hook: a stage that dies mid-run
        m = e.micro_batch
        if e.op == "F":
            x = batches.inputs(m) if stage.is_first else _recv(rank - 1, 2 * m, dtype, timeout)
            out = stage.forward(m, x, batches.labels(m) if stage.is_last else None)
            if stage.is_last:
                losses[m] = float(out)
            else:
                _send(out, rank + 1, 2 * m, keep)
        elif e.op == "B":
            grad = None if stage.is_last else _recv(rank + 1, 2 * m + 1, dtype, timeout)
            grad_in = stage.backward(m, grad)
            if not stage.is_first:
                _send(grad_in, rank - 1, 2 * m + 1, keep)
        else:
            stage.update(m)
        if len(keep) > 64:
            keep = [(w, t) for w, t in keep if not w.is_completed()]
    for w, _ in keep:
        w.wait(timeout)
    dist.barrier()                           # every message of this job delivered
    return pickle.dumps(stage.modules), losses


def _stage_main(rank: int, world: int, port: int, parts: list[dict], threads: int,
                timeout_s: float, die: tuple[int, int, int] | None, conn,
                kernel: str = "auto") -> None:
    """Body of stage process ``rank``: run its part of every job; send back the results.
    ``kernel``: the parent's :func:`~analogsgd.crossbar.tile.auto_kernel` (a spawned process
    starts from the default)."""
    import torch.distributed as dist

    try:
        auto_kernel(kernel)
        torch.set_num_threads(threads)
        timeout = timedelta(seconds=timeout_s)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world, timeout=timeout)
        results = []
        for j, part in enumerate(parts):
            die_after = die[2] if die is not None and die[:2] == (rank, j) else None
            results.append(_run_job(rank, world, part, timeout, die_after))
        dist.destroy_process_group()
        conn.send(("done", results))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        try:
            conn.send(("error", text, traceback.format_exc()))
        finally:
            os._exit(1)
    conn.close()


def _stop(procs) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    end = time.monotonic() + 5.0
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


def run_distributed(jobs: Sequence[PipelineJob], *, timeout_s: float = 60.0,
                    threads: int | None = None, die: tuple[int, int, int] | None = None,
                    grace_s: float = 1.0) -> list[tuple[list[nn.Module], dict[int, float]]]:
    """Run ``jobs`` one after the other on one set of stage processes (the start-up, seconds,
    is paid once); return, per job, (the trained stage modules, the losses by micro-batch).

    Args:
        jobs: the runs; all with the same number of stages L.
        timeout_s: limit of every receive and barrier; a stage that waits longer raises. The
            whole call is limited to 10 × ``timeout_s`` + 60 s.
        threads: torch threads of every stage process (None: this process's), so that the
            arithmetic matches a single-process run in this process bit for bit.
        die: test hook ``(stage, job, i)``: that stage's process exits (``os._exit``) before the
            i-th event of its part of that job.
        grace_s: after the first failure, how long to collect the other stages' reports before
            deciding which failed (a stage that died beats the neighbours that then lost their
            connection).

    Raises:
        PipelineStageError: a stage process died or raised; the others are stopped first.
    """
    import torch.multiprocessing as mp

    if not jobs:
        return []
    n = len(jobs[0].stage_modules)
    if any(len(job.stage_modules) != n for job in jobs):
        raise ConfigError("run_distributed.jobs", [len(j.stage_modules) for j in jobs],
                          "jobs with the same number of stages")
    ctx = mp.get_context("spawn")
    port = free_port()
    threads = threads or torch.get_num_threads()
    parts = [[{"modules": pickle.dumps(job.stage_modules[s]),
               "events": [e for e in sorted(job.events) if e.stage == s],
               "batches": job.batches.for_stage(s, n),
               "write_lr": job.write_lr, "digital_lr": job.digital_lr} for job in jobs]
             for s in range(n)]
    procs, readers, writers = [], [], []
    for s in range(n):
        reader, writer = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_stage_main, name=f"pipeline-stage-{s}", daemon=True,
                        args=(s, n, port, parts[s], threads, timeout_s, die, writer,
                              auto_kernel()))
        procs.append(p)
        readers.append(reader)
        writers.append(writer)
    try:
        for p in procs:
            p.start()
        for w in writers:     # the children hold them now: a dead child's pipe reads EOF
            w.close()
        done = _collect(procs, readers, timeout_s * 10 + 60.0, grace_s)
    finally:
        _stop(procs)
        for r in readers:
            r.close()
    out = []
    for j in range(len(jobs)):
        modules = [pickle.loads(done[s][j][0]) for s in range(n)]
        losses: dict[int, float] = {}
        for s in range(n):
            losses.update(done[s][j][1])
        out.append((modules, losses))
    return out


def _collect(procs, readers, limit_s: float, grace_s: float):
    n = len(procs)
    done: dict[int, tuple] = {}
    errors: dict[int, str] = {}
    died: dict[int, int | None] = {}
    first_failure: float | None = None
    start = time.monotonic()

    def read(s: int) -> None:
        try:
            msg = readers[s].recv()
        except (EOFError, OSError):
            return
        if msg[0] == "done":
            done[s] = msg[1]
        else:
            errors[s] = msg[1]

    while len(done) < n:
        now = time.monotonic()
        if first_failure is not None and now - first_failure >= grace_s:
            break
        if now - start > limit_s:
            raise PipelineStageError(-1, f"the pipeline run did not finish within {limit_s:.0f} s")
        waiting = [readers[s] for s in range(n) if s not in done and s not in errors]
        waiting += [procs[s].sentinel for s in range(n) if s not in done and s not in died]
        wait_s = 1.0 if first_failure is None else max(0.0, grace_s - (now - first_failure))
        for ready in connection.wait(waiting, timeout=wait_s):
            s = next((i for i in range(n) if ready in (readers[i], procs[i].sentinel)), None)
            if s is None:
                continue
            if ready is readers[s]:
                read(s)
            else:
                procs[s].join(1.0)
                if s not in done and s not in errors and readers[s].poll():
                    read(s)
                if s not in done:
                    died[s] = procs[s].exitcode
        if (errors or died) and first_failure is None:
            first_failure = time.monotonic()
    silent = [s for s in sorted(died) if s not in errors]
    if silent:
        s = silent[0]
        raise PipelineStageError(s, f"pipeline stage {s} of {n} (process pid {procs[s].pid}) died "
                                    f"with exit code {died[s]} without reporting; the other "
                                    "stages were stopped")
    if errors:
        s = next(iter(errors))      # the first to report
        raise PipelineStageError(s, f"pipeline stage {s} of {n} failed: {errors[s]}; the other "
                                    "stages were stopped")
    return done
