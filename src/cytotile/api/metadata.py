"""Image and file information (PIMS metadata schemas), from the upload's manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cytotile.api.http import JSON, conditional, make_etag
from cytotile.api.info import collection
from cytotile.api.routing import context, route
from cytotile.errors import BadParameter, BadPath, ImageNotFound, NotFound
from cytotile.manifest import FileEntry, Manifest, Status, upload_id_of
from cytotile.pipeline import colormaps
from cytotile.pipeline.args import Args
from cytotile.pyramid import Pyramid
from cytotile.storage.base import Storage, safe_key

ROLES = ("UPLOAD", "ORIGINAL", "SPATIAL", "SPECTRAL")
RGB_CHANNELS = ("R", "G", "B")
ASSOCIATED_ORDER = ("thumb", "label", "macro")
#: PIMS's ImageInfo fields, in its order; ``None`` marks those computed here
IMAGE_FIELDS = (
    "original_format", "width", "height", "depth", "duration", "physical_size_x",
    "physical_size_y", "physical_size_z", "frame_rate", "n_channels", "n_concrete_channels",
    "n_samples", "n_planes", "are_rgb_planes", "n_distinct_channels", "acquired_at",
    "description", "pixel_type", "significant_bits", "bits",
)  # fmt: skip
BITS = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "float32": 32}
#: the channel name PIMS turns into a colour before trying CSS names (R, G, B, and L for grey)
NAMED_CHANNELS = {"R": "#f00", "G": "#0f0", "B": "#00f", "L": "#fff"}


def load(request: Request) -> Manifest:
    return Manifest.load(context(request).storage, upload_id_of(request.path_params["path"]))


def image_of(manifest: Manifest) -> dict[str, Any]:
    if not manifest.image:
        raise ImageNotFound(f"{manifest.id} has no image ({manifest.status.value})")
    return manifest.image


def answer(request: Request, manifest: Manifest, content: Callable[[], Any]) -> Response:
    """A cacheable JSON answer; revalidated while the upload is still being imported."""
    etag = make_etag("json", request.url.path, str(request.query_params), manifest.to_json())
    max_age = context(request).settings.cache_max_age if manifest.status.is_final else None
    return conditional(request, etag, max_age, lambda: JSON(content()))


def image_info(m: Manifest) -> dict[str, Any]:
    """PIMS's ImageInfo: every field, computed ones included (n_planes, bits, are_rgb_planes)."""
    img = image_of(m)
    n_samples = int(img.get("n_samples") or 1)
    computed = {
        "original_format": m.format_id or img.get("format_id"),
        "depth": img.get("depth", 1),
        "duration": img.get("duration", 1),
        "n_samples": n_samples,
        "n_planes": img["n_concrete_channels"] * img.get("depth", 1) * img.get("duration", 1),
        "are_rgb_planes": n_samples > 1,
        "n_distinct_channels": img.get("n_distinct_channels", 1),
        "bits": BITS.get(img.get("pixel_type", ""), img.get("significant_bits")),
        # the file's own type: signed samples are stored shifted, invisibly to clients
        "pixel_type": img.get("sample_type") or img.get("pixel_type"),
    }
    return {k: computed[k] if k in computed else img.get(k) for k in IMAGE_FIELDS}


def channel_color(channel: dict[str, Any]) -> str | None:
    """The file's colour, else PIMS's inference from the name (R, G, B, L, a CSS colour name);
    PIMS's short lower-case hex (``#f00``)."""
    given = channel.get("color")
    rgb = colormaps.color_rgb(given) if isinstance(given, str) else None
    if rgb is None:
        name = str(channel.get("suggested_name") or "").strip()
        if name.upper() in NAMED_CHANNELS:
            return NAMED_CHANNELS[name.upper()]
        rgb = colormaps.color_rgb(name) if name and not name.startswith("#") else None
    return colormaps.short_hex(rgb) if rgb is not None else None


def channels_info(m: Manifest) -> list[dict[str, Any]]:
    img = image_of(m)
    fields = ("index", "suggested_name", "emission_wavelength", "excitation_wavelength")
    channels = img.get("channels") or []
    if not channels:
        n = img["n_channels"]
        rgb = n == 3 and img.get("n_samples") == 3
        names = RGB_CHANNELS if rgb else ["L"] if n == 1 else [f"C{i}" for i in range(n)]
        channels = [{"index": i, "suggested_name": name} for i, name in enumerate(names)]
    return [{**{k: c.get(k) for k in fields}, "color": channel_color(c)} for c in channels]


def instrument_info(m: Manifest) -> dict[str, Any]:
    img = image_of(m)
    return {
        "microscope": {"model": img.get("microscope_model")},
        "objective": {
            "nominal_magnification": img.get("objective_nominal_magnification"),
            "calibrated_magnification": img.get("objective_calibrated_magnification"),
        },
    }


def associated_info(m: Manifest) -> list[dict[str, Any]]:
    """PIMS's associated items, in its order (thumb, label, macro)."""
    described = image_of(m).get("associated") or {}
    return [
        {"name": name, **{k: described[name].get(k) for k in ("width", "height", "n_channels")}}
        for name in ASSOCIATED_ORDER
        if name in described and name in m.associated
    ]


def file_info(
    m: Manifest, entry: FileEntry, children: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """PIMS's file info; an extracted archive (COLLECTION) lists its children's."""
    name = PurePosixPath(entry.key.split("://")[-1]).name
    info: dict[str, Any] = {
        "file_type": "COLLECTION" if m.status is Status.EXTRACTED else "SINGLE",
        "filepath": entry.key,
        # as PIMS: every suffix is the extension (".ome.tif"), the stem what precedes them
        "stem": PurePosixPath(name).stem.split(".")[0],
        "extension": "".join(PurePosixPath(name).suffixes),
        "created_at": m.created_at,
        "size": entry.size if entry.size is not None else 0,
        "is_symbolic": entry.is_reference,
        "role": entry.role,
    }
    if info["file_type"] == "COLLECTION":
        info["children"] = children or []
    return info


def children_info(storage: Storage, m: Manifest) -> list[dict[str, Any]]:
    """The file info of each child of an extracted archive (its upload), from its manifest."""
    found = []
    for child in m.children:
        try:
            cm = Manifest.load(storage, str(child.get("id")))
        except (ImageNotFound, BadPath):
            continue  # a child removed since, or a malformed record: not listed
        upload = cm.file("UPLOAD")
        if upload is not None:
            found.append(file_info(cm, upload))
    return found


def representation(m: Manifest, entry: FileEntry) -> dict[str, Any]:
    """PIMS's representation fields. SPATIAL is cytotile's own serving pyramid (one tiled TIFF
    whose tiers are exactly the normalized pyramid), not the original's: ``pyramid`` describes
    it and ``serving_pyramid`` says how it was written."""
    info: dict[str, Any] = {"role": entry.role, "file": file_info(m, entry)}
    if entry.role == "SPATIAL" and m.image:
        info["pyramid"] = Pyramid(m.image["width"], m.image["height"]).info
        written = m.pyramid or {}
        info["serving_pyramid"] = {
            "generated_by": "cytotile",
            "normalized": True,
            **{k: written.get(k) for k in ("compression", "quality")},
        }
    return info


def representations(m: Manifest) -> list[dict[str, Any]]:
    return [representation(m, f) for f in m.files if f.role in ROLES]


def metadata_type(value: Any) -> str:
    """PIMS's metadata type of a stored value (the type of the value, as PIMS infers it)."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "DECIMAL"
    if isinstance(value, dict):
        return "JSON"
    if isinstance(value, list):
        return "LIST"
    return "STRING" if isinstance(value, str) else "UNKNOWN"


def metadata_items(m: Manifest) -> list[dict[str, Any]]:
    """PIMS's metadata items: typed values, upper-case namespaces (whatever a format stored)."""
    items = []
    for full_key, value in (image_of(m).get("raw_metadata") or {}).items():
        namespace, _, key = str(full_key).partition(".")
        if not key:
            namespace, key = "", namespace
        kind = metadata_type(value)
        if kind == "UNKNOWN":
            value = str(value)
        items.append({"key": key, "value": value, "type": kind, "namespace": namespace.upper()})
    return items


def _part(content: Callable[[Manifest], Any]) -> Callable[[Request, Args], Response]:
    def handler(request: Request, args: Args) -> Response:
        manifest = load(request)
        image_of(manifest)
        return answer(request, manifest, lambda: content(manifest))

    handler.__name__ = content.__name__
    return handler


def full_info(m: Manifest) -> dict[str, Any]:
    return {
        "image": image_info(m),
        "instrument": instrument_info(m),
        "associated": associated_info(m),
        "channels": channels_info(m),
        "representations": representations(m),
    }


def show_representation(request: Request, args: Args) -> Response:
    manifest = load(request)
    role = request.path_params["role"].upper()
    if role not in (*ROLES, "NONE"):
        raise BadParameter(f"representation: {role!r} is not one of {', '.join(ROLES)}, NONE")
    entry = manifest.file(role)
    if entry is None:
        raise NotFound(f"{manifest.id} has no {role} representation")
    return answer(request, manifest, lambda: representation(manifest, entry))


def show_file(request: Request, args: Args) -> Response:
    path = safe_key(request.path_params["path"])
    manifest = Manifest.load(context(request).storage, upload_id_of(path))
    entry = next((f for f in manifest.files if f.key == path), None)
    if entry is None and path == manifest.id:
        entry = manifest.file("UPLOAD")
    if entry is None:
        raise NotFound(f"no file {path!r} in {manifest.id}")
    storage = context(request).storage

    def content() -> dict[str, Any]:
        return file_info(manifest, entry, children_info(storage, manifest))

    return answer(request, manifest, content)


def routes() -> list[BaseRoute]:
    base = "/image/{path}"
    return [
        route(base + "/info", _part(full_info)),
        route(base + "/info/image", _part(image_info)),
        route(base + "/info/channels", _part(lambda m: collection(channels_info(m)))),
        route(base + "/info/normalized-pyramid",
              _part(lambda m: Pyramid(m.image["width"], m.image["height"]).info)),  # type: ignore[index]
        route(base + "/info/instrument", _part(instrument_info)),
        route(base + "/info/associated", _part(lambda m: collection(associated_info(m)))),
        route(base + "/info/representations", _part(lambda m: collection(representations(m)))),
        route(base + "/info/representations/{role}", show_representation),
        route(base + "/metadata", _part(lambda m: collection(metadata_items(m)))),
        route("/file/{path}/info", show_file),
    ]  # fmt: skip
