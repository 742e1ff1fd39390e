"""One measuring process per device: `python -m uniap_measure.worker JOB.json`.

Started by profiler/measure/driver.ts with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
Every rank runs the job's tasks in the same order; per task, rank 0 gathers every rank's raw result
over a Gloo control group and prints one line `@@uniap {"event": "result", ...}` on stdout (the
driver summarizes: medians, spread, slowest rank). A failing rank prints `@@uniap {"event":
"error", ...}` and exits 1; the driver then stops the other ranks. Everything else goes to stderr.
"""
import datetime
import json
import os
import sys
import traceback

import torch
import torch.distributed as dist

PREFIX = '@@uniap '


def emit(obj):
    sys.stdout.write(PREFIX + json.dumps(obj) + '\n')
    sys.stdout.flush()


def make_groups(sizes, world):
    """For each size g: consecutive groups [0..g-1], [g..2g-1], ...; every rank creates all of them
    in the same order (torch.distributed requires it) and keeps the one it belongs to."""
    rank = dist.get_rank()
    mine = {}
    for g in sorted(set(sizes)):
        if g < 1 or world % g != 0:
            raise ValueError(f'group size {g} does not divide the world size {world}')
        for start in range(0, world, g):
            ranks = list(range(start, start + g))
            pg = dist.new_group(ranks) if g > 1 else None
            if rank in ranks:
                mine[g] = (pg, ranks)
    return mine


def device_memory(device):
    """Bytes this process holds outside training tensors, and the device capacity.
    GPU: total - free - what PyTorch's allocator reserved (CUDA context, NCCL buffers, other
    libraries). CPU: the resident set of this process (interpreter, torch, Gloo), capacity 0."""
    if device.type == 'cuda':
        free, total = torch.cuda.mem_get_info(device)
        return {'reservedBytes': int(total - free - torch.cuda.memory_reserved(device)), 'capacityBytes': int(total)}
    rss = 0
    try:
        with open('/proc/self/statm', encoding='utf-8') as f:
            rss = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        pass
    return {'reservedBytes': int(rss), 'capacityBytes': 0}


def main():
    # The driver starts this process so that it dies with the driver (common/die-with-parent.ts).
    with open(sys.argv[1], encoding='utf-8') as f:
        job = json.load(f)
    rank = int(os.environ['RANK'])
    world = int(os.environ['WORLD_SIZE'])
    local_rank = int(os.environ.get('LOCAL_RANK', rank))
    backend = job['backend']
    if job['device'] == 'cuda':
        torch.cuda.set_device(local_rank)
        device = torch.device('cuda', local_rank)
    else:
        device = torch.device('cpu')
        torch.set_num_threads(max(1, int(job.get('threads', 1))))
    # A rank whose peer died stops waiting after this long instead of torch's 30-minute default.
    timeout = datetime.timedelta(seconds=int(job.get('timeoutS', 900)))
    dist.init_process_group(backend=backend, rank=rank, world_size=world, timeout=timeout)
    ctrl = dist.new_group(list(range(world)), backend='gloo', timeout=timeout) if backend != 'gloo' else dist.group.WORLD

    tasks = job['tasks']
    sizes = set()
    for t in tasks:
        if t['kind'] == 'layer':
            sizes.add(t['tp'])
        elif t['kind'] == 'link' and t['collective'] != 'p2p':
            sizes.add(t['groupSize'])
    groups = make_groups(sizes, world)
    # CPU: the process's footprint before any measurement; GPU: read at the end, once NCCL has
    # allocated its buffers.
    baseline = device_memory(device)

    layer_bench = link_bench = None
    if any(t['kind'] == 'layer' for t in tasks):
        from .layer_bench import LayerBench, load_executor

        layer_bench = LayerBench(load_executor(), groups, ctrl, device)
    if any(t['kind'] == 'link' for t in tasks):
        from .links import LinkBench

        link_bench = LinkBench(groups, ctrl, device, backend)

    if rank == 0:
        emit({'event': 'ready', 'world': world, 'backend': backend, 'device': str(device)})
    for t in tasks:
        if rank == 0:
            emit({'event': 'start', 'id': t['id']})
        try:
            if t['kind'] == 'layer':
                result = layer_bench.run(t)
            elif t['kind'] == 'link':
                result = link_bench.run(t)
            elif t['kind'] == 'overlap':
                from .overlap import run_overlap

                result = run_overlap(t, ctrl, device)
            else:
                raise ValueError(f"unknown task kind {t['kind']}")
        except Exception as e:  # report and stop; the driver ends the other ranks
            oom = 'out of memory' in str(e).lower()
            traceback.print_exc(file=sys.stderr)
            emit({'event': 'error', 'id': t['id'], 'rank': rank, 'oom': oom, 'message': f'{type(e).__name__}: {e}'})
            sys.stderr.flush()
            os._exit(1)
        gathered = [None] * world
        dist.all_gather_object(gathered, result, group=ctrl)
        if rank == 0:
            emit({'event': 'result', 'id': t['id'], 'perRank': gathered})
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    gathered = [None] * world
    dist.all_gather_object(gathered, device_memory(device) if device.type == 'cuda' else baseline, group=ctrl)
    if rank == 0:
        emit({'event': 'done', 'perRank': gathered})
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
