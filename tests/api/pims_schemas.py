"""PIMS's response schemas for the contract test: the spec's, made strict, plus PIMS 1.4's fields.

``../shared/reference/pims-openapi.yaml`` (PIMS's API specification 0.1.0) declares fields but
requires none, so a missing field would pass; here every declared property is required. The
spec's OpenAPI 3.0 keywords become JSON Schema (``nullable``, ``discriminator``) and its
``$ref``s resolve inside one root document. PIMS 1.4, whose answers Cytomine reads, sends fields
the 0.1.0 spec does not declare; ``OVERLAY`` adds them (and fixes where the spec contradicts
PIMS 1.4's answers), each listed in docs/pims-parity.md.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pims-openapi.yaml"
REF = "#/components/schemas/"
NUMBER = {"type": "integer"}
STRING = {"type": "string"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": REF + name}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _collection(*items: dict[str, Any]) -> dict[str, Any]:
    return obj(size=NUMBER, items=array(items[0] if len(items) == 1 else {"allOf": list(items)}))


HISTOGRAM_INFO = obj(type=ref("histogram-type"), minimum=NUMBER, maximum=NUMBER)
HISTOGRAM = obj(first_bin=NUMBER, last_bin=NUMBER, n_bins=NUMBER, histogram=array(NUMBER))
CHANNEL = obj(channel=NUMBER, concrete_channel=NUMBER, sample=NUMBER, color=_nullable(STRING))
PLANE = obj(z_slice=NUMBER, timepoint=NUMBER)
DETAILED = ref("detailed-histogram")
HIST = ref("histogram-values")
METADATA_TYPES = ["STRING", "INTEGER", "DECIMAL", "BOOLEAN", "JSON", "BASE64", "DATE",
                  "DATETIME", "TIME", "LIST", "UNKNOWN"]  # fmt: skip
COLORMAP_TYPES = ["PERCEPTUAL_UNIFORM", "SEQUENTIAL", "DIVERGING", "QUALITATIVE", "CYCLIC",
                  "MISCELLANEOUS"]  # fmt: skip

#: PIMS 1.4's additions to the spec's component schemas (properties merged into the object)
FIELDS: dict[str, dict[str, Any]] = {
    "image-info": {
        "n_samples": NUMBER,
        "are_rgb_planes": {"type": "boolean"},
        "n_distinct_channels": NUMBER,
        "bits": NUMBER,
    },
    "format": {"importable": {"type": "boolean"}},
    "filter": {"aliases": array(STRING)},
}
#: PIMS 1.4's answers where they differ from the 0.1.0 spec (whole schemas replaced)
REPLACED: dict[str, dict[str, Any]] = {
    "colormap-type": {"type": "string", "enum": COLORMAP_TYPES},
    "metadata": obj(
        key=STRING,
        value={},  # typed: numbers are numbers
        type={"type": "string", "enum": METADATA_TYPES},
        namespace={"type": "string", "pattern": "^[^a-z]*$"},  # upper case
    ),
}
#: routes the spec lacks or describes otherwise than PIMS 1.4 answers
ROUTES: dict[str, dict[str, Any]] = {
    "/ping": obj(ping={"const": "pong"}),
    "/info": obj(version=STRING, api_version=STRING, settings={"type": "object"}),
    "/colormaps": _collection(ref("colormap")),
    "/colormaps/{colormap_id}": ref("colormap"),
    "/image/{filepath}/info/normalized-pyramid": ref("pyramid-info"),
    "/image/{filepath}/info/associated": _collection(ref("associated-info")),
    "/image/{filepath}/info/representations": _collection(ref("representation-info")),
    "/image/{filepath}/histograms/c/{channels}": _collection(DETAILED, obj(c=NUMBER, hist=HIST)),
    "/image/{filepath}/histograms/c/{channels}/z/{z_slices}/t/{timepoints}": _collection(
        DETAILED, obj(c=NUMBER, z=NUMBER, t=NUMBER, hist=HIST)
    ),
    # PIMS 1.4's histogram routes (histogram/per-image, per-channels, per-plane and bounds)
    "/image/{filepath}/histogram/per-image": {"allOf": [HISTOGRAM_INFO, HISTOGRAM]},
    "/image/{filepath}/histogram/per-image/bounds": HISTOGRAM_INFO,
    "/image/{filepath}/histogram/per-channels": _collection(CHANNEL, HISTOGRAM_INFO, HISTOGRAM),
    "/image/{filepath}/histogram/per-channels/bounds": _collection(CHANNEL, HISTOGRAM_INFO),
    "/image/{filepath}/histogram/per-plane/z/{z_slices}/t/{timepoints}": _collection(
        CHANNEL, PLANE, HISTOGRAM_INFO, HISTOGRAM
    ),
    "/image/{filepath}/histogram/per-plane/z/{z_slices}/t/{timepoints}/bounds": _collection(
        CHANNEL, PLANE, HISTOGRAM_INFO
    ),
}


def strict(schema: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema, every declared property required."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if k not in ("nullable", "discriminator")}
    if "properties" in out:
        out["required"] = sorted(set(out.get("required", [])) | set(out["properties"]))
    disc = schema.get("discriminator")
    if disc and "oneOf" in out:
        name = disc["propertyName"]
        del out["oneOf"]
        out["allOf"] = [
            {"if": {"properties": {name: {"const": value}}, "required": [name]},
             "then": {"$ref": ref}}
            for value, ref in disc["mapping"].items()
        ]  # fmt: skip
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=1)
def components() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text())
    schemas = copy.deepcopy(spec["components"]["schemas"])
    for name, extra in FIELDS.items():
        schemas[name]["properties"].update(extra)
    schemas.update(REPLACED)
    schemas["colormap"]["properties"]["type"] = ref("colormap-type")
    schemas["filter"]["properties"]["type"]["enum"].append("PIXEL")
    full = schemas["image-full-info"]["properties"]  # PIMS 1.4: a list, the spec says one
    full["representations"] = array(ref("representation-info"))
    item = schemas["channels-info"]["items"]["properties"]
    item["color"] = _nullable({"type": "string", "pattern": "^#([0-9a-f]{3}){1,2}$"})
    item["suggested_name"] = _nullable(STRING)
    return {"paths": spec["paths"], "schemas": strict(schemas)}


def route_schema(template: str) -> dict[str, Any]:
    """The 200 answer's schema of a GET route (an ``ROUTES`` overlay, else the spec's)."""
    if template in ROUTES:
        return strict(ROUTES[template])  # type: ignore[no-any-return]
    answer = components()["paths"][template]["get"]["responses"][200]
    return strict(answer["content"]["application/json"]["schema"])  # type: ignore[no-any-return]


@lru_cache(maxsize=64)
def validator(template: str) -> Draft202012Validator:
    root = {**route_schema(template), "components": {"schemas": components()["schemas"]}}
    return Draft202012Validator(root)
