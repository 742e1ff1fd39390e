"""Runs a function on N real processes joined in a Gloo process group on 127.0.0.1 (a free port),
with a bounded timeout, and returns what each rank returned. The function must be importable by
name (defined at module level) because the ranks are started with the 'spawn' method."""
from __future__ import annotations

import datetime
import pickle
import queue
import socket
import time
import traceback
from typing import Any, Callable, List, Sequence

import multiprocessing as mp


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(fn: Callable[..., Any], rank: int, world: int, port: int, timeout_s: float, args: Sequence[Any], out) -> None:
    import torch
    import torch.distributed as dist

    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s))
        try:
            result = fn(rank, world, *args)
        finally:
            dist.destroy_process_group()
        # Plain pickle, by value: torch's queue reductions would pass tensors as shared-memory file
        # descriptors that vanish when this process exits.
        out.put((rank, True, pickle.dumps(result)))
    except BaseException:  # report everything: the parent turns it into a test failure
        out.put((rank, False, traceback.format_exc()))


def run_ranks(fn: Callable[..., Any], world: int, *args: Any, timeout_s: float = 60.0) -> List[Any]:
    """fn(rank, world, *args) on `world` processes; the results in rank order. Raises RuntimeError
    naming the rank (with its traceback) when one fails, and TimeoutError after timeout_s."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_rank_main, args=(fn, r, world, port, timeout_s, args, out), daemon=True)
             for r in range(world)]
    for p in procs:
        p.start()
    results: dict = {}
    errors: List[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(results) + len(errors) < world:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{world} Gloo ranks did not finish within {timeout_s:.0f} s "
                                   f"(finished: {sorted(results)}; errors: {errors})")
            try:
                rank, ok, payload = out.get(timeout=min(left, 1.0))
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    # A rank died without reporting (crash, killed): its peers would wait in a collective.
                    raise RuntimeError(f"a rank exited with code {dead[0].exitcode} without reporting; "
                                       f"errors so far: {errors}")
                continue
            if ok:
                results[rank] = pickle.loads(payload)
            else:
                errors.append(f"rank {rank}:\n{payload}")
                # The others may wait forever in a collective the failed rank never joins.
                break
        if errors:
            raise RuntimeError("\n".join(errors))
        return [results[r] for r in range(world)]
    finally:
        for p in procs:
            p.join(timeout=5)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        out.close()
