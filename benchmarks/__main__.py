"""``python -m benchmarks``: the benchmark suite, its report table, and the demo data set.

python -m benchmarks --quick                 small size, < 1 min; prints one JSON object
python -m benchmarks --full [--size large]   medium (default) or large; prints the table
python -m benchmarks table FILE              the Markdown table of a results file
python -m benchmarks demo [--size N] [--data-dir var]
python -m benchmarks disclosure [--units N …]   times disclosure control (issue #12)
python -m benchmarks pages --data-dir D      times every page on a demo data set (issue #23)
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.workload import SIZES


def _suite(args: argparse.Namespace) -> int:
    from benchmarks import report, suite

    if args.quick:
        plan = suite.quick_plan()
        if args.size is not None:
            plan = suite.Plan(
                **{**plan.__dict__, "size": args.size, "trajectories": SIZES[args.size]}
            )
    else:
        backends = tuple(args.backend) if args.backend else ("postgres", "sqlite")
        plan = suite.full_plan(args.size or "medium", backends)
    result = suite.run(plan, seed=args.seed, keep=args.keep)
    path = suite.write(result)
    suite.say(f"results written to {path}")
    if args.quick:
        print(json.dumps(report.quick_figures(result, path)))
    else:
        print(report.table(result))
    return 0


def _table(args: argparse.Namespace) -> int:
    from benchmarks import report

    path = Path(args.file)
    if not path.exists() and (Path(__file__).parent / args.file).exists():
        path = Path(__file__).parent / args.file
    print(report.table(json.loads(path.read_text())))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from benchmarks import demo

    size = demo.SIZE if args.size is None else args.size
    return demo.main(size=size, data_dir=Path(args.data_dir), seed=args.seed)


def _disclosure(args: argparse.Namespace) -> int:
    from benchmarks import disclosure

    return disclosure.main(sizes=tuple(args.units or (10_000, 100_000)), seed=args.seed)


def _pages(args: argparse.Namespace) -> int:
    from benchmarks import pages

    out = Path(args.out) if args.out else None
    return pages.main(Path(args.data_dir), n=args.requests, repeats=args.repeats, out=out)


def _as_of(args: argparse.Namespace) -> int:
    from benchmarks import as_of

    backends = tuple(args.backend) if args.backend else ("postgres", "sqlite")
    return as_of.main(trajectories=args.trajectories, seed=args.seed, backends=backends)


def _chain_cost(args: argparse.Namespace) -> int:
    from benchmarks import chain_cost

    backends = tuple(args.backend) if args.backend else ("postgres", "sqlite")
    return chain_cost.main(
        backends=backends,
        concurrencies=tuple(args.clients),
        pairs=args.pairs,
        seed=args.seed,
        control=args.control,
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    mode = root.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small size, under a minute (default)")
    mode.add_argument("--full", action="store_true", help="the full suite (medium by default)")
    root.add_argument("--size", choices=sorted(SIZES, key=SIZES.__getitem__), default=None)
    root.add_argument(
        "--backend",
        action="append",
        choices=("postgres", "sqlite"),
        help="full mode: only this backend (repeat for both; default both)",
    )
    root.add_argument("--seed", type=int, default=1, help="the workload's seed (default 1)")
    root.add_argument(
        "--keep", action="store_true", help="keep the benchmark database and data dir"
    )
    root.set_defaults(run=_suite)
    commands = root.add_subparsers(dest="command")
    table = commands.add_parser("table", help="print the Markdown table of a results file")
    table.add_argument("file", help="a JSON file under benchmarks/results/")
    table.set_defaults(run=_table)
    demo = commands.add_parser("demo", help="load the embedded service with a demo data set")
    demo.add_argument(
        "--size",
        type=int,
        default=None,
        help="trajectories, referred over two years (default 2000)",
    )
    demo.add_argument("--data-dir", default="var", help="the embedded data dir (default var)")
    demo.add_argument("--seed", type=int, default=7, help="the workload's seed (default 7)")
    demo.set_defaults(run=_demo)
    pages = commands.add_parser("pages", help="time every page on a demo data set (issue #23)")
    pages.add_argument("--data-dir", required=True, help="a data dir the demo loaded")
    pages.add_argument("--requests", type=int, default=100, help="per page and repeat (100)")
    pages.add_argument("--repeats", type=int, default=3, help="repeats (default 3)")
    pages.add_argument("--out", default=None, help="write the figures there as JSON")
    pages.set_defaults(run=_pages)
    disclosure = commands.add_parser("disclosure", help="time disclosure control (issue #12)")
    disclosure.add_argument(
        "--units",
        type=int,
        action="append",
        help="units of a synthetic year release (repeat; default 10,000 and 100,000)",
    )
    disclosure.add_argument("--seed", type=int, default=1, help="the population's seed")
    disclosure.set_defaults(run=_disclosure, units=None)
    as_of = commands.add_parser("as-of", help="time the auditors' answers as of a moment (#15)")
    as_of.add_argument("--trajectories", type=int, default=200, help="workload trajectories")
    as_of.add_argument("--seed", type=int, default=1, help="the workload's seed")
    as_of.set_defaults(run=_as_of)
    chain = commands.add_parser(
        "chain-cost", help="command throughput with and without the hash chain (#16)"
    )
    chain.add_argument(
        "--pairs", type=int, default=8, help="pairs of windows, with and without, ABBA order"
    )
    chain.add_argument("--seed", type=int, default=1, help="the workload's seed")
    chain.add_argument(
        "--clients", type=int, nargs="+", default=[1, 8], help="concurrencies measured"
    )
    chain.add_argument(
        "--control",
        action="store_true",
        help="after each measurement, an A/A run of two stores without the chain: the noise",
    )
    chain.set_defaults(run=_chain_cost)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    from rodedraad.logs import configure_logging

    args = parser().parse_args(argv)
    # The application's own logs (e.g. the KEK's creation) go to stderr: stdout is the result.
    configure_logging("warning", "json")
    if args.command is None and not args.full:
        args.quick = True
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
