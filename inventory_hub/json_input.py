"""JSON read from outside (API bodies, webhook deliveries), checked before anything uses it.

`json.loads` itself turns a body nested a few thousand deep into a `RecursionError`, and
takes 2^70, 1e308, NaN, Infinity and "\\u0000" without a word: each then fails later, in a
serializer, a worker or PostgreSQL. `load_json` refuses them at the door with
`UnacceptableJson`, which names where the value is (`line_items[3].quantity`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

# Deeper than any body the hub reads (a WooCommerce order is about 6 levels), far below
# the depth at which the parser or a recursive walk of the value runs out of stack.
MAX_JSON_DEPTH = 64
# PostgreSQL's bigint: no number the hub stores is wider, and a float this large has
# long lost its units.
MAX_JSON_NUMBER = 2**63 - 1


class UnacceptableJson(ValueError):
    """A body that is not JSON the hub can take; the message says what and where."""


class NotJson(UnacceptableJson):
    """Not JSON at all: a syntax error."""


def load_json(data: bytes | str, *, values: bool = True) -> object:
    """The parsed body, nested at most `MAX_JSON_DEPTH` deep.

    With `values` (the default) its strings and keys hold no NUL character, and its numbers
    are finite and within ±`MAX_JSON_NUMBER`. Raises `UnacceptableJson`.
    """
    try:
        parsed = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise UnacceptableJson(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnacceptableJson:
        raise
    except ValueError as error:
        raise NotJson(f"the body is not JSON ({error})") from None
    # A NUL can only be in a string as the escape \u0000 (JSON refuses raw control
    # characters there), so most bodies need no look at their strings.
    escape = b"\\u0000" if isinstance(data, bytes) else "\\u0000"
    check_json(parsed, values=values, strings=escape in data)  # type: ignore[operator]
    return parsed


def check_json(value: object, *, values: bool = True, strings: bool = True) -> None:
    """`load_json`'s checks on a value already parsed. Iterative: any depth is safe.

    `strings` False skips the NUL check of strings and keys (the caller knows there is none).
    """
    if _looks_clean(value, values=values, strings=strings):
        return
    _name_the_problem(value, values=values)


def _looks_clean(value: object, *, values: bool, strings: bool) -> bool:
    """Whether `value` passes every check: the fast pass, on every webhook delivery, which
    keeps no paths (`_name_the_problem` finds the place when this says no)."""
    if type(value) is not dict and type(value) is not list:
        return _scalar_is_clean(value, values=values, strings=strings)
    pending: list[tuple[dict | list, int]] = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        children: Iterable[Any]
        if depth > MAX_JSON_DEPTH:
            return False
        if type(container) is dict:
            if values and strings and any("\x00" in key for key in container):
                return False
            children = container.values()
        else:
            children = container
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                pending.append((child, depth + 1))
            elif not values:
                continue
            elif kind is str:
                if strings and "\x00" in child:
                    return False
            elif (kind is int or kind is float) and not (
                -MAX_JSON_NUMBER <= child <= MAX_JSON_NUMBER  # NaN fails it too
            ):
                return False
    return True


def _scalar_is_clean(value: object, *, values: bool, strings: bool) -> bool:
    return _looks_clean([value], values=values, strings=strings)


def _name_the_problem(value: object, *, values: bool) -> None:
    pending: list[tuple[object, str, int]] = [(value, "", 1)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise UnacceptableJson(
                    f"{where or 'the body'}: nested deeper than {MAX_JSON_DEPTH} levels"
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    path = f"{where}.{key}" if where else str(key)
                    if values and "\x00" in key:
                        raise UnacceptableJson(f"{_printable(path)}: a key contains NUL")
                    pending.append((child, path, depth + 1))
            else:
                pending.extend(
                    (child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item)
                )
        elif not values or item is None or isinstance(item, bool):
            continue
        elif isinstance(item, str):
            if "\x00" in item:
                raise UnacceptableJson(f"{_printable(where or 'the body')}: contains NUL")
        elif isinstance(item, int):
            if abs(item) > MAX_JSON_NUMBER:
                raise UnacceptableJson(
                    f"{_printable(where or 'the body')}: {item} is out of range "
                    f"(at most ±{MAX_JSON_NUMBER})"
                )
        elif isinstance(item, float) and (not math.isfinite(item) or abs(item) > MAX_JSON_NUMBER):
            raise UnacceptableJson(
                f"{_printable(where or 'the body')}: {item!r} is out of range "
                f"(at most ±{MAX_JSON_NUMBER})"
            )


def _no_constant(name: str) -> object:
    # Python's json reads them; JSON has no such numbers, and no quantity is one.
    raise UnacceptableJson(f"{name} is not a JSON number")


def _printable(path: str) -> str:
    return path.replace("\x00", "\\u0000")[:200]
