"""uniap_torch: the PyTorch code the executor (uniap_exec) and the profiler (uniap_measure) share.

`layers` builds every ModelSpec layer type, Megatron-style tensor-parallel, from the resolved model
facts that configs/model-facts.ts writes; `comm` holds the collectives (Gloo and NCCL on one code
path, emulating what Gloo lacks) with the time they block the caller recorded. Nothing here imports
uniap_exec or uniap_measure (python/tests/test_layering.py checks it).
"""
