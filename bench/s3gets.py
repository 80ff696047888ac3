"""GETs per tile against S3 (moto, in process): what a cold and a warm tile function pay.

Every ``get_object`` of the client is counted (a botocore ``before-call`` hook). A cold start is
an empty reader cache: open (at most two ranged GETs) + the first tile (one). A warm tile is one.

moto is slow with large objects: every ranged GET copies the whole object (twice), about 0.25 s
for a 350 MB pyramid, and aws-chunked uploads (botocore's default checksums) take minutes. So the
object is kept in memory, the bench's client only sends checksums when required, and a few dozen
tiles are enough: the count per tile is deterministic, not a timing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Row, Section
from bench.tiles import Tile

BUCKET = "cytotile-bench"
COLD_TARGET = 3  # <= 2 GETs for the index + 1 for the tile
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(4 << 30),  # objects in memory, not in a temp file
}


@contextmanager
def _fake_credentials() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class GetCounter:
    def __init__(self, client: Any) -> None:
        self.count = 0
        client.meta.events.register("before-call.s3.GetObject", self._hook)

    def _hook(self, **_: Any) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def bench_s3_gets(pyramid_file: Path, key: str, tiles: list[Tile], cold_runs: int) -> Section:
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    from cytotile.storage.s3 import S3Storage
    from cytotile.tiff import reader as reader_module

    section = Section("GETs per tile on S3 (moto)", "")
    with _fake_credentials(), mock_aws():
        config = Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        client = boto3.client("s3", region_name="us-east-1", config=config)
        client.create_bucket(Bucket=BUCKET)
        storage = S3Storage(BUCKET, "images", client=client)
        storage.upload_file(key, pyramid_file)
        counter = GetCounter(client)
        counter.take()
        cold = []
        for level, tx, ty in tiles[:cold_runs]:
            reader_module._cache.clear()
            reader = reader_module.open_pyramid(storage, key)
            opened = counter.take()
            reader.jpeg_tile(0, level, tx, ty)
            cold.append((opened, counter.take()))
        reader = reader_module.open_pyramid(storage, key)
        counter.take()
        for level, tx, ty in tiles:
            reader.jpeg_tile(0, level, tx, ty)
        warm = counter.take() / len(tiles)
        for level, tx, ty in tiles:
            reader.read_tile(0, level, tx, ty)
        warm_decode = counter.take() / len(tiles)
        reader_module._cache.clear()
    worst_open = max(o for o, _ in cold)
    worst = max(o + t for o, t in cold)
    section.rows += [
        Row(
            "cold: open (index)",
            worst_open,
            "GETs",
            target="<= 2",
            ok=worst_open <= 2,
            note=f"worst of {len(cold)} cold starts",
        ),
        Row(
            "cold: open + first tile",
            worst,
            "GETs",
            target=f"<= {COLD_TARGET}",
            ok=worst <= COLD_TARGET,
            note=f"worst of {len(cold)} cold starts",
        ),
        Row(
            "warm: passthrough tile",
            warm,
            "GETs",
            target="== 1.0",
            ok=warm == 1.0,
            note=f"mean over {len(tiles)} tiles",
        ),
        Row(
            "warm: decoded tile (read_tile)",
            warm_decode,
            "GETs",
            target="== 1.0",
            ok=warm_decode == 1.0,
            note=f"mean over {len(tiles)} tiles",
        ),
    ]
    return section
