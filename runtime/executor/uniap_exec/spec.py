"""Reads MODEL.json (a resolved ModelSpec with its facts) and PLAN.json (a Plan) for this rank.

The JSON shapes are the TypeScript contracts configs/model-spec.ts, configs/model-facts.ts and
planner/plan.ts. Plans are validated once, in TypeScript (planner/plan-io.ts checkPlanForModel),
before any executor starts (runtime/executor/run-files.ts writes both files); the model facts are
resolved once there too. This module only asserts the shapes it reads, so a file that did not come
through uniap fails with one message naming the fix instead of a KeyError.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple


FACTS_VERSION = 3  # configs/model-facts.ts MODEL_FACTS_VERSION


class SpecError(ValueError):
    """A plan or model the executor cannot run; the message names the problem and the fix."""


@dataclass(frozen=True)
class LayerStrategy:
    dp: int
    tp: int
    fsdp: bool
    recompute: bool
    zero: int = 0  # ZeRO stage of a layer that is not fully sharded: 0, 1 or 2 (planner/strategy.ts)
    sp: bool = False  # Megatron sequence parallelism over the tp group
    selective: bool = False  # selective recomputation: the attention core only
    cp: int = 1  # context parallelism: the ranks of one row shard also split the sequence cp ways
    cp_comm: str = "a2a"  # how attention sees the whole sequence: Ulysses all-to-all (a2a) or ring attention (p2p)

    @property
    def grad_dp(self) -> int:
        """Ranks that hold the same parameters and sum their gradients: dp x cp (planner/rank-layout.ts cpGroups)."""
        return self.dp * self.cp

    def sequence_split(self) -> Optional[str]:
        """How the layer splits its input and output along the sequence: 'sp' (over tp), 'cp', or None."""
        if self.cp > 1:
            return "cp"
        return "sp" if self.sp and self.tp > 1 else None

    def sequence_sharded_with(self, other: "LayerStrategy") -> bool:
        """Consecutive layers pass the sequence slice as is (planner/strategy.ts sequenceShardedBetween)."""
        kind = self.sequence_split()
        return kind is not None and kind == other.sequence_split() and (self.dp, self.tp, self.cp) == (other.dp, other.tp, other.cp)


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
        facts = model.get("facts")
        if not self.layers or not isinstance(facts, dict) or len(facts.get("layers") or []) != len(self.layers):
            raise SpecError("the model file has no layers or no resolved facts; pass the model JSON uniap writes "
                            "(configs/model-facts.ts withFacts), e.g. through `uniap launch`")
        if facts.get("schemaVersion") != FACTS_VERSION:
            raise SpecError(f"model facts schema version {facts.get('schemaVersion')} is not {FACTS_VERSION}; "
                            "run the executor of the same uniap checkout that wrote the model file")
        self.facts: Dict[str, Any] = facts
        self.layer_facts: List[Dict[str, Any]] = facts["layers"]
        self.family: str = model["family"]
        self.global_batch = int(plan["globalBatch"])
        self.micro_batches = int(plan["microBatches"])
        self.micro_batch = int(plan["microBatchSize"])
        self.schedule: str = plan["schedule"]
        self.stages = self._read_stages(world_size)
        self.plan_fingerprint = fingerprint({"plan": {k: plan.get(k) for k in (
            "globalBatch", "microBatches", "microBatchSize", "schedule", "stages")}, "model": self.layers})

    # ---- validation -------------------------------------------------------------------------------

    def _read_stages(self, world_size: int) -> List[Stage]:
        """The plan's stages as this executor uses them. Coverage of layers and ranks, dp * tp = stage
        size, divisibility: checked by the TypeScript validator; asserted here only where a violation
        would make ranks disagree silently."""
        stages: List[Stage] = []
        for i, s in enumerate(self.plan["stages"]):
            lo, hi = int(s["layers"][0]), int(s["layers"][1])
            r0, rn = int(s["ranks"][0]), int(s["ranks"][1])
            strategies: Dict[int, LayerStrategy] = {}
            for run in s["strategies"]:
                st = LayerStrategy(int(run["dp"]), int(run["tp"]), bool(run["fsdp"]), bool(run["recompute"]),
                                   int(run.get("zero", 0)), bool(run.get("sp", False)),
                                   bool(run.get("selectiveRecompute", False)), int(run.get("cp", 1)),
                                   str(run.get("cpComm", "a2a")))
                for u in range(int(run["layers"][0]), int(run["layers"][1]) + 1):
                    strategies[u] = st
            stages.append(Stage(i, lo, hi, r0, rn, strategies))
        covered = sorted(u for st in stages for u in st.strategies)
        ranks = sum(st.size for st in stages)
        if covered != list(range(len(self.layers))) or ranks != world_size:
            raise SpecError(f"the plan covers layers {covered[:1]}..{covered[-1:]} on {ranks} ranks, not the model's "
                            f"{len(self.layers)} layers on WORLD_SIZE {world_size}; validate and launch it with "
                            "`uniap launch` (or `uniap estimate`), which check plans before any executor starts")
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

    def tie_source(self) -> Optional[int]:
        """The embedding that owns the token table the tied layers share, or None when nothing is tied."""
        tied = self.tied_layers()
        return tied[0] if tied else None

    def tied_layers(self) -> List[int]:
        """Every layer that shares the token table, its owner first (facts.tiedLayers); empty when untied."""
        return [int(u) for u in self.facts["tiedLayers"]]

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
        """Tokens per sample for tokens/s: the model facts' (one definition with the cost model's)."""
        return int(self.facts["tokensPerSample"])
