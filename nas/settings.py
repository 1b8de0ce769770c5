"""Settings declared once: a config dataclass field carries its default, its help and how a user's text
becomes its value, so the command line, config files and the Python API all derive from the same field.

    epochs: int = setting(2, "proxy epochs per candidate")
    budget: int = setting(300_000_000, "FLOPs budget", parse=parse_budget, shown="300MFLOPs")

`help_of`, `parse_of` and `shown_of` read a field back; `cli=False` keeps a field off the command line (it
is set through another option, e.g. a dataset's kind through `--data`).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Callable


def setting(default: Any = dataclasses.MISSING, help: str = "", *, parse: Callable[[str], Any] | None = None,
            shown: str | None = None, cli: bool = True, factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with its help text, an optional parser for text (a budget string), the default
    as help should show it, and whether the command line offers it."""
    meta = {"help": help, "parse": parse, "shown": shown, "cli": cli}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def help_of(f: dataclasses.Field) -> str:
    """The field's help text ('' when it has none)."""
    return f.metadata.get("help", "")


def parse_of(f: dataclasses.Field) -> Callable[[str], Any] | None:
    """The field's parser for text, if it has one."""
    return f.metadata.get("parse")


def on_cli(f: dataclasses.Field) -> bool:
    """Whether the command line offers the field."""
    return f.metadata.get("cli", True)


def default_of(f: dataclasses.Field) -> Any:
    """The field's default value (built by its factory where it has one)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def shown_of(f: dataclasses.Field) -> str:
    """The default as help shows it."""
    shown = f.metadata.get("shown")
    return shown if shown is not None else repr(default_of(f)) if isinstance(default_of(f), str) else str(default_of(f))


def value_type(cls: type, f: dataclasses.Field) -> tuple[Any, bool]:
    """(the field's value type, whether None is allowed): `int | None` gives (int, True); a tuple of floats
    gives tuple[float, ...]."""
    hint = typing.get_type_hints(cls)[f.name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


@dataclasses.dataclass(frozen=True)
class Flat:
    """One setting by its flat name: the nested field it is in (None: a field of the top config), the
    class that declares it, and the field."""

    owner: str | None
    cls: type
    field: dataclasses.Field


def flat_fields(cls: type, nested: dict[str, type] | None = None, unprefixed: tuple[str, ...] = ()) -> dict[str, Flat]:
    """Every setting of config class `cls` by flat name: its own fields by name, and the fields of each
    nested config (`nested`: field name -> class) as `{field}_{name}`, or by their bare name for the nested
    configs in `unprefixed` unless the top config has that name too (a search's `seed`: `train_seed`)."""
    own = {f.name: Flat(None, cls, f) for f in dataclasses.fields(cls)}
    flat = dict(own)
    for name, inner_cls in (nested or {}).items():
        for inner in dataclasses.fields(inner_cls):
            bare = name in unprefixed and inner.name not in own
            flat[inner.name if bare else f"{name}_{inner.name}"] = Flat(name, inner_cls, inner)
    return flat


def parsed(f: dataclasses.Field, value: Any) -> Any:
    """A value for field `f`: text parsed by the field's parser where it has one, else as given."""
    parse = parse_of(f)
    return parse(value) if parse is not None and isinstance(value, str) else value


def replace_flat(base: Any, fields: dict[str, Flat], settings: dict[str, Any]) -> Any:
    """`base` with `settings` by flat name (nested configs replaced field by field); TypeError for an
    unknown name, as a function call gives."""
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in settings.items():
        where = fields[name]
        if where.owner is None:
            top[where.field.name] = parsed(where.field, value)
        else:
            nested.setdefault(where.owner, {})[where.field.name] = parsed(where.field, value)
    for owner, changes in nested.items():
        top[owner] = dataclasses.replace(top.get(owner, getattr(base, owner)), **changes)
    return dataclasses.replace(base, **top)
