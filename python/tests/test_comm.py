"""uniap_torch.comm: every collective equals a reference computed locally from all ranks' inputs, on
2 (and for sub-groups 4) Gloo processes: the native paths (all-reduce, async all-reduce, all-gather),
the Gloo emulations (flat all-gather by list + concatenation, reduce-scatter by all-reduce + slice) and
bf16, which Gloo in torch 1.13 cannot reduce and comm routes through fp32. Also the blocking-time
accounting the executor reports as exposedCommMs / p2pWaitMs."""
from __future__ import annotations

import time

import pytest
import torch

from multiproc import run_ranks
from uniap_torch import comm

TIMEOUT_S = 60


def _data(rank: int, shape, dtype=torch.float32) -> torch.Tensor:
    """Rank r's input: the same on every call, different per rank, not integers (so sums round in bf16)."""
    g = torch.Generator().manual_seed(100 + rank)
    return (torch.randn(shape, generator=g) * 3.0).to(dtype)


def _collectives(rank: int, world: int) -> dict:
    """Runs on every rank; returns the outputs as float64 tensors (and facts about them)."""
    import torch.distributed as dist

    out: dict = {"backend": comm.backend()}
    group = comm.new_group(list(range(world)))
    out["group_size"] = dist.get_world_size(group)

    t = _data(rank, (5, 3))
    comm.STATS.reset()
    assert comm.all_reduce(t, group) is None
    out["all_reduce"] = t.double()
    out["exposed_after_all_reduce"] = comm.STATS.exposed_s
    out["p2p_after_all_reduce"] = comm.STATS.p2p_wait_s

    t = _data(rank, (7,))
    work = comm.all_reduce(t, group, async_op=True)
    work.wait()
    out["all_reduce_async"] = t.double()

    t = _data(rank, (6,), torch.bfloat16)
    comm.all_reduce(t, group)
    out["all_reduce_bf16"] = (t.dtype, t.double())
    try:
        comm.all_reduce(_data(rank, (6,), torch.bfloat16), group, async_op=True)
        out["all_reduce_bf16_async"] = "no error"
    except TypeError as e:
        out["all_reduce_bf16_async"] = str(e)

    g, work = comm.all_gather_flat(_data(rank, (4,)), group, world)
    out["all_gather"] = (work, g.double())
    g, work = comm.all_gather_flat(_data(rank, (2, 3)), group, world)
    out["all_gather_2d"] = g.double()
    pending, work = comm.all_gather_flat(_data(rank, (4,)), group, world, async_op=True)
    out["all_gather_async"] = comm.finish_gather(pending, work).double()
    g, _ = comm.all_gather_flat(_data(rank, (4,), torch.bfloat16), group, world)
    out["all_gather_bf16"] = (g.dtype, g.double())
    pending, work = comm.all_gather_flat(_data(rank, (4,), torch.bfloat16), group, world, async_op=True)
    g = comm.finish_gather(pending, work)
    out["all_gather_bf16_async"] = (g.dtype, g.double())

    full = _data(rank, (4 * world,))
    out["reduce_scatter"] = comm.reduce_scatter_flat(full, group, rank, world, async_op=False).result().double()
    pending = comm.reduce_scatter_flat(_data(rank, (4 * world,)), group, rank, world, async_op=True)
    first = pending.result().clone()
    out["reduce_scatter_async"] = (first.double(), torch.equal(pending.result(), first))

    comm.STATS.reset()
    with comm.blocking("p2p"):
        time.sleep(0.02)
    out["p2p_wait"] = (comm.STATS.p2p_wait_s, comm.STATS.exposed_s)

    if world == 4:
        # Two disjoint groups {0, 1} and {2, 3}: every rank creates both, in the same order.
        pairs = [comm.new_group([0, 1]), comm.new_group([2, 3])]
        mine = pairs[rank // 2]
        t = _data(rank, (5,))
        comm.all_reduce(t, mine)
        out["sub_all_reduce"] = t.double()
        g, _ = comm.all_gather_flat(_data(rank, (3,)), mine, 2)
        out["sub_all_gather"] = g.double()
        out["sub_reduce_scatter"] = comm.reduce_scatter_flat(_data(rank, (8,)), mine, rank % 2, 2, False).result().double()
    return out


def _sum(ranks, shape, dtype=torch.float32) -> torch.Tensor:
    return sum(_data(r, shape, dtype).double() for r in ranks)


def _cat(ranks, shape, dtype=torch.float32) -> torch.Tensor:
    return torch.cat([_data(r, shape, dtype).double() for r in ranks], dim=0)


@pytest.fixture(scope="module")
def two():
    return run_ranks(_collectives, 2, timeout_s=TIMEOUT_S)


@pytest.fixture(scope="module")
def four():
    return run_ranks(_collectives, 4, timeout_s=TIMEOUT_S)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-6)


def test_backend_and_group_outside_and_inside_a_process_group(two):
    assert comm.backend() == "none"
    assert comm.new_group([0]) is None  # no process group in the test process
    assert [o["backend"] for o in two] == ["gloo", "gloo"]
    assert [o["group_size"] for o in two] == [2, 2]


def test_all_reduce_sums_in_place(two):
    ref = _sum([0, 1], (5, 3)).float().double()
    for o in two:
        assert close(o["all_reduce"], ref)
        assert not close(o["all_reduce"], _data(0, (5, 3)).double())  # it changed


def test_async_all_reduce(two):
    ref = _sum([0, 1], (7,)).float().double()
    for o in two:
        assert close(o["all_reduce_async"], ref)


def test_bf16_all_reduce_goes_through_fp32_and_stays_bf16(two):
    # Gloo's own bf16 all-reduce fails in torch 1.13: the emulation sums in fp32, then rounds once.
    ref = (_data(0, (6,), torch.bfloat16).float() + _data(1, (6,), torch.bfloat16).float()).to(torch.bfloat16).double()
    for o in two:
        dtype, value = o["all_reduce_bf16"]
        assert dtype == torch.bfloat16
        assert torch.equal(value, ref)


def test_async_bf16_all_reduce_on_gloo_is_refused_with_the_fix(two):
    for o in two:
        assert "fp32" in o["all_reduce_bf16_async"], o["all_reduce_bf16_async"]


def test_all_gather_flat_concatenates_in_rank_order(two):
    ref = _cat([0, 1], (4,))
    for o in two:
        work, g = o["all_gather"]
        assert work is None
        assert close(g, ref)
        assert close(o["all_gather_async"], ref)
        assert close(o["all_gather_2d"], _cat([0, 1], (2, 3)))


def test_bf16_all_gather_keeps_values_and_dtype(two):
    ref = _cat([0, 1], (4,), torch.bfloat16)
    for o in two:
        for key in ("all_gather_bf16", "all_gather_bf16_async"):
            dtype, g = o[key]
            assert dtype == torch.bfloat16, key
            assert torch.equal(g, ref), key


def test_reduce_scatter_flat_keeps_this_ranks_slice_of_the_sum(two):
    total = _sum([0, 1], (8,)).float().double()
    for rank, o in enumerate(two):
        assert close(o["reduce_scatter"], total[rank * 4:(rank + 1) * 4])
        shard, stable = o["reduce_scatter_async"]
        assert close(shard, total[rank * 4:(rank + 1) * 4])
        assert stable  # result() twice returns the same shard (the wait happens once)


def test_blocking_time_is_recorded_by_kind(two):
    for o in two:
        assert o["exposed_after_all_reduce"] > 0.0
        assert o["p2p_after_all_reduce"] == 0.0
        p2p, exposed = o["p2p_wait"]
        assert p2p >= 0.02
        assert exposed == 0.0


def test_four_ranks_full_group(four):
    for rank, o in enumerate(four):
        assert close(o["all_reduce"], _sum(range(4), (5, 3)).float().double())
        assert close(o["all_gather"][1], _cat(range(4), (4,)))
        assert close(o["reduce_scatter"], _sum(range(4), (16,)).float().double()[rank * 4:(rank + 1) * 4])


def test_four_ranks_disjoint_sub_groups(four):
    for rank, o in enumerate(four):
        pair = [rank - rank % 2, rank - rank % 2 + 1]
        assert close(o["sub_all_reduce"], _sum(pair, (5,)).float().double())
        assert close(o["sub_all_gather"], _cat(pair, (3,)))
        i = rank % 2
        assert close(o["sub_reduce_scatter"], _sum(pair, (8,)).float().double()[i * 4:(i + 1) * 4])


def test_comm_stats_collect_folds_event_pairs_by_kind():
    class Event:
        def __init__(self, ms: float) -> None:
            self.ms = ms

        def elapsed_time(self, other: "Event") -> float:
            return other.ms - self.ms

    stats = comm.CommStats()
    stats._events = [("collective", Event(0.0), Event(5.0)), ("p2p", Event(1.0), Event(3.0))]
    stats.collect()
    assert stats.exposed_s == pytest.approx(0.005)
    assert stats.p2p_wait_s == pytest.approx(0.002)
    assert stats._events == []
    stats.reset()
    assert (stats.exposed_s, stats.p2p_wait_s) == (0.0, 0.0)
