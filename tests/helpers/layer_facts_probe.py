"""What Python builds for a model, reported for the cross-language conformance test
(tests/model-facts.conformance.test.ts): for every distinct layer and every tp degree asked, the
parameters each tp rank holds (layers built on the meta device: shapes without memory), and the
executor's tokens per sample. Reads a JSON job on stdin: {"models": [{"name", "model", "tps"}]},
where "model" is a ModelSpec with facts; writes one JSON object on stdout.
"""
import json
import sys

import torch

from uniap_torch.layers import TPGroup, build_layer
from uniap_exec.spec import RunSpec


def one_stage_plan(model):
    n = len(model["layers"])
    return {"globalBatch": 1, "microBatches": 1, "microBatchSize": 1, "schedule": "gpipe",
            "stages": [{"layers": [0, n - 1], "ranks": [0, 1],
                        "strategies": [{"layers": [0, n - 1], "dp": 1, "tp": 1, "fsdp": False, "recompute": False}]}]}


def main():
    job = json.load(sys.stdin)
    out = {}
    for entry in job["models"]:
        model = entry["model"]
        spec = RunSpec(model, one_stage_plan(model), 1)
        layers = {}
        for u in entry["layers"]:
            per_tp = {}
            for tp in entry["tps"][str(u)]:
                counts = []
                for r in range(tp):
                    m = build_layer(model["layers"][u], model["facts"]["layers"][u], TPGroup(tp, r, None),
                                    torch.float32, 0, meta=True)
                    counts.append(sum(p.numel() for p in m.parameters()))
                per_tp[str(tp)] = counts
            layers[str(u)] = per_tp
        out[entry["name"]] = {"tokensPerSample": spec.tokens_per_sample(), "tiedLayers": spec.tied_layers(), "layers": layers}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
