"""SSL's cost model on this CPU: what a unit budget and a time budget select, predicted and measured.

    python benchmarks/ssl_cost_model.py --out docs/bench-ssl-cost-model.json

On the bundled BasicVSR-uni teacher: ``ssl.cost.measure_cost_model`` (each prunable conv's
time at the corners of its width range, bf16, channels-last, at 180x320), then for each ratio the
selection SSL makes with ``--budget units`` (the paper: a share of the units) and ``--budget time``
(a share of the modelled time), both Min + Global with the cpu preset's rounding to 16 channels.
Each selection is pruned at once (gammas 1: no regularisation or fine-tuning, so this is about
time, not quality) and the pruned model's frames are timed as the engine streams them
(``make_runner``, chunks of 8, bf16), all models interleaved round by round, medians. Reported:
kept widths, MACs, the cost model's predicted ms of the prunable convs, and measured ms per frame
of the whole model (SPyNet, warps and the unpruned convs included). Pause training first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="basicvsr-uni")
    p.add_argument("--ratios", default="0.5,0.7,0.8")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    from slimvsr.compression.ssl import selection as ssl
    from slimvsr.compression.ssl.cost import measure_cost_model, select_by_time
    from slimvsr.engine import Precision, cpu_name, make_runner
    from slimvsr.models import describe, load_model, profile_model

    torch.manual_seed(0)
    teacher = load_model(a.teacher).model.eval()
    size = (180, 320)
    costs = measure_cost_model(teacher, size, "bf16", rounds=a.rounds)
    print("cost model: dense prunable convs", round(costs.predict(), 1), "ms", file=sys.stderr)
    gam = ssl.Gammas(teacher)
    scores = ssl.unit_scores(teacher, gam)
    models = {"dense teacher": teacher}
    rows: dict = {"dense teacher": {"predicted_ms": costs.predict()}}
    for r in (float(x) for x in a.ratios.split(",")):
        for budget in ("units", "time"):
            if budget == "units":
                pruned = ssl.select(scores, r, "min-global", multiple=16)
            else:
                pruned = select_by_time(scores, costs, r, multiple=16)
            small = ssl.prune(teacher, gam, pruned)
            label = f"ratio {r} of {budget}"
            cfg = small.config
            mids = [b.mid for b in cfg.forward_blocks]
            models[label] = small
            rows[label] = {
                "predicted_ms": costs.predict(pruned),
                "units_pruned": len(pruned),
                "macs": profile_model(small, size).macs,
                "upsampler_widths": list(cfg.widths()),
                "block_mid_widths": {str(w): mids.count(w) for w in sorted(set(mids))},
                "block_in_widths": sorted({len(b.in_idx) for b in cfg.forward_blocks}),
            }
    rows["dense teacher"]["macs"] = profile_model(teacher, size).macs
    prec = Precision(torch.device("cpu"), torch.bfloat16, channels_last=True)
    runners = {k: make_runner(describe(m, k), prec) for k, m in models.items()}
    chunk = torch.rand(8, 3, *size)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for rn in runners.values():  # warm-up
        rn.push(chunk)
    for _ in range(a.rounds):
        for k, rn in runners.items():
            rn.state = None
            t = time.perf_counter()
            rn.push(chunk)
            times[k].append(1000 * (time.perf_counter() - t) / 8)
    for k in rows:
        rows[k]["measured_ms_per_frame"] = statistics.median(times[k])
        print(k, {x: v for x, v in rows[k].items()}, file=sys.stderr)
    res = {
        "command": "python benchmarks/ssl_cost_model.py " + " ".join(sys.argv[1:]),
        "machine": costs.machine,
        "cpu": cpu_name(),
        "teacher": a.teacher,
        "size": list(size),
        "cost_model": costs.to_dict(),
        "rows": rows,
    }
    text = json.dumps(res, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
