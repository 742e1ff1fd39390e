"""The same model as plain single-device PyTorch: the layers of layers.py (tp = 1) in a ModuleList,
the head's weight truly shared with its embedding when tied. The reference the executor is checked
against (tests) and the model plain DDP trains in the benchmark (ddp_baseline.py)."""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn as nn

from uniap_torch.layers import TPGroup, build_layer
from .spec import RunSpec


class PlainModel(nn.Module):
    def __init__(self, spec: RunSpec, seed: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.spec = spec
        tie = spec.tie_source()
        self.layers = nn.ModuleList([
            build_layer(l, spec.layer_facts[l["index"]], TPGroup.single(), dtype, seed) for l in spec.layers])
        for u in spec.tied_layers():
            if u != tie:
                self.layers[u].weight = self.layers[tie].weight  # one parameter, gradients summed by autograd

    def forward(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy of the samples in `batch` (keys as data.DataSource.batch)."""
        spec = self.spec
        state = None
        for u, layer in enumerate(self.layers):
            kind = spec.layers[u]["type"]
            if kind == "embedding":
                key = "enc_tokens" if spec.has_encoder_chain() and spec.layers[u]["chain"] == "encoder" else "tokens"
                x = layer(batch[key])
                state = [x, state[0]] if spec.is_decoder_embedding(u) and state is not None else [x]
            elif kind == "patch-embedding":
                state = [layer(batch["images"])]
            elif kind == "head":
                assert state is not None
                return layer.loss(layer(state[0]), batch["labels"])
            else:
                assert state is not None
                state = [layer(state[0], encoder_out=state[1] if kind == "cross-decoder" else None)] + state[1:]
        raise RuntimeError("model has no head")
