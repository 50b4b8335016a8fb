"""`flowmachine cache ...`: cache commands for operators (run by the `flowmachine` console script).

    flowmachine cache shrink [--size BYTES] [--protected-period SECONDS] [--dry-run]

prints the evicted query ids, one a line, then (on stderr) how many and the cache's size before and after.
Settings come from the environment, as for the server (FLOWDB_HOST, FLOWMACHINE_FLOWDB_USER, REDIS_HOST, ...).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flowmachine.core.cache_eviction import shrink_below_size
from flowmachine.core.cache_tables import cache_size
from flowmachine.core.context import Context
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.settings import Settings


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `cache` and its subcommands to the `flowmachine` command line's `commands`."""
    cache = commands.add_parser(
        "cache",
        help="manage the cache of computed results",
        description="Manage FlowMachine's cache.",
    )
    cache_commands = cache.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shrink = cache_commands.add_parser(
        "shrink",
        help="evict the lowest-scoring results until the cache fits its size",
        description="Evict the lowest-scoring cached results until the cache is at most its size. Results "
        "within the protected period, read in the last minute, being read, or being computed are kept.",
    )
    shrink.add_argument(
        "--size",
        type=_non_negative,
        metavar="BYTES",
        help="the size to shrink to (default: FlowDB's cache_size, set from CACHE_SIZE)",
    )
    shrink.add_argument(
        "--protected-period",
        type=_non_negative,
        metavar="SECONDS",
        help="keep results younger than this (default: FlowDB's cache_protected_period, "
        "set from CACHE_PROTECTED_PERIOD)",
    )
    shrink.add_argument("--dry-run", action="store_true", help="only list what would be evicted")
    return cache


def main(argv: Sequence[str], *, settings: Settings | None = None) -> int:
    """`flowmachine cache ARGV...`: the exit status (0, or 1 when FlowDB or Redis cannot be reached)."""
    parser = argparse.ArgumentParser(prog="flowmachine")
    add_parser(parser.add_subparsers(dest="component", required=True))
    return run(parser.parse_args(["cache", *argv]), settings=settings)


def run(args: argparse.Namespace, *, settings: Settings | None = None) -> int:
    """Run the parsed cache command."""
    try:
        with Context.open(settings or Settings.from_env(), repair=False) as ctx:
            before = cache_size(ctx)
            evicted = shrink_below_size(
                ctx, args.size, protected_period=args.protected_period, dry_run=args.dry_run
            )
            after = cache_size(ctx)
    except FlowMachineError as exc:
        print(f"flowmachine cache {args.command}: {exc}", file=sys.stderr)
        return 1
    for query_id in evicted:
        print(query_id)
    verb = "would evict" if args.dry_run else "evicted"
    print(
        f"{verb} {len(evicted)} results; cache size {before} bytes before, {after} after",
        file=sys.stderr,
    )
    return 0
