"""Forward/backward time and memory of one layer shape, built by the executor's own code.

The layer comes from `uniap_torch.layers.build_layer` (python/uniap_torch), so the Megatron-style
tensor-parallel splits and their collectives are exactly the ones training runs: TP communication
is inside the measured forward and backward times.

Memory, per device, one micro-batch:
- activation bytes kept for backward: on GPUs the CUDA allocator's growth across the forward
  (memory_allocated after - before; the output counts, the already-allocated input does not, which
  equals counting the layer's input once per layer in a chain); on CPUs the distinct storages packed
  by torch.autograd.graph.saved_tensors_hooks, parameters excluded.
- working set: peak bytes allocated during backward beyond what existed when it started (the
  gradients flowing through and the weight-gradient buffers it creates, which exist unsharded until
  FSDP's reduce-scatter; the same convention as the spec profile). GPUs: the allocator's peak
  statistic; CPUs: the torch.profiler allocation events (profile_memory=True) summed in order.
"""
import importlib

import torch

from .stats import now_ms, sync

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


class SimpleTPGroup:
    """Fallback with the attributes the executor's build_layer reads (size, rank, group)."""

    def __init__(self, size, rank, group):
        self.size = size
        self.rank = rank
        self.group = group


def load_executor():
    """The executor's layer module, or raise ImportError with the reason."""
    return importlib.import_module('uniap_torch.layers')


def make_tp_group(layers_mod, size, rank, group):
    cls = getattr(layers_mod, 'TPGroup', None)
    if cls is not None:
        try:
            return cls(size=size, rank=rank, group=group)
        except TypeError:
            try:
                return cls(size, rank, group)
            except TypeError:
                pass
    return SimpleTPGroup(size, rank, group)


def make_inputs(layers_mod, spec, b, dtype, device, gen):
    """(x, encoder_out) for one micro-batch of b samples. Uses the executor's helper when it has one."""
    helper = getattr(layers_mod, 'example_inputs', None)
    if helper is not None:
        out = helper(spec, b, dtype, device)
        if isinstance(out, tuple):
            return out[0], (out[1] if len(out) > 1 else None)
        return out, None
    t = spec['type']
    s = spec['seqLength']
    if t == 'embedding':
        return torch.randint(0, max(1, spec['vocabSize']), (b, s), generator=gen).to(device), None
    if t == 'patch-embedding':
        c, img = spec['channels'], spec['imageSize']
        return torch.randn(b, c, img, img, generator=gen).to(device=device, dtype=dtype), None
    h_in = spec['inputHiddenSize'] or spec['hiddenSize']
    tokens = s * 4 if (t == 'swin' and spec.get('patchMerging')) else s
    x = torch.randn(b, tokens, h_in, generator=gen).to(device=device, dtype=dtype)
    enc = None
    if t == 'cross-decoder':
        enc = torch.randn(b, spec['encoderSeqLength'], spec['hiddenSize'], generator=gen).to(device=device, dtype=dtype)
    return x, enc


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, torch.Tensor):
                return o
    raise TypeError(f'layer forward returned {type(out).__name__}, expected a tensor')


def _storage_key(t):
    s = t.storage()
    return s.data_ptr(), s.device.type if hasattr(s, 'device') else ''


def _storage_bytes(t):
    s = t.storage()
    if hasattr(s, 'nbytes'):
        return int(s.nbytes())
    return int(s.size() * s.element_size())


class LayerBench:
    def __init__(self, layers_mod, tp_groups, ctrl, device):
        self.mod = layers_mod
        self.tp_groups = tp_groups  # tp degree -> (process group or None, ranks)
        self.ctrl = ctrl
        self.device = device

    def run(self, task):
        spec = task['layer']
        tp = task['tp']
        b = task['microBatch']
        dtype = DTYPES[task['dtype']]
        seed = int(task.get('seed', 1234))
        rank = torch.distributed.get_rank()
        if tp > 1:
            group, ranks = self.tp_groups[tp]
            tpg = make_tp_group(self.mod, tp, ranks.index(rank), group)
        else:
            tpg = make_tp_group(self.mod, 1, 0, None)
        torch.manual_seed(seed)
        module = self.mod.build_layer(spec, task['facts'], tpg, dtype, seed)
        module = module.to(self.device)
        module.train()
        gen = torch.Generator().manual_seed(seed + 1)
        x, enc = make_inputs(self.mod, spec, b, dtype, self.device, gen)
        floating = x.is_floating_point()
        params = [p for p in module.parameters()]
        param_bytes = sum(p.numel() * p.element_size() for p in params)

        def forward():
            xi = x.detach().requires_grad_(True) if floating else x
            out = module(xi, encoder_out=enc) if enc is not None else module(xi)
            return _first_tensor(out)

        # Gradient of the output, generated once (its shape is this rank's output shape).
        with torch.no_grad():
            probe = forward()
        gout = torch.randn(probe.shape, generator=gen).to(device=self.device, dtype=probe.dtype)
        del probe

        fwd, bwd = [], []
        total = task.get('warmup', 2) + task.get('reps', 5)
        for i in range(total):
            module.zero_grad(set_to_none=True)
            torch.distributed.barrier(group=self.ctrl)
            sync(self.device)
            t0 = now_ms()
            out = forward()
            sync(self.device)
            t1 = now_ms()
            out.backward(gout)
            sync(self.device)
            t2 = now_ms()
            del out
            if i >= task.get('warmup', 2):
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)

        module.zero_grad(set_to_none=True)
        torch.distributed.barrier(group=self.ctrl)
        if self.device.type == 'cuda':
            act, ws, method = self._memory_cuda(forward, gout)
        else:
            act, ws, method = self._memory_cpu(forward, gout, params)
        return {
            'forwardSamples': fwd,
            'backwardSamples': bwd,
            'activationBytes': int(act),
            'workingSetBytes': int(max(0, ws)),
            'parameterBytes': int(param_bytes),
            'memoryMethod': method,
        }

    def _memory_cuda(self, forward, gout):
        torch.cuda.synchronize(self.device)
        before = torch.cuda.memory_allocated(self.device)
        out = forward()
        torch.cuda.synchronize(self.device)
        act = torch.cuda.memory_allocated(self.device) - before
        torch.cuda.reset_peak_memory_stats(self.device)
        start = torch.cuda.memory_allocated(self.device)
        out.backward(gout)
        torch.cuda.synchronize(self.device)
        peak = torch.cuda.max_memory_allocated(self.device) - start
        return act, peak, 'cuda-allocator'

    def _memory_cpu(self, forward, gout, params):
        param_keys = {_storage_key(p) for p in params}
        saved = {}

        def pack(t):
            if isinstance(t, torch.Tensor):
                k = _storage_key(t)
                if k not in param_keys and k not in saved:
                    saved[k] = _storage_bytes(t)
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = forward()
        act = sum(saved.values())
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out.backward(gout)
        allocs = []

        def walk(node):
            f = node.extra_fields
            if type(f).__name__ == '_ExtraFields_Allocation':
                allocs.append((node.start_time_ns, int(f.alloc_size)))
            for c in node.children:
                walk(c)

        try:
            for root in prof.profiler.kineto_results.experimental_event_tree():
                walk(root)
            cur = peak = 0
            for _, size in sorted(allocs):
                cur += size
                peak = max(peak, cur)
            return act, peak, 'saved-tensors-hooks+profiler'
        except AttributeError:
            # Other torch versions: the event tree API moved; fall back to the function events.
            cur = peak = 0
            for e in prof.events():
                cur += getattr(e, 'cpu_memory_usage', 0)
                peak = max(peak, cur)
            return act, peak, 'saved-tensors-hooks+profiler-events'
