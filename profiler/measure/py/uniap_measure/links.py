"""Collective and point-to-point timings for one (collective, group size, message size).

Every rank runs the same call; the world is split into consecutive groups of `group_size` ranks that
all run at once (as the planner's groups do), so contention between groups is inside the numbers.
Message size is the full buffer (all-gather, reduce-scatter: the gathered size), as in nccl-tests.
Gloo has no reduce_scatter: it is emulated by an all-reduce of the full buffer followed by a slice,
and the result says `emulated: true`.
"""
import torch
import torch.distributed as dist

from .stats import now_ms, sync


def _elements(nbytes, group_size):
    # float32 elements, a multiple of the group size so the buffer splits evenly.
    n = max(group_size, nbytes // 4)
    return n - n % group_size


class LinkBench:
    def __init__(self, groups, ctrl, device, backend):
        self.groups = groups  # group size -> (process group, ranks)
        self.ctrl = ctrl
        self.device = device
        self.backend = backend
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()

    def run(self, task):
        coll = task['collective']
        g = task['groupSize']
        nbytes = task['bytes']
        if coll == 'p2p':
            op, emulated = self._p2p(nbytes)
        else:
            group, _ranks = self.groups[g]
            op, emulated = self._collective(coll, group, g, nbytes)
        samples = self._time(op, task)
        if coll == 'p2p':
            samples = [s / 2.0 for s in samples]  # a round trip carries the message twice
        return {'samples': samples, 'emulated': emulated}

    def _time(self, op, task):
        for _ in range(task.get('warmup', 2)):
            op()
        sync(self.device)
        samples = []
        # Repetitions: at least minReps, then more while under the time budget (up to maxReps). The
        # decision is taken by rank 0 and broadcast, so every rank runs the same number of calls.
        min_reps, max_reps, budget = task.get('minReps', 3), task.get('maxReps', 20), task.get('budgetMs', 300.0)
        spent = 0.0
        while True:
            dist.barrier(group=self.ctrl)
            t0 = now_ms()
            op()
            sync(self.device)
            dt = now_ms() - t0
            samples.append(dt)
            spent += dt
            go = torch.tensor([1 if (len(samples) < min_reps or (spent < budget and len(samples) < max_reps)) else 0])
            dist.broadcast(go, src=0, group=self.ctrl)
            if int(go.item()) == 0:
                break
        return samples

    def _collective(self, coll, group, g, nbytes):
        n = _elements(nbytes, g)
        dev = self.device
        if coll == 'all-reduce':
            buf = torch.ones(n, dtype=torch.float32, device=dev)
            return (lambda: dist.all_reduce(buf, group=group)), False
        if coll == 'all-gather':
            part = torch.ones(n // g, dtype=torch.float32, device=dev)
            if self.backend == 'nccl' and hasattr(dist, 'all_gather_into_tensor'):
                out = torch.empty(n, dtype=torch.float32, device=dev)
                return (lambda: dist.all_gather_into_tensor(out, part, group=group)), False
            outs = [torch.empty(n // g, dtype=torch.float32, device=dev) for _ in range(g)]
            return (lambda: dist.all_gather(outs, part, group=group)), False
        if coll == 'reduce-scatter':
            full = torch.ones(n, dtype=torch.float32, device=dev)
            out = torch.empty(n // g, dtype=torch.float32, device=dev)
            if self.backend == 'nccl' and hasattr(dist, 'reduce_scatter_tensor'):
                return (lambda: dist.reduce_scatter_tensor(out, full, group=group)), False
            if self.backend == 'nccl':
                parts = list(full.chunk(g))
                return (lambda: dist.reduce_scatter(out, parts, group=group)), False
            # Gloo: all-reduce the full buffer, keep this rank's slice.
            idx = _group_index(self.groups[g][1], self.rank)

            def emulated():
                dist.all_reduce(full, group=group)
                out.copy_(full.narrow(0, idx * (n // g), n // g))

            return emulated, True
        raise ValueError(f'unknown collective {coll}')

    def _p2p(self, nbytes):
        # Pairs (0,1), (2,3), ... exchange at once; one sample is a round trip, halved: the one-way
        # time of one message. An odd last rank idles.
        n = _elements(nbytes, 1)
        buf = torch.ones(n, dtype=torch.float32, device=self.device)
        peer = self.rank ^ 1
        active = peer < self.world

        def op():
            if not active:
                return
            if self.rank % 2 == 0:
                dist.send(buf, peer)
                dist.recv(buf, peer)
            else:
                dist.recv(buf, peer)
                dist.send(buf, peer)

        return op, False


def _group_index(ranks, rank):
    return ranks.index(rank)
