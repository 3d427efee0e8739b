"""State-sync: export a committed store, import it into a new file.

Export = (export data, artifacts). Export data is exactly what the export
callback mirrors (see `exportdata`): `kv.<key>`, `bundle.<id>`,
`transcript.<vatID>.<startPos>` and `transcript.<vatID>.current`, sorted by
key. Artifacts are `bundle.<id>` (zip bytes) and
`transcript.<vatID>.<start>.<end>` (items, one JSON string per line).

Artifact modes:
    archival     every span's items (fails if a span was pruned)
    operational  only each vat's current span (enough to replay and run on)

The exporter reads through its own read-only connection inside one read
transaction, so it sees the last commit even while the node keeps writing.

Import checks everything against the export data before trusting it: each
bundle's bytes hash to its ID and pass the bundle safety checks, each span
artifact has exactly endPos - startPos items whose hash chain gives the
span's recorded hash, every required artifact is present, no unknown names
or keys. It builds the store in `<path>.importing-<pid>` and renames it into
place only when complete, so a rejected import leaves no file behind. Host
keys are not exported; the host writes them again after import.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from . import schema
from .bundleformat import is_bundle_id, validate_bundle
from .errors import BundleError, SwingStoreError, SwingStoreImportError
from .exportdata import (
    decode_span_artifact,
    encode_span_artifact,
    span_artifact_name,
    span_key,
    span_record,
)
from .kvstore import HOST_PREFIX, LOCAL_PREFIX
from .transcripts import INITIAL_SPAN_HASH, next_span_hash

ARTIFACT_MODES = ("operational", "archival")
_HASH_RE = re.compile(r"[0-9a-f]{64}\Z")


def _check_mode(mode: str) -> None:
    if mode not in ARTIFACT_MODES:
        raise SwingStoreError(f"unknown artifact mode {mode!r} (expected one of {ARTIFACT_MODES})")


# --------------------------------------------------------------------------- export


class SwingStoreExporter:
    """A stable view of the last commit of the store at `path`."""

    def __init__(self, path: str | os.PathLike, *, artifact_mode: str = "archival") -> None:
        _check_mode(artifact_mode)
        db_path = Path(path)
        if not db_path.is_file():
            raise SwingStoreError(f"no swing-store at {str(db_path)!r}")
        self.artifact_mode = artifact_mode
        self._conn = schema.connect(f"file:{quote(str(db_path.resolve()))}?mode=ro", uri=True)
        try:
            schema.setup_reader(self._conn)
            self._conn.execute("BEGIN DEFERRED")
            # The first read fixes the snapshot every later read will see.
            self._spans = self._conn.execute(
                "SELECT vatID, startPos, endPos, hash, isCurrent, incarnation"
                " FROM transcriptSpans ORDER BY vatID, startPos"
            ).fetchall()
        except BaseException:
            self._conn.close()
            raise

    def get_export_data(self) -> list[tuple[str, str]]:
        records: list[tuple[str, str]] = []
        for key, value in self._conn.execute("SELECT key, value FROM kvStore ORDER BY key"):
            if not key.startswith((HOST_PREFIX, LOCAL_PREFIX)):
                records.append(("kv." + key, value))
        for (bundle_id,) in self._conn.execute("SELECT bundleID FROM bundles"):
            records.append(("bundle." + bundle_id, bundle_id))
        for vat_id, start, end, hash_, is_current, inc in self._spans:
            records.append((
                span_key(vat_id, None if is_current else start),
                span_record(vat_id, start, end, hash_, bool(is_current), inc),
            ))
        records.sort()
        return records

    def get_artifact_names(self) -> list[str]:
        names = ["bundle." + r[0] for r in self._conn.execute("SELECT bundleID FROM bundles")]
        for vat_id, start, end, _h, is_current, _i in self._spans:
            if is_current or self.artifact_mode == "archival":
                names.append(span_artifact_name(vat_id, start, end))
        return sorted(names)

    def get_artifact(self, name: str) -> bytes:
        if name.startswith("bundle."):
            row = self._conn.execute(
                "SELECT bundle FROM bundles WHERE bundleID = ?", (name[len("bundle."):],)
            ).fetchone()
            if row is None:
                raise SwingStoreError(f"no artifact named {name!r}")
            return bytes(row[0])
        parsed = _parse_span_artifact_name(name)
        if parsed is None:
            raise SwingStoreError(f"no artifact named {name!r}")
        vat_id, start, end = parsed
        row = self._conn.execute(
            "SELECT endPos FROM transcriptSpans WHERE vatID = ? AND startPos = ?", (vat_id, start)
        ).fetchone()
        if row is None or row[0] != end:
            raise SwingStoreError(f"no artifact named {name!r}")
        items = [r[0] for r in self._conn.execute(
            "SELECT item FROM transcriptItems WHERE vatID = ? AND position >= ?"
            " AND position < ? ORDER BY position", (vat_id, start, end))]
        if len(items) != end - start:
            raise SwingStoreError(
                f"cannot export {name}: span is pruned ({len(items)} of {end - start} items)"
            )
        return encode_span_artifact(items)

    def close(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        finally:
            self._conn.close()

    def __enter__(self) -> SwingStoreExporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def export_swingstore(
    path: str | os.PathLike, *, artifact_mode: str = "archival"
) -> tuple[list[tuple[str, str]], dict[str, bytes]]:
    """(export_data, {artifact name: bytes}) of the last commit at `path`."""
    with SwingStoreExporter(path, artifact_mode=artifact_mode) as exporter:
        data = exporter.get_export_data()
        artifacts = {name: exporter.get_artifact(name) for name in exporter.get_artifact_names()}
    return data, artifacts


# --------------------------------------------------------------------------- import


def _parse_span_artifact_name(name: str) -> tuple[str, int, int] | None:
    if not name.startswith("transcript."):
        return None
    parts = name[len("transcript."):].rsplit(".", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def _fail(message: str) -> SwingStoreImportError:
    return SwingStoreImportError(message)


class _Plan:
    """Export data parsed and cross-checked, before any artifact is read."""

    def __init__(self) -> None:
        self.kv: list[tuple[str, str]] = []
        self.bundles: set[str] = set()
        # (vatID, startPos) -> (endPos, hash, isCurrent, incarnation)
        self.spans: dict[tuple[str, int], tuple[int, str, bool, int]] = {}


_MAX_SQL_INT = 2**63  # SQLite INTEGER is 64-bit signed


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be stored
        return False
    return True


def _parse_span(key: str, value: str) -> tuple[str, int, int, str, bool, int]:
    rest = key[len("transcript."):]
    vat_part, _, pos_part = rest.rpartition(".")
    try:
        rec = json.loads(value)
    except (TypeError, ValueError, RecursionError):  # also the int digit limit, deep nesting
        raise _fail(f"export-data record {key!r} is not valid JSON") from None
    fields = ("vatID", "startPos", "endPos", "hash", "isCurrent", "incarnation")
    if not isinstance(rec, dict) or sorted(rec) != sorted(fields):
        raise _fail(f"export-data record {key!r} must have exactly the fields {list(fields)}")
    vat_id, start, end, hash_, is_current, inc = (rec[f] for f in fields)
    ints_ok = all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < _MAX_SQL_INT
                  for n in (start, end, inc))
    if not (isinstance(vat_id, str) and ints_ok and isinstance(is_current, bool)
            and isinstance(hash_, str) and _HASH_RE.match(hash_) and end >= start):
        raise _fail(f"export-data record {key!r} has malformed fields: {value}")
    if vat_id != vat_part:
        raise _fail(f"export-data record {key!r} names vat {vat_id!r}")
    if pos_part == "current":
        if not is_current:
            raise _fail(f"export-data record {key!r} is not marked current")
    elif not pos_part.isdigit() or int(pos_part) != start or is_current:
        raise _fail(f"export-data record {key!r} does not match its startPos {start}"
                    f" / isCurrent {is_current}")
    if start == end and hash_ != INITIAL_SPAN_HASH:
        raise _fail(f"export-data record {key!r}: empty span with a non-initial hash")
    return vat_id, start, end, hash_, is_current, inc


def _plan_import(export_data: Iterable[tuple[str, str | None]]) -> _Plan:
    plan = _Plan()
    seen: set[str] = set()
    for entry in export_data:
        try:
            key, value = entry
        except (TypeError, ValueError):
            raise _fail(f"export-data entry {entry!r} is not a (key, value) pair") from None
        if not isinstance(key, str):
            raise _fail(f"export-data key {key!r} is not a str")
        if key in seen:
            raise _fail(f"export-data key {key!r} appears twice")
        seen.add(key)
        if not isinstance(value, str):
            raise _fail(f"export-data value for {key!r} must be a str, not {value!r:.60}")
        if not _utf8_ok(key) or not _utf8_ok(value):
            raise _fail(f"export-data record {key!r} is not valid Unicode")
        if key.startswith("kv."):
            kv_key = key[3:]
            if not kv_key or kv_key.startswith((HOST_PREFIX, LOCAL_PREFIX)):
                raise _fail(f"export-data key {key!r} is not a consensus kv key")
            plan.kv.append((kv_key, value))
        elif key.startswith("bundle."):
            bundle_id = key[len("bundle."):]
            if not is_bundle_id(bundle_id) or value != bundle_id:
                raise _fail(f"export-data record {key!r} is not a valid bundle record")
            plan.bundles.add(bundle_id)
        elif key.startswith("transcript."):
            vat_id, start, end, hash_, is_current, inc = _parse_span(key, value)
            plan.spans[(vat_id, start)] = (end, hash_, is_current, inc)
        else:
            raise _fail(f"unknown export-data key {key!r}")
    by_vat: dict[str, list[int]] = {}
    for vat_id, start in sorted(plan.spans):
        by_vat.setdefault(vat_id, []).append(start)
    for vat_id, starts in by_vat.items():
        expected = starts[0]
        for i, start in enumerate(starts):
            end, _h, is_current, _inc = plan.spans[(vat_id, start)]
            if start != expected:
                raise _fail(f"transcript spans of vat {vat_id!r} are not contiguous at {start}")
            if is_current and i != len(starts) - 1:
                raise _fail(f"vat {vat_id!r} has a current span that is not its last span")
            expected = end
    return plan


def _artifact_source(artifacts) -> tuple[list[str], object]:
    if hasattr(artifacts, "get_artifact_names"):
        return list(artifacts.get_artifact_names()), artifacts.get_artifact
    if isinstance(artifacts, Mapping):
        return list(artifacts.keys()), artifacts.__getitem__
    raise SwingStoreError("artifacts must be a mapping or an exporter")


def _remove_db_files(db: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.unlink(str(db) + suffix)
        except FileNotFoundError:
            pass


def import_swingstore(
    path: str | os.PathLike,
    export_data: Iterable[tuple[str, str | None]],
    artifacts,
    *,
    artifact_mode: str = "archival",
) -> None:
    """Build a new swing-store at `path` from export data and artifacts
    (a mapping name -> bytes, or a `SwingStoreExporter`). Raises
    SwingStoreImportError, leaving no file at `path`, if anything is
    missing, unknown or does not verify. Open it afterwards with
    `open_swingstore(path)`; host keys must be written again."""
    _check_mode(artifact_mode)
    target = Path(path)
    if target.exists():
        raise _fail(f"refusing to import over existing file {str(target)!r}")
    plan = _plan_import(export_data)
    names, get_artifact = _artifact_source(artifacts)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".importing-{os.getpid()}")
    _remove_db_files(tmp)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        # Speed over safety while building: the file is renamed into place
        # only after it is complete and synced.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        schema.create_schema(conn)
        conn.executemany("INSERT INTO kvStore (key, value) VALUES (?, ?)", plan.kv)
        for (vat_id, start), (end, hash_, is_current, inc) in plan.spans.items():
            conn.execute(
                "INSERT INTO transcriptSpans (vatID, startPos, endPos, hash, isCurrent,"
                " incarnation) VALUES (?, ?, ?, ?, ?, ?)",
                (vat_id, start, end, hash_, 1 if is_current else None, inc),
            )
        loaded = _load_artifacts(conn, plan, names, get_artifact)
        _check_complete(plan, loaded, artifact_mode)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.close()
        conn = None
        fd = os.open(str(tmp), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if target.exists():
            raise _fail(f"refusing to import over existing file {str(target)!r}")
        os.replace(tmp, target)
        dir_fd = os.open(str(target.parent), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException as e:
        if conn is not None:
            conn.close()
        _remove_db_files(tmp)
        if isinstance(e, (sqlite3.Error, OverflowError, UnicodeError)):
            raise _fail(f"import failed while writing the new store: {e}") from e
        raise


def _load_artifacts(conn: sqlite3.Connection, plan: _Plan, names: list[str],
                    get_artifact) -> set[str]:
    loaded: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not _utf8_ok(name):
            raise _fail(f"artifact name {name!r:.60} is not a valid str")
    for name in sorted(names):
        if name in loaded:
            raise _fail(f"artifact {name!r} appears twice")
        data = get_artifact(name)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _fail(f"artifact {name!r} is not bytes")
        data = bytes(data)
        if name.startswith("bundle."):
            bundle_id = name[len("bundle."):]
            if bundle_id not in plan.bundles:
                raise _fail(f"artifact {name!r} has no export-data record")
            try:
                validate_bundle(data, bundle_id)
            except BundleError as e:
                raise _fail(f"artifact {name!r} is corrupt: {e}") from None
            conn.execute("INSERT INTO bundles (bundleID, bundle) VALUES (?, ?)",
                         (bundle_id, data))
        else:
            parsed = _parse_span_artifact_name(name)
            if parsed is None:
                raise _fail(f"unknown artifact name {name!r}")
            vat_id, start, end = parsed
            span = plan.spans.get((vat_id, start))
            if span is None or span[0] != end:
                raise _fail(f"artifact {name!r} does not match any span in the export data")
            _end, expected_hash, _cur, inc = span
            try:
                items = decode_span_artifact(data)
            except (UnicodeDecodeError, ValueError) as e:
                raise _fail(f"artifact {name!r} is malformed: {e}") from None
            except RecursionError:
                raise _fail(f"artifact {name!r} is malformed: nested too deeply") from None
            if len(items) != end - start:
                raise _fail(
                    f"artifact {name!r} has {len(items)} items but its span"
                    f" needs {end - start}"
                )
            h = INITIAL_SPAN_HASH
            for item in items:
                h = next_span_hash(h, item)
            if h != expected_hash:
                raise _fail(f"artifact {name!r} does not match its span hash")
            conn.executemany(
                "INSERT INTO transcriptItems (vatID, position, item, incarnation)"
                " VALUES (?, ?, ?, ?)",
                [(vat_id, start + i, item, inc) for i, item in enumerate(items)],
            )
        loaded.add(name)
    return loaded


def _check_complete(plan: _Plan, loaded: set[str], artifact_mode: str) -> None:
    for bundle_id in sorted(plan.bundles):
        if "bundle." + bundle_id not in loaded:
            raise _fail(f"missing artifact 'bundle.{bundle_id}'")
    for (vat_id, start), (end, _h, is_current, _inc) in sorted(plan.spans.items()):
        if is_current or artifact_mode == "archival":
            name = span_artifact_name(vat_id, start, end)
            if name not in loaded:
                raise _fail(f"missing artifact {name!r} ({artifact_mode} import)")
