"""Context parallelism in uniap_torch.layers: Ulysses (Jacobs et al. 2023) and ring attention (Liu et
al. 2023).

Every block the facts say has a context-parallel form (facts.tp.contextParallel: encoder and decoder
blocks), built with TPGroup(context=cp group) over cp=2 (2 real processes, Gloo), in either form, computes what the
unsplit block computes when its input is sliced along the sequence and its output gathered back
(scatter_to_sequence / gather_from_sequence over the cp group, as the executor does): outputs, input
gradients, and every parameter's gradient once summed over the cp group (the executor's data-parallel
gradient sync spans dp x cp). RoPE, causal masks and T5's relative bias see whole sequences.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest
import torch

from conftest import load_models
from multiproc import run_ranks
from test_layers import SEED, _compare_layer, split_sequence_around
from uniap_torch import comm
from uniap_torch.layers import TPGroup, build_layer

MODELS = load_models()


def _cp_layers(world: int, ring: bool = False):
    for m in MODELS:
        for spec, facts in zip(m["layers"], m["facts"]["layers"]):
            kv = spec["kvHeads"] or spec["heads"]
            heads_ok = ring or (spec["heads"] % world == 0 and kv % world == 0)  # ring attention splits no heads
            if facts["tp"]["contextParallel"] and spec["seqLength"] % world == 0 and heads_ok:
                yield m, spec, facts


def _cp_ranks(rank: int, world: int, ring: bool = False) -> Dict[str, Any]:
    import torch.distributed as dist

    cp = TPGroup(world, rank, dist.new_group(list(range(world))), ring=ring, ranks=tuple(range(world)))
    tp = TPGroup(1, 0, None, context=cp)

    def wrap(part):
        split_sequence_around(part, cp)

        def summed(g):
            g = g.contiguous().clone()
            comm.all_reduce(g, cp.group)
            return g

        for p in part.parameters():
            p.register_hook(summed)

    out: Dict[str, Any] = {}
    for m, spec, facts in _cp_layers(world, ring):
        key = f"{m['name']}/{spec['name']}"
        try:
            out[key] = _compare_layer(spec, facts, tp, wrap)
        except Exception as e:  # both ranks fail alike
            out[key] = [f"{type(e).__name__}: {e}"]
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["ulysses", "ring"])
def cp_parity(request) -> Tuple[bool, List[Dict[str, Any]]]:
    return request.param, run_ranks(_cp_ranks, 2, request.param, timeout_s=90)


def test_context_parallel_blocks_compute_what_the_unsplit_block_computes(cp_parity):
    ring, results_by_rank = cp_parity
    layers = list(_cp_layers(2, ring))
    keys = [f"{m['name']}/{spec['name']}" for m, spec, _ in layers]
    assert {spec["type"] for _, spec, _ in layers} == {"encoder", "decoder"}
    assert any(spec["positionEmbedding"] == "rope" for _, spec, _ in layers)
    assert any(spec["positionEmbedding"] == "relative" for _, spec, _ in layers)
    for rank, results in enumerate(results_by_rank):
        assert sorted(results) == sorted(keys)
        for key in keys:
            assert results[key] == [], f"rank {rank} {key}: " + "; ".join(results[key])


def test_blocks_without_a_context_parallel_form_are_refused():
    for kind in ("cross-decoder", "swin"):
        m, spec, facts = next((m, s, f) for m in MODELS for s, f in zip(m["layers"], m["facts"]["layers"]) if s["type"] == kind)
        assert not facts["tp"]["contextParallel"]
        with pytest.raises(ValueError, match="context parallelism needs self-attention"):
            build_layer(spec, facts, TPGroup(1, 0, None, context=TPGroup(2, 0, None)), torch.float32, SEED)
