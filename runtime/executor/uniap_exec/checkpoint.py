"""Checkpoint save and resume of this rank's shard of the model and optimizer.

Layout: DIR/step-00000K/rank-0000R.pt per rank (the flat parameters or fsdp shards this rank holds,
AdamW state, the step and the plan fingerprint), DIR/step-00000K/COMPLETE written by rank 0 after a
barrier, and DIR/latest naming the newest complete step. Resume reads DIR/latest; a checkpoint written
under another plan or model is refused (its fingerprint differs): shards do not transfer between plans.
Data needs no state: a step's batch is a function of (seed, step).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import torch
import torch.distributed as dist

from .runner import LayerRunner
from .spec import SpecError


def step_dir(root: str, step: int) -> str:
    return os.path.join(root, f"step-{step:08d}")


def save(root: str, step: int, rank: int, runners: List[LayerRunner], optimizer: torch.optim.Optimizer,
         plan_fingerprint: str) -> str:
    d = step_dir(root, step)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"rank-{rank:05d}.pt")
    state = {
        "step": step,
        "plan": plan_fingerprint,
        "params": {r.index: r.param.detach().cpu() for r in runners},
        "optimizer": optimizer.state_dict(),
    }
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)
    dist.barrier()
    if rank == 0:
        with open(os.path.join(d, "COMPLETE"), "w") as f:
            f.write(f"{step}\n")
        tmp = os.path.join(root, "latest.tmp")
        with open(tmp, "w") as f:
            f.write(f"{step}\n")
        os.replace(tmp, os.path.join(root, "latest"))
    dist.barrier()
    return path


def latest_step(root: str) -> Optional[int]:
    try:
        with open(os.path.join(root, "latest")) as f:
            step = int(f.read().strip())
    except FileNotFoundError:
        return None
    if not os.path.exists(os.path.join(step_dir(root, step), "COMPLETE")):
        return None
    return step


def load(root: str, rank: int, runners: List[LayerRunner], optimizer: torch.optim.Optimizer,
         plan_fingerprint: str) -> int:
    """Restore this rank's state from the latest complete checkpoint; returns its step (0 if none)."""
    step = latest_step(root)
    if step is None:
        return 0
    path = os.path.join(step_dir(root, step), f"rank-{rank:05d}.pt")
    state: Dict = torch.load(path, map_location="cpu")
    if state.get("plan") != plan_fingerprint:
        raise SpecError(f"{path} was written under another plan or model (fingerprint {state.get('plan')} != "
                        f"{plan_fingerprint}); resume with the same plan, or start without --resume")
    with torch.no_grad():
        for r in runners:
            saved = state["params"][r.index]
            if saved.shape != r.param.shape:
                raise SpecError(f"{path}: layer {r.index} has shape {tuple(saved.shape)}, expected {tuple(r.param.shape)}")
            r.param.copy_(saved.to(r.param.device))
    for r in runners:
        r.after_optimizer()  # ZeRO layers: rebuild the full weights from the restored master shards
    optimizer.load_state_dict(state["optimizer"])
    return step
