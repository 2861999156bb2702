"""Transfer suggestions replayed on simulated demand (issue 22): no transfers, the rule of
thumb and the optimiser, on the same paired seeds.

Worlds (bench/replay_world.py): the seeded generator (smooth and intermittent SKUs, drifting
warehouse shares, a promotion, a lane outage, receipts split by the original shares), its
"scarce" variant (80 % of the supply), and a world shaped like the demo's. The day loop,
forecast and checks are in bench/replay_sim.py. Every policy gets the same positions and
lanes; the review runs daily with `Policy(review_days=1)` (`--review-days` sets the horizon
the optimiser plans for; the cadence stays daily).

Reported per world: the metrics of each policy (means over seeds), the paired differences
ours - rule of thumb with a 95 % paired bootstrap interval (10,000 resamples, seeded), the
stockout-days by feature, and for the generated world how ours moves with the cost of a
lost sale. Last, one review of 10,000 SKUs x 8 warehouses is timed (wall and CPU), and the
last line is machine-readable:

    RESULT stockout_days_vs_rule=-0.NN ci=[-0.NN,-0.NN] cost_vs_rule=0.NN fill=0.NNN
    runtime_s_10k_x_8=NN   (one line)

stockout_days_vs_rule is the mean over seeds of (ours - rule) / rule on the generated
world, ci its 95 % paired bootstrap interval; cost_vs_rule is ours' total transfer cost
over the rule's (a ratio; 1 is equal); fill is ours' fill rate (served / demanded, all
seeds together).

    make bench-transfers          # or: .venv/bin/python -m bench.transfers_replay --help
    make bench-transfers ARGS=--quick     # a smoke test in well under a minute
"""

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from bench import replay_sim
from bench.common import host_description
from bench.replay_sim import Run, new_state, positions_for, simulate, step
from bench.replay_world import World, demo_world, generate_world
from suggestions.optimiser import optimise, program
from suggestions.plan import LaneSpec, Plan, Policy, Position
from suggestions.rule_of_thumb import rule_of_thumb

POLICY_NAMES = ("none", "rule of thumb", "ours")
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20261207


def ours(
    positions: Iterable[Position],
    lanes: Iterable[LaneSpec],
    policy: Policy,
    *,
    recent_moves: Iterable[tuple[Hashable, Hashable, Hashable]] = (),
) -> Plan:
    program.EXACT_VARIABLES = OWN_EXACT_VARIABLES if EXACT_VARIABLES is None else EXACT_VARIABLES
    return optimise(positions, lanes, policy, recent_moves=recent_moves)


# The optimiser solves a review exactly (lane binaries) up to program.EXACT_VARIABLES
# columns and by its lane gate beyond. None keeps its own threshold; the replay's default,
# 0, takes the lane gate for every review: the exact programme of one 1,000 x 5 review took
# 4 to 60 s (HiGHS' time limit) on this machine, 1,800 reviews per world.
EXACT_VARIABLES: int | None = 0
OWN_EXACT_VARIABLES = program.EXACT_VARIABLES


DECIDERS = {"none": None, "rule of thumb": rule_of_thumb, "ours": ours}


@dataclass(frozen=True, slots=True)
class Settings:
    seeds: int
    scarce_seeds: int
    review_days: int
    skus: int
    warehouses: int
    days: int
    cost_of_lost_sale: float
    sweep_costs: tuple[float, ...]
    sweep_seeds: int
    worlds: tuple[str, ...]
    jobs: int
    timing_skus: int
    timing_warehouses: int


@dataclass(frozen=True, slots=True)
class Job:
    world: str
    seed: int
    policy: str
    cost_of_lost_sale: float


def build_world(name: str, seed: int, settings: Settings) -> World:
    if name == "demo":
        return demo_world(seed=seed, days=settings.days)
    return generate_world(
        seed=seed,
        skus=settings.skus,
        warehouses=settings.warehouses,
        days=settings.days,
        scarce=name == "scarce",
    )


def run_job(job: Job, settings: Settings) -> tuple[Job, Run | str]:
    world = build_world(job.world, job.seed, settings)
    policy = Policy(cost_of_lost_sale=job.cost_of_lost_sale, review_days=settings.review_days)
    try:
        return job, simulate(world, DECIDERS[job.policy], policy)
    except NotImplementedError:
        return job, "not implemented yet"


def _run_job_star(arguments: tuple[Job, Settings]) -> tuple[Job, Run | str]:
    return run_job(*arguments)


def run_all(jobs: list[Job], settings: Settings) -> dict[Job, Run | str]:
    if settings.jobs <= 1:
        return dict(run_job(job, settings) for job in jobs)
    context = multiprocessing.get_context("fork")
    with context.Pool(settings.jobs) as pool:
        return dict(pool.imap_unordered(_run_job_star, [(job, settings) for job in jobs]))


# --- Statistics --------------------------------------------------------------------------


def paired_bootstrap(differences: np.ndarray) -> tuple[float, float, float]:
    """Mean of paired differences and its 95 % percentile bootstrap interval."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, len(differences), (BOOTSTRAP_RESAMPLES, len(differences)))
    means = differences[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(differences.mean()), float(low), float(high)


def relative(ours_values: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    return (ours_values - baseline) / np.maximum(baseline, 1e-9)


# --- Printing ----------------------------------------------------------------------------

METRICS_HEADER = (
    "| policy | stockout-days | fill | lost units | units moved | shipments | transfer cost "
    "| moved back ≤14 d | source-min violations | lane violations | refused / cut lines "
    "| mean on hand | lines per review | policy s per review |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def metrics_row(name: str, runs: list[Run], cells: int, days: int) -> str:
    def mean(values: Iterable[float]) -> float:
        return float(np.mean(list(values)))

    demand = sum(run.demand for run in runs)
    reviews = sum(run.reviews for run in runs)
    return (
        f"| {name} | {mean(r.stockout_days for r in runs):,.0f} "
        f"| {sum(r.served for r in runs) / demand:.3f} | {mean(r.lost for r in runs):,.0f} "
        f"| {mean(r.units_moved for r in runs):,.0f} | {mean(r.shipments for r in runs):,.0f} "
        f"| {mean(r.transfer_cost for r in runs):,.0f} "
        f"| {mean(r.ping_pong_units for r in runs):,.0f} "
        f"| {sum(r.source_minimum_violations for r in runs)} "
        f"| {sum(r.lane_violations for r in runs)} "
        f"| {sum(r.refused_lines for r in runs)} / {sum(r.cut_lines for r in runs)} "
        f"| {mean(r.mean_on_hand(cells, days) for r in runs):.1f} "
        f"| {sum(r.lines for r in runs) / max(reviews, 1):.1f} "
        f"| {sum(r.policy_seconds for r in runs) / max(reviews, 1):.3f} |"
    )


def report_world(
    name: str, results: dict[str, list[Run]], world: World, settings: Settings
) -> dict[str, float] | None:
    m, n = world.shape
    cells = int(world.carried.sum())
    print(
        f"\n## World: {name} — {m:,} SKUs x {n} warehouses ({cells:,} cells, "
        f"{world.intermittent.sum() / cells:.0%} intermittent or lumpy by ADI/CV²), "
        f"{world.days} days after 28 warm-up, {len(results['none'])} seeds, "
        f"lost sale = {settings.cost_of_lost_sale:g}\n"
    )
    print(METRICS_HEADER)
    for policy, runs in results.items():
        print(metrics_row(policy, runs, cells, world.days))
    print("\nStockout-days by feature (mean over seeds):\n")
    features = list(results["none"][0].by_feature)
    print("| feature | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    for feature in features:
        values = [np.mean([run.by_feature[feature] for run in runs]) for runs in results.values()]
        print(f"| {feature} | " + " | ".join(f"{value:,.1f}" for value in values) + " |")
    if "ours" not in results:
        print("\nours: not run (suggestions.optimiser.optimise is not implemented yet)")
        return None
    return compare(results)


def compare(results: dict[str, list[Run]]) -> dict[str, float]:
    def values(policy: str, attribute: str) -> np.ndarray:
        return np.array([getattr(run, attribute) for run in results[policy]], dtype=float)

    ours_so, rule_so, none_so = (values(p, "stockout_days") for p in POLICY_NAMES[::-1])
    ours_cost, rule_cost = values("ours", "transfer_cost"), values("rule of thumb", "transfer_cost")
    so_mean, so_low, so_high = paired_bootstrap(relative(ours_so, rule_so))
    cost_mean, cost_low, cost_high = paired_bootstrap(relative(ours_cost, rule_cost))
    none_mean, none_low, none_high = paired_bootstrap(relative(ours_so, none_so))
    abs_mean, abs_low, abs_high = paired_bootstrap(ours_so - rule_so)
    wins = int((ours_so < rule_so).sum())
    cheaper = int((ours_cost <= rule_cost).sum())
    count = len(ours_so)
    cost_ratio = float(ours_cost.sum() / max(rule_cost.sum(), 1e-9))
    fill = sum(r.served for r in results["ours"]) / sum(r.demand for r in results["ours"])
    print(
        "\nPaired, ours - rule of thumb (mean over seeds, 95 % bootstrap interval):\n"
        f"- stockout-days, relative: {so_mean:+.3f} [{so_low:+.3f}, {so_high:+.3f}]; "
        f"absolute: {abs_mean:+,.1f} [{abs_low:+,.1f}, {abs_high:+,.1f}]; "
        f"ours lower on {wins}/{count} seeds\n"
        f"- transfer cost, relative: {cost_mean:+.3f} [{cost_low:+.3f}, {cost_high:+.3f}]; "
        f"ratio of sums {cost_ratio:.3f}; ours at or below on {cheaper}/{count} seeds\n"
        f"- stockout-days against no transfers, relative: {none_mean:+.3f} "
        f"[{none_low:+.3f}, {none_high:+.3f}]"
    )
    return {
        "so": so_mean,
        "low": so_low,
        "high": so_high,
        "cost_ratio": cost_ratio,
        "fill": fill,
    }


def sweep(settings: Settings) -> None:
    if not settings.sweep_costs or settings.sweep_seeds <= 0:
        return
    jobs = [
        Job("generated", seed, "ours", cost)
        for cost in settings.sweep_costs
        for seed in range(settings.sweep_seeds)
    ] + [Job("generated", seed, "rule of thumb", 0.0) for seed in range(settings.sweep_seeds)]
    results = run_all(jobs, settings)
    if any(isinstance(result, str) for result in results.values()):
        print("\nCost of a lost sale: not run (the optimiser is not implemented yet)")
        return
    print(
        f"\n## The cost of a lost sale (generated world, seeds 0-{settings.sweep_seeds - 1}, "
        "means over seeds)\n\n| policy | lost sale | stockout-days | fill | units moved "
        "| shipments | transfer cost | source-min violations |\n|---|---|---|---|---|---|---|---|"
    )
    groups = [("rule of thumb", 0.0)] + [("ours", cost) for cost in settings.sweep_costs]
    for policy, cost in groups:
        runs = [
            result
            for job, result in results.items()
            if (job.policy, job.cost_of_lost_sale) == (policy, cost)
        ]
        assert all(isinstance(run, Run) for run in runs)
        typed = [run for run in runs if isinstance(run, Run)]
        print(
            f"| {policy} | {'—' if policy != 'ours' else f'{cost:g}'} "
            f"| {np.mean([r.stockout_days for r in typed]):,.0f} "
            f"| {sum(r.served for r in typed) / sum(r.demand for r in typed):.3f} "
            f"| {np.mean([r.units_moved for r in typed]):,.0f} "
            f"| {np.mean([r.shipments for r in typed]):,.0f} "
            f"| {np.mean([r.transfer_cost for r in typed]):,.0f} "
            f"| {sum(r.source_minimum_violations for r in typed)} |"
        )


def time_large_review(settings: Settings) -> float | None:
    """One review of timing_skus x timing_warehouses, from a generated world after 7 days
    under the rule of thumb (so stock is in transit and misplaced)."""
    m, n = settings.timing_skus, settings.timing_warehouses
    world = generate_world(seed=99, skus=m, warehouses=n, days=40)
    policy = Policy(cost_of_lost_sale=settings.cost_of_lost_sale, review_days=settings.review_days)
    state, run = new_state(world), Run()
    for day in range(7):
        step(world, state, rule_of_thumb, policy, day, run)
    started = time.perf_counter()
    positions = positions_for(world, state, 7)
    lanes = world.lanes_on(7)
    built = time.perf_counter() - started
    recent = tuple({(s, a, b) for _, s, a, b, _ in state.recent})
    print(
        f"\n## One review of {m:,} SKUs x {n} warehouses ({len(positions):,} positions, "
        f"{len(lanes)} lanes, day 7 of a generated world run under the rule of thumb)\n\n"
        f"- building the positions (the replay's work, not the policy's): {built:.2f} s"
    )
    seconds = None
    program.EXACT_VARIABLES = OWN_EXACT_VARIABLES
    for name, decide in (("rule of thumb", rule_of_thumb), ("ours", optimise)):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            plan = decide(positions, lanes, policy, recent_moves=recent)
        except NotImplementedError:
            print(f"- {name}: not implemented yet")
            continue
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"- {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {len(plan.moves):,} lines, "
            f"stats {plan.stats}"
        )
        if name == "ours":
            seconds = wall
    return seconds


def main() -> int:
    settings = parse_settings()
    print("\n".join(host_description()))
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"settings: {settings.seeds} seeds x {settings.skus:,} SKUs x {settings.warehouses} "
        f"warehouses x {settings.days} days, worlds {', '.join(settings.worlds)}, daily review "
        f"(review_days={settings.review_days}, forecast {replay_sim.FORECAST}), "
        f"cost of a lost sale {settings.cost_of_lost_sale:g}, "
        f"{settings.jobs} processes, scarce world on {settings.scarce_seeds} seeds, the "
        f"optimiser's exact threshold {'its own' if EXACT_VARIABLES is None else EXACT_VARIABLES}"
        " in the replays, its own in the one-review timing"
    )
    started = time.perf_counter()
    summary = None
    for name in settings.worlds:
        seeds = settings.scarce_seeds if name == "scarce" else settings.seeds
        jobs = [
            Job(name, seed, policy, settings.cost_of_lost_sale)
            for seed in range(seeds)
            for policy in POLICY_NAMES
        ]
        results = run_all(jobs, settings)
        by_policy = {
            policy: [results[job] for job in jobs if job.policy == policy]
            for policy in POLICY_NAMES
            if all(isinstance(results[job], Run) for job in jobs if job.policy == policy)
        }
        world = build_world(name, 0, settings)
        outcome = report_world(name, by_policy, world, settings)  # type: ignore[arg-type]
        if name == "generated":
            summary = outcome
        sys.stdout.flush()
    sweep(settings)
    runtime = time_large_review(settings)
    print(
        f"\nReplay wall time: {time.perf_counter() - started:.0f} s; "
        f"load average after: {os.getloadavg()[0]:.2f}"
    )
    if summary is None or runtime is None:
        print("RESULT unavailable (the optimiser did not run)")
        return 1
    print(
        f"RESULT stockout_days_vs_rule={summary['so']:.2f} "
        f"ci=[{summary['low']:.2f},{summary['high']:.2f}] cost_vs_rule={summary['cost_ratio']:.2f} "
        f"fill={summary['fill']:.3f} runtime_s_10k_x_8={runtime:.1f}"
    )
    return 0


def parse_settings() -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scarce-seeds", type=int, default=10)
    parser.add_argument("--review-days", type=int, default=7)
    parser.add_argument(
        "--forecast",
        choices=("hub", "trailing", "smoothed"),
        default="hub",
        help="hub: the hub's own forecaster (statsforecast by demand class) every day; "
        "trailing: the 28-day in-stock mean; smoothed: exponential smoothing",
    )
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--warehouses", type=int, default=5)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--cost-of-lost-sale", type=float, default=Policy().cost_of_lost_sale)
    parser.add_argument("--sweep-costs", default="2,5,10,20,50", help="'' to skip the sweep")
    parser.add_argument("--sweep-seeds", type=int, default=2)
    parser.add_argument(
        "--exact-variables",
        default="0",
        help="the optimiser's exact-programme threshold for the replay: a number of columns, "
        "or 'default' for its own (see EXACT_VARIABLES)",
    )
    parser.add_argument("--worlds", default="generated,scarce,demo")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the replays")
    parser.add_argument("--timing-skus", type=int, default=10_000)
    parser.add_argument("--timing-warehouses", type=int, default=8)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds x 200 SKUs x 40 days, 2 sweep seeds, 2,000 x 8 timing",
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.skus, args.days, args.sweep_seeds, args.timing_skus = 3, 200, 40, 1, 2000
        args.scarce_seeds = 3
    worlds = tuple(name for name in args.worlds.split(",") if name)
    unknown = set(worlds) - {"generated", "scarce", "demo"}
    if unknown:
        parser.error(f"unknown worlds: {', '.join(sorted(unknown))}")
    if "demo" in worlds:
        _set_up_django()
    global EXACT_VARIABLES
    EXACT_VARIABLES = None if args.exact_variables == "default" else int(args.exact_variables)
    # Read by every replay; the job processes are forked after this.
    replay_sim.FORECAST = args.forecast
    return Settings(
        seeds=args.seeds,
        scarce_seeds=args.scarce_seeds,
        review_days=args.review_days,
        skus=args.skus,
        warehouses=args.warehouses,
        days=args.days,
        cost_of_lost_sale=args.cost_of_lost_sale,
        sweep_costs=tuple(float(value) for value in args.sweep_costs.split(",") if value),
        sweep_seeds=args.sweep_seeds,
        worlds=worlds,
        jobs=args.jobs,
        timing_skus=args.timing_skus,
        timing_warehouses=args.timing_warehouses,
    )


def _set_up_django() -> None:
    """The demo world reads demo.catalogue, whose module imports models: Django must be set
    up, though no database is used."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.local")
    django.setup()


if __name__ == "__main__":
    sys.exit(main())
