"""A stage's forward/backward per micro-batch, activation resharding, pipeline P2P and schedules.

Activation layout: under a layer with strategy (dp, tp) on a stage of g = dp * tp ranks, local rank
l holds rows [i * b/dp, (i + 1) * b/dp) of the micro-batch, i = l // tp, replicated over its tp group.
Gradients of activations follow Megatron's convention: every tp replica holds the full gradient of
its rows (the f operator all-reduces inside the layer).
- Inside a stage, consecutive layers with different dp a -> b (any two divisors of the stage size) are
  resharded by `_Reshard` inside blocks of g / gcd(a, b) ranks (planner/rank-layout.ts derives it):
  forward all-gathers the block's rows over the a / gcd ranks holding its distinct dp-a shards and keeps
  this rank's dp-b rows, backward does the same with a and b swapped. When b divides a this is an
  all-gather over r = a / b ranks; when a divides b a local slice (backward: the reverse).
- Between stages, each receiving rank gets exactly its rows from the sending ranks whose rows overlap
  (spread over the sender's tp replicas), so no extra reshard is needed after a P2P (`Boundary`).
Schedules: GPipe (all forwards, then all backwards) and 1F1B (Narayanan et al. 2021, PipeDream-Flush
as in Megatron-LM: warm-up forwards, steady one-forward-one-backward, cool-down backwards). P2P uses
batch_isend_irecv with the pairings of Megatron's send_forward_recv_backward /
send_backward_recv_forward, so NCCL cannot deadlock; sends are awaited at the end of the step
(overlap on) or at once (overlap off).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist

from uniap_torch import comm
from uniap_torch.layers import gather_from_sequence, scatter_to_sequence
from .groups import Groups
from .runner import LayerRunner
from .spec import LayerStrategy
from .spec import RunSpec, Stage


def _gather_rows(t: torch.Tensor, group, r: int) -> torch.Tensor:
    out, work = comm.all_gather_flat(t.contiguous(), group, r)
    return comm.finish_gather(out, work)


def _slice_rows(t: torch.Tensor, r: int, j: int) -> torch.Tensor:
    rows = t.shape[0] // r
    return t[j * rows:(j + 1) * rows].contiguous()


def _regroup(t: torch.Tensor, group, size: int, keep: int, pieces: int) -> torch.Tensor:
    """All-gather the block's rows over `group` (size ranks; none when 1), then keep piece `keep` of
    `pieces` equal row slices (all of it when 1)."""
    if size > 1:
        t = _gather_rows(t, group, size)
    return _slice_rows(t, pieces, keep) if pieces > 1 else t


class _Reshard(torch.autograd.Function):
    """Rows of dp a -> rows of dp b inside a block of g / gcd(a, b) ranks: forward all-gathers the
    block's a' = a / gcd shards and keeps this rank's piece of b' = b / gcd; backward all-gathers the
    gradient's b' pieces and keeps this rank's piece of a'. Every tp replica holds its rows' full
    gradient (Megatron), so gathering replaces a reduction. Matches R[u][k][l] of the cost model
    (planner/cost-model/build.ts)."""

    @staticmethod
    def forward(ctx, t, fwd, bwd):  # type: ignore[override]
        ctx.bwd = bwd
        return _regroup(t, *fwd)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        return _regroup(g, *ctx.bwd), None, None


def reshard(t: torch.Tensor, groups: Groups, dp_from: int, dp_to: int) -> torch.Tensor:
    if dp_from == dp_to:
        return t
    h = math.gcd(dp_from, dp_to)
    a, b = dp_from // h, dp_to // h
    group_a, size_a = groups.gather_group(dp_from, dp_to)
    group_b, size_b = groups.gather_group(dp_to, dp_from)
    fwd = (group_a, size_a, groups.block_index(dp_to, dp_from), b)
    bwd = (group_b, size_b, groups.block_index(dp_from, dp_to), a)
    return _Reshard.apply(t, fwd, bwd)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> Tuple[int, int]:
    return max(a0, b0), min(a1, b1)


class Boundary:
    """The P2P pattern between stage A (sender of activations) and stage B = A + 1."""

    def __init__(self, spec: RunSpec, a: Stage, b: Stage) -> None:
        self.a, self.b = a, b
        self.dp_a = a.strategies[a.last_layer].dp
        self.dp_b = b.strategies[b.first_layer].dp
        self.tp_a, self.tp_b = a.size // self.dp_a, b.size // self.dp_b
        self.mb = spec.micro_batch
        self.ra, self.rb = self.mb // self.dp_a, self.mb // self.dp_b
        self.shapes = spec.state_shapes(a.last_layer)

    def _pieces(self, i: int, r_i: int, j: int, r_j: int) -> Tuple[int, int]:
        return _overlap(i * r_i, (i + 1) * r_i, j * r_j, (j + 1) * r_j)

    def forward_sends(self, local_a: int) -> List[Tuple[int, int, int]]:
        """(dst global rank, row lo, row hi) within this sender's rows."""
        i, t = local_a // self.tp_a, local_a % self.tp_a
        out = []
        for r in range(self.b.size):
            j, tb = r // self.tp_b, r % self.tp_b
            lo, hi = self._pieces(i, self.ra, j, self.rb)
            if hi > lo and tb % self.tp_a == t:
                out.append((self.b.first_rank + r, lo - i * self.ra, hi - i * self.ra))
        return out

    def forward_recvs(self, local_b: int) -> List[Tuple[int, int]]:
        """(src global rank, rows) in row order, together this receiver's rows."""
        j, tb = local_b // self.tp_b, local_b % self.tp_b
        out = []
        for i in range(self.dp_a):
            lo, hi = self._pieces(i, self.ra, j, self.rb)
            if hi > lo:
                out.append((self.a.first_rank + i * self.tp_a + tb % self.tp_a, hi - lo))
        return out

    def backward_sends(self, local_b: int) -> List[Tuple[int, int, int]]:
        j, tb = local_b // self.tp_b, local_b % self.tp_b
        out = []
        for r in range(self.a.size):
            i, ta = r // self.tp_a, r % self.tp_a
            lo, hi = self._pieces(i, self.ra, j, self.rb)
            if hi > lo and ta % self.tp_b == tb:
                out.append((self.a.first_rank + r, lo - j * self.rb, hi - j * self.rb))
        return out

    def backward_recvs(self, local_a: int) -> List[Tuple[int, int]]:
        i, ta = local_a // self.tp_a, local_a % self.tp_a
        out = []
        for j in range(self.dp_b):
            lo, hi = self._pieces(i, self.ra, j, self.rb)
            if hi > lo:
                out.append((self.b.first_rank + j * self.tp_b + ta % self.tp_b, hi - lo))
        return out


def _tag(mb: int, backward: bool, tensor: int) -> int:
    return (mb * 2 + int(backward)) * 8 + tensor


class StageExecutor:
    """Runs this rank's stage: micro-batch forward/backward and the pipeline schedule of one step."""

    def __init__(self, spec: RunSpec, groups: Groups, runners: Dict[int, LayerRunner], device: torch.device,
                 compute_dtype: torch.dtype, overlap: bool) -> None:
        self.spec, self.groups, self.runners = spec, groups, runners
        self.stage = groups.stage
        self.device, self.dtype, self.overlap = device, compute_dtype, overlap
        n = len(spec.stages)
        s = self.stage.index
        self.first, self.last = s == 0, s == n - 1
        self.prev = Boundary(spec, spec.stages[s - 1], self.stage) if not self.first else None
        self.next = Boundary(spec, self.stage, spec.stages[s + 1]) if not self.last else None
        head_dp = self.stage.strategies[self.stage.last_layer].dp
        self.loss_scale = 1.0 / (spec.micro_batches * head_dp)
        self._send_works: List[Tuple[Any, torch.Tensor]] = []

    # ---- one micro-batch through the stage's layers -----------------------------------------------

    def _rows(self, batch: Dict[str, torch.Tensor], key: str, mb: int, dp: int, dp_index: int) -> torch.Tensor:
        b = self.spec.micro_batch
        r = b // dp
        lo = mb * b + dp_index * r
        t = batch[key][lo:lo + r].to(self.device)
        return t.to(self.dtype) if t.is_floating_point() else t

    def forward(self, mb: int, state: Optional[List[torch.Tensor]], batch: Dict[str, torch.Tensor]):
        """Returns the activations to send (list) or, on the last stage, (scaled loss, loss)."""
        spec = self.spec
        dp_cur = self.stage.strategies[self.stage.first_layer].dp
        seq: Optional[LayerStrategy] = None  # the sp / cp layer whose sequence slice state[0] is (None: whole)
        for u in self.stage.layer_ids:
            st = self.stage.strategies[u]
            place = self.groups.params_place(st)
            # Sequence parallelism and context parallelism (planner/cost-model/build.ts prices the same
            # gathers): keep the slice between two layers split the same way, else gather it, and slice
            # before a layer that splits the sequence.
            if seq is not None and not seq.sequence_sharded_with(st):
                state = [gather_from_sequence(state[0], self.groups.sequence_handle(seq))] + state[1:]
                seq = None
            if state is not None and dp_cur != st.dp:
                state = [reshard(t, self.groups, dp_cur, st.dp) for t in state]
            dp_cur = st.dp
            kind = spec.layers[u]["type"]
            runner = self.runners[u]
            if kind == "embedding":
                key = "enc_tokens" if spec.has_encoder_chain() and spec.layers[u]["chain"] == "encoder" else "tokens"
                x = runner.forward(mb, self._rows(batch, key, mb, st.dp, place.dp_index))
                state = [x, state[0]] if spec.is_decoder_embedding(u) and state is not None else [x]
            elif kind == "patch-embedding":
                state = [runner.forward(mb, self._rows(batch, "images", mb, st.dp, place.dp_index))]
            elif kind == "head":
                assert state is not None
                logits = runner.forward(mb, state[0])
                loss = runner.module.loss(logits, self._rows(batch, "labels", mb, st.dp, place.dp_index))
                return loss * self.loss_scale, loss.detach()
            else:
                assert state is not None
                enc = state[1] if kind == "cross-decoder" else None
                x = state[0]
                if st.sequence_split() is not None and seq is None:
                    x = scatter_to_sequence(x, self.groups.sequence_handle(st))
                state = [runner.forward(mb, x, enc)] + state[1:]
                seq = st if st.sequence_split() is not None else None
        assert state is not None
        if seq is not None:  # P2P carries the whole-sequence layout
            state = [gather_from_sequence(state[0], self.groups.sequence_handle(seq))] + state[1:]
        return state

    # ---- P2P --------------------------------------------------------------------------------------

    def _exchange(self, sends: List[Tuple[torch.Tensor, int, int]], recvs: List[Tuple[torch.Tensor, int, int]]) -> None:
        ops = [dist.P2POp(dist.isend, t, peer, tag=tag) for t, peer, tag in sends]
        ops += [dist.P2POp(dist.irecv, t, peer, tag=tag) for t, peer, tag in recvs]
        if not ops:
            return
        works = dist.batch_isend_irecv(ops)
        send_works, recv_works = works[: len(sends)], works[len(sends):]
        with comm.blocking("p2p"):
            for w in recv_works:
                w.wait()
            if not self.overlap:
                for w in send_works:
                    w.wait()
        if self.overlap:
            self._send_works += [(w, t) for w, (t, _, _) in zip(send_works, sends)]

    def _fwd_send_list(self, mb: int, outs: List[torch.Tensor]) -> List[Tuple[torch.Tensor, int, int]]:
        assert self.next is not None
        sends = []
        for dst, lo, hi in self.next.forward_sends(self.groups.local):
            for k, t in enumerate(outs):
                sends.append((t.detach()[lo:hi].contiguous(), dst, _tag(mb, False, k)))
        return sends

    def _fwd_recv_list(self, mb: int) -> Tuple[List[List[torch.Tensor]], List[Tuple[torch.Tensor, int, int]]]:
        assert self.prev is not None
        pieces: List[List[torch.Tensor]] = [[] for _ in self.prev.shapes]
        recvs = []
        for src, rows in self.prev.forward_recvs(self.groups.local):
            for k, shape in enumerate(self.prev.shapes):
                buf = torch.empty((rows,) + tuple(shape), dtype=self.dtype, device=self.device)
                pieces[k].append(buf)
                recvs.append((buf, src, _tag(mb, False, k)))
        return pieces, recvs

    def _bwd_send_list(self, mb: int, grads: List[torch.Tensor]) -> List[Tuple[torch.Tensor, int, int]]:
        assert self.prev is not None
        sends = []
        for dst, lo, hi in self.prev.backward_sends(self.groups.local):
            for k, g in enumerate(grads):
                sends.append((g[lo:hi].contiguous(), dst, _tag(mb, True, k)))
        return sends

    def _bwd_recv_list(self, mb: int) -> Tuple[List[List[torch.Tensor]], List[Tuple[torch.Tensor, int, int]]]:
        assert self.next is not None
        pieces: List[List[torch.Tensor]] = [[] for _ in self.next.shapes]
        recvs = []
        for src, rows in self.next.backward_recvs(self.groups.local):
            for k, shape in enumerate(self.next.shapes):
                buf = torch.empty((rows,) + tuple(shape), dtype=self.dtype, device=self.device)
                pieces[k].append(buf)
                recvs.append((buf, src, _tag(mb, True, k)))
        return pieces, recvs

    @staticmethod
    def _join(pieces: List[List[torch.Tensor]]) -> List[torch.Tensor]:
        return [p[0] if len(p) == 1 else torch.cat(p) for p in pieces]

    # ---- one step -----------------------------------------------------------------------------------

    def run_step(self, batch: Dict[str, torch.Tensor]) -> Optional[torch.Tensor]:
        """Forward and backward of every micro-batch of the step. Returns this rank's share of the
        global-batch loss (sum of loss / (microBatches * head dp)) on the last stage, else None."""
        c = self.spec.micro_batches
        inputs: Dict[int, List[torch.Tensor]] = {}
        outputs: Dict[int, Any] = {}
        loss_sum = torch.zeros((), device=self.device)
        pending_in: Dict[int, List[List[torch.Tensor]]] = {}
        pending_grad: Dict[int, List[List[torch.Tensor]]] = {}

        def post_fwd_recv(mb: int) -> List[Tuple[torch.Tensor, int, int]]:
            if self.first or mb >= c:
                return []
            pieces, recvs = self._fwd_recv_list(mb)
            pending_in[mb] = pieces
            return recvs

        def post_bwd_recv(mb: int) -> List[Tuple[torch.Tensor, int, int]]:
            if self.last:
                return []
            pieces, recvs = self._bwd_recv_list(mb)
            pending_grad[mb] = pieces
            return recvs

        def fwd(mb: int) -> List[Tuple[torch.Tensor, int, int]]:
            nonlocal loss_sum
            state = None
            if not self.first:
                state = [t.requires_grad_() for t in self._join(pending_in.pop(mb))]
                inputs[mb] = state
            out = self.forward(mb, state, batch)
            outputs[mb] = out
            if self.last:
                loss_sum = loss_sum + out[1] * self.loss_scale
                return []
            return self._fwd_send_list(mb, out)

        def bwd(mb: int) -> List[Tuple[torch.Tensor, int, int]]:
            out = outputs.pop(mb)
            if self.last:
                out[0].backward()
            else:
                grads = self._join(pending_grad.pop(mb))
                pairs = [(o, g) for o, g in zip(out, grads) if o.requires_grad]
                if pairs:
                    torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
            if self.first:
                return []
            ins = inputs.pop(mb)
            return self._bwd_send_list(mb, [t.grad if t.grad is not None else torch.zeros_like(t) for t in ins])

        if self.spec.schedule == "gpipe" or len(self.spec.stages) == 1:
            for mb in range(c):
                self._exchange([], post_fwd_recv(mb))
                self._exchange(fwd(mb), [])
            for mb in range(c):
                self._exchange([], post_bwd_recv(mb))
                self._exchange(bwd(mb), [])
        else:
            d, s = len(self.spec.stages), self.stage.index
            warmup = min(d - s - 1, c)
            remaining = c - warmup
            for mb in range(warmup):
                self._exchange([], post_fwd_recv(mb))
                self._exchange(fwd(mb), [])
            if remaining > 0:
                self._exchange([], post_fwd_recv(warmup))
            for i in range(remaining):
                mf, mbk = warmup + i, i
                self._exchange(fwd(mf), post_bwd_recv(mbk))          # send_forward_recv_backward
                sends = bwd(mbk)
                nxt = post_fwd_recv(mf + 1) if i < remaining - 1 else []
                self._exchange(sends, nxt)                            # send_backward_recv_forward
            for i in range(warmup):
                mbk = remaining + i
                self._exchange([], post_bwd_recv(mbk))
                self._exchange(bwd(mbk), [])
        self.finish_sends()
        return loss_sum if self.last else None

    def finish_sends(self) -> None:
        if self._send_works:
            with comm.blocking("p2p"):
                for w, _ in self._send_works:
                    w.wait()
            self._send_works.clear()
