"""Collectives used by the executor and the layers, with the time they block the caller recorded.

One module so that (a) Gloo and NCCL share one code path: collectives Gloo lacks (reduce-scatter,
the flat all-gather, bf16 arithmetic) are emulated here, and (b) every blocking point is timed in one
place: the executor reports the sum as `exposedCommMs` (collectives) and `p2pWaitMs` (pipeline
receives and send completions).
Gloo blocks the calling thread, so wall time around the wait is the exposed time. NCCL does not block
the host: a wait makes the compute stream wait for the communication stream, so CUDA events recorded
on the compute stream before and after the wait measure how long compute stood still, without adding
any host synchronization (summed by `STATS.collect()` after the step's final synchronize).
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterator, List, Optional, Tuple

import torch
import torch.distributed as dist


class CommStats:
    """Seconds compute was blocked on communication since the last reset."""

    def __init__(self) -> None:
        self.exposed_s = 0.0
        self.p2p_wait_s = 0.0
        self._events: List[Tuple[str, object, object]] = []
        # CUDA event pairs are only recorded when a caller will collect them (the executor sets this;
        # a profiler importing layers.py does not, so it accumulates nothing).
        self.cuda_events = False

    def reset(self) -> None:
        self.exposed_s = 0.0
        self.p2p_wait_s = 0.0
        self._events = []

    def add(self, kind: str, seconds: float) -> None:
        if kind == "p2p":
            self.p2p_wait_s += seconds
        else:
            self.exposed_s += seconds

    def collect(self) -> None:
        """Fold the CUDA event pairs of the step into the totals (call after a device synchronize)."""
        for kind, a, b in self._events:
            self.add(kind, a.elapsed_time(b) / 1e3)  # type: ignore[attr-defined]
        self._events = []


STATS = CommStats()


@contextlib.contextmanager
def blocking(kind: str = "collective") -> Iterator[None]:
    """Time a block that waits on communication; kind is 'collective' or 'p2p'."""
    if backend() == "nccl":
        if not STATS.cuda_events:
            yield
            return
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        try:
            yield
        finally:
            b.record()
            STATS._events.append((kind, a, b))
        return
    t0 = time.perf_counter()
    try:
        yield
    finally:
        STATS.add(kind, time.perf_counter() - t0)


def backend() -> str:
    return dist.get_backend() if dist.is_initialized() else "none"


def _gloo_needs_fp32(t: torch.Tensor) -> bool:
    """Gloo in torch 1.13 rejects bf16 collectives ("Invalid scalar type"): those go through fp32."""
    return t.dtype == torch.bfloat16 and backend() == "gloo"


def all_reduce(t: torch.Tensor, group, async_op: bool = False):
    """Sum `t` in place over `group`. Synchronous calls are timed as exposed communication."""
    if async_op:
        if _gloo_needs_fp32(t):
            raise TypeError("async bf16 all-reduce on Gloo: reduce gradients in fp32")
        return dist.all_reduce(t, group=group, async_op=True)
    with blocking():
        if _gloo_needs_fp32(t):
            tmp = t.float()
            dist.all_reduce(tmp, group=group)
            t.copy_(tmp)
        else:
            dist.all_reduce(t, group=group)
    return None


def all_gather_flat(t: torch.Tensor, group, size: int, async_op: bool = False) -> Tuple[torch.Tensor, object]:
    """Concatenate the equal-sized 1-D (or batch-leading) tensors of every rank of `group`.

    Returns (out, work): with async_op the result is valid only after `finish_gather(out, work)`.
    NCCL uses the native flat all-gather; Gloo gathers into a list and concatenates on finish.
    """
    t = t.contiguous()
    if backend() == "nccl":
        out = torch.empty((size * t.shape[0],) + tuple(t.shape[1:]), dtype=t.dtype, device=t.device)
        fn = getattr(dist, "all_gather_into_tensor", None) or getattr(dist, "_all_gather_base")
        if async_op:
            return out, fn(out, t, group=group, async_op=True)
        with blocking():
            fn(out, t, group=group)
        return out, None
    dtype = t.dtype
    src = t.float() if _gloo_needs_fp32(t) else t
    parts = [torch.empty_like(src) for _ in range(size)]
    if async_op:
        work = dist.all_gather(parts, src, group=group, async_op=True)
        return (parts, dtype), work  # type: ignore[return-value]
    with blocking():
        dist.all_gather(parts, src, group=group)
    return torch.cat(parts, dim=0).to(dtype), None


def all_to_all(t: torch.Tensor, group, rank: int, size: int) -> torch.Tensor:
    """Chunk j of `t`'s leading dimension goes to rank j of `group`; the result holds, in rank order,
    the chunk every rank sent here (Ulysses context parallelism, Jacobs et al. 2023).

    NCCL: the native all_to_all_single. Gloo has none: every rank all-gathers the whole tensor and
    keeps the chunks meant for it (size times the bytes of a real all-to-all; docs/runtime-executor.md).
    """
    t = t.contiguous()
    if backend() == "nccl":
        out = torch.empty_like(t)
        with blocking():
            dist.all_to_all_single(out, t, group=group)
        return out
    gathered, work = all_gather_flat(t, group, size)
    n = t.shape[0] // size
    return torch.cat([gathered[j * t.shape[0] + rank * n: j * t.shape[0] + (rank + 1) * n] for j in range(size)], dim=0)


def ring_start(t: torch.Tensor, ranks, index: int):
    """Send `t` to the next rank of the ring `ranks` and receive the previous rank's into a new
    buffer, asynchronously; `ring_finish` waits and returns the buffer."""
    n = len(ranks)
    buf = torch.empty_like(t)
    ops = [dist.P2POp(dist.isend, t, ranks[(index + 1) % n]), dist.P2POp(dist.irecv, buf, ranks[(index - 1) % n])]
    return buf, dist.batch_isend_irecv(ops)


def ring_finish(pending) -> torch.Tensor:
    buf, works = pending
    with blocking():
        for w in works:
            w.wait()
    return buf


def ring_shift(t: torch.Tensor, ranks, index: int, backward: bool = False) -> torch.Tensor:
    """One blocking ring step: to the next rank and from the previous (backward: the other way)."""
    n = len(ranks)
    buf = torch.empty_like(t)
    to, frm = ((index - 1) % n, (index + 1) % n) if backward else ((index + 1) % n, (index - 1) % n)
    works = dist.batch_isend_irecv([dist.P2POp(dist.isend, t, ranks[to]), dist.P2POp(dist.irecv, buf, ranks[frm])])
    with blocking():
        for w in works:
            w.wait()
    return buf


def finish_gather(out, work) -> torch.Tensor:
    """Wait for an async `all_gather_flat` (timed) and return the concatenated tensor."""
    if work is not None:
        with blocking():
            work.wait()
    if isinstance(out, tuple):
        parts, dtype = out
        return torch.cat(parts, dim=0).to(dtype)
    return out


class PendingReduceScatter:
    """An in-flight reduce-scatter of a flat tensor: `result()` waits and returns this rank's shard."""

    def __init__(self, buf: torch.Tensor, work, rank: int, size: int, native: bool) -> None:
        self.buf, self.work, self.rank, self.size, self.native = buf, work, rank, size, native

    def result(self) -> torch.Tensor:
        if self.work is not None:
            with blocking():
                self.work.wait()
            self.work = None
        if self.native:
            return self.buf
        n = self.buf.numel() // self.size
        return self.buf[self.rank * n:(self.rank + 1) * n]


def reduce_scatter_flat(full: torch.Tensor, group, rank: int, size: int, async_op: bool) -> PendingReduceScatter:
    """Sum `full` (1-D, length divisible by size) over `group` and keep this rank's 1/size slice.

    NCCL: native reduce-scatter. Gloo has none: all-reduce then slice (twice the bytes of a real
    reduce-scatter; documented in docs/runtime-executor.md).
    """
    if backend() == "nccl":
        out = torch.empty(full.numel() // size, dtype=full.dtype, device=full.device)
        fn = getattr(dist, "reduce_scatter_tensor", None) or getattr(dist, "_reduce_scatter_base")
        if async_op:
            return PendingReduceScatter(out, fn(out, full, group=group, async_op=True), rank, size, True)
        with blocking():
            fn(out, full, group=group)
        return PendingReduceScatter(out, None, rank, size, True)
    if async_op:
        return PendingReduceScatter(full, dist.all_reduce(full, group=group, async_op=True), rank, size, False)
    with blocking():
        dist.all_reduce(full, group=group)
    return PendingReduceScatter(full, None, rank, size, False)


def new_group(ranks: List[int]) -> Optional[object]:
    """A process group over `ranks`; every rank of the world must call this in the same order."""
    if not dist.is_initialized():
        return None
    return dist.new_group(ranks=ranks)
