"""Process groups of a plan, created once, in the same order on every rank (torch requires it).

Layout (planner/strategy.ts): a stage's ranks are tp-innermost, local rank = dpIndex * tp + tpIndex,
so a layer's tensor-parallel group is tp consecutive ranks and its data-parallel group the ranks of
the stage with the same tpIndex. Every (dp, tp) pair a stage uses gets its groups; the stage group
serves activation resharding between layers of different dp; the tie group joins the ranks holding a
tied embedding or head.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from . import comm
from .layers import TPGroup
from .spec import RunSpec, Stage


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
        self.stage_group: Optional[object] = None
        self.tie_group: Optional[object] = None
        self.tie_ranks: List[int] = []
        for st in spec.stages:
            mine = st.index == self.stage.index
            g = comm.new_group(st.ranks) if st.size > 1 else None
            if mine:
                self.stage_group = g
            for dp in sorted({s.dp for s in st.strategies.values()}):
                tp = st.size // dp
                my_dp_group = my_tp_group = None
                if tp > 1:
                    for d in range(dp):
                        ranks = [st.first_rank + d * tp + t for t in range(tp)]
                        grp = comm.new_group(ranks)
                        if rank in ranks:
                            my_tp_group = grp
                if dp > 1:
                    for t in range(tp):
                        ranks = [st.first_rank + d * tp + t for d in range(dp)]
                        grp = comm.new_group(ranks)
                        if rank in ranks:
                            my_dp_group = grp
                if mine:
                    self._places[(dp, tp)] = Place(dp, tp, self.local // tp, self.local % tp, my_dp_group, my_tp_group)
        tied = spec.tied_layers()
        if tied:
            self.tie_ranks = sorted({r for u in tied for r in spec.stage_of_layer(u).ranks})
            if len(self.tie_ranks) > 1:
                grp = comm.new_group(self.tie_ranks)
                if rank in self.tie_ranks:
                    self.tie_group = grp

    def place(self, dp: int, tp: int) -> Place:
        return self._places[(dp, tp)]
