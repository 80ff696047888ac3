"""Bad requests get a 4xx with a JSON reason, never a 500: random paths, queries and bodies on
every route family, over real deployed images (8-bit RGB, grey, 16-bit, multi-channel)."""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.api.conftest import Images

SUFFIXES = [
    "info",
    "info/image",
    "info/channels",
    "info/normalized-pyramid",
    "info/instrument",
    "info/associated",
    "info/representations",
    "metadata",
    "histograms",
    "histograms/full",
    "histograms/c/0",
    "associated/label",
    "associated/macro.png",
    "thumb",
    "thumb.png",
    "resized.webp",
    "window.jpg",
    "normalized-tile",
    "normalized-tile/zoom/0/ti/0",
    "normalized-tile/level/1/tx/0/ty/0.png",
    "tile/zoom/2/ti/3",
    "annotation/crop",
]
PARAMS = [
    "length",
    "width",
    "height",
    "zoom",
    "level",
    "channels",
    "z_slices",
    "timepoints",
    "min_intensities",
    "max_intensities",
    "gammas",
    "filters",
    "colormaps",
    "log",
    "bits",
    "colorspace",
    "threshold",
]
values = st.one_of(
    st.integers(-3, 100_000).map(str),
    st.sampled_from(
        [
            "",
            "-1",
            "0",
            "1.5",
            "nan",
            "inf",
            "AUTO_IMAGE",
            "STRETCH_PLANE",
            "otsu",
            "!jet",
            "red",
            "1:3",
            ":",
            "0,1,2",
            "x" * 300,
            "%00",
            "../..",
            "[]",
            "{}",
        ]
    ),
    st.text(max_size=8),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10**9)
    | st.floats(allow_nan=True)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.dictionaries(
        st.sampled_from(
            [
                *PARAMS,
                "region",
                "tier_index_type",
                "reference_tier_index",
                "ti",
                "tx",
                "ty",
                "annotations",
            ]
        ),
        json_values,
        max_size=5,
    ),
    json_values,
)

FUZZ = settings(
    max_examples=int(os.environ.get("CYTOTILE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def check(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"title", "details"}, body


def _path(images: Images, which: int) -> str:
    image = [images.rgb, images.grey, images.u16, images.multi][which]
    return image.path


@FUZZ
@given(
    st.integers(0, 3),
    st.sampled_from(SUFFIXES),
    st.dictionaries(st.sampled_from(PARAMS), values, max_size=4),
)
def test_random_queries(
    client: TestClient, images: Images, which: int, suffix: str, query: dict[str, str]
) -> None:
    check(client.get(f"/image/{_path(images, which)}/{suffix}", params=query))


@FUZZ
@given(st.integers(0, 3), st.sampled_from(SUFFIXES), bodies)
def test_random_bodies(
    client: TestClient, images: Images, which: int, suffix: str, body: Any
) -> None:
    check(
        client.post(
            f"/image/{_path(images, which)}/{suffix}",
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )
    )


@FUZZ
@given(st.text(min_size=1, max_size=40), st.sampled_from(SUFFIXES))
def test_random_paths(client: TestClient, path: str, suffix: str) -> None:
    check(client.get(f"/image/{quote(path, safe='/%')}/{suffix}"))


def _described(client: TestClient) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, placeholders, parameter names) of every operation of /openapi.json but
    the writes (DELETE and uploads: tests/api/test_schemathesis.py runs them unauthorized)."""
    doc = client.get("/openapi.json").json()
    found = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if method == "delete" or path.startswith("/upload"):
                continue
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] != "path"]
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                names += list(media.get("schema", {}).get("properties", {}))
            found.append((method, path, re.findall(r"\{(\w+)\}", path), names))
    return found


# every operation, images of all sizes: fewer examples by default (make fuzz: many more)
DESCRIBED = settings(FUZZ, max_examples=int(os.environ.get("CYTOTILE_FUZZ_EXAMPLES", "60")))


@DESCRIBED
@given(st.data())
def test_every_described_operation(client: TestClient, images: Images, data: st.DataObject) -> None:
    """Every operation of the OpenAPI description, with its own parameter names: hostile
    values in its path placeholders, query and body; never a 500."""
    method, path, placeholders, names = data.draw(st.sampled_from(_described(client)))
    url = path
    for name in placeholders:
        if name == "path":
            value = data.draw(st.sampled_from([*(_path(images, k) for k in range(4)), "upload-x"]))
        else:
            value = quote(data.draw(values) or "0", safe="")
        url = url.replace("{" + name + "}", value, 1)
    picked = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=4)) if names else []
    if method == "get":
        check(client.get(url, params={n: data.draw(values) for n in picked}))
    else:
        body = {n: data.draw(json_values) for n in picked}
        check(
            client.post(url, content=json.dumps(body), headers={"content-type": "application/json"})
        )
