"""A local folder as storage."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from cytotile.errors import NotFound, StorageError
from cytotile.storage.base import Storage, safe_key

OPEN_FILES = 64  # descriptors kept open for ranged reads (tiles hit few files, many times)


class LocalStorage(Storage):
    def __init__(self, root: str | Path) -> None:
        self.base = Path(root).resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self.root = str(self.base)
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._fds_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.base / safe_key(key)

    def _fd(self, key: str) -> int:
        with self._fds_lock:
            fd = self._fds.get(key)
            if fd is not None:
                self._fds.move_to_end(key)
                return fd
        fd = os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC)
        with self._fds_lock:
            self._fds[key] = fd
            while len(self._fds) > OPEN_FILES:
                os.close(self._fds.popitem(last=False)[1])
        return fd

    def close(self) -> None:
        with self._fds_lock:
            while self._fds:
                os.close(self._fds.popitem()[1])

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _forget(self, prefix: str) -> None:
        """Close cached descriptors of keys under ``prefix`` (replaced or deleted objects)."""
        with self._fds_lock:
            for key in [k for k in self._fds if k == prefix or k.startswith(prefix + "/")]:
                os.close(self._fds.pop(key))

    def read_range(self, key: str, start: int, length: int) -> bytes:
        try:
            return os.pread(self._fd(key), length, start)
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}") from exc
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(f"no object {key!r}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc.strerror}") from exc

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}") from exc
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(f"no object {key!r}") from exc

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def etag(self, key: str) -> str:
        st = self._path(key).stat()
        return f"{st.st_size:x}-{st.st_mtime_ns:x}"

    def _atomic(self, key: str) -> tuple[Path, int, str]:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
        os.fchmod(fd, 0o644)
        return dest, fd, tmp

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        dest, fd, tmp = self._atomic(key)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
        self._forget(key)

    def upload_file(self, key: str, local_path: Path) -> None:
        dest, fd, tmp = self._atomic(key)
        with os.fdopen(fd, "wb") as out, open(local_path, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, dest)
        self._forget(key)

    def download_file(self, key: str, local_path: Path) -> None:
        try:
            shutil.copyfile(self._path(key), local_path)
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        start = self._path(prefix) if prefix else self.base
        if start.is_file():
            yield safe_key(prefix)
            return
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                yield Path(dirpath, name).relative_to(self.base).as_posix()

    def delete_prefix(self, prefix: str) -> int:
        target = self._path(prefix)
        self._forget(safe_key(prefix))
        if target.is_file():
            target.unlink()
            return 1
        if not target.exists():
            return 0
        count = sum(len(files) for _, _, files in os.walk(target))
        shutil.rmtree(target)
        return count

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
