"""Sequence parallelism and selective recomputation in uniap_torch.layers.

- Every block the facts say supports sequence parallelism (facts.tp.sequenceParallel), built with
  TPGroup(sequence_parallel=True) over tp=2 (2 real processes, Gloo), computes what the unsplit block
  computes when its input is sliced along the sequence and its output gathered back
  (scatter_to_sequence / gather_from_sequence, as the executor does): outputs, input and encoder-output
  gradients, and every parameter's gradient (the norms' and row biases' summed over the tp group).
- Selective recomputation (Attention.recompute_core) gives the same outputs and gradients and keeps
  fewer bytes for backward, by at least the attention core's s x S tensors.
"""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
import torch

from conftest import load_models
from multiproc import run_ranks
from test_layers import SEED, _compare_layer, _inputs, divides, split_sequence_around
from uniap_torch.layers import TPGroup, build_layer

MODELS = load_models()


def _sp_layers(world: int):
    for m in MODELS:
        for spec, facts in zip(m["layers"], m["facts"]["layers"]):
            if facts["tp"]["sequenceParallel"] and divides(facts, world) and spec["seqLength"] % world == 0:
                yield m, spec, facts


def _sp_ranks(rank: int, world: int) -> Dict[str, Any]:
    import torch.distributed as dist

    tp = TPGroup(world, rank, dist.new_group(list(range(world))), sequence_parallel=True)

    def wrap(part):
        split_sequence_around(part, tp)

    out: Dict[str, Any] = {}
    for m, spec, facts in _sp_layers(world):
        key = f"{m['name']}/{spec['name']}"
        try:
            out[key] = _compare_layer(spec, facts, tp, wrap)
        except Exception as e:  # both ranks fail alike
            out[key] = [f"{type(e).__name__}: {e}"]
    return out


@pytest.fixture(scope="module")
def sp_parity() -> List[Dict[str, Any]]:
    return run_ranks(_sp_ranks, 2, timeout_s=90)


def test_sequence_parallel_blocks_compute_what_the_unsplit_block_computes(sp_parity):
    keys = [f"{m['name']}/{spec['name']}" for m, spec, _ in _sp_layers(2)]
    types = {spec["type"] for _, spec, _ in _sp_layers(2)}
    assert types == {"encoder", "decoder", "cross-decoder"}, types
    for rank, results in enumerate(sp_parity):
        assert sorted(results) == sorted(keys)
        for key in keys:
            assert results[key] == [], f"rank {rank} {key}: " + "; ".join(results[key])


def test_a_block_without_a_sequence_parallel_form_is_refused():
    swin = [(m, spec, facts) for m in MODELS for spec, facts in zip(m["layers"], m["facts"]["layers"]) if spec["type"] == "swin"]
    assert swin and not any(f["tp"]["sequenceParallel"] for _, _, f in swin)
    _, spec, facts = swin[0]
    with pytest.raises(ValueError, match="sequence parallelism needs a block that supports it"):
        build_layer(spec, facts, TPGroup(2, 0, None, sequence_parallel=True), torch.float32, SEED)


def _saved_bytes(layer, x, enc) -> int:
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = layer(x, encoder_out=enc)
    return total[0], y


@pytest.mark.parametrize("kind", ["decoder", "encoder", "cross-decoder"])
def test_selective_recomputation_keeps_less_and_computes_the_same(kind):
    m, spec, facts = next((m, s, f) for m in MODELS for s, f in zip(m["layers"], m["facts"]["layers"]) if s["type"] == kind)
    plain = build_layer(spec, facts, TPGroup.single(), torch.float32, SEED)
    sel = build_layer(spec, facts, TPGroup.single(), torch.float32, SEED)
    for mod in sel.modules():
        if hasattr(mod, "recompute_core"):
            mod.recompute_core = True
    g = torch.Generator().manual_seed(SEED)
    x, enc = _inputs(spec, g)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    encs = [None if enc is None else enc.clone().requires_grad_() for _ in range(2)]
    kept_plain, y0 = _saved_bytes(plain, xs[0], encs[0])
    kept_sel, y1 = _saved_bytes(sel, xs[1], encs[1])
    up = torch.randn(y0.shape, generator=g)
    (y0 * up).sum().backward()
    (y1 * up).sum().backward()
    assert torch.equal(y0, y1)
    assert torch.allclose(xs[0].grad, xs[1].grad, rtol=1e-5, atol=1e-6)
    for (n, p), (_, q) in zip(plain.named_parameters(), sel.named_parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6), n
    # Without fused attention the core keeps the softmax (4 bytes x heads x s x S per sample) at least.
    b, s, heads = x.shape[0], spec["seqLength"], spec["heads"]
    core = 4 * heads * s * spec["attentionSpan"] * b
    assert kept_plain - kept_sel >= core, (kept_plain, kept_sel, core)
