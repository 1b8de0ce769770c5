"""The `nas` command: parse arguments, call the Python API, print. No logic of its own.

Every user error is one line on stderr and exit code 2; a mistyped option prints the subcommand's usage.
The subcommands live in `info` (count, cells, backbones, export-spec, spaces, sample), `searching`
(search, report, export, analyze), `training` (train, scale), `weights` (reference checkpoints) and
`supernet` (supernet train, supernet score); their options derive from the config dataclasses
(`nas.cli.options`).
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from nas import __version__
from nas.cli import info, searching, supernet, training, weights
from nas.cli.options import attach_values, unknown_option
from search_spaces.errors import NasError


def parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and the parser of each subcommand."""
    top = argparse.ArgumentParser(prog="nas", description="Neural architecture search and scaling toolkit.")
    top.add_argument("--version", action="version", version=f"nas {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    for module in (info, searching, training, weights, supernet):
        module.add_commands(sub)
    return top, dict(sub.choices)


def _parse(argv: list[str]) -> argparse.Namespace:
    """Arguments parsed by the subcommand's own parser, so its usage is what a mistake shows."""
    top, commands = parser()
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in commands:
        i = argv.index(command)
        argv = argv[:i + 1] + attach_values(argv[i + 1:], commands[command])
    args, extra = top.parse_known_args(argv)
    if extra:
        unknown_option(commands[args.command], extra)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nas` console script."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except NasError as err:
        print(f"nas {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM; a search says how to resume
        print(f"nas {args.command}: interrupted" + (f": {err}" if str(err) else ""), file=sys.stderr)
        return 130
    return 0
