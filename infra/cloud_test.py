"""The deployed stack on LocalStack, end to end (`make cloud-test`, after `sam deploy`).

1. reads the stack's outputs (API URL, bucket names) and the tile function's configuration;
2. uploads a slide to the upload bucket with boto3 (`CMU-1-Small-Region.svs` from
   ../shared/samples, or a synthetic tissue slide when that is absent), under a fresh key so
   that every run really imports;
3. waits (bounded) for the upload's manifest in the images bucket to reach DEPLOYED, and fails
   at once with the manifest's reason on ERROR_*;
4. fetches through API Gateway (LocalStack's REST API, the tile function behind it): the info,
   a normalized tile, a thumb and a window, and compares each with the local server's answer
   for the same image (the same Starlette app, created in this process over the same images
   bucket with the tile function's own CYTOTILE_* settings): same status, type and ETag, same
   pixels within a mean absolute difference of 3 (the images are decoded); and the images
   with those of the same file imported here (`cytotile import` into a temporary folder with
   the import function's settings), so the import in Lambda is checked too;
5. revalidates the tile with If-None-Match: 304, no body;
6. IIIF and DeepZoom: info.json (the same document, its id naming the API), a IIIF tile and a
   DZI tile that are stored tiles (passed through, the same bytes), a rendered IIIF request and
   the DZI descriptor, against the local server.

Prints a summary; exits 1 when any check failed. Run with the dev venv's Python:

    .venv/bin/python infra/cloud_test.py [--stack-name cytotile-local] [--sample PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "samples" / "CMU-1-Small-Region.svs"
TERMINAL_OK = {"DEPLOYED"}
MAX_MEAN_ABS_DIFF = 3.0


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        print(f"  [{'ok' if ok else 'FAIL'}] {name}{f': {detail}' if detail else ''}", flush=True)
        return ok

    @property
    def failed(self) -> int:
        return sum(1 for _, ok, _ in self.checks if not ok)

    def summary(self) -> None:
        print("\n=== cloud-test summary")
        for name, seconds in self.timings.items():
            print(f"  {name:<28} {seconds:7.1f} s")
        passed = len(self.checks) - self.failed
        for name, ok, detail in self.checks:
            if not ok:
                print(f"  FAILED: {name}: {detail}")
        print(f"cloud-test: {passed} passed, {self.failed} failed")


class Fatal(Exception):
    """A step the rest depends on failed: stop there."""


def aws_environment(endpoint: str, region: str) -> None:
    """Every boto3 client of this process (and the local app's S3 storage) talks to LocalStack."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def stack_outputs(cfn: Any, stack: str) -> dict[str, str]:
    try:
        (description,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        raise Fatal(f"stack {stack!r} is not deployed on LocalStack: {exc}") from exc
    status = description["StackStatus"]
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise Fatal(f"stack {stack!r} is {status}")
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def api_base(api_url: str, endpoint: str) -> str:
    """LocalStack's path-style URL of a REST API stage (no DNS needed):
    https://<id>.execute-api.<...>/<stage>/ -> <endpoint>/_aws/execute-api/<id>/<stage>"""
    parsed = urlparse(api_url)
    api_id = parsed.hostname.split(".", 1)[0] if parsed.hostname else ""
    stage = parsed.path.strip("/").split("/")[0]
    if not api_id or not stage:
        raise Fatal(f"cannot read the API id and stage from ApiUrl {api_url!r}")
    return f"{endpoint.rstrip('/')}/_aws/execute-api/{api_id}/{stage}"


def function_configuration(cfn: Any, lam: Any, stack: str, logical_id: str) -> dict[str, Any]:
    resource = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    name = resource["StackResourceDetail"]["PhysicalResourceId"]
    return dict(lam.get_function_configuration(FunctionName=name))


def function_environment(cfn: Any, lam: Any, stack: str, logical_id: str) -> dict[str, str]:
    configuration = function_configuration(cfn, lam, stack, logical_id)
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def function_logs(cfn: Any, stack: str, logical_id: str, lines: int = 40) -> str:
    """The last log lines of a deployed function (LocalStack stores them in CloudWatch Logs)."""
    import boto3

    try:
        resource = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        group = f"/aws/lambda/{resource['StackResourceDetail']['PhysicalResourceId']}"
        logs = boto3.client("logs")
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        events: list[dict[str, Any]] = []
        for stream in streams:
            events += logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"]
            )["events"]
        events.sort(key=lambda e: e["timestamp"])
        return "".join(e["message"] for e in events[-lines:])
    except Exception as exc:
        return f"(no logs: {exc})"


def the_sample(explicit: str | None, synthetic: bool, workdir: Path) -> Path:
    if explicit:
        return Path(explicit)
    if SAMPLE.is_file() and not synthetic:
        return SAMPLE
    from cytotile.synthetic import write_tissue_slide

    if not synthetic:
        print(f"  {SAMPLE} is absent: a synthetic tissue slide instead")
    return write_tissue_slide(workdir / "synthetic-tissue.tif", 3000, 2200)


def wait_deployed(
    s3: Any, images: str, upload_id: str, source_ref: str, timeout: float
) -> dict[str, Any]:
    """The manifest once DEPLOYED; Fatal on ERROR_* (with its reason) or after ``timeout``."""
    deadline = time.monotonic() + timeout
    seen = None
    key = f"{upload_id}/manifest.json"
    while True:
        manifest = None
        try:
            manifest = json.loads(s3.get_object(Bucket=images, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            manifest = find_manifest(s3, images, source_ref)  # in case the id scheme changed
        if manifest is not None:
            status = manifest.get("status")
            if status != seen:
                print(f"  {manifest.get('id')}: {status}", flush=True)
                seen = status
            if status in TERMINAL_OK:
                return manifest
            if str(status).startswith("ERROR"):
                raise Fatal(f"the import ended {status}: {manifest.get('reason')}")
        if time.monotonic() > deadline:
            raise Fatal(f"no DEPLOYED manifest after {timeout:.0f} s (last status: {seen})")
        time.sleep(1)


def find_manifest(s3: Any, images: str, source_ref: str) -> dict[str, Any] | None:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=images, Prefix="upload-"):
        for obj in page.get("Contents", []):
            if obj["Key"].count("/") == 1 and obj["Key"].endswith("/manifest.json"):
                body = s3.get_object(Bucket=images, Key=obj["Key"])["Body"].read()
                manifest: dict[str, Any] = json.loads(body)
                if (manifest.get("source") or {}).get("ref") == source_ref:
                    return manifest
    return None


def decode(body: bytes) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(body)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def compare(
    report: Report, what: str, remote: Any, local: Any, media_type: str
) -> tuple[bool, str | None]:
    """Status, type, ETag and pixels of the API Gateway answer against the local one."""
    ok = report.check(
        f"{what}: 200 through API Gateway",
        remote.status_code == 200,
        f"{remote.status_code} {remote.text[:300] if remote.status_code != 200 else ''}".strip(),
    )
    if not ok:
        return False, None
    report.check(
        f"{what}: local server answers 200", local.status_code == 200, str(local.status_code)
    )
    ctype = remote.headers.get("content-type", "")
    report.check(f"{what}: {media_type}", ctype.startswith(media_type), ctype)
    etag = remote.headers.get("etag")
    report.check(
        f"{what}: same ETag as the local server",
        bool(etag) and etag == local.headers.get("etag"),
        f"{etag} vs {local.headers.get('etag')}",
    )
    cache = remote.headers.get("cache-control", "")
    report.check(f"{what}: cacheable by a CDN", "public" in cache and "max-age" in cache, cache)
    ok = pixels_match(
        report, f"{what}: pixels match the local server", remote.content, local.content
    )
    return ok, etag


def pixels_match(report: Report, name: str, remote: bytes, expected: bytes) -> bool:
    try:
        a, b = decode(remote), decode(expected)
    except Exception as exc:  # base64 text instead of bytes, a truncated body...
        return report.check(name, False, f"does not decode: {exc}; first bytes {remote[:16]!r}")
    if a.shape != b.shape:
        return report.check(name, False, f"size {a.shape} vs {b.shape}")
    diff = float(abs(a - b).mean())
    same = ", identical bytes" if remote == expected else ""
    detail = f"{a.shape[1]}x{a.shape[0]}, mean abs diff {diff:.3f}{same}"
    return report.check(name, diff < MAX_MEAN_ABS_DIFF, detail)


def protocol_checks(
    report: Report, api: Any, local: Any, image_path: str, full: dict[str, Any]
) -> None:
    """IIIF and DeepZoom through API Gateway against the local server: info.json (the same
    document but its id, which names the server asked), a IIIF tile and a DZI tile that are
    stored tiles (passed through: the same bytes), and a rendered IIIF request. The IIIF
    identifier is escaped (%2F), as the ids of info.json are and as viewers send it."""
    from xml.etree import ElementTree

    identifier = quote(image_path, safe="")
    info_url = f"/iiif/3/{identifier}/info.json"
    remote, expected = api.get(info_url), local.get(info_url)
    ok = report.check(
        "IIIF info.json: 200 through API Gateway",
        remote.status_code == 200,
        "" if remote.status_code == 200 else f"{remote.status_code} {remote.text[:300]}",
    )
    if ok and expected.status_code == 200:
        got, want = remote.json(), expected.json()
        service = str(got.get("id", ""))
        report.check(
            "IIIF info.json: id names the image through API Gateway, with the stage",
            service.startswith(("http://", "https://"))
            and service.endswith(
                f"/{api.base_url.path.rstrip('/').split('/')[-1]}/iiif/3/{identifier}"
            ),
            service,
        )
        got.pop("id", None)
        want.pop("id", None)
        report.check("IIIF info.json: same document as the local server", got == want)
        cors = remote.headers.get("access-control-allow-origin")
        report.check("IIIF info.json: CORS *", cors == "*", str(cors))

    # The middle tile of level 0: its level-0 footprint, at its own size.
    tx, ty = full["n_tx"] // 2, full["n_ty"] // 2
    left, top = tx * full["tile_width"], ty * full["tile_height"]
    w = min(full["tile_width"], full["width"] - left)
    h = min(full["tile_height"], full["height"] - top)
    dzi_level = (max(full["width"], full["height"]) - 1).bit_length()
    image_requests = [
        ("IIIF tile", f"/iiif/3/{identifier}/{left},{top},{w},{h}/{w},{h}/0/default.jpg", True),
        ("IIIF render", f"/iiif/3/{identifier}/full/300,/0/gray.png", False),
        ("DZI tile", f"/dzi/{quote(image_path)}_files/{dzi_level}/{tx}_{ty}.jpeg", True),
    ]
    for what, url, stored in image_requests:
        remote = api.get(url)
        media_type = "image/png" if url.endswith(".png") else "image/jpeg"
        ok, _ = compare(report, what, remote, local.get(url), media_type)
        if ok and stored:
            passthrough = remote.headers.get("x-cytotile-passthrough")
            report.check(f"{what}: passed through", passthrough == "1", str(passthrough))
            report.check(
                f"{what}: the local server's bytes", remote.content == local.get(url).content
            )

    dzi_url = f"/dzi/{quote(image_path)}.dzi"
    remote, expected = api.get(dzi_url), local.get(dzi_url)
    ok = report.check(
        "DZI descriptor: 200",
        remote.status_code == 200,
        "" if remote.status_code == 200 else f"{remote.status_code} {remote.text[:300]}",
    )
    if ok:
        same = remote.text == expected.text
        report.check("DZI descriptor: same XML", same, "" if same else remote.text[:300])
        size = ElementTree.fromstring(remote.text)[0].attrib
        report.check(
            "DZI descriptor: the image's size",
            (size.get("Width"), size.get("Height")) == (str(full["width"]), str(full["height"])),
            str(size),
        )


def local_import(sample: Path, root: Path, import_env: dict[str, str]) -> str:
    """Import ``sample`` into the folder ``root`` as `cytotile import` does, with the import
    function's settings (its JPEG quality...); the image path of the result."""
    env = dict(os.environ)
    skip = {"CYTOTILE_ROOT", "CYTOTILE_UPLOAD_BUCKET", "CYTOTILE_MAX_RECEIVE_COUNT"}
    env.update({k: v for k, v in import_env.items() if k.startswith("CYTOTILE_") and k not in skip})
    code = "import sys; from cytotile.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "import", "--root", str(root), str(sample)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    folders = [p for p in root.iterdir() if p.name.startswith("upload-")]
    if done.returncode != 0 or len(folders) != 1:
        raise Fatal(f"the local import failed ({done.returncode}): {done.stderr[-2000:]}")
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    if manifest["status"] != "DEPLOYED":
        raise Fatal(f"the local import ended {manifest['status']}: {manifest.get('reason')}")
    return f"{folders[0].name}/{quote(manifest.get('original_name') or sample.name)}"


def run(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    import boto3
    import httpx

    aws_environment(args.endpoint, args.region)
    cfn, s3, lam = boto3.client("cloudformation"), boto3.client("s3"), boto3.client("lambda")

    print(f"stack {args.stack_name} on {args.endpoint}")
    outputs = stack_outputs(cfn, args.stack_name)
    for name in ("ApiUrl", "UploadBucketName", "ImagesBucketName"):
        if name not in outputs:
            raise Fatal(f"the stack has no output {name} (outputs: {sorted(outputs)})")
    base = api_base(outputs["ApiUrl"], args.endpoint)
    uploads, images = outputs["UploadBucketName"], outputs["ImagesBucketName"]
    print(f"  API {base}\n  upload bucket {uploads}\n  images bucket {images}")

    # The local server: the same app over the same bucket, with the tile function's settings.
    tile_env = function_environment(cfn, lam, args.stack_name, "TileFunction")
    for name, value in tile_env.items():
        if name.startswith("CYTOTILE_"):
            os.environ[name] = value
    # The memory the Lambda runtime announces decides the budget of one request (and so the
    # ETags of rendered answers and IIIF's maxArea): the local app gets the same.
    memory = function_configuration(cfn, lam, args.stack_name, "TileFunction")["MemorySize"]
    os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(memory)
    from starlette.testclient import TestClient

    from cytotile.api.app import create_app
    from cytotile.aws.events import S3ObjectRef, upload_id_for
    from cytotile.settings import ServerSettings, from_env

    local = TestClient(create_app())

    sample = the_sample(args.sample, args.synthetic, workdir)
    key = f"cloud-test/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}/{sample.name}"
    print(f"\nupload {sample} ({sample.stat().st_size} bytes) to s3://{uploads}/{key}")
    started = time.monotonic()
    s3.upload_file(str(sample), uploads, key)
    report.timings["upload"] = time.monotonic() - started
    head = s3.head_object(Bucket=uploads, Key=key)
    ref = S3ObjectRef(
        uploads, key, size=head["ContentLength"], etag=head["ETag"].strip('"'), version_id=None
    )
    upload_id = upload_id_for(ref)
    print(f"\nwait for {upload_id}/manifest.json (at most {args.timeout:.0f} s)")
    started = time.monotonic()
    try:
        manifest = wait_deployed(s3, images, upload_id, ref.url, args.timeout)
    except Fatal:
        print(
            "\nlast lines of the import function's log:\n"
            + function_logs(cfn, args.stack_name, "ImportFunction")
        )
        raise
    report.timings["import (upload to DEPLOYED)"] = time.monotonic() - started
    report.check("import: DEPLOYED", True, f"{manifest.get('format_id')}, {manifest['id']}")
    upload_id = manifest["id"]
    path = f"{upload_id}/{quote(manifest.get('original_name') or sample.name)}"

    full = manifest["pyramid"]["tiers"][0]
    zoom, ti = full["zoom"], (full["n_ty"] // 2) * full["n_tx"] + full["n_tx"] // 2
    width, height = manifest["image"]["width"], manifest["image"]["height"]
    region = {"left": width // 3, "top": height // 3, "width": 600, "height": 400}
    tile = f"/image/{path}/normalized-tile/zoom/{zoom}/ti/{ti}.jpg"
    left, top = region["left"], region["top"]
    wkt = f"POLYGON(({left} {top}, {left + 300} {top}, {left} {top + 200}, {left} {top}))"
    crop = {"annotations": [{"geometry": wkt}], "length": 256}
    drawn = {"region": region, "annotations": wkt, "annotation_style": {"mode": "DRAWING"}}
    requests: list[tuple[str, str, str, dict[str, Any] | None, str]] = [
        ("normalized tile", "GET", tile, None, "image/jpeg"),
        ("thumb", "GET", f"/image/{path}/thumb.jpg?length=256", None, "image/jpeg"),
        ("window", "POST", f"/image/{path}/window.png", {"region": region}, "image/png"),
        # the annotation function (its own API Gateway resources), and TileFunction's shapely
        ("annotation crop", "POST", f"/image/{path}/annotation/crop.png", crop, "image/png"),
        ("window with a drawing", "POST", f"/image/{path}/window.png", drawn, "image/png"),
    ]

    # The same file imported here: the import in Lambda must give the same pixels.
    print("\nthe same file imported locally (cytotile import), for comparison")
    started = time.monotonic()
    import_env = function_environment(cfn, lam, args.stack_name, "ImportFunction")
    local_root = workdir / "local-import"
    local_root.mkdir()
    local_path = local_import(sample, local_root, import_env)
    imported = TestClient(create_app(from_env(ServerSettings, root=str(local_root))))
    report.timings["local import (comparison)"] = time.monotonic() - started

    print(f"\nthrough API Gateway: {base}/image/{path}/...")
    with httpx.Client(base_url=base, timeout=120) as api:
        started = time.monotonic()
        info = api.get(f"/image/{path}/info")
        report.timings["first API request (cold)"] = time.monotonic() - started
        report.check("info: 200 through API Gateway", info.status_code == 200, info.text[:300])
        expected = local.get(f"/image/{path}/info")
        if info.status_code == 200:
            report.check("info: same JSON as the local server", info.json() == expected.json())
        etags: dict[str, str | None] = {}
        for what, method, url, body, media_type in requests:
            started = time.monotonic()
            remote = api.request(method, url, json=body)
            report.timings[f"{what} (API Gateway)"] = time.monotonic() - started
            ok, etags[what] = compare(
                report, what, remote, local.request(method, url, json=body), media_type
            )
            if ok:
                other = imported.request(method, url.replace(path, local_path), json=body)
                name = f"{what}: pixels match a local import of the same file"
                pixels_match(report, name, remote.content, other.content)

        tile_url, etag = requests[0][2], etags["normalized tile"]
        if etag:
            again = api.get(tile_url, headers={"If-None-Match": etag})
            report.check(
                "normalized tile: If-None-Match revalidates with 304",
                again.status_code == 304 and not again.content,
                f"{again.status_code}, {len(again.content)} bytes",
            )
        else:
            report.check("normalized tile: If-None-Match revalidates with 304", False, "no ETag")

        exported = api.get(f"/image/{path}/export")  # not followed: S3's host as Lambda sees it
        location = exported.headers.get("location", "")
        report.check(
            "export: a redirect to a presigned GET of the upload",
            exported.status_code == 307 and "Signature" in location and uploads in location,
            f"{exported.status_code} {location[:120]}",
        )

        original_name = manifest.get("original_name") or sample.name
        protocol_checks(report, api, local, f"{upload_id}/{original_name}", full)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", default=os.environ.get("STACK_NAME", "cytotile-local"))
    parser.add_argument(
        "--endpoint", default=os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--sample", help="the file to upload (default: CMU-1-Small-Region.svs)")
    parser.add_argument(
        "--synthetic", action="store_true", help="upload a synthetic tissue slide (3000x2200)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for DEPLOYED")
    args = parser.parse_args(argv)
    report = Report()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="cytotile-cloud-test-") as tmp:
            run(args, report, Path(tmp))
    except Fatal as exc:
        report.check("cloud-test", False, str(exc))
    report.timings["cloud-test in all"] = time.monotonic() - started
    report.summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
