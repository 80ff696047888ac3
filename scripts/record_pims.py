"""Record a running PIMS's answers for the parity replay (issue 13): tests/parity/pims/*.json.

    .venv/bin/python scripts/record_pims.py --url http://127.0.0.1:5913 --root /tmp/pims-data/root

PIMS runs outside the project (its own venv, its default file-based config, its own importer:
docs/pims-parity.md says how). ``--root`` is its ROOT: the images are found there by their
uploaded name. Each request's answer is stored as its status, content type, and either its
JSON body or, for an image, its size, bands and a coarse pixel summary (8x8 grid of band
means, rounded): no checksum, so that an encoder's rounding does not count as a difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the replay's own summary
from tests.parity.replay import summary

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "parity" / "pims"
IMAGES = {
    "CMU-1-Small-Region.svs": "svs",
    "boxes.tiff": "boxes",
    "sample.png": "png",
    "multi-channel-z-series.ome.tif": "ome",
    "slide-40000x30000.tif": "big",
}
WINDOW = {"region": {"left": 0, "top": 0, "width": 200, "height": 150}, "width": 100}

JPEG = {"Accept": "image/jpeg"}  # without an image type, PIMS answers an extension-less route 406

#: (method, url, json body, headers); "{image}" is the image's path in the server
PER_IMAGE: list[tuple[str, str, Any, dict[str, str]]] = [
    ("GET", "/image/{image}/info", None, {}),
    ("GET", "/image/{image}/info/image", None, {}),
    ("GET", "/image/{image}/info/instrument", None, {}),
    ("GET", "/image/{image}/info/channels", None, {}),
    ("GET", "/image/{image}/info/associated", None, {}),
    ("GET", "/image/{image}/info/normalized-pyramid", None, {}),
    ("GET", "/image/{image}/info/representations", None, {}),
    ("GET", "/image/{image}/info/representations/UPLOAD", None, {}),
    ("GET", "/image/{image}/metadata", None, {}),
    ("GET", "/file/{image}/info", None, {}),
    ("GET", "/image/{image}/histogram/per-image", None, {}),
    ("GET", "/image/{image}/histogram/per-image/bounds", None, {}),
    ("GET", "/image/{image}/histogram/per-channels", None, {}),
    ("GET", "/image/{image}/histogram/per-plane/z/0/t/0", None, {}),
    ("GET", "/image/{image}/normalized-tile/zoom/0/ti/0", None, JPEG),
    ("GET", "/image/{image}/normalized-tile/level/0/ti/0.png", None, {}),
    ("GET", "/image/{image}/thumb?length=256", None, JPEG),
    ("GET", "/image/{image}/thumb.png?length=128&colormaps=DEFAULT&channels=0", None, {}),
    ("GET", "/image/{image}/resized.png?width=128", None, {}),
    ("POST", "/image/{image}/window.png", WINDOW, {}),
    ("GET", "/image/{image}/associated/label", None, JPEG),
    ("GET", "/image/{image}/thumb.gif", None, {}),
    ("GET", "/image/{image}/normalized-tile/zoom/99/ti/0", None, {}),
    ("GET", "/image/{image}/thumb?length=0", None, {}),
]
SERVER: list[tuple[str, str, Any, dict[str, str]]] = [
    ("GET", "/info", None, {}),
    ("GET", "/formats", None, {}),
    ("GET", "/formats/PYRTIFF", None, {}),
    ("GET", "/filters", None, {}),
    ("GET", "/filters/OTSU", None, {}),
    ("GET", "/colormaps", None, {}),
    ("GET", "/colormaps/VIRIDIS", None, {}),
    ("GET", "/image/upload-0000/missing.svs/info", None, {}),
    ("GET", "/image/upload-0000/missing.svs/thumb", None, JPEG),
]


def call(base: str, method: str, url: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + url, data=data, method=method, headers=headers)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status, answered, content = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answered, content = error.code, error.headers, error.read()
    kind = answered.get("content-type", "").split(";")[0]
    answer: dict[str, Any] = {"method": method, "url": url, "status": status, "content_type": kind}
    if body is not None:
        answer["body"] = body
    if headers:
        answer["headers"] = headers
    if kind == "application/json":
        answer["json"] = json.loads(content)
    elif kind.startswith("image/"):
        answer["image"] = summary(content)
    return answer


def find(root: Path, name: str) -> str:
    found = sorted(root.glob(f"upload-*/{name}"))
    if not found:
        raise SystemExit(f"{name} is not imported in {root}")
    return str(found[0].relative_to(root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5913")
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    server = [call(args.url, *request) for request in SERVER]
    (FIXTURES / "server.json").write_text(json.dumps(server, indent=1) + "\n")
    for name, key in IMAGES.items():
        path = find(args.root, name)
        answers = []
        for method, template, body, headers in PER_IMAGE:
            answer = call(args.url, method, template.replace("{image}", path), body, headers)
            answer["url"] = template
            answers.append(answer)
        record = {"name": name, "pims_path": path, "answers": answers}
        (FIXTURES / f"{key}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(name, sum(a["status"] == 200 for a in answers), "of", len(answers), "200")


if __name__ == "__main__":
    main()
