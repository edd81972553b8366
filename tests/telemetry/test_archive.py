"""Uploaded bundle archives: only bundle tables are written, bombs and tricks are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from vigil.telemetry.archive import (
    MAX_COLUMNS,
    MAX_MEMBERS,
    MAX_ROWS,
    ArchiveError,
    TooLargeError,
    unpack_bundle,
)

CSV = b"time,service,instance,metric,value\n2026-01-01T10:00:00Z,api,api-1,cpu,1.0\n"


def _tar(members: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            packed.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            packed.addfile(info)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as packed:
        for name, data in members.items():
            packed.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("pack", [_tar, _zip])
def test_tables_at_the_top_or_in_one_folder_are_written(pack: object, tmp_path: Path) -> None:
    assert callable(pack)
    archive = pack(
        {
            "incident/metrics.csv.gz": gzip.compress(CSV),
            "incident/reference/logs.csv": b"time,service,message\n",
            "incident/notes.txt": b"not a table",
            "__MACOSX/incident/._metrics.csv.gz": b"resource fork",
        }
    )
    written = unpack_bundle(archive, tmp_path, limit=1 << 20)
    assert sorted(written) == ["metrics.csv", "reference/logs.csv"]
    assert (tmp_path / "metrics.csv").read_bytes() == CSV  # decompressed here, within budget
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["logs.csv", "metrics.csv"]


def test_names_never_become_paths(tmp_path: Path) -> None:
    into = tmp_path / "into"
    into.mkdir()
    archive = _tar(
        {"../metrics.csv": CSV, "/etc/spans.csv": CSV, "a/b/logs.csv": CSV},
        links={"graph.csv": "/etc/passwd", "x": ".."},
    )
    written = unpack_bundle(archive, into, limit=1 << 20)
    assert written == ["spans.csv"]  # "/etc/spans.csv": one top folder, like any other
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["into", "spans.csv"]


def test_bombs_and_floods_are_refused(tmp_path: Path) -> None:
    inflating = _tar({"metrics.csv.gz": gzip.compress(b"0" * 3_000_000)})
    with pytest.raises(TooLargeError, match="more than 1000000 bytes"):
        unpack_bundle(inflating, tmp_path / "a", limit=1_000_000)
    skipped = _tar({"padding.bin": b"0" * 3_000_000, "metrics.csv": CSV})  # counts too
    with pytest.raises(TooLargeError, match="more than"):
        unpack_bundle(skipped, tmp_path / "c", limit=1_000_000)
    flood = {f"f{i}.txt": b"" for i in range(MAX_MEMBERS + 1)}
    for archive in (_tar(flood), _zip(flood)):
        with pytest.raises(ArchiveError, match=f"more than {MAX_MEMBERS} entries"):
            unpack_bundle(archive, tmp_path / "b", limit=1 << 20)


def test_what_is_not_a_bundle_archive_says_why(tmp_path: Path) -> None:
    cases = {
        b"plain text": "not a readable tar or zip",
        _tar({"readme.md": b"hi"}): "no bundle tables",
        _tar({"metrics.parquet": b"PAR1"}): "not Parquet",
        _tar({"metrics.csv": CSV, "data/metrics.csv.gz": gzip.compress(CSV)}): "twice",
        _tar({"logs.csv.gz": b"not gzip"}): "logs.csv.gz cannot be read: Not a gzipped file",
        _tar({"spans.csv": CSV * 2000})[:-4000]: "cannot be read|not a readable",  # truncated
    }
    for archive, problem in cases.items():
        with pytest.raises(ArchiveError, match=problem):
            unpack_bundle(archive, tmp_path / "x", limit=1 << 20)


def test_zip_entries_that_inflate_without_bound_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_BZIP2) as packed:
        packed.writestr("metrics.csv", b"0" * 100_000)
    with pytest.raises(ArchiveError, match="only stored or deflated"):
        unpack_bundle(buffer.getvalue(), tmp_path, limit=1 << 30)


def test_a_zip_lying_about_its_entries_is_refused(tmp_path: Path) -> None:
    archive = bytearray(_zip({f"f{i}.txt": b"" for i in range(MAX_MEMBERS * 2)}))
    end = archive.rfind(b"PK\x05\x06")
    archive[end + 8 : end + 12] = (3).to_bytes(2, "little") * 2  # "3 entries"
    with pytest.raises(ArchiveError, match="more than"):
        unpack_bundle(bytes(archive), tmp_path, limit=1 << 20)


def test_large_extended_tar_headers_are_refused_before_parsing(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as packed:
        info = tarfile.TarInfo("metrics.csv")
        info.size = len(CSV)
        info.pax_headers = {"comment": "1" * 10_000}
        packed.addfile(info, io.BytesIO(CSV))
    with pytest.raises(ArchiveError, match="extended tar header"):
        unpack_bundle(buffer.getvalue(), tmp_path, limit=1 << 20)


def test_tables_too_long_or_too_wide_for_pandas_are_refused(tmp_path: Path) -> None:
    wide = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)).encode() + b"\n"
    cases = {
        _tar(
            {"logs.csv.gz": gzip.compress(b"1\n" * (MAX_ROWS + 10))}
        ): "more than 1000000 rows in all",
        _tar({"metrics.csv": wide}): f"{MAX_COLUMNS + 1} columns",
        _tar({"spans.csv": b"x" * 70_000 + b"\n"}): "header line is longer",
    }
    for archive, problem in cases.items():
        with pytest.raises(ArchiveError, match=problem):
            unpack_bundle(archive, tmp_path / "x", limit=1 << 30)
