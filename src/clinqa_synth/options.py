"""Options declared once: a dataclass field carries its default, its help text and its command-line form.

The CLI's arguments are derived from the fields (`add_arguments`), the parsed namespace becomes the dataclass
again (`from_args`), and the library takes the object — so a new option is one field, and the CLI, the Python API
and the datasets builder cannot disagree about a default. (The same idea as transformers' `HfArgumentParser`.)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def option(
    default: Any = None,
    help: str = "",
    *,
    flag: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    cli: bool = True,
    env: str | None = None,
    default_factory: Callable[[], Any] | None = None,
    **argparse_kwargs: Any,
) -> Any:
    """A dataclass field with its command-line form.

    `flag` (default: --field-name), `parse` turns the argparse value into the field's value (e.g. "0/8" → (0, 8)),
    `env` names an environment variable that supplies the command-line default, `cli=False` keeps a field out of
    the command line; other keyword arguments go to `argparse.add_argument` (type, choices, action, metavar).
    """
    metadata = {"help": help, "flag": flag, "parse": parse, "cli": cli, "env": env, "argparse": argparse_kwargs}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser | Any, cls: type, names: tuple[str, ...] | None = None) -> None:
    """Add one argument per command-line field of the dataclass `cls` (only `names`, in that order, when given)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("cli", False)}
    for name in names or tuple(fields):
        field = fields[name]
        kwargs = dict(field.metadata.get("argparse", {}))
        if "default" not in kwargs and kwargs.get("action") not in ("store_true", "store_false", "append"):
            env = field.metadata.get("env")
            default = field.default if field.default is not dataclasses.MISSING else None
            kwargs["default"] = (os.environ.get(env) or default) if env else default
        if kwargs.get("action") == "append":
            kwargs.setdefault("default", [])
        parser.add_argument(flag_of(field), dest=name, help=field.metadata.get("help") or None, **kwargs)


def from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """The dataclass from a parsed namespace (fields the namespace lacks keep their defaults)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not field.metadata.get("cli", False) or not hasattr(args, field.name):
            continue
        value = getattr(args, field.name)
        parse = field.metadata.get("parse")
        values[field.name] = parse(value) if parse is not None else value
    return cls(**{**values, **overrides})


def json_object(text: str) -> dict[str, Any]:
    """argparse type: a JSON object, or one clear error naming the problem."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({exc.msg}); write e.g. '{{\"enable_thinking\": false}}'"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"enable_thinking\": false}'")
    return value
