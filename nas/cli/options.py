"""Command-line options derived from the config dataclasses (`nas.settings`): one option per setting, its
help and default from the field, so a default is written once. Options a user did not give are absent
from the parsed namespace (argparse.SUPPRESS), so a config file's values are overridden only by what was
typed. Also: values that start with '-' (`--budget -5M` reaches the budget's own error), and a mistyped
option answered by the subcommand's usage."""
from __future__ import annotations

import argparse
import difflib
import typing
from typing import Any, Callable, Sequence

from nas.settings import Flat, help_of, on_cli, shown_of, value_type


def flag(name: str) -> str:
    """The option of a flat setting name: `cpus_per_trial` -> `--cpus-per-trial`."""
    return "--" + name.replace("_", "-")


def _optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A converter that reads 'none' as None (an optional setting such as a resolution)."""
    def convert(text: str) -> Any:
        return None if text.lower() == "none" else kind(text)

    convert.__name__ = getattr(kind, "__name__", "value")  # argparse names the type in its errors
    return convert


def add_settings(parser: argparse.ArgumentParser, fields: dict[str, Flat], title: str | None = None,
                 dest_prefix: str = "") -> list[str]:
    """One option per setting of `fields` (except those kept off the command line), in a group called
    `title`, stored as `dest_prefix + name` (two configs of one command may share a name); returns the flat
    names added. Booleans get `--x/--no-x`, tuples take several values; text that a field parses itself (a
    budget) stays text here and is parsed with the config, so errors are the config's one-line errors."""
    group = parser.add_argument_group(title) if title else parser
    added = []
    for name, where in fields.items():
        if not on_cli(where.field):
            continue
        dest = dest_prefix + name
        kind, optional = value_type(where.cls, where.field)
        text = f"{help_of(where.field)} (default: {shown_of(where.field)})"
        if kind is bool:
            group.add_argument(flag(name), dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=text)
        elif typing.get_origin(kind) is tuple:  # a list of values: --phi 0 1 2 (a repeated flag adds to it)
            group.add_argument(flag(name), dest=dest, type=typing.get_args(kind)[0], nargs="+", action="extend",
                               default=argparse.SUPPRESS, metavar=name.upper(), help=text)
        else:
            convert = kind if kind in (int, float) and where.field.metadata.get("parse") is None else str
            group.add_argument(flag(name), dest=dest, type=_optional(convert) if optional else convert,
                               default=argparse.SUPPRESS, metavar=name.upper(), help=text)
        added.append(name)
    return added


def add_groups(parser: argparse.ArgumentParser, fields: dict[str, Flat], titles: dict[str | None, str]) -> None:
    """`add_settings` once per owner of the fields (None: the job's own settings), each group with its title."""
    for owner, title in titles.items():
        add_settings(parser, {n: f for n, f in fields.items() if f.owner == owner}, title=title)


def given(args: argparse.Namespace, names: Sequence[str], prefix: str = "") -> dict[str, Any]:
    """The settings among `names` the user typed (absent ones were suppressed), without `prefix`."""
    return {name[len(prefix):]: getattr(args, name) for name in names if hasattr(args, name)}


def _takes_value(action: argparse.Action) -> bool:
    return action.option_strings != [] and action.nargs != 0 and not isinstance(
        action, (argparse.BooleanOptionalAction, argparse._StoreTrueAction, argparse._VersionAction,
                 argparse._HelpAction))


def attach_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`--opt -5M` as `--opt=-5M` for options that take one value: argparse reads a value that starts with
    '-' as another option and prints its usage; the setting's own check should answer instead."""
    options = {s for action in parser._actions if _takes_value(action) and action.nargs in (None, 1)
               for s in action.option_strings}
    known = {s for action in parser._actions for s in action.option_strings}
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in options and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] not in known:
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def unknown_option(parser: argparse.ArgumentParser, extra: list[str]) -> None:
    """The subcommand's usage and one line naming what it did not understand (and the closest option)."""
    known = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    hints = [difflib.get_close_matches(e.split("=")[0], known, n=1) for e in extra if e.startswith("-")]
    hint = next((f"; did you mean {h[0]}?" for h in hints if h), "")
    parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
