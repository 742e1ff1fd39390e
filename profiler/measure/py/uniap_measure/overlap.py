"""Slowdown of compute while communication runs at the same time (Profile.overlapSlowdown).

Compute: a chain of square matmuls (T0 alone). Communication: back-to-back asynchronous all-reduces
over all ranks (Tc alone). Then both at once: the all-reduces are launched, the same compute runs,
its time is T1. The slowdown is the extra compute time per unit of overlapped communication time:
    s = max(0, T1 - T0) / min(Tc, T1)
so a cost model adds s * (overlapped communication ms) to the compute it overlaps (0 = perfect).
"""
import torch
import torch.distributed as dist

from .stats import median, now_ms, sync


def run_overlap(task, ctrl, device):
    gpu = device.type == 'cuda'
    # GPUs: large enough that kernel launches do not dominate (4096^2 matmuls, 64 MiB messages).
    n = task.get('gpuMatrix', 4096) if gpu else task.get('matrix', 512)
    reps = task.get('reps', 5)
    target_ms = task.get('targetMs', 100.0)
    comm_bytes = task.get('gpuCommBytes', 64 << 20) if gpu else task.get('commBytes', 4 << 20)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    buf = torch.ones(max(1, comm_bytes // 4), dtype=torch.float32, device=device)

    def compute(k):
        c = a
        for _ in range(k):
            c = torch.mm(c, b)
            c = c * (1.0 / n)  # keep values finite
        # Wait for the compute stream only: NCCL runs on its own stream, which a device-wide
        # synchronize would wait for too (and count as compute).
        if device.type == 'cuda':
            torch.cuda.current_stream(device).synchronize()
        return c

    # Calibrate both sides to about target_ms; every rank uses rank 0's counts.
    compute(2)
    t0 = now_ms()
    compute(4)
    per_mm = max(1e-3, (now_ms() - t0) / 4)
    dist.all_reduce(buf)
    sync(device)
    t0 = now_ms()
    dist.all_reduce(buf)
    sync(device)
    per_ar = max(1e-3, now_ms() - t0)
    counts = torch.tensor([max(1, int(target_ms / per_mm)), max(1, int(target_ms / per_ar))])
    dist.broadcast(counts, src=0, group=ctrl)
    k_mm, k_ar = int(counts[0]), int(counts[1])

    alone, comm, both = [], [], []
    for _ in range(reps):
        dist.barrier(group=ctrl)
        t0 = now_ms()
        compute(k_mm)
        alone.append(now_ms() - t0)

        dist.barrier(group=ctrl)
        t0 = now_ms()
        works = [dist.all_reduce(buf, async_op=True) for _ in range(k_ar)]
        for w in works:
            w.wait()
        sync(device)
        comm.append(now_ms() - t0)

        dist.barrier(group=ctrl)
        works = [dist.all_reduce(buf, async_op=True) for _ in range(k_ar)]
        t0 = now_ms()
        compute(k_mm)
        both.append(now_ms() - t0)
        for w in works:
            w.wait()
        sync(device)
    t_alone, t_comm, t_both = median(alone), median(comm), median(both)
    overlapped = min(t_comm, t_both)
    slowdown = max(0.0, t_both - t_alone) / overlapped if overlapped > 0 else 0.0
    return {
        'computeAloneMs': t_alone,
        'commAloneMs': t_comm,
        'computeOverlappedMs': t_both,
        'slowdown': slowdown,
        'samplesAlone': alone,
        'samplesBoth': both,
    }
