"""Layer implementations of every ModelSpec layer type, tensor-parallel (Megatron-style), shared by
the executor (uniap_exec) and the profiler (uniap_measure).

Public API (keep it stable):

    from uniap_torch.layers import TPGroup, build_layer

    tp = TPGroup(size=1, rank=0, group=None)          # or TPGroup(2, r, dist.new_group([0, 1]))
    model = json.load(open("model.json"))             # a ModelSpec with its facts (configs/model-facts.ts)
    u = 3
    layer = build_layer(model["layers"][u], model["facts"]["layers"][u], tp, torch.float32, seed=1234)
    y = layer(x)                      # every layer: forward(x, encoder_out=None)
    y = layer(x, encoder_out=enc)     # cross-decoder only

The facts are resolved once in TypeScript and read here, never re-derived: how the layer splits over
tp (facts.tp.split: 'heads-ffn', 'vocabulary' or 'replicated'), its position scheme, whether
attention is causal, how a head pools and whether its projection has a bias, which embedding's table
a tied layer shares. tests/model-facts.conformance.test.ts checks that the parameters built here
per tp rank are exactly facts.tp.replicatedParameters + facts.tp.splitParameters / tp.

Inputs and outputs per layer type (b = micro-batch size on this rank, s = layer_spec["seqLength"]):
- embedding:       x int64 [b, s] token ids            -> [b, s, hiddenSize]
- patch-embedding: x float [b, channels, image, image] -> [b, seqLength, hiddenSize]
- encoder/decoder: x [b, s, hiddenSize]                -> same shape
- cross-decoder:   x [b, s, hiddenSize], encoder_out [b, encoderSeqLength, hiddenSize] -> like x
- swin:            x [b, resolution^2, hiddenSize], or with patchMerging
                   x [b, (2*resolution)^2, inputHiddenSize]       -> [b, resolution^2, hiddenSize]
- head:            x [b, s, hiddenSize] -> logits [b, s, vocabSize / tp] (language model) or
                   [b, vocabSize / tp] (pooled classifier): this rank's vocabulary shard when split;
                   `layer.loss(logits, labels)` = mean cross-entropy over the whole vocabulary
                   (vocabulary-parallel: a max and two sums all-reduced, logits never gathered).
Every other output is complete and replicated on the tensor-parallel ranks (the row-parallel
all-reduce is inside forward), so `sum(y).backward()` style measurements see the tensor-parallel cost.
Sequence parallelism (TPGroup.sequence_parallel, encoder/decoder/cross-decoder blocks): the block takes
and returns this rank's [b, s/tp, h] slice of the sequence; `scatter_to_sequence` and
`gather_from_sequence` convert at its boundaries (the executor does, runtime/executor/uniap_exec).
Selective recomputation: `Attention.recompute_core = True` recomputes the attention core in backward.

Tensor parallelism (Megatron-LM, Shoeybi et al. 2019, "f" and "g" operators): attention splits heads
(q/k/v column-parallel, output projection row-parallel), MLPs split the FFN dimension (up/gate
column-parallel, down row-parallel), the embedding splits the vocabulary (masked lookup then
all-reduce), the head splits the vocabulary and computes the cross-entropy on the shards. Norms,
biases after the row-parallel all-reduce, position tables, the patch embedding, BERT's MLM transform
and Swin patch merging are replicated; their gradients are identical on every tensor-parallel rank.
A degree the layer's heads, KV heads, FFN or vocabulary does not divide is a ValueError (plans are
validated in TypeScript before they get here; this only asserts).

Weights: every parameter is first initialized in full (unsharded) from its own generator seeded by
(seed, layer index, parameter name), then sliced for this tensor-parallel rank. So any plan starts
from the same weights as single-device training, whatever the degrees. A tied layer draws its table
from the owning embedding's generator; the executor keeps the copies equal by summing their
gradients (uniap_exec/tie.py); plain single-device PyTorch shares one parameter (uniap_exec/plain.py).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as ckpt

from . import comm

INIT_STD = 0.02  # GPT-2 / Megatron default normal init
T5_BUCKETS = 32  # T5's relative_attention_num_buckets (Raffel et al. 2020); configs/model-derive.ts T5_BUCKETS


@dataclass
class TPGroup:
    """The tensor-parallel group a layer is split over: size, this rank's index in it, the group."""

    size: int
    rank: int
    group: Any = None  # torch.distributed ProcessGroup; None when size == 1
    # Megatron sequence parallelism (Korthikanti et al. 2022): a block built with it takes and returns
    # this rank's 1/size slice of the sequence (dim 1); see `Block` and the sequence operators below.
    sequence_parallel: bool = False
    # Ulysses context parallelism (Jacobs et al. 2023, arXiv 2309.14509): the ranks that hold the other
    # sequence slices of the same rows and tp rank. A block built with it takes and returns this rank's
    # 1/size slice of the sequence; attention all-to-alls q, k, v from sequence-split to head-split and
    # its output back (`Attention`); with ring=True instead K and V blocks go around the group (ring
    # attention). None: no context parallelism.
    context: Optional["TPGroup"] = None
    ring: bool = False  # on a context group: ring attention (p2p) instead of Ulysses (a2a)
    ranks: Optional[Tuple[int, ...]] = None  # global ranks of the group, in group order (ring P2P)

    @staticmethod
    def single() -> "TPGroup":
        return TPGroup(1, 0, None)


# ---- Megatron's f / g operators and the logit gather ----------------------------------------------


class _CopyToTP(torch.autograd.Function):
    """f: identity forward, all-reduce of the gradient backward."""

    @staticmethod
    def forward(ctx, x, tp):  # type: ignore[override]
        ctx.tp = tp
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        g = g.contiguous().clone()
        comm.all_reduce(g, ctx.tp.group)
        return g, None


class _ReduceFromTP(torch.autograd.Function):
    """g: all-reduce forward, identity backward."""

    @staticmethod
    def forward(ctx, x, tp):  # type: ignore[override]
        x = x.contiguous().clone()
        comm.all_reduce(x, tp.group)
        return x

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        return g, None


# ---- sequence parallelism (Korthikanti et al. 2022, sec. 4.2.2): tensors split along the sequence ----
# Four operators on dim 1 of [b, s, h]: `scatter_to_sequence` / `gather_from_sequence` convert between
# the replicated layout every layer boundary uses and the sequence-split one (forward slice / all-gather,
# backward all-gather / slice: gradients of replicated tensors are complete on every tp rank), and
# inside a block `gather_sequence_for_tp` (forward all-gather, backward reduce-scatter: the column-parallel
# input's gradient is a partial sum) and `reduce_scatter_sequence` (forward reduce-scatter of the
# row-parallel output's partial sums, backward all-gather) replace Megatron's f and g.


def _seq_all_gather(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    t = x.transpose(0, 1).contiguous()  # sequence leading: the flat all-gather concatenates along it
    out, work = comm.all_gather_flat(t, tp.group, tp.size)
    return comm.finish_gather(out, work).transpose(0, 1).contiguous()


def _seq_reduce_scatter(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    t = x.transpose(0, 1).contiguous()
    shape = (t.shape[0] // tp.size,) + tuple(t.shape[1:])
    src = t.float() if t.dtype == torch.bfloat16 and comm.backend() == "gloo" else t
    shard = comm.reduce_scatter_flat(src.reshape(-1), tp.group, tp.rank, tp.size, async_op=False).result()
    return shard.to(x.dtype).reshape(shape).transpose(0, 1).contiguous()


def _seq_slice(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    n = x.shape[1] // tp.size
    return x[:, tp.rank * n:(tp.rank + 1) * n].contiguous()  # a copy: the full tensor is not kept alive


def _group_op(name: str, forward_fn, backward_fn):
    """An autograd operator over a group: forward_fn(x, group) forward, backward_fn(g, group) backward."""

    def forward(ctx, x, group):  # type: ignore[override]
        ctx.group = group
        return forward_fn(x, group)

    def backward(ctx, g):  # type: ignore[override]
        return backward_fn(g, ctx.group), None

    return type(name, (torch.autograd.Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward)})


_ScatterToSequence = _group_op("_ScatterToSequence", _seq_slice, _seq_all_gather)
_GatherFromSequence = _group_op("_GatherFromSequence", _seq_all_gather, _seq_slice)
_GatherSequenceForTP = _group_op("_GatherSequenceForTP", _seq_all_gather, _seq_reduce_scatter)
_ReduceScatterSequence = _group_op("_ReduceScatterSequence", _seq_reduce_scatter, _seq_all_gather)


def _heads_to_sequence(x: torch.Tensor, cp: TPGroup) -> torch.Tensor:
    """[b, n, s/cp, d] sequence-split -> [b, n/cp, s, d] head-split over the cp group."""
    b, n, sl, d = x.shape
    t = x.reshape(b, cp.size, n // cp.size, sl, d).permute(1, 0, 2, 3, 4)  # chunk j: heads meant for rank j
    out = comm.all_to_all(t.reshape(cp.size * b, n // cp.size, sl, d), cp.group, cp.rank, cp.size)
    # chunk j of out: rank j's sequence slice of this rank's heads
    return out.view(cp.size, b, n // cp.size, sl, d).permute(1, 2, 0, 3, 4).reshape(b, n // cp.size, cp.size * sl, d)


def _sequence_to_heads(x: torch.Tensor, cp: TPGroup) -> torch.Tensor:
    """[b, n/cp, s, d] head-split -> [b, n, s/cp, d] sequence-split (the inverse of _heads_to_sequence)."""
    b, nl, s, d = x.shape
    sl = s // cp.size
    t = x.view(b, nl, cp.size, sl, d).permute(2, 0, 1, 3, 4)  # chunk j: the sequence slice of rank j
    out = comm.all_to_all(t.reshape(cp.size * b, nl, sl, d), cp.group, cp.rank, cp.size)
    # chunk j of out: rank j's heads of this rank's sequence slice
    return out.view(cp.size, b, nl, sl, d).permute(1, 0, 2, 3, 4).reshape(b, cp.size * nl, sl, d)


class _RingLink(torch.autograd.Function):
    """The KV block a ring step received (forward: from the previous cp rank); backward sends its
    gradient back there and receives, from the next rank, the gradient of the block this rank sent."""

    @staticmethod
    def forward(ctx, sent, received, cp):  # type: ignore[override]
        ctx.cp = cp
        return received.clone()

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        return comm.ring_shift(g.contiguous(), ctx.cp.ranks, ctx.cp.rank, backward=True), None, None


def _ring_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cp: "TPGroup", causal: bool,
                    bias_of=None) -> torch.Tensor:
    """Ring attention (Liu et al. 2023, arXiv 2310.01889; Megatron-LM's cp_comm_type p2p): this rank's
    queries [b, H, sl, d] against every rank's K and V blocks [b, KV, sl, d], passed around the cp
    group one step at a time (each exchange in flight while the current block is computed), merged by
    their log-sum-exp (Milakov and Gimelshein 2018's online softmax). Causal: blocks of later ranks are
    skipped, the diagonal one masked. bias_of(q_offset, k_offset) gives a block's additive bias."""
    n, r = cp.size, cp.rank
    b, H, sl, d = q.shape
    kvh = k.shape[1]
    groups = H // kvh
    scale = 1.0 / math.sqrt(d)
    kv = torch.cat([k, v], dim=1)
    out: Optional[torch.Tensor] = None
    lse: Optional[torch.Tensor] = None
    for j in range(n):
        src = (r - j) % n
        pending = comm.ring_start(kv.detach(), cp.ranks, r) if j < n - 1 else None
        if causal and src > r:
            # A later rank's block is masked out. It still joins the graph (times zero) so that every
            # rank runs every ring step's backward exchange, in the same order. (j > 0 here: out is set.)
            assert out is not None
            out = out + kv.sum() * 0.0
        else:
            kj, vj = kv[:, :kvh], kv[:, kvh:]
            if groups > 1:
                kj, vj = kj.repeat_interleave(groups, dim=1), vj.repeat_interleave(groups, dim=1)
            scores = torch.matmul(q, kj.transpose(-1, -2)) * scale
            if bias_of is not None:
                scores = scores + bias_of(r * sl, src * sl)
            if causal and src == r:
                mask = torch.ones(sl, sl, dtype=torch.bool, device=q.device).triu(1)
                scores = scores.masked_fill(mask, float("-inf"))
            scores = scores.float()
            blse = torch.logsumexp(scores, dim=-1, keepdim=True)
            bout = torch.matmul(torch.exp(scores - blse).to(q.dtype), vj).float()
            if out is None or lse is None:
                out, lse = bout, blse
            else:
                new = torch.logaddexp(lse, blse)
                out = out * torch.exp(lse - new) + bout * torch.exp(blse - new)
                lse = new
        if pending is not None:
            kv = _RingLink.apply(kv, comm.ring_finish(pending), cp)
    assert out is not None
    return out.to(q.dtype)


_UlyssesScatterHeads = _group_op("_UlyssesScatterHeads", _heads_to_sequence, _sequence_to_heads)
_UlyssesGatherHeads = _group_op("_UlyssesGatherHeads", _sequence_to_heads, _heads_to_sequence)


def scatter_to_sequence(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    """Replicated [b, s, h] -> this rank's [b, s/tp, h] (backward: all-gather of the gradient)."""
    return x if tp.size == 1 else _ScatterToSequence.apply(x, tp)


def gather_from_sequence(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    """This rank's [b, s/tp, h] -> replicated [b, s, h] (backward: keep this rank's slice)."""
    return x if tp.size == 1 else _GatherFromSequence.apply(x, tp)


def _tp_input(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    """The input of a column-parallel projection: f, or the sequence all-gather under sp."""
    if tp.size > 1 and tp.sequence_parallel:
        return _GatherSequenceForTP.apply(x, tp)
    return copy_to_tp(x, tp)


def _tp_output(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    """The output of a row-parallel projection: g, or the sequence reduce-scatter under sp."""
    if tp.size > 1 and tp.sequence_parallel:
        return _ReduceScatterSequence.apply(x, tp)
    return reduce_from_tp(x, tp)


def _sp_param(p: Optional[torch.Tensor], tp: Optional[TPGroup]) -> Optional[torch.Tensor]:
    """A parameter every tp rank holds in full but applies to its own slice of the sequence (norms,
    row-parallel biases under sp): identity forward, all-reduce of its gradient backward, so every
    rank's gradient is the whole sequence's (Megatron all-reduces these once per step instead)."""
    if p is None or tp is None or tp.size == 1 or not tp.sequence_parallel:
        return p
    return _CopyToTP.apply(p, tp)


def copy_to_tp(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    return x if tp.size == 1 else _CopyToTP.apply(x, tp)


def reduce_from_tp(x: torch.Tensor, tp: TPGroup) -> torch.Tensor:
    return x if tp.size == 1 else _ReduceFromTP.apply(x, tp)


# ---- deterministic full-weight initialization, then slicing ---------------------------------------


def param_seed(seed: int, layer_index: int, name: str) -> int:
    """Generator seed of one parameter: independent of creation order, device and parallel degrees."""
    return (int(seed) * 1_000_003 + int(layer_index) * 7919 + zlib.crc32(name.encode())) % (2**62)


class _Init:
    """Creates this rank's slice of each full parameter of one layer."""

    def __init__(self, seed: int, layer_index: int, tp: TPGroup, dtype: torch.dtype, meta: bool = False) -> None:
        self.seed, self.index, self.tp, self.dtype, self.meta = seed, layer_index, tp, dtype, meta

    def full(self, name: str, shape, kind: str, std: float = INIT_STD, index: Optional[int] = None) -> torch.Tensor:
        if self.meta:  # shapes only (counting parameters of large models without memory)
            return torch.empty(shape, device="meta")
        if kind == "zeros":
            return torch.zeros(shape)
        if kind == "ones":
            return torch.ones(shape)
        g = torch.Generator().manual_seed(param_seed(self.seed, self.index if index is None else index, name))
        return torch.randn(shape, generator=g) * std

    def param(self, t: torch.Tensor, split_dim: Optional[int] = None, split: bool = True) -> nn.Parameter:
        if split_dim is not None and split and self.tp.size > 1:
            t = t.chunk(self.tp.size, dim=split_dim)[self.tp.rank]
        return nn.Parameter(t.contiguous().to(self.dtype))


def _need_divisible(what: str, value: int, tp: int, spec: Dict[str, Any]) -> None:
    if value % tp != 0:
        raise ValueError(
            f"layer {spec.get('name')}: {what}={value} is not divisible by tensor-parallel degree {tp}; "
            f"use a tp that divides {value}"
        )


class Norm(nn.Module):
    def __init__(self, kind: str, size: int, init: _Init, name: str, sp: Optional[TPGroup] = None) -> None:
        super().__init__()
        self.kind = kind
        self.sp = sp  # sequence parallelism: the weights' gradients are summed over the tp group
        self.weight = init.param(init.full(f"{name}.weight", (size,), "ones"))
        if kind == "layernorm":
            self.bias = init.param(init.full(f"{name}.bias", (size,), "zeros"))
        else:
            self.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = _sp_param(self.weight, self.sp), _sp_param(self.bias, self.sp)
        if self.kind == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), w, b, 1e-5)
        # RMSNorm (Zhang & Sennrich 2019), computed in fp32 as Llama does.
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)
        return y.to(x.dtype) * w


# ---- attention ----------------------------------------------------------------------------------


def _rope(x: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021), GPT-NeoX half-rotation; x [b, heads, s, d] holding
    positions offset .. offset + s - 1 (a ring-attention rank's slice)."""
    s, d = x.shape[-2], x.shape[-1]
    half = d // 2
    inv = 1.0 / (10000 ** (torch.arange(0, half, dtype=torch.float32, device=x.device) / half))
    ang = torch.arange(offset, offset + s, dtype=torch.float32, device=x.device)[:, None] * inv[None, :]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:2 * half]
    rot = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
    return torch.cat([rot, x[..., 2 * half:]], dim=-1) if d > 2 * half else rot


def _t5_buckets(q_len: int, k_len: int, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128,
                device=None, q_offset: int = 0, k_offset: int = 0) -> torch.Tensor:
    """T5's relative position buckets (Raffel et al. 2020, transformers' T5Attention), for queries at
    positions q_offset.. and keys at k_offset.. (a ring-attention block)."""
    ctx = torch.arange(q_offset, q_offset + q_len, device=device)[:, None]
    mem = torch.arange(k_offset, k_offset + k_len, device=device)[None, :]
    rel = mem - ctx
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.clamp(rel, max=0)
    max_exact = num_buckets // 2
    small = rel < max_exact
    large = max_exact + (
        torch.log(rel.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(small, rel, large)


def _attend(q, k, v, bias: Optional[torch.Tensor], causal: bool) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v; q [B, H, sq, d], k/v [B, H, sk, d]."""
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if sdpa is not None:  # torch >= 2.0 (fused kernels on GPUs)
        if bias is None:
            return sdpa(q, k, v, is_causal=causal)
        if causal:
            sq, sk = q.shape[-2], k.shape[-2]
            mask = torch.ones(sq, sk, dtype=torch.bool, device=q.device).triu(1)
            bias = bias.masked_fill(mask, float("-inf"))
        return sdpa(q, k, v, attn_mask=bias)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if bias is not None:
        scores = scores + bias
    if causal:
        sq, sk = scores.shape[-2], scores.shape[-1]
        mask = torch.ones(sq, sk, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(scores.float(), dim=-1).to(q.dtype), v)


class Attention(nn.Module):
    """Multi-head attention with grouped-query KV heads, heads split over the tensor-parallel group."""

    def __init__(self, spec: Dict[str, Any], tp: TPGroup, init: _Init, name: str, *, causal: bool,
                 cross: bool = False, window: int = 0) -> None:
        super().__init__()
        h, H, KV, d = spec["hiddenSize"], spec["heads"], spec["kvHeads"] or spec["heads"], spec["headDim"]
        if not d:
            d = h // H
        _need_divisible("heads", H, tp.size, spec)
        _need_divisible("kvHeads", KV, tp.size, spec)
        if H % KV != 0:
            raise ValueError(f"layer {spec.get('name')}: heads={H} is not a multiple of kvHeads={KV}")
        self.tp, self.causal, self.cross = tp, causal, cross
        self.recompute_core = False  # selective recomputation of the attention core (set by the executor)
        self.h_local, self.kv_local, self.d = H // tp.size, KV // tp.size, d
        self.cp = tp.context if tp.context is not None and tp.context.size > 1 else None
        if self.cp is not None:
            if cross or window:
                raise ValueError(f"layer {spec.get('name')}: context parallelism needs self-attention over the whole sequence; "
                                 "leave out cp for cross-attention and windowed blocks")
            if not self.cp.ring and (self.h_local % self.cp.size or self.kv_local % self.cp.size):
                raise ValueError(f"layer {spec.get('name')}: {self.h_local} heads and {self.kv_local} KV heads per tp rank "
                                 f"do not divide by context-parallel degree {self.cp.size}; use a cp that divides both")
        position = spec["positionEmbedding"]  # the chain's scheme, resolved onto every block
        self.rope = position == "rope" and not cross
        self.relative = position == "relative" and not cross
        self.window = window
        bias = bool(spec["bias"])
        self.wq = init.param(init.full(f"{name}.q.weight", (H * d, h), "normal"), 0)
        self.wk = init.param(init.full(f"{name}.k.weight", (KV * d, h), "normal"), 0)
        self.wv = init.param(init.full(f"{name}.v.weight", (KV * d, h), "normal"), 0)
        self.wo = init.param(init.full(f"{name}.o.weight", (h, H * d), "normal"), 1)
        if bias:
            self.bq = init.param(init.full(f"{name}.q.bias", (H * d,), "zeros"), 0)
            self.bk = init.param(init.full(f"{name}.k.bias", (KV * d,), "zeros"), 0)
            self.bv = init.param(init.full(f"{name}.v.bias", (KV * d,), "zeros"), 0)
            self.bo = init.param(init.full(f"{name}.o.bias", (h,), "zeros"))
        else:
            self.bq = self.bk = self.bv = self.bo = None
        if self.relative:
            self.rel_bias = init.param(init.full(f"{name}.relative_bias", (T5_BUCKETS, H), "normal"), 1)
        if window:
            # Swin relative position bias table (Liu et al. 2021), heads split like the attention.
            self.rel_table = init.param(init.full(f"{name}.relative_table", ((2 * window - 1) ** 2, H), "normal"), 1)
            coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
            rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
            self.register_buffer("rel_index", (rel[..., 0] * (2 * window - 1) + rel[..., 1]).reshape(-1),
                                 persistent=False)

    def _heads(self, t: torch.Tensor, n: int) -> torch.Tensor:
        b, s, _ = t.shape
        return t.view(b, s, n, self.d).transpose(1, 2)

    def forward(self, x: torch.Tensor, kv_source: Optional[torch.Tensor] = None,
                window_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        tp = self.tp
        xin = _tp_input(x, tp)
        src = copy_to_tp(kv_source, tp) if self.cross else xin
        q = self._heads(F.linear(xin, self.wq, self.bq), self.h_local)
        k = self._heads(F.linear(src, self.wk, self.bk), self.kv_local)
        v = self._heads(F.linear(src, self.wv, self.bv), self.kv_local)
        cp = self.cp
        if cp is not None and cp.ring:
            return self._project_out(self._ring_core(q, k, v, x))
        if cp is not None:  # Ulysses: this rank's heads over the whole sequence (positions after the exchange)
            q, k, v = (_UlyssesScatterHeads.apply(t, cp) for t in (q, k, v))
        if self.rope:
            q, k = _rope(q), _rope(k)
        groups = self.h_local // self.kv_local
        if groups > 1:
            k = k.repeat_interleave(groups, dim=1)
            v = v.repeat_interleave(groups, dim=1)
        bias = None
        if self.relative:
            buckets = _t5_buckets(q.shape[2], k.shape[2], bidirectional=not self.causal, device=x.device)
            bias = self.rel_bias[buckets].permute(2, 0, 1).unsqueeze(0).to(q.dtype)  # [1, H, sq, sk]
            if cp is not None:
                n = self.h_local // cp.size
                bias = bias[:, cp.rank * n:(cp.rank + 1) * n]
        if self.window:
            ww = self.window * self.window
            bias = self.rel_table[self.rel_index].view(ww, ww, -1).permute(2, 0, 1).unsqueeze(0).to(q.dtype)
            if window_mask is not None:  # [nW, ww, ww] -> scores of [b*nW, H, ww, ww]
                nw = window_mask.shape[0]
                bias = (bias.unsqueeze(0) + window_mask[None, :, None].to(q.dtype)).expand(
                    q.shape[0] // nw, nw, -1, ww, ww).reshape(q.shape[0], -1, ww, ww)
        if self.recompute_core and torch.is_grad_enabled():
            # Selective recomputation (Korthikanti et al. 2022, sec. 5): keep q, k, v; run the core again in backward.
            out = ckpt.checkpoint(_attend, q, k, v, bias, self.causal, use_reentrant=True)
        else:
            out = _attend(q, k, v, bias, self.causal)
        if cp is not None:
            out = _UlyssesGatherHeads.apply(out, cp)
        return self._project_out(out)

    def _ring_core(self, q, k, v, x):
        """Ring attention over the cp group: this rank holds positions cp.rank * sl .. of the sequence."""
        cp = self.cp
        sl = q.shape[2]
        if self.rope:
            q, k = _rope(q, cp.rank * sl), _rope(k, cp.rank * sl)
        bias_of = None
        if self.relative:
            def bias_of(qo: int, ko: int) -> torch.Tensor:
                buckets = _t5_buckets(sl, sl, bidirectional=not self.causal, device=x.device, q_offset=qo, k_offset=ko)
                return self.rel_bias[buckets].permute(2, 0, 1).unsqueeze(0).to(q.dtype)
        return _ring_attention(q, k, v, cp, self.causal, bias_of)

    def _project_out(self, out: torch.Tensor) -> torch.Tensor:
        """[b, heads, s, d] -> the row-parallel output projection (and its bias)."""
        b, _, s, _ = out.shape
        out = F.linear(out.transpose(1, 2).reshape(b, s, self.h_local * self.d), self.wo)
        out = _tp_output(out, self.tp)
        return out if self.bo is None else out + _sp_param(self.bo, self.tp)


class MLP(nn.Module):
    """GELU (h -> f -> h) or SwiGLU (gate, up, down) MLP with the FFN dimension split over tp."""

    def __init__(self, spec: Dict[str, Any], tp: TPGroup, init: _Init, name: str) -> None:
        super().__init__()
        h, f = spec["hiddenSize"], spec["ffnSize"]
        _need_divisible("ffnSize", f, tp.size, spec)
        self.tp, self.swiglu = tp, spec["activation"] == "swiglu"
        bias = bool(spec["bias"])
        self.w_up = init.param(init.full(f"{name}.up.weight", (f, h), "normal"), 0)
        self.b_up = init.param(init.full(f"{name}.up.bias", (f,), "zeros"), 0) if bias else None
        if self.swiglu:
            self.w_gate = init.param(init.full(f"{name}.gate.weight", (f, h), "normal"), 0)
            self.b_gate = init.param(init.full(f"{name}.gate.bias", (f,), "zeros"), 0) if bias else None
        self.w_down = init.param(init.full(f"{name}.down.weight", (h, f), "normal"), 1)
        self.b_down = init.param(init.full(f"{name}.down.bias", (h,), "zeros")) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _tp_input(x, self.tp)
        up = F.linear(x, self.w_up, self.b_up)
        a = F.silu(F.linear(x, self.w_gate, self.b_gate)) * up if self.swiglu else F.gelu(up)
        out = _tp_output(F.linear(a, self.w_down), self.tp)
        return out if self.b_down is None else out + _sp_param(self.b_down, self.tp)


# ---- layers -------------------------------------------------------------------------------------


class Embedding(nn.Module):
    """Token embedding, vocabulary split over tp (masked lookup + all-reduce), plus learned positions."""

    def __init__(self, spec: Dict[str, Any], facts: Dict[str, Any], tp: TPGroup, init: _Init) -> None:
        super().__init__()
        V, h = spec["vocabSize"], spec["hiddenSize"]
        self.split = _splits(facts, tp, spec)
        self.tp = tp if self.split else TPGroup.single()
        self.v_start = (V // tp.size) * tp.rank if self.split else 0
        self.v_local = V // tp.size if self.split else V
        src = facts["tiedTo"]  # shares the table of that embedding (None: its own)
        self.weight = init.param(init.full("tok.weight", (V, h), "normal", index=src), 0, split=self.split)
        if spec["positionEmbedding"] == "learned":
            self.pos = init.param(init.full("pos.weight", (spec["seqLength"], h), "normal"))
        else:
            self.pos = None

    def forward(self, x: torch.Tensor, encoder_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.split:
            local = x - self.v_start
            outside = (local < 0) | (local >= self.v_local)
            e = F.embedding(local.masked_fill(outside, 0), self.weight)
            e = e * (~outside).unsqueeze(-1).to(e.dtype)
            e = reduce_from_tp(e, self.tp)
        else:
            e = F.embedding(x, self.weight)
        if self.pos is not None:
            e = e + self.pos[: x.shape[1]]
        return e


class PatchEmbedding(nn.Module):
    """ViT/Swin patchify convolution (+ class token) + learned position embedding; replicated over tp."""

    def __init__(self, spec: Dict[str, Any], facts: Dict[str, Any], tp: TPGroup, init: _Init) -> None:
        super().__init__()
        if facts["tp"]["split"] != "replicated":
            raise ValueError(f"layer {spec.get('name')}: the patch embedding is built replicated, facts say {facts['tp']['split']!r}")
        h, p, c, img = spec["hiddenSize"], spec["patchSize"], spec["channels"], spec["imageSize"]
        patches = (img // p) ** 2
        self.patch = p
        self.cls = init.param(init.full("cls", (1, 1, h), "normal")) if spec["seqLength"] == patches + 1 else None
        self.weight = init.param(init.full("proj.weight", (h, c, p, p), "normal"))
        self.bias = init.param(init.full("proj.bias", (h,), "zeros")) if spec["bias"] else None
        if spec["positionEmbedding"] == "learned":
            self.pos = init.param(init.full("pos.weight", (1, spec["seqLength"], h), "normal"))
        else:
            self.pos = None

    def forward(self, x: torch.Tensor, encoder_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = F.conv2d(x, self.weight, self.bias, stride=self.patch).flatten(2).transpose(1, 2)
        if self.cls is not None:
            y = torch.cat([self.cls.expand(y.shape[0], -1, -1), y], dim=1)
        return y if self.pos is None else y + self.pos


def _window_partition(x: torch.Tensor, w: int) -> torch.Tensor:
    b, r, _, c = x.shape
    return x.view(b, r // w, w, r // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def _window_reverse(win: torch.Tensor, w: int, r: int) -> torch.Tensor:
    c = win.shape[-1]
    b = win.shape[0] // ((r // w) ** 2)
    return win.view(b, r // w, r // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, r, r, c)


class Block(nn.Module):
    """Pre-norm transformer block: encoder, decoder (causal), cross-decoder (+ cross-attention), swin."""

    def __init__(self, spec: Dict[str, Any], facts: Dict[str, Any], tp: TPGroup, init: _Init) -> None:
        super().__init__()
        kind, h = spec["type"], spec["hiddenSize"]
        if tp.size > 1 and facts["tp"]["split"] != "heads-ffn":
            raise ValueError(f"layer {spec.get('name')}: a block splits heads and FFN over tp, facts say {facts['tp']['split']!r}")
        self.kind = kind
        self.merge_norm = None
        sp = tp if tp.size > 1 and tp.sequence_parallel else None
        if sp is not None and (not facts["tp"].get("sequenceParallel") or spec["seqLength"] % tp.size != 0):
            raise ValueError(f"layer {spec.get('name')}: sequence parallelism needs a block that supports it "
                             f"(facts.tp.sequenceParallel) and a sequence of {spec['seqLength']} divisible by tp {tp.size}")
        if kind == "swin":
            r, w = spec["resolution"], spec["windowSize"] or spec["resolution"]
            w = min(w, r)
            if r % w != 0:
                raise ValueError(f"layer {spec.get('name')}: resolution {r} is not a multiple of window {w}")
            self.r, self.w = r, w
            # W-MSA and SW-MSA alternate (Liu et al. 2021); index 0 is the patch embedding, so the
            # first block of a run (odd index in Swin presets, whose runs have even length) is unshifted.
            self.shift = w // 2 if (spec["index"] % 2 == 0 and r > w) else 0
            if spec["patchMerging"]:
                cin = spec["inputHiddenSize"]
                # Swin patch merging: 2x2 neighbours concatenated (4C) -> norm -> linear to hiddenSize.
                self.merge_norm = Norm(spec["norm"], 4 * cin, init, "merge.norm")
                self.merge_weight = init.param(init.full("merge.weight", (h, 4 * cin), "normal"))
            if self.shift:
                self.register_buffer("window_mask", self._shift_mask(r, w, self.shift), persistent=False)
            else:
                self.window_mask = None
            self.attn = Attention(spec, tp, init, "attn", causal=False, window=w)
        else:
            self.attn = Attention(spec, tp, init, "attn", causal=bool(facts["causal"]))
        self.norm1 = Norm(spec["norm"], h, init, "norm1", sp)
        if kind == "cross-decoder":
            self.norm_x = Norm(spec["norm"], h, init, "norm_x", sp)
            self.xattn = Attention(spec, tp, init, "xattn", causal=False, cross=True)
        self.norm2 = Norm(spec["norm"], h, init, "norm2", sp)
        self.mlp = MLP(spec, tp, init, "mlp")

    @staticmethod
    def _shift_mask(r: int, w: int, s: int) -> torch.Tensor:
        """Swin's mask for shifted windows: tokens from different regions must not attend."""
        img = torch.zeros(1, r, r, 1)
        cnt = 0
        for hs in (slice(0, -w), slice(-w, -s), slice(-s, None)):
            for ws in (slice(0, -w), slice(-w, -s), slice(-s, None)):
                img[:, hs, ws, :] = cnt
                cnt += 1
        win = _window_partition(img, w).squeeze(-1)
        diff = win.unsqueeze(1) - win.unsqueeze(2)
        return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)

    def _swin_attention(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        r, w, s = self.r, self.w, self.shift
        g = x.view(b, r, r, c)
        if s:
            g = torch.roll(g, shifts=(-s, -s), dims=(1, 2))
        out = self.attn(_window_partition(g, w), window_mask=self.window_mask)
        g = _window_reverse(out, w, r)
        if s:
            g = torch.roll(g, shifts=(s, s), dims=(1, 2))
        return g.reshape(b, n, c)

    def forward(self, x: torch.Tensor, encoder_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.merge_norm is not None:
            b, n, c = x.shape
            r2 = int(round(math.sqrt(n)))
            g = x.view(b, r2, r2, c)
            g = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]], dim=-1)
            x = F.linear(self.merge_norm(g.reshape(b, -1, 4 * c)), self.merge_weight)
        if self.kind == "swin":
            x = x + self._swin_attention(self.norm1(x))
        else:
            x = x + self.attn(self.norm1(x))
        if self.kind == "cross-decoder":
            if encoder_out is None:
                raise ValueError("cross-decoder layer needs encoder_out")
            x = x + self.xattn(self.norm_x(x), kv_source=encoder_out)
        return x + self.mlp(self.norm2(x))


class _VocabParallelCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of logits split over the vocabulary (Megatron-LM's vocab-parallel cross
    entropy, Shoeybi et al. 2019): all-reduce the max, the target logit and the sum of exponentials
    over the tp group; keeps only this shard's softmax (4 * tokens * V / tp bytes) for backward."""

    @staticmethod
    def forward(ctx, logits, labels, tp, v_start):  # type: ignore[override]
        x = logits.float()
        v_local = x.shape[-1]
        m = x.max(dim=-1).values
        with comm.blocking():
            torch.distributed.all_reduce(m, op=torch.distributed.ReduceOp.MAX, group=tp.group)
        x = x - m.unsqueeze(-1)
        mine = (labels >= v_start) & (labels < v_start + v_local)
        idx = (labels - v_start).clamp(0, v_local - 1)
        target = x.gather(-1, idx.unsqueeze(-1)).squeeze(-1) * mine
        comm.all_reduce(target, tp.group)
        e = x.exp()
        total = e.sum(dim=-1)
        comm.all_reduce(total, tp.group)
        softmax = e.div_(total.unsqueeze(-1))
        ctx.save_for_backward(softmax, idx, mine)
        ctx.dtype = logits.dtype
        return (total.log() - target).mean()

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        softmax, idx, mine = ctx.saved_tensors
        grad = softmax.clone()
        grad.scatter_add_(-1, idx.unsqueeze(-1), -mine.to(grad.dtype).unsqueeze(-1))
        grad.mul_(g / idx.numel())
        return grad.to(ctx.dtype), None, None, None


class Head(nn.Module):
    """Final norm (+ MLM transform) + vocabulary projection (language model) or classifier.

    The projection splits the vocabulary / classes over tp; the loss is computed on the shards."""

    def __init__(self, spec: Dict[str, Any], facts: Dict[str, Any], tp: TPGroup, init: _Init) -> None:
        super().__init__()
        V, h = spec["vocabSize"], spec["hiddenSize"]
        head = facts["head"]
        self.pool = head["pooling"]  # 'none' | 'cls' | 'mean'
        self.classifier = self.pool != "none"
        self.split = _splits(facts, tp, spec)
        self.tp = tp if self.split else TPGroup.single()
        self.v_start = (V // tp.size) * tp.rank if self.split else 0
        if head["transform"]:
            # BERT's MLM transform: dense -> GELU -> LayerNorm, whose norm is the head's only norm.
            self.norm = None
            self.t_weight = init.param(init.full("transform.weight", (h, h), "normal"))
            self.t_bias = init.param(init.full("transform.bias", (h,), "zeros")) if spec["bias"] else None
            self.t_norm = Norm(spec["norm"], h, init, "transform.norm")
        else:
            self.norm = Norm(spec["norm"], h, init, "norm")
            self.t_weight = None
        if facts["tiedTo"] is not None:
            # Same initial values as the owning embedding's token table.
            w = init.full("tok.weight", (V, h), "normal", index=facts["tiedTo"])
        else:
            w = init.full("proj.weight", (V, h), "normal")
        self.weight = init.param(w, 0, split=self.split)
        self.bias = init.param(init.full("proj.bias", (V,), "zeros"), 0, split=self.split) if head["outputBias"] else None

    def forward(self, x: torch.Tensor, encoder_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.norm is not None:
            x = self.norm(x)
        if self.classifier:
            x = x[:, 0] if self.pool == "cls" else x.mean(dim=1)
        if self.t_weight is not None:
            x = self.t_norm(F.gelu(F.linear(x, self.t_weight, self.t_bias)))
        return F.linear(copy_to_tp(x, self.tp), self.weight, self.bias)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        flat, targets = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
        if self.split:
            return _VocabParallelCrossEntropy.apply(flat, targets, self.tp, self.v_start)
        return F.cross_entropy(flat.float(), targets)


def _splits(facts: Dict[str, Any], tp: TPGroup, spec: Dict[str, Any]) -> bool:
    """Whether this vocabulary-split layer splits at this tp size (plan validation, configs/model-tp.ts
    tpDivides, guarantees the vocabulary divides; this only asserts it)."""
    if tp.size == 1:
        return False
    for n in facts["tp"]["divisors"]:
        _need_divisible("vocabSize", int(n), tp.size, spec)
    return facts["tp"]["split"] == "vocabulary"


def build_layer(layer_spec: Dict[str, Any], facts: Dict[str, Any], tp: TPGroup, dtype: torch.dtype, seed: int, *,
                device: Optional[torch.device] = None, meta: bool = False) -> nn.Module:
    """Build one layer of a ModelSpec for tensor-parallel rank tp.rank of tp.size (see module doc).

    `facts` is the layer's entry of the model's resolved facts (configs/model-facts.ts LayerFacts).
    meta=True creates parameters on the meta device: shapes without memory (parameter counting)."""
    kind = layer_spec["type"]
    if facts.get("index") != layer_spec.get("index") or facts.get("type") != kind:
        raise ValueError(f"layer {layer_spec.get('name')}: its facts are for layer {facts.get('index')} ({facts.get('type')}); "
                         "pass model['facts']['layers'][index]")
    init = _Init(seed, int(layer_spec["index"]), tp, dtype, meta=meta)
    if kind == "embedding":
        m: nn.Module = Embedding(layer_spec, facts, tp, init)
    elif kind == "patch-embedding":
        m = PatchEmbedding(layer_spec, facts, tp, init)
    elif kind in ("encoder", "decoder", "cross-decoder", "swin"):
        m = Block(layer_spec, facts, tp, init)
    elif kind == "head":
        m = Head(layer_spec, facts, tp, init)
    else:
        raise ValueError(f"layer {layer_spec.get('name')}: unknown layer type {kind!r}")
    return m.to(device) if device is not None and not meta else m
