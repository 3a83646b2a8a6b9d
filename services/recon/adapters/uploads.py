"""An uploaded file as it arrives: hashed, kept in memory while small, then on disk."""

from __future__ import annotations

import hashlib
import tempfile
from typing import IO

# Past this the file goes to a temporary file on disk.
IN_MEMORY_BYTES = 8 * 1024 * 1024


class SpooledUpload:
    def __init__(self, in_memory_bytes: int = IN_MEMORY_BYTES) -> None:
        # Closed by close(), when the call that uploaded it is over.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=in_memory_bytes)  # noqa: SIM115
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._file.write(chunk)
        self._size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def size(self) -> int:
        return self._size

    def open(self) -> IO[bytes]:
        """The file from its first byte (the same file: reading it again starts it over)."""
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()
