"""Process groups of a plan, created once, in the same order on every rank (torch requires it).

Layout (planner/rank-layout.ts, the one definition): a stage's ranks are tp-innermost, local rank = dpIndex * tp + tpIndex,
so a layer's tensor-parallel group is tp consecutive ranks and its data-parallel group the ranks of
the stage with the same tpIndex. Every (dp, tp) pair a stage uses gets its groups. Resharding between
layers of dp degrees a and b (any two divisors of the stage size g, not only multiples) stays inside
blocks of g / gcd(a, b) consecutive ranks; it uses, for each side a of the pair, groups of a / gcd(a, b)
ranks with stride g / a (the ranks holding the distinct dp-a shards of one block; shard_gather_groups,
the derivation is in planner/rank-layout.ts). When one degree divides the other only the larger side's
groups have more than one rank: r = large / small ranks with stride size / large. The tie group joins
the ranks holding a tied embedding or head. A layer with context parallelism cp (Ulysses) keeps its
rows on dp shards like any layout of data-parallel degree dp; inside a row shard's g / dp ranks the
layout is cp-major, tp-innermost, so its cp groups are cp ranks with stride tp and its parameters are
those of dp * cp replicas (cp_groups, the same derivation in planner/rank-layout.ts).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from typing import Dict, List, Optional, Tuple

from uniap_torch import comm
from uniap_torch.layers import TPGroup
from .spec import LayerStrategy, RunSpec, Stage


def stride_groups(first_rank: int, g: int, size: int, stride: int) -> List[List[int]]:
    """Groups of `size` ranks with stride `stride` in a stage of g ranks (planner/rank-layout.ts
    strideGroups, the one definition; tests/rank-layout.conformance.test.ts compares the two)."""
    return [[first_rank + b + o + j * stride for j in range(size)]
            for b in range(0, g, size * stride) for o in range(stride)]


def tp_groups(first_rank: int, g: int, tp: int) -> List[List[int]]:
    return stride_groups(first_rank, g, tp, 1)


def dp_groups(first_rank: int, g: int, dp: int) -> List[List[int]]:
    return stride_groups(first_rank, g, dp, g // dp)


def cp_groups(first_rank: int, g: int, cp: int, tp: int) -> List[List[int]]:
    """Context-parallel groups of (dp, cp, tp): cp ranks with stride tp (planner/rank-layout.ts cpGroups)."""
    return stride_groups(first_rank, g, cp, tp)


def shard_gather_groups(first_rank: int, g: int, dp: int, other: int) -> List[List[int]]:
    """Groups that all-gather the dp-shards of one block of g / gcd(dp, other) ranks: dp / gcd ranks
    with stride g / dp (planner/rank-layout.ts shardGatherGroups)."""
    h = gcd(dp, other)
    return stride_groups(first_rank, g, dp // h, g // dp)


def reshard_groups(first_rank: int, g: int, small: int, large: int) -> List[List[int]]:
    """Resharding groups of two dp degrees with large a multiple of small (the larger side's groups)."""
    return shard_gather_groups(first_rank, g, large, small)


@dataclass
class Place:
    """Where this rank sits for one layer strategy: indices and groups (None for size-1 groups)."""

    dp: int
    tp: int
    dp_index: int
    tp_index: int
    dp_group: object
    tp_group: object

    def tp_handle(self) -> TPGroup:
        return TPGroup(self.tp, self.tp_index, self.tp_group)


class Groups:
    def __init__(self, spec: RunSpec, rank: int) -> None:
        self.rank = rank
        self.stage: Stage = spec.stage_of_rank(rank)
        self.local = rank - self.stage.first_rank
        self._places: Dict[Tuple[int, int], Place] = {}
        self.tie_group: Optional[object] = None
        self.tie_ranks: List[int] = []
        # (dp, other dp) -> (group, size, this rank's index in it) for the dp side of a reshard pair
        self._gather: Dict[Tuple[int, int], Tuple[object, int, int]] = {}
        # (dp, cp, tp) -> this rank's context-parallel group handle
        self._cp: Dict[Tuple[int, int, int], TPGroup] = {}
        for st in spec.stages:
            mine = st.index == self.stage.index
            # Parameter groups: a layer of (dp, cp, tp) holds its parameters like dp * cp replicas.
            for dp in sorted({s.grad_dp for s in st.strategies.values()}):
                tp = st.size // dp
                my_dp_group = my_tp_group = None
                if tp > 1:
                    for ranks in tp_groups(st.first_rank, st.size, tp):
                        grp = comm.new_group(ranks)
                        if rank in ranks:
                            my_tp_group = grp
                if dp > 1:
                    for ranks in dp_groups(st.first_rank, st.size, dp):
                        grp = comm.new_group(ranks)
                        if rank in ranks:
                            my_dp_group = grp
                if mine:
                    self._places[(dp, tp)] = Place(dp, tp, self.local // tp, self.local % tp, my_dp_group, my_tp_group)
            for dp, cp, tp in sorted({(s.dp, s.cp, s.tp) for s in st.strategies.values() if s.cp > 1}):
                for ranks in cp_groups(st.first_rank, st.size, cp, tp):
                    grp = comm.new_group(ranks)
                    if rank in ranks and mine:
                        self._cp[(dp, cp, tp)] = TPGroup(cp, ranks.index(rank), grp, ranks=tuple(ranks))
            dps = sorted({s.dp for s in st.strategies.values()})
            for a in range(len(dps)):
                for b in range(a + 1, len(dps)):
                    for side, other in ((dps[a], dps[b]), (dps[b], dps[a])):
                        size = side // gcd(side, other)
                        if size == 1:
                            continue
                        for ranks in shard_gather_groups(st.first_rank, st.size, side, other):
                            grp = comm.new_group(ranks)
                            if rank in ranks:
                                self._gather[(side, other)] = (grp, size, ranks.index(rank))
        tied = spec.tied_layers()
        if tied:
            self.tie_ranks = sorted({r for u in tied for r in spec.stage_of_layer(u).ranks})
            if len(self.tie_ranks) > 1:
                grp = comm.new_group(self.tie_ranks)
                if rank in self.tie_ranks:
                    self.tie_group = grp

    def place(self, dp: int, tp: int) -> Place:
        return self._places[(dp, tp)]

    def params_place(self, st: LayerStrategy) -> Place:
        """Where the layer's parameters live: the (dp * cp, tp) replicas that sum their gradients."""
        return self._places[(st.grad_dp, st.tp)]

    def sequence_handle(self, st: LayerStrategy) -> TPGroup:
        """The group a layer splits the sequence over: its tp group under sp, its cp group under cp."""
        if st.sequence_split() == "cp":
            return self._cp[(st.dp, st.cp, st.tp)]
        return self.params_place(st).tp_handle()

    def gather_group(self, dp: int, other: int) -> Tuple[Optional[object], int]:
        """(group, size) all-gathering this rank's block of dp-shards when resharding between dp and
        other; (None, 1) when the block holds a single dp-shard (nothing to gather)."""
        g = self._gather.get((dp, other))
        return (g[0], g[1]) if g else (None, 1)

    def block_index(self, dp: int, other: int) -> int:
        """This rank's dp-shard index inside its block of g / gcd(dp, other) ranks."""
        tp = self.stage.size // dp
        return (self.local // tp) % (dp // gcd(dp, other))
