"""Prints one JSON object describing this interpreter, torch and the devices it sees.

Run by profiler/measure/python.ts before any measurement: it proves Python and torch import, and
its fields key the measurement cache (profiler/cache.ts). Exit code 3 means torch is missing.
"""
import json
import os
import platform
import sys


def cpu_model():
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_driver():
    try:
        with open('/proc/driver/nvidia/version', encoding='utf-8') as f:
            first = f.readline()
        # "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  ..."
        for tok in first.split():
            if tok.count('.') >= 1 and tok.replace('.', '').isdigit():
                return tok
    except OSError:
        pass
    return ''


def main():
    out = {'python': platform.python_version(), 'executable': sys.executable}
    try:
        import torch  # noqa: F401
    except Exception as e:  # ImportError, or a broken install (missing libopenblas)
        out['torchError'] = f'{type(e).__name__}: {e}'
        print(json.dumps(out))
        sys.exit(3)
    import torch
    import torch.distributed as dist
    out['torch'] = torch.__version__
    out['cpuModel'] = cpu_model()
    out['cpuCount'] = os.cpu_count() or 1
    out['cudaDevices'] = torch.cuda.device_count() if torch.cuda.is_available() else 0
    out['cuda'] = torch.version.cuda or ''
    out['gpuName'] = torch.cuda.get_device_name(0) if out['cudaDevices'] > 0 else ''
    out['gpuMemoryBytes'] = torch.cuda.get_device_properties(0).total_memory if out['cudaDevices'] > 0 else 0
    nccl = ''
    if out['cudaDevices'] > 0:
        try:
            v = torch.cuda.nccl.version()
            nccl = '.'.join(str(x) for x in v) if isinstance(v, tuple) else str(v)
        except Exception:
            nccl = ''
    out['nccl'] = nccl
    out['driver'] = nvidia_driver()
    out['gloo'] = bool(dist.is_available() and dist.is_gloo_available())
    out['ncclAvailable'] = bool(dist.is_available() and dist.is_nccl_available())
    cfg = torch.__config__.show()
    blas = ''
    for part in cfg.replace(',', ' ').split():
        if part.startswith('BLAS_INFO='):
            blas = part.split('=', 1)[1]
    out['blas'] = blas
    print(json.dumps(out))


if __name__ == '__main__':
    main()
