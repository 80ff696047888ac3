"""One accessor for request parameters, whether they come from a query string or a JSON body.

Query strings follow PIMS (OpenAPI ``style: form, explode: false``): a list is ``a=1,2`` and
repeating the name (``a=1&a=2``) is accepted too. JSON bodies give typed values or arrays.
Every conversion error names the parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from cytotile.errors import BadParameter

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


class Args:
    def __init__(self, values: dict[str, list[Any]] | None = None) -> None:
        self.values: dict[str, list[Any]] = values or {}

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> Args:
        values: dict[str, list[Any]] = {}
        for name, raw in items:
            parts = [p.strip() for p in raw.split(",")]
            values.setdefault(name, []).extend(p for p in parts if p)
        return cls(values)

    @classmethod
    def from_json(cls, body: Any) -> Args:
        if body is None:
            return cls()
        if not isinstance(body, dict):
            raise BadParameter("the request body must be a JSON object")
        values: dict[str, list[Any]] = {}
        for name, value in body.items():
            if value is None:
                continue
            values[str(name)] = list(value) if isinstance(value, list) else [value]
        return cls(values)

    def merged(self, other: Args) -> Args:
        """These values, overridden by ``other``'s."""
        return Args({**self.values, **other.values})

    def has(self, name: str) -> bool:
        return bool(self.values.get(name))

    def raw(self, name: str) -> Any:
        """The JSON value as given (objects such as ``region``), or None."""
        values = self.values.get(name)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def many(self, name: str) -> list[Any] | None:
        values = self.values.get(name)
        return list(values) if values else None

    def one(self, name: str) -> Any:
        values = self.values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise BadParameter(f"{name}: a single value is expected, got {len(values)}")
        return values[0]

    def get_int(self, name: str, minimum: int | None = 0, maximum: int | None = None) -> int | None:
        value = self.one(name)
        return None if value is None else to_int(name, value, minimum, maximum)

    def get_ints(self, name: str, minimum: int | None = 0) -> list[int] | None:
        values = self.many(name)
        return None if values is None else [to_int(name, v, minimum) for v in values]

    def get_float(
        self, name: str, minimum: float | None = None, maximum: float | None = None
    ) -> float | None:
        value = self.one(name)
        return None if value is None else to_float(name, value, minimum, maximum)

    def get_floats(
        self, name: str, minimum: float | None = None, maximum: float | None = None
    ) -> list[float] | None:
        values = self.many(name)
        return None if values is None else [to_float(name, v, minimum, maximum) for v in values]

    def get_bool(self, name: str) -> bool | None:
        value = self.one(name)
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise BadParameter(f"{name}: {value!r} is not a boolean (true or false)")

    def get_str(self, name: str) -> str | None:
        value = self.one(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise BadParameter(f"{name}: a string is expected, got {value!r}")
        return value.strip()


def to_int(name: str, value: Any, minimum: int | None = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise BadParameter(f"{name}: an integer is expected, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and 0 < len(value.strip()) <= 40:
        with contextlib.suppress(ValueError):
            value = int(value.strip())
    if not isinstance(value, int):
        raise BadParameter(f"{name}: an integer is expected, got {value!r}")
    if minimum is not None and value < minimum:
        raise BadParameter(f"{name}: {value} is lower than the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise BadParameter(f"{name}: {value} is greater than the maximum {maximum}")
    return value


def to_float(
    name: str, value: Any, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool):
        raise BadParameter(f"{name}: a number is expected, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadParameter(f"{name}: a number is expected, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadParameter(f"{name}: a finite number is expected, got {value!r}")
    if minimum is not None and number < minimum:
        raise BadParameter(f"{name}: {value} is lower than the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise BadParameter(f"{name}: {value} is greater than the maximum {maximum}")
    return number


def is_number_text(value: Any) -> bool:
    """Whether a query value looks like a number (for fields that accept numbers or words)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True
