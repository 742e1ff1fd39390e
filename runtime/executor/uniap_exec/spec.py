"""Reads MODEL.json (a resolved ModelSpec) and PLAN.json (a Plan) and derives this rank's layout.

The JSON shapes are the TypeScript contracts configs/model-spec.ts and planner/plan.ts. The
executor trusts the planner for costs, not for consistency: every check that could make ranks
disagree (coverage of layers and ranks, dp * tp = stage size, batch divisibility) fails here, before
any process group exists, with a message that names the fix.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple


class SpecError(ValueError):
    """A plan or model the executor cannot run; the message names the problem and the fix."""


@dataclass(frozen=True)
class LayerStrategy:
    dp: int
    tp: int
    fsdp: bool
    recompute: bool


@dataclass
class Stage:
    index: int
    first_layer: int
    last_layer: int
    first_rank: int
    size: int
    strategies: Dict[int, LayerStrategy]  # layer index -> strategy

    @property
    def ranks(self) -> List[int]:
        return list(range(self.first_rank, self.first_rank + self.size))

    @property
    def layer_ids(self) -> List[int]:
        return list(range(self.first_layer, self.last_layer + 1))


def load_json(path: str) -> Any:
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


class RunSpec:
    """The model and plan, validated, with the questions the executor asks of them."""

    def __init__(self, model: Dict[str, Any], plan: Dict[str, Any], world_size: int) -> None:
        self.model, self.plan = model, plan
        self.layers: List[Dict[str, Any]] = model.get("layers") or []
        if not self.layers:
            raise SpecError("model has no layers; pass a resolved ModelSpec (configs/model-spec.ts) as --model")
        for i, l in enumerate(self.layers):
            if l.get("index") != i:
                raise SpecError(f"model layer {i} has index {l.get('index')}; layers must be in index order")
        if self.layers[-1]["type"] != "head":
            raise SpecError(f"the last layer is {self.layers[-1]['type']!r}; the executor needs a head layer last")
        self.family: str = model.get("family", "decoder-only")
        self.global_batch = int(plan["globalBatch"])
        self.micro_batches = int(plan["microBatches"])
        self.micro_batch = int(plan["microBatchSize"])
        self.schedule: str = plan.get("schedule", "gpipe")
        if self.schedule not in ("gpipe", "1f1b"):
            raise SpecError(f"plan schedule {self.schedule!r} is not gpipe or 1f1b")
        if self.micro_batch * self.micro_batches != self.global_batch:
            raise SpecError(
                f"plan: microBatchSize {self.micro_batch} x microBatches {self.micro_batches} != globalBatch "
                f"{self.global_batch}; make microBatchSize = globalBatch / microBatches")
        self.stages = self._read_stages(world_size)
        self.plan_fingerprint = fingerprint({"plan": {k: plan.get(k) for k in (
            "globalBatch", "microBatches", "microBatchSize", "schedule", "stages")}, "model": self.layers})

    # ---- validation -------------------------------------------------------------------------------

    def _read_stages(self, world_size: int) -> List[Stage]:
        stages: List[Stage] = []
        next_layer, next_rank = 0, 0
        raw = self.plan.get("stages") or []
        if not raw:
            raise SpecError("plan has no stages")
        for i, s in enumerate(raw):
            lo, hi = int(s["layers"][0]), int(s["layers"][1])
            r0, rn = int(s["ranks"][0]), int(s["ranks"][1])
            if lo != next_layer or hi < lo:
                raise SpecError(f"plan stage {i}: layers [{lo}, {hi}] do not continue from layer {next_layer}; "
                                "stages must cover the layers in order")
            if r0 != next_rank or rn < 1:
                raise SpecError(f"plan stage {i}: ranks [{r0}, {rn}] do not continue from rank {next_rank}")
            strategies: Dict[int, LayerStrategy] = {}
            for run in s["strategies"]:
                a, b = int(run["layers"][0]), int(run["layers"][1])
                st = LayerStrategy(int(run["dp"]), int(run["tp"]), bool(run.get("fsdp", False)),
                                   bool(run.get("recompute", False)))
                if st.dp * st.tp != rn:
                    raise SpecError(f"plan stage {i}: layers [{a}, {b}] use dp {st.dp} x tp {st.tp} = "
                                    f"{st.dp * st.tp} devices but the stage has {rn}; make dp * tp = {rn}")
                if self.micro_batch % st.dp != 0:
                    raise SpecError(f"plan stage {i}: microBatchSize {self.micro_batch} is not divisible by dp "
                                    f"{st.dp} of layers [{a}, {b}]; pick a micro-batch size that dp divides")
                for u in range(a, b + 1):
                    if u in strategies:
                        raise SpecError(f"plan stage {i}: layer {u} has two strategies")
                    strategies[u] = st
            missing = [u for u in range(lo, hi + 1) if u not in strategies]
            extra = [u for u in strategies if u < lo or u > hi]
            if missing or extra:
                raise SpecError(f"plan stage {i}: strategies must cover layers [{lo}, {hi}] exactly "
                                f"(missing {missing[:5]}, outside {extra[:5]})")
            stages.append(Stage(i, lo, hi, r0, rn, strategies))
            next_layer, next_rank = hi + 1, r0 + rn
        if next_layer != len(self.layers):
            raise SpecError(f"plan stages end at layer {next_layer - 1} but the model has {len(self.layers)} layers; "
                            "was the plan made for another model?")
        if next_rank != world_size:
            raise SpecError(f"plan uses {next_rank} ranks but WORLD_SIZE is {world_size}; launch {next_rank} processes")
        return stages

    # ---- questions --------------------------------------------------------------------------------

    def stage_of_rank(self, rank: int) -> Stage:
        for s in self.stages:
            if s.first_rank <= rank < s.first_rank + s.size:
                return s
        raise SpecError(f"rank {rank} is in no stage of the plan")

    def strategy(self, layer: int) -> LayerStrategy:
        for s in self.stages:
            if s.first_layer <= layer <= s.last_layer:
                return s.strategies[layer]
        raise SpecError(f"layer {layer} is in no stage")

    def stage_of_layer(self, layer: int) -> Stage:
        for s in self.stages:
            if s.first_layer <= layer <= s.last_layer:
                return s
        raise SpecError(f"layer {layer} is in no stage")

    def has_encoder_chain(self) -> bool:
        return self.family == "encoder-decoder"

    def encoder_last_layer(self) -> int:
        """Index of the encoder chain's last layer (encoder-decoder models)."""
        enc = [l["index"] for l in self.layers if l["chain"] == "encoder"]
        if not enc:
            raise SpecError("encoder-decoder model without encoder-chain layers")
        return max(enc)

    def is_decoder_embedding(self, layer: int) -> bool:
        """The embedding that starts the decoder chain of an encoder-decoder model (it moves the
        encoder output aside as encoder_out)."""
        l = self.layers[layer]
        return self.has_encoder_chain() and l["type"] == "embedding" and l["chain"] == "decoder"

    def position_for(self, layer: int) -> Optional[str]:
        """The chain's position scheme (rope / relative), read from the chain's embedding."""
        chain = self.layers[layer]["chain"]
        for l in self.layers:
            if l["chain"] == chain and l["type"] == "embedding" and l["positionEmbedding"] in ("rope", "relative"):
                return l["positionEmbedding"]
        return None

    def pool(self) -> str:
        return "mean" if any(l["type"] == "swin" for l in self.layers) else "cls"

    def tie_source(self) -> Optional[int]:
        """The embedding that owns the token table the tied layers share (the first embedding without
        tiedEmbedding), or None when no layer is tied."""
        if not self.tied_layers():
            return None
        owners = [l["index"] for l in self.layers if l["type"] == "embedding" and not l["tiedEmbedding"]]
        if not owners:
            raise SpecError("layers have tiedEmbedding but no embedding owns a token table")
        return owners[0]

    def tied_layers(self) -> List[int]:
        """Every layer that shares the token table, its owner included (T5: encoder embedding, decoder
        embedding, head; GPT-2: embedding, head). Empty when nothing is tied."""
        tied = [l["index"] for l in self.layers if l["tiedEmbedding"] and (
            l["type"] == "embedding" or (l["type"] == "head" and self.family != "vision"))]
        if not tied:
            return []
        owners = [l["index"] for l in self.layers if l["type"] == "embedding" and not l["tiedEmbedding"]]
        if not owners:
            raise SpecError("layers have tiedEmbedding but no embedding owns a token table")
        members = sorted({owners[0], *tied})
        v, h = self.layers[owners[0]]["vocabSize"], self.layers[owners[0]]["hiddenSize"]
        for u in members:
            if self.layers[u]["vocabSize"] != v or self.layers[u]["hiddenSize"] != h:
                raise SpecError(f"layer {u} is tied to embedding {owners[0]} but differs in vocabSize or hiddenSize")
        return members

    def state_shapes(self, layer: int) -> List[Tuple[int, ...]]:
        """Per-sample shapes of the activations flowing out of `layer` to the next one:
        [x] or [x, encoder_out] (decoder chain of an encoder-decoder model)."""
        l = self.layers[layer]
        shapes: List[Tuple[int, ...]] = [(l["seqLength"], l["hiddenSize"])]
        if self.has_encoder_chain() and l["chain"] == "decoder":
            e = self.layers[self.encoder_last_layer()]
            shapes.append((e["seqLength"], e["hiddenSize"]))
        return shapes

    def tokens_per_sample(self) -> int:
        head = self.layers[-1]
        if self.has_encoder_chain():
            e = self.layers[self.encoder_last_layer()]
            return int(e["seqLength"]) + int(head["seqLength"])
        return int(head["seqLength"])
