"""The audit log as JSON lines, rotated by size like ``logging.handlers.RotatingFileHandler``.

Each record is one line, written with a single ``write`` and flushed before ``record`` returns.
Writers in one process serialize on a lock, and writers in different processes on an
``fcntl.flock`` of ``<path>.lock``, so rotation never splits or loses a line. When the file
would grow past ``max_bytes`` it becomes ``<path>.1`` (``.1`` becomes ``.2`` and so on, keeping
``backups`` old files); a record larger than ``max_bytes`` gets a file of its own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError
from pydantic_core import to_json

from guardrail.audit.errors import AuditWriteError
from guardrail.audit.log import RecordingLog, check_tail, default_audit_log_path
from guardrail.audit.records import AuditRecord
from guardrail.errors import GuardrailConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: threads are still serialized
    fcntl = None  # type: ignore[assignment]

__all__ = ["JsonlAuditLog"]

logger = logging.getLogger(__name__)


class JsonlAuditLog(RecordingLog):
    """An :class:`~guardrail.audit.log.AuditLog` in a JSON-lines file with size-based rotation.

    ``path`` defaults to :func:`~guardrail.audit.log.default_audit_log_path`. ``fsync=True``
    also forces every record to disk (slower; survives power loss, not just a crash).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        *,
        fsync: bool = False,
    ) -> None:
        if max_bytes < 1 or backups < 0:
            raise GuardrailConfigError(
                f"audit log needs max_bytes >= 1 and backups >= 0, got {max_bytes} and {backups}"
            )
        self._path = default_audit_log_path() if path is None else Path(path).expanduser()
        self._max_bytes = max_bytes
        self._backups = backups
        self._fsync = fsync
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={str(self._path)!r}, "
            f"max_bytes={self._max_bytes}, backups={self._backups})"
        )

    def __enter__(self) -> JsonlAuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The current log file (older ones are ``<path>.1`` ... ``<path>.<backups>``)."""
        return self._path

    def close(self) -> None:
        """Nothing to release: files are opened per record."""

    def files(self) -> list[Path]:
        """The existing log files, oldest first (every ``<path>.<n>``, whatever ``backups``)."""
        prefix = self._path.name + "."
        numbered: list[tuple[int, Path]] = []
        if self._path.parent.is_dir():
            for candidate in self._path.parent.iterdir():
                suffix = candidate.name[len(prefix) :]
                if candidate.name.startswith(prefix) and suffix.isdigit():
                    numbered.append((int(suffix), candidate))
        olds = [path for _, path in sorted(numbered, reverse=True)]
        return [*olds, self._path] if self._path.exists() else olds

    def _backup(self, index: int) -> Path:
        return self._path.with_name(f"{self._path.name}.{index}")

    @contextmanager
    def _locked(self, *, required: bool) -> Iterator[None]:
        with self._lock:
            if fcntl is None:
                yield
                return
            try:
                if required:
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                lock_file = open(  # noqa: SIM115 - held for the block below
                    self._path.with_name(self._path.name + ".lock"), "a"
                )
            except OSError:
                if required:
                    raise
                yield  # a reader without write access (or no log yet): read unlocked
                return
            with lock_file:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
                yield

    # --------------------------------------------------------------------- write
    def _write(self, record: AuditRecord) -> None:
        """Append the record as one JSON line."""
        line = (record.model_dump_json() + "\n").encode()
        try:
            with self._locked(required=True):
                self._append(line)
        except OSError as exc:
            raise AuditWriteError(f"cannot write audit log {self._path}: {exc}") from exc

    def _append(self, line: bytes) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size > 0 and size + len(line) > self._max_bytes:
                os.close(fd)
                fd = -1
                self._rotate()
                self._append(line)
                return
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a writer died mid-line: keep this record on its own line
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
        finally:
            if fd >= 0:
                os.close(fd)

    def _rotate(self) -> None:
        if self._backups == 0:
            self._path.unlink(missing_ok=True)
            return
        for index in range(self._backups - 1, 0, -1):
            source = self._backup(index)
            if source.exists():
                os.replace(source, self._backup(index + 1))
        os.replace(self._path, self._backup(1))

    # ---------------------------------------------------------------------- read
    def _snapshot(self) -> list[tuple[BinaryIO, int]]:
        """Open every log file and note its size, under the lock: a consistent cut."""
        handles: list[tuple[BinaryIO, int]] = []
        with self._locked(required=False):
            try:
                for path in self.files():
                    try:
                        handle = open(path, "rb")  # noqa: SIM115 - closed by _records
                    except FileNotFoundError:
                        continue
                    handles.append((handle, os.fstat(handle.fileno()).st_size))
            except BaseException:
                for opened, _ in handles:
                    opened.close()
                raise
        return handles

    def _records(self, needle: str | None = None) -> Iterator[AuditRecord]:
        skipped = 0
        handles = self._snapshot()
        try:
            for handle, size in handles:
                # Lines appended after the snapshot (possibly half-written) are not read.
                for raw in handle.read(size).splitlines():
                    text = raw.decode("utf-8", "replace").strip()
                    if not text or (needle is not None and needle not in text):
                        continue
                    try:
                        yield AuditRecord.model_validate_json(text)
                    except ValidationError:
                        skipped += 1
        finally:
            for handle, _ in handles:
                handle.close()
            if skipped:
                logger.warning("skipped %d unreadable line(s) in %s", skipped, self._path)

    def read_run(self, run_id: str) -> list[AuditRecord]:
        """Every record of one run, oldest first (across rotated files)."""
        needle = to_json(run_id).decode()  # a cheap pre-filter; run_id is checked below
        return [r for r in self._records(needle) if r.run_id == run_id]

    def tail(self, n: int = 20) -> list[AuditRecord]:
        """The last ``n`` records, oldest first."""
        check_tail(n)
        return list(deque(self._records(), maxlen=n))
