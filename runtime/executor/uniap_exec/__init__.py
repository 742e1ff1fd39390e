"""uniap_exec: the executor that runs one rank of a uniap Plan with torch.distributed.

Entry point: `python -m uniap_exec.main` (see docs/runtime-executor.md). Layer implementations that
the profiler shares live in the `uniap_torch` package (python/uniap_torch).
"""
