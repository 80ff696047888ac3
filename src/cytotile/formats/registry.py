"""The registry of formats: every format, built in or from another package, is an entry point of
the group ``cytotile.formats`` whose object is a :class:`~cytotile.formats.base.Format` subclass.

Detection tries them by ``Format.order`` (then identifier), so specific formats come before the
generic ones they are special cases of. Loaded on first use, never at import time.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points

from cytotile.formats.base import Format

GROUP = "cytotile.formats"
log = logging.getLogger("cytotile.formats")


class RegistryError(RuntimeError):
    """No format is registered: cytotile's own distribution metadata is missing."""


@functools.cache
def registered() -> tuple[type[Format], ...]:
    """Every registered format, in detection order. A plugin that fails to load is logged and
    left out; two formats with one identifier: the first in order is kept."""
    found: dict[str, type[Format]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except MemoryError:  # the process's limit, not the plugin: the step fails, as it is
            raise
        except Exception:  # a broken plugin must not stop the other formats
            log.exception("cannot load the format entry point %s = %s", ep.name, ep.value)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Format) and getattr(cls, "id", None)):
            log.error("entry point %s = %s is not a Format with an id", ep.name, ep.value)
            continue
        previous = found.get(cls.id)
        if previous is None or (cls.order, ep.value) < (previous.order, _where(previous)):
            found[cls.id] = cls
    if not found:
        raise RegistryError(
            f"no image format is registered in the entry-point group {GROUP!r}: "
            "install cytotile (pip install -e .) so that its metadata is found"
        )
    return tuple(sorted(found.values(), key=lambda f: (f.order, f.id)))


def _where(cls: type[Format]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"
