"""Executor entry point: runs this rank's share of a Plan for N steps and reports events on stdout.

    python -m uniap_exec.main --plan PLAN.json --model MODEL.json --steps N [--seed 1234] [--lr 1e-3]
        [--data synthetic|PATH.bin] [--checkpoint-dir DIR] [--checkpoint-every K] [--resume] [--no-overlap]

Environment: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, UNIAP_BACKEND (gloo|nccl).
The contract (events, exit codes, environment) is documented in docs/runtime-executor.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import resource
import time
from typing import Dict, List, Optional

from . import events


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="uniap_exec.main", description="Run one rank of a uniap plan.")
    p.add_argument("--plan", required=True, help="Plan JSON (planner/plan.ts)")
    p.add_argument("--model", required=True, help="resolved ModelSpec JSON (configs/model-spec.ts)")
    p.add_argument("--steps", type=int, required=True, help="train until this step (1-based, inclusive)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--data", default="synthetic", help="'synthetic' or a token file PATH.bin")
    p.add_argument("--data-dtype", default=None, choices=["uint16", "int32"],
                   help="token file dtype (default: uint16 if the vocabulary fits, else int32)")
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--checkpoint-every", type=int, default=0, help="save after every K-th step (0: never)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--no-overlap", action="store_true", help="no communication/computation overlap (benchmarks)")
    args = p.parse_args(argv)
    if args.steps < 0:
        p.error("--steps must be >= 0")
    if args.checkpoint_every < 0:
        p.error("--checkpoint-every must be >= 0")
    if (args.checkpoint_every or args.resume) and not args.checkpoint_dir:
        p.error("--checkpoint-every and --resume need --checkpoint-dir")
    return args


def _env_int(name: str, default: Optional[int] = None) -> int:
    v = os.environ.get(name)
    if v is None or v == "":
        if default is None:
            raise ValueError(f"environment variable {name} is not set; the executor needs RANK, WORLD_SIZE, "
                             "MASTER_ADDR and MASTER_PORT (docs/runtime-executor.md)")
        return default
    return int(v)


def configure_threads(world: int) -> None:
    """Intra-op threads: $UNIAP_NUM_THREADS, else $OMP_NUM_THREADS, else the cores split over the
    ranks of this host ($LOCAL_WORLD_SIZE, default WORLD_SIZE), as torchrun does."""
    import torch

    threads = os.environ.get("UNIAP_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    torch.set_num_threads(int(threads) if threads else max(1, (os.cpu_count() or 1) // max(1, local_world)))


def run(args: argparse.Namespace, rank: int) -> None:
    import torch
    import torch.distributed as dist

    from uniap_torch import comm
    from . import checkpoint, tie
    from .data import DataSource
    from .groups import Groups
    from uniap_torch.layers import build_layer
    from .pipeline import StageExecutor
    from .runner import GradSync, LayerRunner
    from .spec import RunSpec, load_json

    world = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    configure_threads(world)

    spec = RunSpec(load_json(args.model), load_json(args.plan), world)
    backend = os.environ.get("UNIAP_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"UNIAP_BACKEND={backend!r}: use gloo or nccl")
    if backend == "nccl":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    model_dtype = spec.model.get("dtype", "bf16")
    compute_dtype = torch.float32
    if device.type == "cuda" and model_dtype in ("bf16", "fp16"):
        compute_dtype = torch.bfloat16  # bf16 compute, fp32 master weights, gradients and optimizer states
    forced = os.environ.get("UNIAP_COMPUTE_DTYPE")  # fp32 | bf16: override (e.g. the bf16 path on CPU)
    if forced:
        if forced not in ("fp32", "bf16"):
            raise ValueError(f"UNIAP_COMPUTE_DTYPE={forced!r}: use fp32 or bf16")
        compute_dtype = torch.bfloat16 if forced == "bf16" else torch.float32
    timeout = datetime.timedelta(seconds=float(os.environ.get("UNIAP_COMM_TIMEOUT_S", "600")))
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world, timeout=timeout)
    comm.STATS.cuda_events = backend == "nccl"
    groups = Groups(spec, rank)
    stage = groups.stage
    overlap = not args.no_overlap
    sync = GradSync(overlap)
    runners: Dict[int, LayerRunner] = {}
    for u in stage.layer_ids:
        st = stage.strategies[u]
        place = groups.params_place(st)
        tp = place.tp_handle()
        tp.sequence_parallel = st.sp and tp.size > 1
        if st.cp > 1:
            tp.context = dataclasses.replace(groups.sequence_handle(st), ring=st.cp_comm == "p2p")
        module = build_layer(spec.layers[u], spec.layer_facts[u], tp, torch.float32, args.seed)
        runners[u] = LayerRunner(u, module, st, place, compute_dtype, device, sync, spec.micro_batches, overlap)
    fsdp_chain = [runners[u] for u in stage.layer_ids if runners[u].fsdp]
    for a, b in zip(fsdp_chain, fsdp_chain[1:]):
        a.next_fsdp, b.prev_fsdp = b, a
    ordered = [runners[u] for u in stage.layer_ids]
    tied_ids = spec.tied_layers()
    tied = [r for r in ordered if r.index in tied_ids]

    optimizer = torch.optim.AdamW([r.param for r in ordered], lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.01)
    data = DataSource(spec, args.seed, None if args.data == "synthetic" else args.data, args.data_dtype)
    executor = StageExecutor(spec, groups, runners, device, compute_dtype, overlap)

    start = 0
    if args.resume:
        start = checkpoint.load(args.checkpoint_dir, rank, ordered, optimizer, spec.plan_fingerprint)
    # A first collective on the world group: NCCL requires one before batched P2P, and every rank
    # then knows the others built their stage.
    dist.barrier()
    events.emit("ready", rank=rank, stage=stage.index, layers=[stage.first_layer, stage.last_layer],
                paramBytes=sum(r.param_bytes() for r in ordered), resumedFromStep=start, backend=backend,
                device=str(device))

    head_place = groups.place(stage.strategies[stage.last_layer].dp, stage.strategies[stage.last_layer].tp) \
        if executor.last else None
    for step in range(start + 1, args.steps + 1):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            torch.cuda.synchronize(device)
        comm.STATS.reset()
        t0 = time.perf_counter()
        for r in ordered:
            r.zero_grad()
        batch = data.batch(step)
        loss_share = executor.run_step(batch)
        sync.finish()
        if tied:
            table = spec.layers[spec.tie_source()]
            tie.sync_tied(tied, int(table["vocabSize"]), int(table["hiddenSize"]), groups.tie_group, device)
        for r in ordered:
            r.before_optimizer()
        optimizer.step()
        for r in ordered:
            r.after_optimizer()
        loss: Optional[float] = None
        if loss_share is not None:
            assert head_place is not None
            total = loss_share.detach().clone().float()
            if head_place.dp_group is not None:
                comm.all_reduce(total, head_place.dp_group)
            loss = float(total.item())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            comm.STATS.collect()
            memory = int(torch.cuda.max_memory_allocated(device))
        else:
            memory = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
        dt = time.perf_counter() - t0
        exposed, p2p = comm.STATS.exposed_s, comm.STATS.p2p_wait_s
        events.emit("step", rank=rank, step=step, loss=loss, timeMs=dt * 1e3,
                    computeMs=max(0.0, dt - exposed - p2p) * 1e3, exposedCommMs=exposed * 1e3,
                    p2pWaitMs=p2p * 1e3, memoryBytes=memory, stateBytes=sum(r.state_bytes(optimizer) for r in ordered),
                    samples=spec.global_batch,
                    tokens=spec.global_batch * spec.tokens_per_sample())
        if args.checkpoint_every and step % args.checkpoint_every == 0:
            path = checkpoint.save(args.checkpoint_dir, step, rank, ordered, optimizer, spec.plan_fingerprint)
            events.emit("checkpoint", rank=rank, step=step, path=path)
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
