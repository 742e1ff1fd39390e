"""Training data: a seeded synthetic source and a tokenized-file source.

Both give, for a step, the whole global batch as a function of (seed, step) only, so every rank of
every plan sees identical samples and slices out its own micro-batch / dp share. Batches are small
(token ids), so generating the whole batch on every rank costs little and needs no communication.

Synthetic sequences are learnable (each follows a fixed random permutation of the vocabulary, 10% of
tokens replaced by noise), so the loss falls within a few steps and parity tests see real updates. Vision labels are a fixed random linear function of the image.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

from .spec import RunSpec, SpecError

def _gen(seed: int, step: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((int(seed) * 1_000_033 + int(step) * 7_919 + salt) % (2**62))


def _chains(g: torch.Generator, perm: torch.Tensor, batch: int, length: int) -> torch.Tensor:
    """Sequences that follow a fixed random permutation of the vocabulary (next = perm[current]),
    with 10% of the tokens replaced by noise: a bigram task a small model learns within a few steps."""
    vocab = perm.numel()
    seq = torch.empty(batch, length, dtype=torch.long)
    seq[:, 0] = torch.randint(0, vocab, (batch,), generator=g)
    for i in range(1, length):
        seq[:, i] = perm[seq[:, i - 1]]
    noise = torch.rand(batch, length, generator=g) < 0.1
    return torch.where(noise, torch.randint(0, vocab, (batch, length), generator=g), seq)


def _corrupt(g: torch.Generator, tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    """Encoder-only (BERT-like) inputs: 15% of positions replaced; labels are the clean tokens."""
    mask = torch.rand(tokens.shape, generator=g) < 0.15
    return torch.where(mask, torch.randint(0, vocab, tokens.shape, generator=g), tokens)


class DataSource:
    """`batch(step)` -> dict of CPU tensors for the global batch:
    decoder-only: tokens [B, s], labels [B, s]; encoder-only: tokens, labels;
    encoder-decoder: enc_tokens [B, s_enc], tokens [B, s_dec] (decoder input), labels [B, s_dec];
    vision: images [B, C, H, W], labels [B]."""

    def __init__(self, spec: RunSpec, seed: int, path: Optional[str] = None, file_dtype: Optional[str] = None) -> None:
        self.spec, self.seed = spec, seed
        self.family = spec.family
        layers = spec.layers
        self.head = layers[-1]
        self.vocab = int(self.head["vocabSize"])
        self.tokens: Optional[np.ndarray] = None
        self.perm = torch.randperm(self.vocab, generator=_gen(seed, -1, 29)) if self.vocab else torch.zeros(0)
        if self.family == "vision":
            pe = next((l for l in layers if l["type"] == "patch-embedding"), None)
            if pe is None:
                raise SpecError("vision model without a patch-embedding layer")
            self.image = (int(pe["channels"]), int(pe["imageSize"]), int(pe["imageSize"]))
            if path is not None:
                raise SpecError("--data PATH.bin is a token file; vision models train on --data synthetic")
        if self.family == "encoder-decoder":
            self.enc_len = int(layers[spec.encoder_last_layer()]["seqLength"])
        self.seq = int(self.head["seqLength"])
        if path is not None:
            dtype = file_dtype or ("uint16" if self.vocab <= 65536 else "int32")
            if dtype not in ("uint16", "int32"):
                raise SpecError(f"--data-dtype {dtype!r}: use uint16 or int32")
            self.tokens = np.memmap(path, dtype=np.dtype(dtype), mode="r")
            need = self._window()
            if self.tokens.shape[0] <= need:
                raise SpecError(f"{path}: {self.tokens.shape[0]} tokens, fewer than one sample ({need + 1})")

    def _window(self) -> int:
        if self.family == "encoder-decoder":
            return self.enc_len + self.seq + 1
        return self.seq + 1

    def _sequences(self, g: torch.Generator, batch: int, length: int) -> torch.Tensor:
        if self.tokens is None:
            return _chains(g, self.perm, batch, length)
        starts = torch.randint(0, self.tokens.shape[0] - length, (batch,), generator=g).tolist()
        rows = [np.asarray(self.tokens[s:s + length], dtype=np.int64) for s in starts]
        t = torch.from_numpy(np.stack(rows))
        if int(t.max()) >= self.vocab:
            raise SpecError(f"token id {int(t.max())} in the data file is >= the model's vocabulary {self.vocab}; "
                            "was it tokenized for another model, or is --data-dtype wrong?")
        return t

    def batch(self, step: int) -> Dict[str, torch.Tensor]:
        B = self.spec.global_batch
        g = _gen(self.seed, step)
        if self.family == "vision":
            c, h, w = self.image
            images = torch.randn(B, c, h, w, generator=g)
            proj = torch.randn(c * h * w, self.vocab, generator=_gen(self.seed, -1, 17))
            return {"images": images, "labels": (images.reshape(B, -1) @ proj).argmax(dim=1)}
        if self.family == "encoder-decoder":
            seq = self._sequences(g, B, self._window())
            return {"enc_tokens": seq[:, : self.enc_len], "tokens": seq[:, self.enc_len:-1],
                    "labels": seq[:, self.enc_len + 1:]}
        if self.family == "encoder-only":
            clean = self._sequences(g, B, self.seq)
            return {"tokens": _corrupt(g, clean, self.vocab), "labels": clean}
        seq = self._sequences(g, B, self.seq + 1)
        return {"tokens": seq[:, :-1], "labels": seq[:, 1:]}
