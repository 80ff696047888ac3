"""Records looked up in a Cytomine core before they are made again: after a lost answer.

A call that creates a record can be carried out by the core and still fail here: the connection
cut before the answer came back. :func:`created` notes such a record in the upload's state
(:mod:`cytotile.importer.core_state`), and the next attempt looks it up first, through the
core's own lists (as its REST API answers them, ``{"collection": [...]}``):

- an ``UploadedFile`` among its parent's (``uploadedfile.json?parent=<id>``), by file name;
- the ``AbstractImage`` of an ``UploadedFile`` (``uploadedfile/<id>/abstractimage.json``);
- an image's ``ImageInstance`` in a project (``abstractimage/<id>/imageinstance.json``), its
  slices (``abstractimage/<id>/abstractslice.json``), its properties' keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cytotile.cytomine_core import CoreClient
    from cytotile.importer.core_state import Registration

Record = dict[str, Any]


def created(
    state: Registration, name: str, create: Callable[[], Record], find: Callable[[], Record | None]
) -> Record:
    """Record ``name``, as ``create()`` answers it; when a call creating it got no answer
    before, ``find()`` looks it up in the core first (None: not there), so that it is not
    made twice. A call that gets no answer now is noted for the next attempt."""
    from cytotile.cytomine_core import CoreError

    if state.unanswered(name):
        found = find()
        if found is not None:
            state.answered(name)
            return found
    try:
        made = create()
    except CoreError as exc:
        if exc.status is None:  # sent, perhaps carried out: looked up next time
            state.lost(name)
        raise
    state.answered(name)
    return made


def listed(core: CoreClient, uri: str) -> list[Record]:
    """Every object of a list the core answers (``{"collection": [...]}``, unpaged)."""
    sep = "&" if "?" in uri else "?"
    found = core.get(f"{uri}{sep}max=0&offset=0")
    items = found.get("collection") if isinstance(found, dict) else found
    return [i for i in items or [] if isinstance(i, dict)]


def child(core: CoreClient, parent: Any, filename: str) -> Record | None:
    """The ``UploadedFile`` under ``parent`` whose file is ``filename``, if the core has it."""
    files = listed(core, f"uploadedfile.json?parent={parent}")
    return next((f for f in files if f.get("filename") == filename), None)


def image_of(core: CoreClient, uploaded_file: Any) -> Record | None:
    """The ``AbstractImage`` of an ``UploadedFile``, or None (the core answers 404)."""
    from cytotile.cytomine_core import CoreError

    try:
        found = core.get(f"uploadedfile/{uploaded_file}/abstractimage.json")
    except CoreError as exc:
        if exc.status == 404:
            return None
        raise
    return found if isinstance(found, dict) and "id" in found else None


def instance_of(core: CoreClient, image: Record, project: int) -> Record | None:
    """The image's ``ImageInstance`` in ``project``, if the core has one."""
    instances = listed(core, f"abstractimage/{image['id']}/imageinstance.json")
    return next((i for i in instances if ident(i.get("project")) == project), None)


def planes_of(core: CoreClient, image: Record) -> set[tuple[Any, Any, Any]]:
    """(channel, z, t) of each slice the core has of the image."""
    return {plane(s) for s in listed(core, f"abstractimage/{image['id']}/abstractslice.json")}


def property_keys(core: CoreClient, domain: Record) -> set[Any]:
    """The keys of the properties the core has of ``domain`` (an object: its id and class)."""
    from cytotile.importer.core_models import property_uri

    return {p.get("key") for p in listed(core, property_uri(domain))}


def plane(slice_: Record) -> tuple[Any, Any, Any]:
    return slice_.get("channel"), slice_.get("zStack"), slice_.get("time")


def ident(value: Any) -> Any:
    """An object's id, whether the core answers it as an id or as the object."""
    return value.get("id") if isinstance(value, dict) else value
