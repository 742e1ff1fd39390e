"""Checks that every layer type split over tensor-parallel ranks computes what the unsplit layer
computes: outputs, input gradients and (sliced) parameter gradients, on WORLD_SIZE ranks (Gloo).

    RANK=.. WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=.. python -m uniap_exec.check_layers

Stdout: {"event":"done","rank":r} when every check passes, else {"event":"error",...} naming the
failed layers, and exit 1. Run by runtime/executor/executor.test.ts.
"""
from __future__ import annotations

import datetime
import os
import sys
import traceback
from typing import Any, Dict, List

from . import events


def _spec(**kw: Any) -> Dict[str, Any]:
    base = dict(index=1, type="decoder", name="check", chain="decoder", hiddenSize=32, inputHiddenSize=32, ffnSize=64,
                activation="gelu", heads=4, kvHeads=4, headDim=8, seqLength=8, attentionSpan=8, encoderSeqLength=0,
                vocabSize=64, norm="layernorm", bias=True, positionEmbedding="none", resolution=0, windowSize=0,
                patchMerging=False, patchSize=0, imageSize=0, channels=0, tiedEmbedding=False, headTransform=False,
                dtype="fp32")
    base.update(kw)
    return base


CASES: List[Dict[str, Any]] = [
    {"name": "embedding (vocab split, learned positions)", "spec": _spec(index=0, type="embedding", positionEmbedding="learned"), "input": "tokens"},
    {"name": "embedding (vocab 63: replicated)", "spec": _spec(index=0, type="embedding", vocabSize=63), "input": "tokens"},
    {"name": "decoder gelu layernorm", "spec": _spec()},
    {"name": "decoder swiglu rmsnorm gqa rope", "spec": _spec(activation="swiglu", norm="rmsnorm", kvHeads=2, bias=False), "kw": {"position": "rope"}},
    {"name": "encoder relative bias", "spec": _spec(type="encoder", chain="encoder"), "kw": {"position": "relative"}},
    {"name": "cross-decoder", "spec": _spec(type="cross-decoder", encoderSeqLength=6), "enc": (6, 32)},
    {"name": "swin shifted window", "spec": _spec(index=2, type="swin", resolution=4, windowSize=2, seqLength=16)},
    {"name": "swin patch merging", "spec": _spec(index=3, type="swin", resolution=2, windowSize=2, seqLength=4, inputHiddenSize=16, patchMerging=True), "x": (16, 16)},
    {"name": "patch-embedding + class token", "spec": _spec(index=0, type="patch-embedding", patchSize=4, imageSize=8, channels=3, seqLength=5, positionEmbedding="learned"), "input": "image"},
    {"name": "head lm tied", "spec": _spec(index=5, type="head", tiedEmbedding=True), "input": "head"},
    {"name": "head mlm transform", "spec": _spec(index=5, type="head", headTransform=True), "input": "head"},
    {"name": "head classifier mean pool", "spec": _spec(index=5, type="head", vocabSize=10), "kw": {"family": "vision", "pool": "mean"}, "input": "head"},
    {"name": "head classifier 9 classes (replicated)", "spec": _spec(index=5, type="head", vocabSize=9), "kw": {"family": "vision"}, "input": "head"},
]


def _check(case: Dict[str, Any], tp, rank: int) -> str:
    import torch

    from uniap_torch.layers import TPGroup, build_layer

    spec = case["spec"]
    kw = case.get("kw", {})
    full = build_layer(spec, TPGroup.single(), torch.float32, 7, **kw)
    part = build_layer(spec, tp, torch.float32, 7, **kw)
    g = torch.Generator().manual_seed(11)
    b = 2
    kind = case.get("input", "hidden")
    if kind == "tokens":
        x = torch.randint(0, spec["vocabSize"], (b, spec["seqLength"]), generator=g)
    elif kind == "image":
        x = torch.randn(b, spec["channels"], spec["imageSize"], spec["imageSize"], generator=g)
    else:
        shape = case.get("x", (spec["seqLength"], spec["hiddenSize"]))
        x = torch.randn((b,) + tuple(shape), generator=g)
    enc = torch.randn((b,) + case["enc"], generator=g) if "enc" in case else None
    xs = [x.clone().requires_grad_(x.is_floating_point()) for _ in range(2)]
    encs = [enc.clone().requires_grad_() if enc is not None else None for _ in range(2)]
    y_full = full(xs[0], encoder_out=encs[0])
    y_part = part(xs[1], encoder_out=encs[1])
    if kind == "head":
        # Heads return this rank's vocabulary shard: compare the losses over the whole vocabulary.
        labels = torch.randint(0, spec["vocabSize"], tuple(y_full.shape[:-1]), generator=g)
        y_full, y_part = full.loss(y_full, labels), part.loss(y_part, labels)
    problems = []
    if y_full.shape != y_part.shape or not torch.allclose(y_full, y_part, rtol=1e-4, atol=1e-5):
        problems.append(f"output differs (max {float((y_full - y_part).abs().max()) if y_full.shape == y_part.shape else 'shape'})")
    up = torch.randn(y_full.shape, generator=g)
    (y_full * up).sum().backward()
    (y_part * up).sum().backward()
    if x.is_floating_point() and not torch.allclose(xs[0].grad, xs[1].grad, rtol=1e-4, atol=1e-5):
        problems.append("input gradient differs")
    if enc is not None and not torch.allclose(encs[0].grad, encs[1].grad, rtol=1e-4, atol=1e-5):
        problems.append("encoder_out gradient differs")
    fp = dict(full.named_parameters())
    for name, p in part.named_parameters():
        q = fp[name]
        ref, ref_grad = q.detach(), q.grad
        if p.shape != q.shape:
            dims = [d for d in range(p.dim()) if p.shape[d] != q.shape[d]]
            ref = q.detach().chunk(tp.size, dim=dims[0])[tp.rank]
            ref_grad = q.grad.chunk(tp.size, dim=dims[0])[tp.rank]
        if not torch.equal(p.detach(), ref):
            problems.append(f"{name}: initial value is not the slice of the full weight")
        if not torch.allclose(p.grad, ref_grad, rtol=1e-4, atol=1e-5):
            problems.append(f"{name}: gradient differs (max {float((p.grad - ref_grad).abs().max()):.2e})")
    return "; ".join(problems)


def main() -> int:
    events.install()
    rank = int(os.environ.get("RANK", "0"))
    try:
        import torch
        import torch.distributed as dist

        from uniap_torch.layers import TPGroup

        torch.set_num_threads(1)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=120))
        tp = TPGroup(world, rank, dist.new_group(list(range(world))) if world > 1 else None)
        failures = []
        for case in CASES:
            msg = _check(case, tp, rank)
            if msg:
                failures.append(f"{case['name']}: {msg}")
        if failures:
            raise AssertionError(f"tp={world} differs from tp=1: " + " | ".join(failures))
        events.emit("done", rank=rank)
        return 0
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        events.emit("error", rank=rank, message=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)
