"""Upload files to S3: multipart, with progress, resumable after an interruption.

    keys = upload_files(["slide.svs"], "s3://upload-bucket/incoming", progress=ProgressBar())

A file smaller than the part size goes in one PutObject. A larger one goes in a multipart upload
whose progress is kept in a small state file (``<state dir>/<sha256 of path, size, mtime and
destination>.json``: the UploadId, the part size, each sent part's ETag and SHA-256). When an
upload is interrupted (Ctrl-C, a network failure, a crash), calling it again with the same file
and destination asks S3 which parts it holds (ListParts), sends only the missing ones and
completes. When S3 no longer knows the UploadId (aborted, expired by a lifecycle rule), the upload
restarts from the first part. A file changed since (size or mtime) starts a new upload.

Integrity: every part (and every single PutObject) carries its SHA-256 (``x-amz-checksum-sha256``),
which S3 verifies on receipt; the completed object's size is checked, and so is its composite
SHA-256 when S3 reports it. Once a file is uploaded the state file records it, so running the
same command again skips it (unless ``force``) while the object is still there.

The state directory is ``$CYTOTILE_UPLOAD_STATE_DIR``, else ``$XDG_CACHE_HOME/cytotile/uploads``,
else ``~/.cache/cytotile/uploads``. Parts of an abandoned upload stay in the bucket (and are
billed) until a lifecycle rule (``AbortIncompleteMultipartUpload``) removes them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

from cytotile.errors import CytotileError

log = logging.getLogger("cytotile.upload")

MiB = 1 << 20
MIN_PART_SIZE = 5 * MiB  # S3's smallest part (but the last)
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_CONCURRENCY = 4
STATE_ENV = "CYTOTILE_UPLOAD_STATE_DIR"
STATE_VERSION = 1
GONE = ("NoSuchUpload",)
DENIED = ("AccessDenied", "403", "Forbidden")
MISSING = ("NoSuchKey", "404", "NotFound")


class UploadError(CytotileError):
    title = "Upload failed"


class _UploadGone(Exception):
    """S3 no longer knows the multipart upload of the state file."""


@dataclass(frozen=True)
class Progress:
    """Where one file's upload stands; ``sent`` counts the parts S3 already had (``resumed``)."""

    path: Path
    bucket: str
    key: str
    sent: int
    total: int
    resumed: int = 0
    done: bool = False


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class Uploaded:
    path: Path
    bucket: str
    key: str
    size: int
    etag: str
    parts: int  # 0: one PutObject
    sent_parts: int  # parts sent by this call (the others were resumed)
    skipped: bool = False  # already uploaded by an earlier call


# --------------------------------------------------------------------------------------------
def parse_destination(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` to ``(bucket, prefix)`` (prefix without slashes at its ends)."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise UploadError(f"the destination must be s3://bucket[/prefix], not {url!r}")
    return parsed.netloc, parsed.path.strip("/")


def key_for(prefix: str, path: Path) -> str:
    return f"{prefix}/{path.name}" if prefix else path.name


def default_state_dir() -> Path:
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "cytotile" / "uploads"


def effective_part_size(size: int, requested: int) -> int:
    """``requested``, grown (in whole MiB) when the file would need more than 10,000 parts."""
    if requested < MIN_PART_SIZE or requested > MAX_PART_SIZE:
        raise UploadError(f"the part size must be within 5 MiB and 5 GiB, not {requested} bytes")
    needed = -(-size // MAX_PARTS)
    part = max(requested, -(-needed // MiB) * MiB)
    if part > MAX_PART_SIZE:
        raise UploadError(f"{size} bytes is larger than S3's largest object")
    return part


def default_client(concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    """An S3 client from the usual AWS configuration (``AWS_ENDPOINT_URL`` for LocalStack)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=max(10, concurrency + 2),
    )
    return boto3.client("s3", config=config)


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_client_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, ClientError | BotoCoreError)


# --------------------------------------------------------------------------------------------
@dataclass
class _State:
    """What survives an interruption: one JSON file per (file, destination)."""

    file: Path
    path: str
    size: int
    mtime_ns: int
    bucket: str
    key: str
    part_size: int = 0
    upload_id: str = ""
    parts: dict[int, dict[str, str]] = field(default_factory=dict)  # n -> {etag, sha256}
    completed: bool = False
    etag: str = ""

    @classmethod
    def locate(cls, state_dir: Path, path: Path, bucket: str, key: str) -> _State:
        stat = path.stat()
        ident = json.dumps([str(path), stat.st_size, stat.st_mtime_ns, bucket, key])
        name = hashlib.sha256(ident.encode()).hexdigest()[:32] + ".json"
        return cls(state_dir / name, str(path), stat.st_size, stat.st_mtime_ns, bucket, key)

    def load(self) -> None:
        """Fill in what the state file recorded, if it is there and about this very file."""
        try:
            data = json.loads(self.file.read_text())
            same = [data["path"], data["size"], data["mtime_ns"], data["bucket"], data["key"]] == [
                self.path, self.size, self.mtime_ns, self.bucket, self.key]  # fmt: skip
            if data.get("version") != STATE_VERSION or not same:
                return
            self.part_size = int(data["part_size"])
            self.upload_id = str(data["upload_id"])
            self.parts = {int(n): dict(p) for n, p in data["parts"].items()}
            self.completed = bool(data["completed"])
            self.etag = str(data["etag"])
        except FileNotFoundError:
            return
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring the unreadable upload state %s: %s", self.file, exc)

    def save(self) -> None:
        data = {
            "version": STATE_VERSION,
            "path": self.path,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "bucket": self.bucket,
            "key": self.key,
            "part_size": self.part_size,
            "upload_id": self.upload_id,
            "parts": {str(n): p for n, p in sorted(self.parts.items())},
            "completed": self.completed,
            "etag": self.etag,
        }
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.file)

    def reset(self) -> None:
        self.part_size, self.upload_id, self.parts = 0, "", {}
        self.completed, self.etag = False, ""


class _Body(io.BytesIO):
    """A part's bytes that remember how far the HTTP client has read them (progress)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.high = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.high = max(self.high, self.tell())
        return chunk


# --------------------------------------------------------------------------------------------
class _Job:
    """One file's upload; the state file is only written from the calling thread."""

    def __init__(
        self,
        client: Any,
        path: Path,
        state: _State,
        part_size: int,
        progress: ProgressCallback | None,
        concurrency: int,
        interval: float,
    ) -> None:
        self.client = client
        self.path = path
        self.state = state
        self.bucket, self.key, self.size = state.bucket, state.key, state.size
        self.requested_part_size = part_size
        self.progress = progress
        self.concurrency = max(1, concurrency)
        self.interval = interval

    def report(self, sent: int, resumed: int = 0, done: bool = False) -> None:
        if self.progress is not None:
            event = Progress(self.path, self.bucket, self.key, sent, self.size, resumed, done)
            self.progress(event)

    # -- what is already there ---------------------------------------------------------------
    def head(self) -> dict[str, Any] | None:
        """The object's HeadObject, ``None`` when absent; ``{}`` when we may not look."""
        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self.key, ChecksumMode="ENABLED"
            )
        except Exception as exc:
            if _code(exc) in MISSING:
                return None
            if _code(exc) in DENIED:
                return {}
            raise
        return head

    def already_there(self) -> bool:
        if not self.state.completed:
            return False
        head = self.head()
        if head is None:
            return False
        # replaced since (other size or ETag): upload again; {}: we may not look, trust the state
        return not head or (
            int(head.get("ContentLength", -1)) == self.size
            and str(head.get("ETag", "")) == self.state.etag
        )

    def verify(self, checksum: str) -> None:
        """The object S3 made is the file: its size, and its SHA-256 when S3 tells it
        (``checksum``: the file's, or for a multipart object the SHA-256 of its parts')."""
        head = self.head()
        if head is None:
            raise UploadError(f"s3://{self.bucket}/{self.key} is missing after its upload")
        if not head:
            log.warning("no s3:GetObject on %s: size not verified", self.key)
            return
        length = int(head.get("ContentLength", -1))
        if length != self.size:
            raise UploadError(f"s3://{self.bucket}/{self.key} has {length} bytes, not {self.size}")
        reported = str(head.get("ChecksumSHA256") or "").split("-")[0]
        if reported and reported != checksum:
            raise UploadError(f"s3://{self.bucket}/{self.key}: SHA-256 mismatch after upload")

    # -- one PutObject -----------------------------------------------------------------------
    def put(self) -> Uploaded:
        self.report(0)
        data = self.path.read_bytes()
        if len(data) != self.size:
            raise UploadError(f"{self.path} changed while it was being uploaded")
        checksum = _sha256(data)
        response = self.client.put_object(
            Bucket=self.bucket, Key=self.key, Body=data, ChecksumSHA256=checksum
        )
        etag = str(response.get("ETag", ""))
        self.verify(checksum)
        self.state.reset()
        self.state.completed, self.state.etag = True, etag
        self.state.save()
        self.report(self.size, done=True)
        return Uploaded(self.path, self.bucket, self.key, self.size, etag, 0, 0)

    # -- multipart ---------------------------------------------------------------------------
    def part_range(self, n: int) -> tuple[int, int]:
        start = (n - 1) * self.state.part_size
        return start, min(self.state.part_size, self.size - start)

    def listed_parts(self) -> dict[int, dict[str, Any]]:
        listed: dict[int, dict[str, Any]] = {}
        marker = 0
        while True:
            try:
                page = self.client.list_parts(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.state.upload_id,
                    PartNumberMarker=marker,
                )
            except Exception as exc:
                if _code(exc) in GONE:
                    raise _UploadGone from exc
                raise
            for part in page.get("Parts", []):
                listed[int(part["PartNumber"])] = part
            if not page.get("IsTruncated"):
                return listed
            marker = int(page["NextPartNumberMarker"])

    def resume_or_start(self) -> int:
        """Keep the parts both the state file and S3 vouch for; return how many bytes."""
        state = self.state
        if state.upload_id and not state.completed:
            listed = self.listed_parts()
            kept = {}
            for n, part in state.parts.items():
                there = listed.get(n)
                if (
                    there is not None
                    and str(there.get("ETag")) == part["etag"]
                    and int(there.get("Size", -1)) == self.part_range(n)[1]
                    and (
                        not there.get("ChecksumSHA256") or there["ChecksumSHA256"] == part["sha256"]
                    )
                ):
                    kept[n] = part
            state.parts = kept
            state.save()
            return sum(self.part_range(n)[1] for n in kept)
        state.reset()
        state.part_size = effective_part_size(self.size, self.requested_part_size)
        created = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self.key, ChecksumAlgorithm="SHA256"
        )
        state.upload_id = str(created["UploadId"])
        state.save()
        return 0

    def send_part(self, n: int, body_slot: dict[int, _Body]) -> tuple[int, str, str]:
        start, length = self.part_range(n)
        with self.path.open("rb") as f:
            f.seek(start)
            data = f.read(length)
        if len(data) != length:
            raise UploadError(f"{self.path} changed while it was being uploaded")
        checksum = _sha256(data)
        body = body_slot[n] = _Body(data)
        try:
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.state.upload_id,
                PartNumber=n,
                Body=body,
                ChecksumSHA256=checksum,
            )
        except Exception as exc:
            if _code(exc) in GONE:
                raise _UploadGone from exc
            raise
        returned = response.get("ChecksumSHA256")
        if returned and returned != checksum:
            raise UploadError(f"part {n} of {self.path}: S3 stored other bytes than were sent")
        return n, str(response["ETag"]), checksum

    def multipart(self) -> Uploaded:
        state = self.state
        resumed = self.resume_or_start()
        count = max(1, -(-self.size // state.part_size))
        todo = [n for n in range(1, count + 1) if n not in state.parts]
        done_bytes = resumed
        self.report(done_bytes, resumed)
        in_flight: dict[int, _Body] = {}
        running: dict[Future[tuple[int, str, str]], int] = {}
        queue = list(reversed(todo))
        last = time.monotonic()

        def record(future: Future[tuple[int, str, str]]) -> None:
            nonlocal done_bytes
            n = running.pop(future)
            in_flight.pop(n, None)
            n, etag, checksum = future.result()
            state.parts[n] = {"etag": etag, "sha256": checksum}
            state.save()
            done_bytes += self.part_range(n)[1]

        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="cytotile-upload")
        try:
            while queue or running:
                while queue and len(running) < self.concurrency:  # a window: nothing runs ahead
                    n = queue.pop()
                    running[pool.submit(self.send_part, n, in_flight)] = n
                finished, _ = wait(
                    list(running), timeout=self.interval, return_when=FIRST_COMPLETED
                )
                for future in finished:
                    record(future)
                now = time.monotonic()
                if finished or now - last >= self.interval:
                    last = now
                    partial = sum(body.high for body in list(in_flight.values()))
                    self.report(min(self.size, done_bytes + partial), resumed)
        except BaseException:
            for future in list(running):  # let parts on the wire finish and keep them
                try:
                    future.result()
                    record(future)
                except BaseException:  # the first error is the one to report
                    running.pop(future, None)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        parts = [
            {"PartNumber": n, "ETag": p["etag"], "ChecksumSHA256": p["sha256"]}
            for n, p in sorted(state.parts.items())
        ]
        try:
            response = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=state.upload_id,
                MultipartUpload={"Parts": parts},
            )
        except Exception as exc:
            if _code(exc) in GONE:
                raise _UploadGone from exc
            raise
        etag = str(response.get("ETag", ""))
        digests = b"".join(base64.b64decode(p["sha256"]) for _, p in sorted(state.parts.items()))
        self.verify(base64.b64encode(hashlib.sha256(digests).digest()).decode())
        state.completed, state.etag = True, etag
        state.save()
        self.report(self.size, resumed, done=True)
        return Uploaded(self.path, self.bucket, self.key, self.size, etag, count, len(todo))

    def abort_quietly(self) -> None:
        if not self.state.upload_id:
            return
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.state.upload_id
            )
        except Exception as exc:
            log.debug("abort of %s: %s", self.state.upload_id, exc)

    def run(self, force: bool) -> Uploaded:
        state = self.state
        state.load()
        if force and state.upload_id and not state.completed:
            self.abort_quietly()
        if force or (state.completed and not self.already_there()):
            state.reset()
        if state.completed:
            self.report(self.size, self.size, done=True)
            return Uploaded(
                self.path, self.bucket, self.key, self.size, state.etag, 0, 0, skipped=True
            )
        if not state.upload_id and self.size < effective_part_size(
            self.size, self.requested_part_size
        ):
            return self.put()
        try:
            return self.multipart()
        except _UploadGone:
            log.info("s3 no longer knows upload %s of %s: restarting", state.upload_id, self.key)
            self.abort_quietly()
            state.reset()
            state.save()
        try:
            return self.multipart()
        except _UploadGone:
            raise UploadError(f"S3 dropped the multipart upload of {self.path} twice") from None


# --------------------------------------------------------------------------------------------
def upload_file(
    path: str | os.PathLike[str],
    destination: str,
    *,
    key: str | None = None,
    client: Any = None,
    part_size: int = DEFAULT_PART_SIZE,
    progress: ProgressCallback | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    force: bool = False,
    interval: float = 0.2,
) -> Uploaded:
    """Upload one file to ``destination`` (``s3://bucket/prefix``) as ``<prefix>/<its name>``
    (or ``key``). Raises ``UploadError`` (S3 refused, the file changed) or whatever interrupted
    it (``KeyboardInterrupt``, an exception of ``progress``); call again to resume."""
    file = Path(path).absolute()
    if not file.is_file():
        raise UploadError(f"{path}: no such file")
    bucket, prefix = parse_destination(destination)
    key = key or key_for(prefix, file)
    directory = Path(state_dir) if state_dir is not None else default_state_dir()
    state = _State.locate(directory, file, bucket, key)
    client = client if client is not None else default_client(concurrency)
    job = _Job(client, file, state, part_size, progress, concurrency, interval)
    try:
        return job.run(force)
    except UploadError:
        raise
    except Exception as exc:
        if _is_client_error(exc):
            raise UploadError(f"{file.name} to s3://{bucket}/{key}: {exc}") from exc
        raise


def upload_files(
    paths: Iterable[str | os.PathLike[str]],
    destination: str,
    *,
    client: Any = None,
    part_size: int = DEFAULT_PART_SIZE,
    progress: ProgressCallback | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    force: bool = False,
) -> list[str]:
    """Upload each file (see ``upload_file``); return their keys. Stops at the first failure."""
    files = [Path(p) for p in paths]
    check_names(files, destination)
    client = client if client is not None else default_client(concurrency)
    keys = []
    for file in files:
        done = upload_file(
            file,
            destination,
            client=client,
            part_size=part_size,
            progress=progress,
            state_dir=state_dir,
            concurrency=concurrency,
            force=force,
        )
        keys.append(done.key)
    return keys


def check_names(files: Sequence[Path], destination: str) -> None:
    """Two files of one name would overwrite each other under one prefix."""
    _, prefix = parse_destination(destination)
    seen: dict[str, Path] = {}
    for file in files:
        key = key_for(prefix, file)
        if key in seen:
            raise UploadError(f"{seen[key]} and {file} would both become {key!r}")
        seen[key] = file


# --------------------------------------------------------------------------------------------
def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


class ProgressBar:
    """A text progress callback: on a terminal, one line per file redrawn with ``\\r`` (bar,
    percent, bytes, rate); elsewhere (a log, a pipe) one line when each file is done."""

    def __init__(
        self,
        stream: TextIO | None = None,
        tty: bool | None = None,
        width: int = 24,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.width = width
        self.interval = interval
        self.clock = clock
        self.current: Path | None = None
        self.started = 0.0
        self.base = 0
        self.drawn = float("-inf")
        self.open_line = 0  # characters of an unterminated bar line

    def __call__(self, p: Progress) -> None:
        now = self.clock()
        if p.path != self.current:
            self.current, self.started, self.base = p.path, now, p.sent
            self.drawn = float("-inf")
        elapsed = max(now - self.started, 1e-9)
        rate = (p.sent - self.base) / elapsed
        if self.tty:
            if not p.done and now - self.drawn < self.interval:
                return
            self.drawn = now
            self._draw(p, rate)
            if p.done:
                self.stream.write("\n")
                self.open_line = 0
        elif p.done:
            how = "already uploaded" if p.resumed == p.total and p.total else f"{human(rate)}/s"
            resumed = f", {human(p.resumed)} resumed" if 0 < p.resumed < p.total else ""
            self.stream.write(
                f"{p.path.name} -> s3://{p.bucket}/{p.key}: {human(p.total)} ({how}{resumed})\n"
            )
        self.stream.flush()

    def _draw(self, p: Progress, rate: float) -> None:
        fraction = p.sent / p.total if p.total else 1.0
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        name = p.path.name if len(p.path.name) <= 30 else p.path.name[:29] + "~"
        line = (
            f"{name} [{bar}] {fraction * 100:5.1f}% "
            f"{human(p.sent)}/{human(p.total)} {human(rate)}/s"
        )
        pad = " " * max(0, self.open_line - len(line))
        self.stream.write(f"\r{line}{pad}")
        self.open_line = len(line)

    def end_line(self) -> None:
        """Terminate a bar line cut short (before an error message)."""
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = 0
