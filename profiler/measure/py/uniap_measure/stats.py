"""Clocks and summary statistics shared by the benchmarks."""
import time

import torch


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def now_ms():
    return time.perf_counter() * 1000.0


def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return 0.0
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def spread(xs):
    """(max - min) / median: the relative spread the profile records."""
    m = median(xs)
    return (max(xs) - min(xs)) / m if xs and m > 0 else 0.0
