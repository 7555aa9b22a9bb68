"""The checks every value of a workflow config gets before the schema sees it, and the
short quote of a value that error messages use.

A config is untrusted like any input: a 980-byte YAML file can expand through its aliases
to billions of values (each alias is one shared object, until something walks or prints
it), a key can hold a 20 MB text, and YAML reads ``.nan`` and ``.inf`` as numbers that
pass every JSON Schema bound (NaN compares false with everything). So the config is
walked once, without recursion and counting each use of an alias, before jsonschema
builds a message that quotes a value: at most budgets.CONFIG_VALUES values, nested at
most CONFIG_NESTING deep, texts of at most CONFIG_STRING_CHARS, keys that are texts,
finite numbers only. Each refusal is one line naming the key.
"""

from __future__ import annotations

import math
import reprlib

from goodnet.core import budgets
from goodnet.core.errors import GoodnetError


def check_values(config) -> None:
    """Refuse the first value of ``config`` that no real study has (see the module)."""
    stack: list[tuple[tuple, object]] = [((), config)]
    count = 0
    while stack:
        where, value = stack.pop()
        count += 1
        if count > budgets.CONFIG_VALUES:
            _refuse(
                where[:1],
                f"the config holds more than {budgets.CONFIG_VALUES} values (YAML aliases "
                "that expand: an alias bomb?); a study needs a few dozen",
            )
        if len(where) > budgets.CONFIG_NESTING:
            _refuse(where[:1], f"nested more than {budgets.CONFIG_NESTING} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    _refuse(where, f"the key {short(key)} is not a text")
                stack.append(((*where, key), item))
        elif isinstance(value, (list, tuple)):
            stack.extend(((*where, i), item) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            _refuse(where, f"{value} is not a finite number (NaN and infinities are refused)")
        elif isinstance(value, str) and len(value) > budgets.CONFIG_STRING_CHARS:
            _refuse(
                where,
                f"a text of {len(value)} characters ({short(value)}); at most "
                f"{budgets.CONFIG_STRING_CHARS}",
            )


def short(value) -> str:
    """``repr(value)``, cut to about budgets.QUOTE_CHARS characters, without ever building
    the whole repr (a value may expand to gigabytes)."""
    text = _QUOTE.repr(value)
    limit = budgets.QUOTE_CHARS
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key(where) -> str:
    """'prune.thresholds.1', as jsonschema names a place; '(top level)' for the root."""
    return ".".join(str(part) for part in where) or "(top level)"


def _refuse(where, problem: str):
    raise GoodnetError("config", f"{key(where)}: {problem}")


def _quoter() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 2, 4, 4, 4, 4
    r.maxstring = r.maxother = r.maxlong = budgets.QUOTE_CHARS
    return r


_QUOTE = _quoter()
