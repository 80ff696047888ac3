"""An S3 prefix as storage: ranged GETs for reading, multipart upload for large writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cytotile.errors import NotFound, StorageError
from cytotile.storage.base import Storage, safe_key

MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 64 * 1024 * 1024


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"max_attempts": 4, "mode": "standard"}))


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client if client is not None else _client()
        self.root = f"s3://{bucket}/{self.prefix}"

    @classmethod
    def from_url(cls, url: str, client: Any = None) -> S3Storage:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"not an s3:// URL: {url!r}")
        return cls(parsed.netloc, parsed.path, client)

    def _key(self, key: str) -> str:
        key = safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unkey(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def _call(self, key: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, Key=self._key(key), **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"no object {key!r}") from exc
            if code == "InvalidRange":
                return None
            raise StorageError(f"S3 {method} {key!r} failed: {code}") from exc

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        resp = self._call(key, "get_object", Range=f"bytes={start}-{start + length - 1}")
        return b"" if resp is None else bytes(resp["Body"].read())

    def read(self, key: str) -> bytes:
        return bytes(self._call(key, "get_object")["Body"].read())

    def size(self, key: str) -> int:
        return int(self._call(key, "head_object")["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._call(key, "head_object")
        except NotFound:
            return False
        return True

    def etag(self, key: str) -> str:
        return str(self._call(key, "head_object")["ETag"]).strip('"')

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self._call(key, "put_object", Body=data, **extra)

    def upload_file(self, key: str, local_path: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=4,
        )
        self.client.upload_file(str(local_path), self.bucket, self._key(key), Config=config)

    def download_file(self, key: str, local_path: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(local_path))
        except ClientError as exc:
            raise NotFound(f"no object {key!r}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        full = self._key(prefix) if prefix else self.prefix
        if full and prefix:
            full = full.rstrip("/") + "/"
        elif full:
            full += "/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                yield self._unkey(obj["Key"])

    def delete_prefix(self, prefix: str) -> int:
        keys = [self._key(k) for k in self.list(prefix)]
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
        return len(keys)

    def local_path(self, key: str) -> Path | None:
        return None
