"""uniap_torch.layers against the facts TypeScript resolves (fixtures/models.json): every layer of every
fixture model split over tp=2 (2 real processes, Gloo on 127.0.0.1) computes what the unsplit layer
computes (outputs, input and encoder-output gradients; each parameter starts as the slice of the full
one and its gradient is the slice of the full gradient; heads compared through `layer.loss` and their
logit shards), a degree the layer does not divide is a ValueError naming the fix, and the parameters
built per tp rank are exactly facts.tp.replicatedParameters + facts.tp.splitParameters / tp."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import pytest
import torch

from conftest import load_models
from multiproc import run_ranks
from uniap_torch.layers import TPGroup, build_layer, gather_from_sequence, scatter_to_sequence

SEED = 1234
BATCH = 2
RTOL, ATOL = 1e-4, 1e-5
MODELS = load_models()
LAYERS = [(m, u) for m in MODELS for u in range(len(m["layers"]))]
LAYER_IDS = [f"{m['name']}/{m['layers'][u]['name']}" for m, u in LAYERS]


def divides(facts: Dict[str, Any], tp: int) -> bool:
    """tpDivides (configs/model-tp.ts) on the resolved divisors."""
    return all(int(n) % tp == 0 for n in facts["tp"]["divisors"])


def _inputs(spec: Dict[str, Any], g: torch.Generator) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The layer's input (module doc of uniap_torch/layers.py) and, for a cross-decoder, the encoder output."""
    kind, s, h = spec["type"], spec["seqLength"], spec["hiddenSize"]
    if kind == "embedding":
        return torch.randint(0, spec["vocabSize"], (BATCH, s), generator=g), None
    if kind == "patch-embedding":
        return torch.randn(BATCH, spec["channels"], spec["imageSize"], spec["imageSize"], generator=g), None
    if kind == "swin" and spec["patchMerging"]:
        return torch.randn(BATCH, (2 * spec["resolution"]) ** 2, spec["inputHiddenSize"], generator=g), None
    x = torch.randn(BATCH, s, h, generator=g)
    if kind == "cross-decoder":
        return x, torch.randn(BATCH, spec["encoderSeqLength"], h, generator=g)
    return x, None


def _differs(a: torch.Tensor, b: torch.Tensor) -> Optional[str]:
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    if not torch.allclose(a, b, rtol=RTOL, atol=ATOL):
        return f"max difference {float((a - b).abs().max()):.2e}"
    return None


def split_sequence_around(part, group: TPGroup) -> None:
    """Make `part` take and return whole sequences while it computes on this rank's slice of them:
    scatter_to_sequence / gather_from_sequence over `group`, as the executor does around sp and cp
    layers (test_sequence_parallel.py, test_context_parallel.py)."""
    inner = part.forward
    part.forward = lambda x, encoder_out=None: gather_from_sequence(inner(scatter_to_sequence(x, group), encoder_out=encoder_out), group)


def _compare_layer(spec: Dict[str, Any], facts: Dict[str, Any], tp: TPGroup, wrap=None) -> List[str]:
    """Problems of this rank's tp shard of the layer against the unsplit layer (empty: none).
    `wrap(part)` may replace the shard's forward (test_sequence_parallel.py converts the layout)."""
    full = build_layer(spec, facts, TPGroup.single(), torch.float32, SEED)
    part = build_layer(spec, facts, tp, torch.float32, SEED)
    if wrap is not None:
        wrap(part)
    g = torch.Generator().manual_seed(SEED + spec["index"])
    x, enc = _inputs(spec, g)
    xs = [x.clone().requires_grad_(x.is_floating_point()) for _ in range(2)]
    encs = [None if enc is None else enc.clone().requires_grad_() for _ in range(2)]
    y_full = full(xs[0], encoder_out=encs[0])
    y_part = part(xs[1], encoder_out=encs[1])
    problems: List[str] = []
    if spec["type"] == "head":
        V = spec["vocabSize"]
        split = facts["tp"]["split"] == "vocabulary"
        n = V // tp.size if split else V
        shard = y_full[..., tp.rank * n:(tp.rank + 1) * n] if split else y_full
        if (d := _differs(y_part, shard.detach())) is not None:
            problems.append(f"logits are not this rank's vocabulary shard ({d})")
        labels = torch.randint(0, V, tuple(y_full.shape[:-1]), generator=g)
        y_full, y_part = full.loss(y_full, labels), part.loss(y_part, labels)
        up = torch.tensor(1.7)
    else:
        up = torch.randn(y_full.shape, generator=g)
    if (d := _differs(y_part, y_full.detach())) is not None:
        problems.append(f"output differs ({d})")
    (y_full * up).sum().backward()
    (y_part * up).sum().backward()
    if x.is_floating_point() and (d := _differs(xs[1].grad, xs[0].grad)) is not None:
        problems.append(f"input gradient differs ({d})")
    if enc is not None and (d := _differs(encs[1].grad, encs[0].grad)) is not None:
        problems.append(f"encoder_out gradient differs ({d})")
    fp = dict(full.named_parameters())
    pp = dict(part.named_parameters())
    if set(fp) != set(pp):
        problems.append(f"parameter names differ: {sorted(set(fp) ^ set(pp))}")
    sliced = 0
    for name, p in pp.items():
        q = fp.get(name)
        if q is None:
            continue
        ref, ref_grad = q.detach(), q.grad
        dims = [i for i in range(q.dim()) if p.shape[i] != q.shape[i]] if p.dim() == q.dim() else [-1]
        if len(dims) > 1 or (dims and (dims[0] < 0 or p.shape[dims[0]] * tp.size != q.shape[dims[0]])):
            problems.append(f"{name}: shape {tuple(p.shape)} is not a 1/{tp.size} slice of {tuple(q.shape)}")
            continue
        if dims:
            sliced += 1
            ref = ref.chunk(tp.size, dim=dims[0])[tp.rank]
            ref_grad = None if ref_grad is None else ref_grad.chunk(tp.size, dim=dims[0])[tp.rank]
        if not torch.equal(p.detach(), ref):
            problems.append(f"{name}: initial value is not the slice of the full parameter")
        if p.grad is None or ref_grad is None:
            if (p.grad is None) != (ref_grad is None):
                problems.append(f"{name}: gradient is {'missing' if p.grad is None else 'unexpected'}")
        elif (d := _differs(p.grad, ref_grad)) is not None:
            problems.append(f"{name}: gradient differs ({d})")
    if facts["tp"]["split"] != "replicated" and tp.size > 1 and sliced == 0:
        problems.append(f"facts say {facts['tp']['split']!r} but no parameter is split")
    return problems


def _parity_ranks(rank: int, world: int, models: List[Dict[str, Any]]) -> Dict[str, Any]:
    """On every rank: each layer's problems, or 'skipped' where tp=world does not divide it."""
    import torch.distributed as dist

    tp = TPGroup(world, rank, dist.new_group(list(range(world))))
    out: Dict[str, Any] = {}
    for m in models:
        for spec, facts in zip(m["layers"], m["facts"]["layers"]):
            key = f"{m['name']}/{spec['name']}"
            if not divides(facts, world):
                out[key] = "skipped"
                continue
            try:
                out[key] = _compare_layer(spec, facts, tp)
            except Exception as e:  # both ranks fail alike (same code, same shapes), so no collective is left waiting
                out[key] = [f"{type(e).__name__}: {e}"]
    return out


@pytest.fixture(scope="module")
def parity() -> List[Dict[str, Any]]:
    return run_ranks(_parity_ranks, 2, MODELS, timeout_s=90)


@pytest.mark.parametrize("model,u", LAYERS, ids=LAYER_IDS)
def test_layer_split_over_tp2_computes_what_the_unsplit_layer_computes(parity, model, u):
    spec, facts = model["layers"][u], model["facts"]["layers"][u]
    key = f"{model['name']}/{spec['name']}"
    if not divides(facts, 2):
        pytest.skip(f"tp=2 does not divide {facts['tp']['divisors']} (test_degree_that_does_not_divide_is_a_value_error)")
    for rank, results in enumerate(parity):
        assert results[key] == [], f"rank {rank}: " + "; ".join(results[key])


def test_every_layer_type_and_most_layers_are_compared_at_tp2():
    compared = [(m, u) for m, u in LAYERS if divides(m["facts"]["layers"][u], 2)]
    assert {m["layers"][u]["type"] for m, u in compared} == {
        "embedding", "patch-embedding", "encoder", "decoder", "cross-decoder", "swin", "head"}
    assert len(compared) >= len(LAYERS) - 1


def test_degree_that_does_not_divide_is_a_value_error():
    # The 9-class classifier: tp=2 cannot split its classes; the error names the fix.
    heads = [(m, u) for m, u in LAYERS if m["layers"][u]["type"] == "head" and not divides(m["facts"]["layers"][u], 2)]
    assert [m["layers"][u]["vocabSize"] for m, u in heads] == [9]
    for m, u in heads:
        with pytest.raises(ValueError, match=re.escape("use a tp that divides 9")):
            build_layer(m["layers"][u], m["facts"]["layers"][u], TPGroup(2, 0, None), torch.float32, SEED)


def test_facts_of_another_layer_are_refused():
    m = MODELS[0]
    with pytest.raises(ValueError, match=r"model\['facts'\]\['layers'\]\[index\]"):
        build_layer(m["layers"][1], m["facts"]["layers"][0], TPGroup.single(), torch.float32, SEED)


@pytest.mark.parametrize("tp", [1, 2, 4])
@pytest.mark.parametrize("model,u", LAYERS, ids=LAYER_IDS)
def test_parameters_per_tp_rank_are_the_facts(model, u, tp):
    spec, facts = model["layers"][u], model["facts"]["layers"][u]
    if not divides(facts, tp):
        with pytest.raises(ValueError, match="use a tp that divides"):
            build_layer(spec, facts, TPGroup(tp, 0, None), torch.float32, SEED, meta=True)
        return
    want = facts["tp"]["replicatedParameters"] + facts["tp"]["splitParameters"] // tp
    assert facts["tp"]["splitParameters"] % tp == 0
    for rank in range(tp):
        layer = build_layer(spec, facts, TPGroup(tp, rank, None), torch.float32, SEED, meta=True)
        assert all(p.is_meta for p in layer.parameters())
        assert sum(p.numel() for p in layer.parameters()) == want, f"rank {rank} of tp={tp}"
    if tp == 1:
        assert want == facts["storedParameters"]


def test_tied_layers_start_from_their_owners_table():
    checked = 0
    for m in MODELS:
        for spec, facts in zip(m["layers"], m["facts"]["layers"]):
            if facts["tiedTo"] is None or facts["tiedTo"] == spec["index"]:
                continue
            owner = build_layer(m["layers"][facts["tiedTo"]], m["facts"]["layers"][facts["tiedTo"]], TPGroup.single(),
                                torch.float32, SEED)
            tied = build_layer(spec, facts, TPGroup.single(), torch.float32, SEED)
            assert torch.equal(tied.weight, owner.weight), f"{m['name']}/{spec['name']}"
            checked += 1
    assert checked >= 4  # gpt head, t5 decoder embedding and head, bert head


def test_untied_heads_do_not_share_the_embedding_table():
    m = next(x for x in MODELS if x["name"] == "fixture-llama")
    emb = build_layer(m["layers"][0], m["facts"]["layers"][0], TPGroup.single(), torch.float32, SEED)
    head = build_layer(m["layers"][-1], m["facts"]["layers"][-1], TPGroup.single(), torch.float32, SEED)
    assert m["facts"]["layers"][-1]["tiedTo"] is None
    assert emb.weight.shape == head.weight.shape and not torch.equal(emb.weight, head.weight)
