"""One layer under its intra-layer strategy: data parallel, fully sharded data parallel, recomputation.

Every layer's parameters live in one flat fp32 tensor (the optimizer's master copy; module parameters
become views bound before each forward):
- data parallel: this rank holds the whole (tensor-parallel-local) flat tensor. Gradients accumulate
  over the micro-batches; when the layer's backward of the last micro-batch has accumulated (hook on
  the flat tensor's AccumulateGrad node, as torch DDP does), one all-reduce over the layer's dp group
  starts asynchronously and is awaited only before the optimizer step (`GradSync.finish`).
- fully sharded (ZeRO-3 / FSDP, Rajbhandari et al. 2020): this rank holds 1/dp of the flat tensor
  (padded to a multiple of dp). Before each use the full tensor is all-gathered; the next fsdp layer's
  gather is started one layer ahead (prefetch). Between forward and backward the gathered tensor is
  not kept: saved-tensor hooks replace views of it by (offset, size, stride) and the backward gathers
  again. Each micro-batch's full gradient is reduce-scattered (Gloo: all-reduce then slice) as soon as
  the layer's backward for it is done.
- ZeRO-1 / ZeRO-2 (Rajbhandari et al. 2020 sec. 5.1-5.2; ZeRO-1 is Megatron-LM's distributed
  optimizer): the full weights are kept in the compute dtype (the leaf the module's views bind to) and
  the optimizer owns only this rank's 1/dp shard of the fp32 master weights (in fp32 training a view of
  the weights, so no second copy). ZeRO-1 accumulates the full fp32 gradient over the micro-batches
  (16-bit training: into a kept fp32 buffer, Megatron's main_grad) and reduces it once, as the data
  parallel path does, keeping its shard; ZeRO-2 reduce-scatters every micro-batch's gradient as its
  backward ends (the fsdp path's reduce-scatter) and keeps only the shard. After the optimizer step
  the updated shards are all-gathered into the weights. Bytes per parameter: configs/model-state.ts.
- recomputation: torch.utils.checkpoint (reentrant) keeps only the layer input; the forward runs again
  in backward (for fsdp layers that includes the gather). Selective recomputation checkpoints only the
  attention core (uniap_torch/layers.py Attention.recompute_core).
- sequence parallelism: the module is built sequence-parallel (layers.py); the stage executor scatters
  and gathers the sequence at its boundaries (pipeline.py).
Gradients are sums over the dp group: the loss is pre-scaled by 1 / (microBatches * head dp), so the
sum is the gradient of the global-batch mean loss (see pipeline.py).
"""
from __future__ import annotations

from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as ckpt

from uniap_torch import comm
from .groups import Place
from .spec import LayerStrategy


class ParamBinding:
    """Maps a module's parameters to slices of one flat tensor and binds views of it before use."""

    def __init__(self, module: nn.Module) -> None:
        self.slots: List[Tuple[nn.Module, str, torch.Size, int, int]] = []
        offset = 0
        for mod_name, mod in module.named_modules():
            for name, p in list(mod._parameters.items()):
                if p is None:
                    continue
                self.slots.append((mod, name, p.shape, p.numel(), offset))
                offset += p.numel()
        self.numel = offset

    def flatten(self) -> torch.Tensor:
        """Concatenate the current parameter values (fp32) and detach them from the module."""
        parts = [mod._parameters[name].detach().reshape(-1).float() for mod, name, *_ in self.slots]
        flat = torch.cat(parts) if parts else torch.zeros(0)
        for mod, name, *_ in self.slots:
            mod._parameters[name] = None
        return flat

    def bind(self, flat: torch.Tensor) -> None:
        for mod, name, shape, n, o in self.slots:
            mod._parameters[name] = flat[o:o + n].view(shape)  # type: ignore[assignment]

    def unbind(self) -> None:
        for mod, name, *_ in self.slots:
            mod._parameters[name] = None


class GradSync:
    """Gradient reductions of one step: started as layers finish backward (overlap on) or all after
    the backward (overlap off); `finish` waits for everything before the optimizer step."""

    MAX_INFLIGHT_SCATTERS = 4  # bound on full-size fsdp gradient buffers waiting for their reduce-scatter

    def __init__(self, overlap: bool) -> None:
        self.overlap = overlap
        self.pending: Deque[Tuple["LayerRunner", Any]] = deque()
        self.scatters: Deque[Tuple["LayerRunner", comm.PendingReduceScatter]] = deque()
        self.deferred: List["LayerRunner"] = []

    def dp_ready(self, runner: "LayerRunner") -> None:
        grad = runner.dp_grad()
        if grad is None:
            return
        if self.overlap:
            self.pending.append((runner, comm.all_reduce(grad, runner.place.dp_group, async_op=True)))
        else:
            self.deferred.append(runner)

    def fsdp_grad(self, runner: "LayerRunner", full_grad: torch.Tensor) -> None:
        place = runner.place
        pend = comm.reduce_scatter_flat(full_grad, place.dp_group, place.dp_index, place.dp, self.overlap)
        if not self.overlap:
            runner.add_shard_grad(pend.result())
            return
        self.scatters.append((runner, pend))
        while len(self.scatters) > self.MAX_INFLIGHT_SCATTERS:
            r, p = self.scatters.popleft()
            r.add_shard_grad(p.result())

    def finish(self) -> None:
        for runner in self.deferred:  # overlap off: every reduction now, one after the other
            comm.all_reduce(runner.dp_grad(), runner.place.dp_group)
            runner.on_reduced()
        self.deferred.clear()
        while self.pending:
            runner, work = self.pending.popleft()
            with comm.blocking():
                work.wait()
            runner.on_reduced()
        while self.scatters:
            r, p = self.scatters.popleft()
            r.add_shard_grad(p.result())


class _FsdpGather(torch.autograd.Function):
    """shard -> gathered full flat tensor (compute dtype). Backward hands the full gradient to the
    runner, which reduce-scatters it into the shard's gradient (returned here as None)."""

    @staticmethod
    def forward(ctx, shard, runner, mb):  # type: ignore[override]
        ctx.runner, ctx.mb = runner, mb
        return runner.gathered(mb)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        ctx.runner.on_full_grad(ctx.mb, g)
        return None, None, None


class LayerRunner:
    """Runs one layer's forward for a micro-batch under its strategy and owns its parameters."""

    def __init__(self, index: int, module: nn.Module, strategy: LayerStrategy, place: Place,
                 compute_dtype: torch.dtype, device: torch.device, sync: GradSync, micro_batches: int,
                 overlap: bool) -> None:
        self.index, self.module, self.strategy, self.place = index, module, strategy, place
        self.compute_dtype, self.device, self.sync = compute_dtype, device, sync
        self.micro_batches, self.overlap = micro_batches, overlap
        if strategy.selective and not strategy.recompute:
            for m in module.modules():
                if hasattr(m, "recompute_core"):
                    m.recompute_core = True
        self.binding = ParamBinding(module)
        flat = self.binding.flatten().to(device)
        module.to(device)  # buffers (attention masks, index tables)
        self.numel = flat.numel()
        self.fsdp = strategy.fsdp and place.dp > 1
        self.zero = strategy.zero if place.dp > 1 and not self.fsdp else 0
        self.next_fsdp: Optional["LayerRunner"] = None  # the next fsdp layer of the stage (forward prefetch)
        self.prev_fsdp: Optional["LayerRunner"] = None  # the previous one (backward prefetch)
        self._fwd_done = 0
        if self.fsdp:
            padded = self._padded_for_shards(flat, device)
            self.shard = nn.Parameter(padded[place.dp_index * self.shard_len:(place.dp_index + 1) * self.shard_len].clone())
            self.shard_grad: Optional[torch.Tensor] = None
            self._gathers: Dict[int, Tuple[Any, Any]] = {}  # mb -> (out, work) in flight or done
            self._bwd_full: Dict[int, torch.Tensor] = {}
            self._cur_full: Optional[torch.Tensor] = None
            self.flat = None  # type: ignore[assignment]
        elif self.zero:
            padded = self._padded_for_shards(flat, device)
            lo = place.dp_index * self.shard_len
            self.weights = nn.Parameter(padded.to(compute_dtype) if compute_dtype != torch.float32 else padded)
            # The optimizer's fp32 master shard: a view of the weights in fp32 training (no copy).
            master = self.weights.data[lo:lo + self.shard_len] if compute_dtype == torch.float32 else padded[lo:lo + self.shard_len].clone()
            self.master = nn.Parameter(master)
            self.main_grad: Optional[torch.Tensor] = None  # ZeRO-1, 16-bit: the kept fp32 gradient buffer
            self.shard_grad = None
            self._acc_count = 0
            self.flat = None  # type: ignore[assignment]
            self._acc = self.weights.expand_as(self.weights).grad_fn.next_functions[0][0]  # type: ignore[union-attr]
            self._acc.register_hook(self._on_zero_accumulated)
        else:
            self.flat = nn.Parameter(flat)
            self._acc_count = 0
            self._compute_copy: Optional[torch.Tensor] = None
            if place.dp > 1:
                # The AccumulateGrad node of the flat tensor: its hook runs after each accumulation.
                self._acc = self.flat.expand_as(self.flat).grad_fn.next_functions[0][0]  # type: ignore[union-attr]
                self._acc.register_hook(self._on_accumulated)

    def _padded_for_shards(self, flat: torch.Tensor, device: torch.device) -> torch.Tensor:
        """`flat` zero-padded to a multiple of dp (fsdp and ZeRO shards are equal); sets padded and shard_len."""
        dp = self.place.dp
        self.padded = -(-self.numel // dp) * dp
        self.shard_len = self.padded // dp
        padded = torch.zeros(self.padded, device=device)
        padded[: self.numel] = flat
        return padded

    # ---- parameters the optimizer and the checkpoint see -----------------------------------------

    @property
    def param(self) -> nn.Parameter:
        """What the optimizer updates: the fsdp shard, the ZeRO master shard, or the flat tensor."""
        return self.shard if self.fsdp else self.master if self.zero else self.flat

    def param_bytes(self) -> int:
        p = self.param
        return p.numel() * p.element_size()

    def state_bytes(self, optimizer: torch.optim.Optimizer) -> int:
        """Model-state bytes this layer keeps across the step: its parameter (fp32 master or shard),
        the gradient, the 16-bit compute copy (replicated layers in 16-bit compute) and the optimizer's
        moments. Called after the optimizer step; configs/model-state.ts prices the same tensors."""
        p = self.param
        total = p.numel() * p.element_size()
        if self.zero:
            # The full weights; the master shard counts only where it is not a view of them; the
            # gradient kept is the full fp32 one (ZeRO-1) or this rank's shard of it (ZeRO-2).
            total = self.weights.numel() * self.weights.element_size()
            if p.data_ptr() < self.weights.data_ptr() or p.data_ptr() >= self.weights.data_ptr() + total:
                total += p.numel() * p.element_size()
            for g in ((self.main_grad, self.weights.grad) if self.zero == 1 else (self.shard_grad,)):
                if g is not None:
                    total += g.numel() * g.element_size()
        elif p.grad is not None:
            total += p.grad.numel() * p.grad.element_size()
        if not self.fsdp and not self.zero and self._compute_copy is not None:
            total += self._compute_copy.numel() * self._compute_copy.element_size()
        for t in optimizer.state.get(p, {}).values():
            if torch.is_tensor(t) and t.numel() > 1:  # exp_avg, exp_avg_sq; not the scalar step count
                total += t.numel() * t.element_size()
        return total

    def zero_grad(self) -> None:
        if self.fsdp:
            self.shard.grad = None
            self.shard_grad = None
        elif self.zero:
            self.weights.grad = None
            self.master.grad = None
            self.shard_grad = None
            if self.main_grad is not None:
                self.main_grad.zero_()
            self._acc_count = 0
        else:
            self.flat.grad = None
            self._acc_count = 0
            self._compute_copy = None

    def before_optimizer(self) -> None:
        if self.zero:
            self.master.grad = self.shard_grad if self.shard_grad is not None else torch.zeros_like(self.master)
            return
        if self.fsdp:
            self.shard.grad = self.shard_grad if self.shard_grad is not None else torch.zeros_like(self.shard)
            if self._gathers or self._bwd_full:
                raise RuntimeError(f"layer {self.index}: fsdp gathers left over at the end of the step")

    def after_optimizer(self) -> None:
        """ZeRO-1/2: all-gather the updated master shards into the full weights (also after a resume)."""
        if not self.zero:
            return
        with torch.no_grad():
            out, work = comm.all_gather_flat(self.master.detach().to(self.weights.dtype), self.place.dp_group, self.place.dp)
            self.weights.data.copy_(comm.finish_gather(out, work))

    # ---- data parallel ---------------------------------------------------------------------------

    def dp_grad(self) -> Optional[torch.Tensor]:
        """The full gradient the once-per-iteration all-reduce sums (data parallel and ZeRO-1)."""
        if self.zero:
            return self.main_grad if self.main_grad is not None else self.weights.grad
        return self.flat.grad

    def on_reduced(self) -> None:
        """After the all-reduce: ZeRO-1 keeps this rank's shard of the summed gradient."""
        if self.zero == 1:
            full = self.dp_grad()
            lo = self.place.dp_index * self.shard_len
            self.shard_grad = full[lo:lo + self.shard_len]  # type: ignore[index]  # a view: no second copy

    def _on_zero_accumulated(self, *_: Any) -> None:
        self._acc_count += 1
        g = self.weights.grad
        if g is None:
            return
        if self.zero == 2:  # every micro-batch: reduce-scatter, keep the shard only
            self.weights.grad = None
            self.sync.fsdp_grad(self, g.detach().float().contiguous())
            return
        if self.weights.dtype != torch.float32:  # ZeRO-1, 16-bit: add into the kept fp32 buffer
            if self.main_grad is None:
                self.main_grad = torch.zeros(self.padded, device=g.device)
            self.main_grad.add_(g.detach().float())
            self.weights.grad = None
        if self._acc_count == self.micro_batches:
            self.sync.dp_ready(self)

    def _on_accumulated(self, *_: Any) -> None:
        self._acc_count += 1
        if self._acc_count == self.micro_batches:
            self.sync.dp_ready(self)

    # ---- fully sharded ---------------------------------------------------------------------------

    def prefetch(self, mb: int) -> None:
        """Start the all-gather of this layer's parameters for micro-batch mb (no-op if started)."""
        if mb in self._gathers:
            return
        src = self.shard.detach().to(self.compute_dtype)
        self._gathers[mb] = comm.all_gather_flat(src, self.place.dp_group, self.place.dp, async_op=True)

    def gathered(self, mb: int) -> torch.Tensor:
        if mb not in self._gathers:
            self.prefetch(mb)
        out, work = self._gathers.pop(mb)
        return comm.finish_gather(out, work)

    def on_full_grad(self, mb: int, g: torch.Tensor) -> None:
        self._bwd_full.pop(mb, None)
        if mb in self._gathers:  # prefetched for a backward that needed no parameters
            self.gathered(mb)
        self.sync.fsdp_grad(self, g.detach().float().contiguous().clone())

    def add_shard_grad(self, g: torch.Tensor) -> None:
        self.shard_grad = g.clone() if self.shard_grad is None else self.shard_grad.add_(g)

    def _backward_full(self, mb: int) -> torch.Tensor:
        full = self._bwd_full.get(mb)
        if full is None:
            full = self.gathered(mb)
            self._bwd_full[mb] = full
            if self.overlap and self.prev_fsdp is not None:
                self.prev_fsdp.prefetch(mb)
        return full

    def _pack(self, t: torch.Tensor) -> Any:
        full = self._cur_full
        if full is not None and t.dtype == full.dtype and t.device == full.device:
            base = full.data_ptr()
            ptr = t.data_ptr()
            if base <= ptr < base + full.numel() * full.element_size():
                return ("fsdp-param", t.storage_offset() - full.storage_offset(), tuple(t.shape), t.stride())
        return t

    def _make_unpack(self, mb: int):
        def unpack(packed: Any) -> torch.Tensor:
            if isinstance(packed, tuple) and len(packed) == 4 and packed[0] == "fsdp-param":
                _, offset, size, stride = packed
                return torch.as_strided(self._backward_full(mb), size, stride, offset)
            return packed
        return unpack

    # ---- forward ---------------------------------------------------------------------------------

    def _run(self, p: torch.Tensor, mb: int, x: Any, enc: Optional[torch.Tensor]) -> torch.Tensor:
        if self.fsdp:
            if self.strategy.recompute and torch.is_grad_enabled() and self.overlap and self.prev_fsdp is not None:
                self.prev_fsdp.prefetch(mb)  # recomputation inside backward: the previous layer is next
            full = _FsdpGather.apply(p, self, mb)
        else:
            full = p
        self.binding.bind(full)
        try:
            if self.fsdp and torch.is_grad_enabled() and not self.strategy.recompute:
                self._cur_full = full
                with torch.autograd.graph.saved_tensors_hooks(self._pack, self._make_unpack(mb)):
                    return self.module(x, encoder_out=enc)
            return self.module(x, encoder_out=enc)
        finally:
            self._cur_full = None
            self.binding.unbind()

    def forward(self, mb: int, x: Any, enc: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.fsdp:
            p: torch.Tensor = self.shard
        elif self.zero:
            p = self.weights  # already in the compute dtype
        elif self.compute_dtype == self.flat.dtype:
            p = self.flat
        else:
            # One low-precision copy per step, shared by the micro-batches (its cast node saves nothing,
            # so every micro-batch's backward can pass through it into the fp32 gradient).
            if self._compute_copy is None:
                self._compute_copy = self.flat.to(self.compute_dtype)
            p = self._compute_copy
        if self.fsdp and self.overlap and self.next_fsdp is not None:
            self.next_fsdp.prefetch(mb)  # one layer ahead
        if self.strategy.recompute:
            return ckpt.checkpoint(lambda pp, xx, ee: self._run(pp, mb, xx, ee), p, x, enc, use_reentrant=True)
        return self._run(p, mb, x, enc)
