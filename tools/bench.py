"""Training-step throughput of every family, against a straightforward FF reference loop.

    python -m tools.bench [--quick] [--threads 1,2] [--batch 100,1000] [--families ff,bp]
                             [--out results/bench/throughput.csv]

For every device (the CPU at each thread count; CUDA when present), batch size and family of
ffmodels.families.FAMILIES built from the `families:` defaults of config.yaml, it measures the
samples/s of the family's train_step and of ReferenceFF (below) in the same process. Blocks of
steps alternate: reference, family A, reference, family B, reference, ... over several rounds, and
each block's ratio is to the mean rate of the two reference blocks around it, so that a slow-down
from other load on the machine hits both sides of a ratio; the table holds the medians over the
rounds. The matmul FLOPs of one step are counted from the shapes of the matmuls it runs
(torch.utils.flop_counter); the share of peak is their rate over that of a large torch.mm,
measured in the same process and setting.

The data are random 784-pixel images in [0, 1] with random labels: every matmul is dense, so the
pixel values do not change the speed. A family that cannot be built or stepped from its config
defaults is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import copy
import csv
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils.flop_counter import FlopCounterMode

from ffmodels import variants
from ffmodels.config import load_config
from ffmodels.families import FAMILIES, build
from ffmodels.lockstep import Lockstep

REPO = Path(__file__).resolve().parent.parent
IN_DIM, N_CLASSES = 784, 10
COLUMNS = [
    "family",
    "device",
    "threads",
    "batch",
    "samples_per_s",
    "ratio_to_reference",
    "matmul_gflop_per_step",
    "matmul_gflops",
    "peak_gflops",
    "share_of_peak",
]


class ReferenceFF:
    """The common public FF loop (as in mpezeshki/pytorch_forward_forward), one minibatch at a
    time: per layer, a forward of the positives and one of the negatives for the loss, backward,
    a step of that layer's own Adam, then another forward of both under no_grad (with the updated
    weights) for the detached input of the next layer. Same embedding, layers, goodness, loss and
    random wrong labels as the `ff` family; a yardstick, not used for training."""

    family = "reference"

    def __init__(self, hp: dict, in_dim: int, n_classes: int, device: torch.device):
        dims = [in_dim, *hp["hidden"]]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])).to(device)
        self.optimizers = [torch.optim.Adam(layer.parameters(), lr=hp["lr"]) for layer in self.layers]
        self.hp, self.n_classes = hp, n_classes

    def overlay(self, x, labels):
        out = x.clone()
        out[:, : self.n_classes] = 0.0
        out[torch.arange(len(x), device=x.device), labels] = x.max(dim=1).values
        return out

    def forward(self, layer, x):
        return F.relu(layer(x / (x.norm(dim=1, keepdim=True) + self.hp["norm_eps"])))

    def goodness(self, h):
        return h.pow(2).mean(dim=1) if self.hp["goodness"] == "mean" else h.pow(2).sum(dim=1)

    def train_step(self, x, y, gen):
        shift = torch.randint(1, self.n_classes, y.shape, generator=gen, device=y.device)
        h_pos, h_neg = self.overlay(x, y), self.overlay(x, (y + shift) % self.n_classes)
        theta, total = self.hp["threshold"], 0.0
        for layer, opt in zip(self.layers, self.optimizers):
            g_pos = self.goodness(self.forward(layer, h_pos))
            g_neg = self.goodness(self.forward(layer, h_neg))
            loss = F.softplus(torch.cat([theta - g_pos, g_neg - theta])).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach()
            with torch.no_grad():
                h_pos, h_neg = self.forward(layer, h_pos), self.forward(layer, h_neg)
        return total.item()


def sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(
    model,
    batches: list,
    gen: torch.Generator,
    steps: int,
    start: int = 0,
    clock=time.perf_counter,
    device: torch.device | None = None,
) -> float:
    """Seconds `steps` train_steps of a model take, on minibatches start, start + 1, ... of
    `batches` (cycled), by `clock`: wall time (time.perf_counter, the default: what a run waits
    for) or time.process_time (CPU time, which other load on the machine hardly changes).
    The one step timer of the project: the benchmark and the cost estimate (tools.cost) use it."""
    sync(device)
    begin = clock()
    for i in range(start, start + steps):
        x, y = batches[i % len(batches)]
        model.train_step(x, y, gen)
    sync(device)
    return clock() - begin


def matmul_peak(device: torch.device, n: int, repeats: int) -> float:
    """GFLOP/s of an (n, n) @ (n, n) torch.mm: the best of `repeats` timings (the least
    disturbed by other load)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def matmul_flops(model, x, y, gen) -> int:
    """Matmul (and convolution) FLOPs of one train_step, counted from the shapes of the ops it
    runs (it runs the step)."""
    counter = FlopCounterMode(display=False)
    with counter:
        model.train_step(x, y, gen)
    return counter.get_total_flops()


class Candidate:
    """A model with its own minibatches and sampling generator, timed in blocks of steps."""

    def __init__(self, name, model, batches, device):
        self.name, self.model, self.batches, self.device = name, model, batches, device
        self.gen = torch.Generator(device=device).manual_seed(1)
        self.i = 0
        self.steps, self.rounds = 1, 1
        self.rates: list[float] = []
        self.ratios: list[float] = []

    def seconds(self, steps: int) -> float:
        elapsed = time_steps(self.model, self.batches, self.gen, steps, self.i, device=self.device)
        self.i += steps
        return elapsed

    def rate(self) -> float:
        """Samples/s over one block of self.steps steps."""
        return self.steps * len(self.batches[0][0]) / self.seconds(self.steps)

    def prepare(self, warmup: int, block_s: float, budget_s: float, repeats: int) -> None:
        """Warm up, count the matmul FLOPs of a step, and size the blocks: about block_s each,
        and fewer rounds (at least 3) for a model too slow for `repeats` of them in budget_s."""
        step_s = self.seconds(1)
        if step_s < block_s and warmup > 1:
            self.seconds(warmup - 2)
            step_s = self.seconds(1)
        x, y = self.batches[0]
        self.flops = matmul_flops(self.model, x, y, self.gen)
        self.steps = max(1, min(50, round(block_s / step_s)))
        self.rounds = max(3, min(repeats, int(budget_s / (self.steps * step_s))))


def family_hparams(config: dict) -> dict[str, dict]:
    """Each family's hyperparameters as its MNIST pretraining sees them (no per-task settings)."""
    return {name: variants.family_hparams(config, name) if name in config["families"] else None for name in FAMILIES}


def make_models(hparams: dict[str, dict | None], reference_hp: dict, device: torch.device, log) -> list:
    torch.manual_seed(0)
    models = [("reference", ReferenceFF(reference_hp, IN_DIM, N_CLASSES, device))]
    for name, hp in hparams.items():
        if hp is None:
            log(f"  skip {name}: no families.{name} block in config.yaml")
            continue
        try:
            torch.manual_seed(0)
            models.append((name, build({"family": name, **hp}, IN_DIM, N_CLASSES).to(device).train()))
        except Exception as err:  # a family that cannot be built from its defaults is reported, not fatal
            log(f"  skip {name}: cannot build from config.yaml defaults ({type(err).__name__}: {err})")
    return models


def bench_setting(device, threads, batch, hparams, reference_hp, peak, quick, log) -> list[dict]:
    """Rows of one (device, threads, batch): every block of a family is preceded and followed by
    a block of the reference, and its ratio is to the mean rate of those two."""
    gen = torch.Generator().manual_seed(0)
    data = [
        (
            (torch.rand(batch, IN_DIM, generator=gen) * (torch.rand(batch, IN_DIM, generator=gen) < 0.2)).to(device),
            torch.randint(0, N_CLASSES, (batch,), generator=gen).to(device),
        )
        for _ in range(2 if quick else 8)
    ]
    warmup, repeats, block_s, budget_s = (1, 3, 0.02, 0.5) if quick else (3, 7, 0.25, 5.0)
    (_, ref_model), *models = make_models(hparams, reference_hp, device, log)
    reference, others = Candidate("reference", ref_model, data, device), []
    reference.prepare(warmup, block_s, budget_s, repeats)
    for name, model in models:
        cand = Candidate(name, model, data, device)
        try:
            cand.prepare(warmup, block_s, budget_s, repeats)
        except Exception as err:  # e.g. a family whose step needs something this setting lacks
            log(f"  skip {name}: its train_step failed ({type(err).__name__}: {err})")
            continue
        others.append(cand)
    before = reference.rate()
    reference.rates.append(before)
    for _ in range(repeats):
        for c in others:
            if len(c.rates) < c.rounds:
                c.rates.append(c.rate())
                after = reference.rate()
                reference.rates.append(after)
                c.ratios.append(c.rates[-1] / ((before + after) / 2))
                before = after
    reference.ratios = [1.0]
    rows = []
    for c in [reference, *others]:
        rate = statistics.median(c.rates)
        gflop = c.flops / 1e9
        achieved = gflop * rate / batch
        rows.append(
            {
                "family": c.name,
                "device": device.type,
                "threads": threads,
                "batch": batch,
                "samples_per_s": round(rate, 1),
                "ratio_to_reference": round(statistics.median(c.ratios), 3),
                "matmul_gflop_per_step": round(gflop, 4),
                "matmul_gflops": round(achieved, 2),
                "peak_gflops": round(peak, 2),
                "share_of_peak": round(achieved / peak, 3),
            }
        )
    return rows


def print_table(rows: list[dict], log) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in COLUMNS}
    log("  ".join(c.rjust(widths[c]) for c in COLUMNS))
    for r in rows:
        log("  ".join(str(r[c]).rjust(widths[c]) for c in COLUMNS))


def bench_lockstep(device, batch, hparams, seeds: int, quick: bool, log) -> list[dict]:
    """Steps per second per seed of `seeds` seeds of each lockstep family trained today's way
    (each seed's own train_step in turn) and in lockstep (ffmodels.lockstep), in alternating
    blocks; the ratio is the median over the rounds of lockstep over the per-seed rate."""
    gen = torch.Generator().manual_seed(0)
    xs = torch.rand(seeds, batch, IN_DIM, generator=gen).to(device)
    ys = torch.randint(0, N_CLASSES, (seeds, batch), generator=gen).to(device)
    steps, rounds = (3, 2) if quick else (20, 5)
    rows = []
    for name, hp in hparams.items():
        if hp is None or not FAMILIES[name].lockstep:
            continue
        models = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            models.append(build({"family": name, **hp}, IN_DIM, N_CLASSES).to(device).train())
        chunk = Lockstep([copy.deepcopy(m) for m in models])
        gens = [torch.Generator(device=device).manual_seed(s) for s in range(seeds)]

        def alone():
            for s, m in enumerate(models):
                m.train_step(xs[s], ys[s], gens[s])

        def together():
            chunk.step(xs, ys, gens)

        rows.append(alone_vs_lockstep(name, device, batch, seeds, alone, together, steps, rounds, log))
    return rows


def alone_vs_lockstep(name, device, batch, seeds, alone, together, steps, rounds, log) -> dict:
    """The lockstep row of `name`: alone() and together() each advance every seed one step; they
    run in alternating blocks of `steps` calls, after one warm-up call each; the ratio is the
    median over the rounds of together's rate over alone's in the same round."""
    rates = {"alone": [], "lockstep": []}
    for fn in (alone, together):
        fn()  # warm-up
    for _ in range(rounds):
        for key, fn in (("alone", alone), ("lockstep", together)):
            sync(device)
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            sync(device)
            rates[key].append(steps / (time.perf_counter() - start))  # steps/s per seed
    ratios = [b / a for a, b in zip(rates["alone"], rates["lockstep"])]
    row = {
        "family": name,
        "device": device.type,
        "batch": batch,
        "seeds": seeds,
        "alone_steps_per_s_per_seed": round(statistics.median(rates["alone"]), 2),
        "lockstep_steps_per_s_per_seed": round(statistics.median(rates["lockstep"]), 2),
        "lockstep_ratio": round(statistics.median(ratios), 3),
    }
    log("  ".join(f"{k} {v}" for k, v in row.items()))
    return row


class _CwCBlockLosses(nn.Module):
    """The sum of a CwC-FF's block losses (CwCNet.block_losses, what its train_step backpropagates
    with every block active), as a forward for functional_call."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, y):
        return torch.stack(self.model.block_losses(x, y)).sum()


def bench_cwc_vmap(device, hp, seeds: int, quick: bool, log) -> dict:
    """Would CwC-FF pay in lockstep? It trains one seed per job (BatchNorm statistics updated in
    the forward, its own step); this times what a lockstep step would spend most in, the forward
    and backward of every block's loss for `seeds` seeds, each alone against all of them under
    torch.vmap (stacked weights: the convolutions become grouped ones, stacked BatchNorm
    statistics), in alternating blocks at the family's own batch size."""
    batch = hp["batch_size"]
    gen = torch.Generator().manual_seed(0)
    xs = torch.rand(seeds, batch, IN_DIM, generator=gen).to(device)
    ys = torch.randint(0, N_CLASSES, (seeds, batch), generator=gen).to(device)
    models = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        models.append(build({"family": "cwc", **hp}, IN_DIM, N_CLASSES).to(device).train())
    params, buffers = stack_module_state([copy.deepcopy(m) for m in models])
    module = _CwCBlockLosses(copy.deepcopy(models[0]))
    state = {f"model.{k}": v for k, v in {**params, **buffers}.items()}
    stacked = [state[f"model.{k}"] for k in params]

    def alone():
        for s, m in enumerate(models):
            torch.autograd.grad(_CwCBlockLosses(m)(xs[s], ys[s]), list(m.parameters()))

    def together():
        losses = vmap(lambda p, x, y: functional_call(module, p, (x, y)))(state, xs, ys)
        torch.autograd.grad(losses.sum(), stacked)

    rounds = 2 if quick else 5
    name = "cwc (forward+backward only)"
    return alone_vs_lockstep(name, device, batch, seeds, alone, together, 1, rounds, log)


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/bench/throughput.csv", help="CSV path")
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repeats (a smoke test)")
    parser.add_argument("--threads", type=int_list, default=[1, 2], help="CPU thread counts, e.g. 1,2")
    parser.add_argument("--batch", type=int_list, default=[100, 1000], help="batch sizes, e.g. 100,1000")
    parser.add_argument("--families", default="", help="only these families, e.g. ff,bp (default: all)")
    parser.add_argument("--config", default=str(REPO / "config.yaml"), help="where the family defaults are read")
    parser.add_argument("--lockstep", type=int, default=5, help="seeds of the lockstep comparison (0: none)")
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731

    config = load_config(path=Path(args.config))  # resolved: a family that `extends` another has all its keys
    hparams = family_hparams(config)
    if args.families:
        wanted = args.families.split(",")
        unknown = sorted(set(wanted) - set(hparams))
        if unknown:
            parser.error(f"--families: unknown {unknown}; known: {sorted(hparams)}")
        hparams = {name: hp for name, hp in hparams.items() if name in wanted}
    reference_hp = variants.family_hparams(config, "ff")
    # The peak is measured first, on purpose: freeing its large matrices raises glibc's malloc
    # thresholds, as a training run's first evaluation does, so that freed step buffers are
    # reused rather than returned to the OS (without it the reference loop pays ~1000 page
    # faults a step at batch 100, which a real run does not).
    peak_n, peak_repeats = (2048, 2) if args.quick else (2048, 5)
    settings = [(torch.device("cpu"), t) for t in args.threads]
    if torch.cuda.is_available():
        settings.append((torch.device("cuda"), torch.get_num_threads()))
    rows = []
    initial_threads = torch.get_num_threads()
    for device, threads in settings:
        torch.set_num_threads(threads)
        peak = matmul_peak(device, peak_n * (4 if device.type == "cuda" else 1), peak_repeats)
        for batch in args.batch:
            log(f"{device.type}, {threads} thread(s), batch {batch}: matmul peak {peak:.1f} GFLOP/s")
            rows += bench_setting(device, threads, batch, hparams, reference_hp, peak, args.quick, log)
            if args.lockstep:
                log(f"lockstep, {args.lockstep} seeds: steps/s per seed, each seed alone vs the chunk")
                lockstep_rows = bench_lockstep(device, batch, hparams, args.lockstep, args.quick, log)
                if hparams.get("cwc") and batch == args.batch[0]:  # at CwC-FF's own batch size, once
                    lockstep_rows.append(bench_cwc_vmap(device, hparams["cwc"], args.lockstep, args.quick, log))
                write_csv(Path(args.out).with_name(f"lockstep-{device.type}-t{threads}-b{batch}.csv"), lockstep_rows)
    torch.set_num_threads(initial_threads)
    print_table(rows, log)
    write_csv(Path(args.out), rows)
    log(f"wrote {args.out}")
    return rows


def write_csv(out: Path, rows: list[dict]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
