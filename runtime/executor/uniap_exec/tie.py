"""Keeps tied token tables (a tiedEmbedding head or embedding and the embedding owning the table)
equal while every tied layer holds its own copy, possibly on other stages or under other strategies.

The copies start equal (layers.py initializes them from the owner's generator) and the optimizer is
elementwise (AdamW), so they stay equal if all receive the same gradient: the sum of every tied
layer's gradient. Each rank holding either copy adds the part of the gradient it
owns (its tensor-parallel rows, its fsdp or ZeRO gradient shard; one dp replica only) into a zeroed [vocab * hidden]
buffer, the buffer is all-reduced over the tie group (all ranks of the stages holding a copy), and each rank reads
its part back. Megatron does the same with an all-reduce between the first and last stage.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch

from uniap_torch import comm
from .runner import LayerRunner


def _weight_slot(runner: LayerRunner) -> Tuple[int, int]:
    for mod, name, _shape, n, o in runner.binding.slots:
        if mod is runner.module and name == "weight":
            return o, n
    raise RuntimeError(f"layer {runner.index}: no weight to tie")


def sync_tied(runners: List[LayerRunner], vocab: int, hidden: int, group: Optional[object], device) -> None:
    """Sum the tied weight's gradients of `runners` (this rank's embedding and/or head) over `group`."""
    buf = torch.zeros(vocab * hidden, device=device)
    spans = []
    for r in runners:
        o, n = _weight_slot(r)
        split = getattr(r.module, "split", False)
        if not split and r.place.tp_index != 0:
            own_tp = False
        else:
            own_tp = True
        row0 = (r.place.tp_index * n) if split else 0  # element offset of this rank's rows in the full table
        if r.fsdp or r.zero:
            lo = max(o, r.place.dp_index * r.shard_len)
            hi = min(o + n, (r.place.dp_index + 1) * r.shard_len)
            if hi <= lo:
                continue
            if r.shard_grad is None:
                r.shard_grad = torch.zeros(r.shard_len, device=device)
            local = r.shard_grad[lo - r.place.dp_index * r.shard_len: hi - r.place.dp_index * r.shard_len]
            owner = own_tp
        else:
            lo, hi = o, o + n
            assert r.flat.grad is not None
            local = r.flat.grad[lo:hi]
            owner = own_tp and r.place.dp_index == 0
        full_lo = row0 + (lo - o)
        if owner:
            buf[full_lo:full_lo + (hi - lo)] += local
        spans.append((local, full_lo, hi - lo))
    if group is not None:
        comm.all_reduce(buf, group)
    for local, full_lo, n in spans:
        local.copy_(buf[full_lo:full_lo + n])
