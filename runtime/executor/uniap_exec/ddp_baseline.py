"""Plain PyTorch DistributedDataParallel training of a ModelSpec: the baseline of the benchmark
(bench/runtime-dp-vs-ddp.ts) and, with one process, the single-device reference of the tests.

    python -m uniap_exec.ddp_baseline --plan PLAN.json --model MODEL.json --steps N [--seed S] [--lr LR]

Same environment and stdout events as uniap_exec.main (ready, step, done, error). Only globalBatch
and microBatches are read from the plan: every rank is a data-parallel replica of the whole model;
micro-batches are gradient accumulation with DDP's no_sync on all but the last. Same data, same
AdamW settings and the same initial weights as the executor.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import resource
import time
from typing import List, Optional

from . import events
from .main import _env_int, configure_threads, parse_args


def run(args, rank: int) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from .data import DataSource
    from .plain import PlainModel
    from .spec import RunSpec, load_json

    world = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    configure_threads(world)
    plan = load_json(args.plan)
    model_json = load_json(args.model)
    # A 1-stage pure-dp view of the plan over all ranks, so RunSpec validates it for this world size.
    n = len(model_json["layers"])
    flat_plan = dict(plan, pipelineDegree=1, stages=[{"index": 0, "layers": [0, n - 1], "ranks": [0, world],
                                                      "strategies": [{"layers": [0, n - 1], "dp": world, "tp": 1,
                                                                      "fsdp": False, "recompute": False}]}])
    spec = RunSpec(model_json, flat_plan, world)
    backend = os.environ.get("UNIAP_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dtype = torch.bfloat16 if device.type == "cuda" and spec.model.get("dtype", "bf16") in ("bf16", "fp16") \
        else torch.float32
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600))
    model = PlainModel(spec, args.seed).to(device)
    ddp = DDP(model) if world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    data = DataSource(spec, args.seed, None if args.data == "synthetic" else args.data, args.data_dtype)
    c, b = spec.micro_batches, spec.micro_batch
    per_rank = b // world
    dist.barrier()
    events.emit("ready", rank=rank, stage=0, layers=[0, n - 1],
                paramBytes=sum(p.numel() * p.element_size() for p in model.parameters()), resumedFromStep=0,
                backend=backend, device=str(device))
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        batch = data.batch(step)
        total = torch.zeros((), device=device)
        for mb in range(c):
            lo = mb * b + rank * per_rank
            part = {k: v[lo:lo + per_rank].to(device) for k, v in batch.items()}
            part = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in part.items()}
            sync = contextlib.nullcontext() if (mb == c - 1 or world == 1) else ddp.no_sync()
            with sync, torch.autocast("cuda", dtype=dtype, enabled=device.type == "cuda" and dtype != torch.float32):
                loss = ddp(part) / c
                loss.backward()
            total += loss.detach().float()
        opt.step()
        if world > 1:
            dist.all_reduce(total)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            memory = int(torch.cuda.max_memory_allocated(device))
        else:
            memory = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
        dt = time.perf_counter() - t0
        events.emit("step", rank=rank, step=step, loss=float(total.item()) / world, timeMs=dt * 1e3,
                    computeMs=dt * 1e3, exposedCommMs=0.0, p2pWaitMs=0.0, memoryBytes=memory,
                    samples=spec.global_batch, tokens=spec.global_batch * spec.tokens_per_sample())
    dist.barrier()
    events.emit("done", rank=rank)
    dist.destroy_process_group()


def main(argv: Optional[List[str]] = None) -> int:
    events.install()
    # Whoever starts the executor makes it die with its parent (common/die-with-parent.ts).
    args = parse_args(argv)
    return events.guarded(lambda: run(args, _env_int("RANK", 0)), lambda: _env_int("RANK", 0))


if __name__ == "__main__":
    events.exit_process(main())
