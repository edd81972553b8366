"""Unpack an uploaded bundle archive (tar, tar.gz or zip) into a folder, defensively.

An upload is untrusted input, so only what a bundle folder can hold is written
(``docs/bundle-format.md``): the tables ``metrics``, ``logs``, ``spans`` and ``graph`` and
``reference/logs``, ``reference/spans``, each as ``.csv`` or ``.csv.gz``, at the top of
the archive or inside one top folder (how ``tar czf - DIR`` and zip tools pack a folder).
Everything else (other files, ``__MACOSX/``, links, devices) is skipped; no member name is
ever used as a path, so nothing lands outside the folder. Refused, with the reason:

* more than ``MAX_MEMBERS`` entries (a zip's from its central directory's size, before
  zipfile reads it);
* more than ``limit`` bytes unpacked: a tar is read as a stream, counting every
  decompressed byte (skipped members too), and ``.csv.gz`` tables are decompressed here,
  so the reader cannot be made to inflate them without bound;
* zip entries compressed other than stored or deflated (Python inflates bzip2 and LZMA
  without an output bound), or encrypted; tar extended (pax, GNU long name) headers over
  ``MAX_HEADER`` bytes (a quadratic regex in older tarfile, CVE-2024-6232) and sparse
  files;
* more than ``MAX_ROWS`` lines in all tables together, or a header of more than
  ``MAX_COLUMNS`` columns (pandas' cost grows with both, much faster than with bytes);
* Parquet tables: their pages decompress inside the reader, with sizes the file itself
  declares (a bundle named under the server's ``bundle_root`` may use Parquet).
"""

from __future__ import annotations

import csv
import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = [
    "MAX_COLUMNS",
    "MAX_HEADER",
    "MAX_MEMBERS",
    "MAX_ROWS",
    "ArchiveError",
    "TooLargeError",
    "unpack_bundle",
]

MAX_MEMBERS = 64
MAX_HEADER = 4096
MAX_ROWS = 1_000_000
MAX_COLUMNS = 64
_HEADER_BYTES = 64 * 1024
_TABLES = ("metrics", "logs", "spans", "graph")
_REFERENCE_TABLES = ("logs", "spans")
_SUFFIXES = (".csv.gz", ".csv")
_CHUNK = 1 << 20
_ZIP_END = b"PK\x05\x06"


class ArchiveError(Exception):
    """The upload is not a bundle archive we accept; the message says why."""


class TooLargeError(ArchiveError):
    """The tables unpack to more than the limit."""


_Open = Callable[[], IO[bytes]]


# What reading a damaged or unsupported archive raises, from tarfile, zipfile, gzip and
# zlib (an encrypted zip entry is a RuntimeError, Deflate64 a NotImplementedError, a bad
# name a UnicodeDecodeError, a bad sparse map a ValueError).
_DAMAGED = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    OSError,
    zlib.error,
    RuntimeError,
    NotImplementedError,
    ValueError,
)


def unpack_bundle(archive: bytes, into: Path, limit: int) -> list[str]:
    """Write the bundle tables of ``archive`` into ``into``; returns their paths there."""
    budget = _Budget(limit)
    written: list[str] = []
    tables: set[str] = set()
    for name, opened in _members(archive, limit):
        target = _bundle_path(name)
        if target is None:
            if name.endswith(".parquet") and _bundle_path(name[: -len(".parquet")] + ".csv"):
                raise ArchiveError(f"{name}: upload tables as .csv or .csv.gz, not Parquet")
            continue
        stored = target.removesuffix(".gz")
        table = stored.rsplit(".", 1)[0]
        if table in tables:
            raise ArchiveError(f"the archive holds the {table} table twice")
        tables.add(table)
        path = into / stored
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with opened() as source, path.open("wb") as sink:
                unpacked = gzip.GzipFile(fileobj=source) if target.endswith(".gz") else source
                _copy(unpacked, sink, budget, name)
        except _DAMAGED as error:
            raise ArchiveError(f"{name} cannot be read: {error}") from None
        _check_shape(path, name)
        written.append(stored)
    if not written:
        names = ", ".join(_TABLES)
        raise ArchiveError(f"no bundle tables in the archive ({names} as .csv or .csv.gz)")
    return written


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit
        self.rows = MAX_ROWS + len(_TABLES) + len(_REFERENCE_TABLES)  # one header each

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise TooLargeError(f"the bundle unpacks to more than {self.limit} bytes")


def _copy(source: IO[bytes] | gzip.GzipFile, sink: IO[bytes], budget: _Budget, name: str) -> None:
    while chunk := source.read(_CHUNK):
        budget.take(len(chunk))
        budget.rows -= chunk.count(b"\n")
        if budget.rows < 0:
            raise ArchiveError(f"the tables have more than {MAX_ROWS} rows in all (at {name})")
        sink.write(chunk)


def _check_shape(path: Path, name: str) -> None:
    """The header line of a written CSV table: not too long, not too many columns."""
    with path.open("rb") as table:
        header = table.readline(_HEADER_BYTES + 1)
    if len(header) > _HEADER_BYTES:
        raise ArchiveError(f"{name}: the header line is longer than {_HEADER_BYTES} bytes")
    columns = next(csv.reader([header.decode("utf-8", "replace")]), [])
    if len(columns) > MAX_COLUMNS:
        raise ArchiveError(f"{name} has {len(columns)} columns; a bundle table has a few")


def _bundle_path(name: str) -> str | None:
    """Where a member goes in the bundle folder, or None when it is not a bundle table."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "/")]
    if ".." in parts:
        return None
    for inner in (parts, parts[1:]):  # the tables at the top, or in one top folder
        if len(inner) == 1 and _table(inner[0], _TABLES):
            return inner[0]
        if len(inner) == 2 and inner[0] == "reference" and _table(inner[1], _REFERENCE_TABLES):
            return f"reference/{inner[1]}"
    return None


def _table(file_name: str, tables: tuple[str, ...]) -> bool:
    return any(file_name == f"{t}{s}" for t in tables for s in _SUFFIXES)


def _members(archive: bytes, limit: int) -> Iterator[tuple[str, _Open]]:
    """(name, opener) of each regular file, refusing archives with too many entries. An
    opener must be used before the next member is asked for (a tar is a stream)."""
    try:
        if _zip(archive):
            yield from _zip_members(archive)
        else:
            yield from _tar_members(archive, limit)
    except _DAMAGED as error:
        raise ArchiveError(f"body is not a readable tar or zip archive: {error}") from None


def _zip(archive: bytes) -> bool:
    """Whether the body is a zip. A tar says so at its start (gzip's magic, or ``ustar``
    at offset 257): a zip's directory is found from the end, so a plain tar whose last
    member is a zip file would otherwise pass for that zip."""
    if archive[:2] == b"\x1f\x8b" or archive[257:262] == b"ustar":
        return False
    return zipfile.is_zipfile(io.BytesIO(archive))


_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


def _zip_members(archive: bytes) -> Iterator[tuple[str, _Open]]:
    _check_zip_entries(archive)  # before zipfile reads the whole central directory
    with zipfile.ZipFile(io.BytesIO(archive)) as packed:
        for info in packed.infolist()[:MAX_MEMBERS]:
            if info.is_dir():
                continue  # zipfile writes no links: every other entry is a plain file
            if info.compress_type not in _ZIP_METHODS:
                raise ArchiveError(f"{info.filename}: only stored or deflated zip entries")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"{info.filename} is encrypted")
            yield info.filename, _zip_opener(packed, info)


def _zip_opener(packed: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Open:
    return lambda: packed.open(info)


def _tar_opener(packed: tarfile.TarFile, member: tarfile.TarInfo) -> _Open:
    def opened() -> IO[bytes]:
        handle = packed.extractfile(member)
        if handle is None:
            raise ArchiveError(f"{member.name} has no contents")
        return handle

    return opened


def _check_zip_entries(archive: bytes) -> None:
    end = archive.rfind(_ZIP_END, max(0, len(archive) - (1 << 16) - 22))
    if end < 0 or end + 22 > len(archive):
        raise ArchiveError("body is not a readable zip archive: no end of central directory")
    entries, size = struct.unpack_from("<HI", archive, end + 10)
    # A central directory entry takes at least 46 bytes: its size bounds the entries too.
    if entries == 0xFFFF or size == 0xFFFFFFFF or max(entries, size // 46) > MAX_MEMBERS:
        raise ArchiveError(f"the archive has more than {MAX_MEMBERS} entries; a bundle has a few")


_EXTENDED = frozenset(
    {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, b"X"}
)


class _Capped(io.RawIOBase):
    """A byte stream that draws every byte it gives from ``budget``."""

    def __init__(self, source: IO[bytes] | gzip.GzipFile, budget: _Budget) -> None:
        self.source, self.budget = source, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.source.read(min(len(buffer), max(self.budget.left, 0) + 1))
        self.budget.take(len(data))
        buffer[: len(data)] = data
        return len(data)


class _CheckedTarInfo(tarfile.TarInfo):
    """Refuses large extended headers and sparse files before tarfile parses them."""

    def _proc_member(self, packed: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > MAX_HEADER:
            raise ArchiveError(
                f"an extended tar header of {self.size} bytes (at most {MAX_HEADER})"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveError("sparse files in a tar are not supported")
        return super()._proc_member(packed)  # type: ignore[misc, no-any-return]


def _tar_members(archive: bytes, limit: int) -> Iterator[tuple[str, _Open]]:
    raw = io.BytesIO(archive)
    stream = gzip.GzipFile(fileobj=raw) if archive[:2] == b"\x1f\x8b" else raw
    # Every decompressed byte counts (tables and skipped members alike), with room for the
    # tar's own headers.
    capped = io.BufferedReader(_Capped(stream, _Budget(limit + (MAX_MEMBERS + 2) * 1024)))
    with tarfile.open(fileobj=capped, mode="r|", tarinfo=_CheckedTarInfo) as packed:
        for count, member in enumerate(packed, start=1):  # read one header at a time
            if count > MAX_MEMBERS:
                raise ArchiveError(
                    f"the archive has more than {MAX_MEMBERS} entries; a bundle has a few"
                )
            if member.isfile():  # links, devices and folders are never written
                yield member.name, _tar_opener(packed, member)
