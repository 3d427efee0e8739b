"""Bundle format: deterministic zips of Python sources with a manifest.

A bundle is a zip archive holding `manifest.json` plus `*.py` (and other
`*.json`) members. Its ID is ``"b1-" + sha512(zip bytes).hexdigest()``, so the
bytes must be identical for identical sources on any machine. That is why the
writer fixes everything zipfile would otherwise take from the environment:

- members sorted by name, ``/`` separators, paths relative to the bundle root;
- timestamp 1980-01-01 00:00:00, ``external_attr = 0o644 << 16``,
  ``create_system = 3`` (Unix), ZIP_DEFLATED at level 9, no archive comment;
- ``manifest.json`` serialised with sorted keys and compact separators.

``manifest.json`` is ``{"format": 1, "kind": "kernel"|"vat", "entry": ...,
"apiVersion": int, ...extra}``. ``entry`` names the entry module either as a
member path (``"kernel/__init__.py"``) or as a dotted module name
(``"kernel"`` resolving to ``kernel.py`` or ``kernel/__init__.py``); the
validated `Manifest` carries both forms (`entry_member`, `entry_module`).

Bundles arrive from untrusted users, so `validate_bundle` checks, before
trusting anything: total size, entry count, declared uncompressed total, per
entry compression ratio (zip bombs), member names (absolute, ``..``,
backslashes, drive letters, empty segments, duplicates), file type bits (no
symlinks or other non-regular files), encryption, compression method, CRCs,
UTF-8 sources, and the manifest itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BundleError

__all__ = [
    "BundleError",
    "Manifest",
    "BUNDLE_KINDS",
    "MANIFEST_NAME",
    "MAX_BUNDLE_BYTES",
    "MAX_ENTRIES",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_COMPRESSION_RATIO",
    "make_bundle",
    "make_bundle_from_files",
    "bundle_id_of",
    "is_bundle_id",
    "validate_bundle",
    "read_bundle_files",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
BUNDLE_KINDS = ("kernel", "vat")

MAX_BUNDLE_BYTES = 8 * 1024 * 1024
MAX_ENTRIES = 1000
MAX_UNCOMPRESSED_BYTES = 32 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
# Tiny members can legitimately compress far better than the ratio limit
# (e.g. an empty __init__.py or a file of repeated lines); they cannot be a
# bomb because the uncompressed total is capped anyway.
RATIO_CHECK_MIN_BYTES = 64 * 1024

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FIXED_ATTR = 0o644 << 16
_COMPRESS_LEVEL = 9
_ALLOWED_SUFFIXES = (".py", ".json")
_RESERVED_MANIFEST_KEYS = frozenset({"format", "kind", "entry", "apiVersion"})
_BUNDLE_ID_RE = re.compile(r"b1-[0-9a-f]{128}\Z")
_MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


@dataclass(frozen=True)
class Manifest:
    """The validated manifest of a bundle.

    `entry` is the manifest's value as written; `entry_member` is the zip
    member it resolves to and `entry_module` the dotted module name of that
    member (``pkg/__init__.py`` -> ``pkg``, ``pkg/mod.py`` -> ``pkg.mod``).
    `extra` holds every manifest key other than the four standard ones.
    """

    kind: str
    entry: str
    api_version: int
    entry_member: str
    entry_module: str
    format: int = MANIFEST_FORMAT
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.extra)
        d.update(
            format=self.format, kind=self.kind, entry=self.entry, apiVersion=self.api_version
        )
        return d


def bundle_id_of(data: bytes) -> str:
    return "b1-" + hashlib.sha512(data).hexdigest()


def is_bundle_id(value: object) -> bool:
    return isinstance(value, str) and _BUNDLE_ID_RE.match(value) is not None


# --------------------------------------------------------------------------- writing


def make_bundle(
    source_dir: str | Path,
    *,
    kind: str,
    entry: str,
    api_version: int,
    extra_manifest: dict | None = None,
    package: str | None = None,
) -> bytes:
    """Zip every ``*.py`` under `source_dir` (recursively, skipping
    ``__pycache__``) into a deterministic bundle.

    With `package`, members are placed under that folder (``package="kernel"``
    turns ``source_dir/kernel.py``-relative ``a/b.py`` into ``kernel/a/b.py``),
    so a package directory can be bundled under its own import name.
    """
    root = Path(source_dir)
    if not root.is_dir():
        raise BundleError(f"bundle source {str(root)!r} is not a directory")
    prefix = ""
    if package:
        prefix = package.strip("/").replace(".", "/") + "/"
    files: dict[str, bytes] = {}
    for p in root.rglob("*.py"):
        rel = p.relative_to(root)
        if "__pycache__" in rel.parts:
            continue
        if p.is_symlink() or not p.is_file():
            raise BundleError(f"bundle source {str(p)!r} is not a regular file")
        files[prefix + rel.as_posix()] = p.read_bytes()
    return make_bundle_from_files(
        files, kind=kind, entry=entry, api_version=api_version, extra_manifest=extra_manifest
    )


def make_bundle_from_files(
    files: Mapping[str, bytes],
    *,
    kind: str,
    entry: str,
    api_version: int,
    extra_manifest: dict | None = None,
) -> bytes:
    """Build a deterministic bundle from ``{member path: bytes}``.

    The result is validated before it is returned, so a bundle this function
    produces is always one `validate_bundle` accepts.
    """
    manifest: dict[str, Any] = dict(extra_manifest or {})
    clash = sorted(_RESERVED_MANIFEST_KEYS & manifest.keys())
    if clash:
        raise BundleError(f"extra_manifest may not set reserved keys {clash}")
    manifest.update(format=MANIFEST_FORMAT, kind=kind, entry=entry, apiVersion=api_version)
    if MANIFEST_NAME in files:
        raise BundleError("source files may not contain manifest.json; it is generated")
    members: dict[str, bytes] = {}
    for name, data in files.items():
        if isinstance(data, str):
            data = data.encode("utf-8")
        members[name] = bytes(data)
    members[MANIFEST_NAME] = json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(members):
            _check_member_name(name)
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.external_attr = _FIXED_ATTR
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, members[name], compresslevel=_COMPRESS_LEVEL)
    data = buf.getvalue()
    validate_bundle(data)
    return data


# --------------------------------------------------------------------------- reading


def validate_bundle(
    data: bytes,
    alleged_id: str | None = None,
    *,
    max_bytes: int = MAX_BUNDLE_BYTES,
    max_entries: int = MAX_ENTRIES,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
    max_ratio: int = MAX_COMPRESSION_RATIO,
) -> Manifest:
    """Check `data` is a safe, well-formed bundle (and has `alleged_id`).

    Returns the parsed `Manifest`; raises `BundleError` with a message naming
    the first problem found.
    """
    manifest, _files = _open_and_check(data, alleged_id, max_bytes, max_entries,
                                       max_uncompressed, max_ratio)
    return manifest


def read_bundle_files(data: bytes, alleged_id: str | None = None) -> dict[str, bytes]:
    """Validate `data` and return every member as ``{name: bytes}``
    (``manifest.json`` included)."""
    _manifest, files = _open_and_check(data, alleged_id, MAX_BUNDLE_BYTES, MAX_ENTRIES,
                                       MAX_UNCOMPRESSED_BYTES, MAX_COMPRESSION_RATIO)
    return files


def _open_and_check(
    data: bytes,
    alleged_id: str | None,
    max_bytes: int,
    max_entries: int,
    max_uncompressed: int,
    max_ratio: int,
) -> tuple[Manifest, dict[str, bytes]]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BundleError(f"bundle must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise BundleError(f"bundle is {len(data)} bytes, over the limit of {max_bytes}")
    if alleged_id is not None:
        if not is_bundle_id(alleged_id):
            raise BundleError(f"malformed bundle ID {alleged_id!r}: expected 'b1-' + 128 hex digits")
        actual = bundle_id_of(data)
        if actual != alleged_id:
            raise BundleError(
                f"bundle ID mismatch: alleged {alleged_id[:19]}..., bytes hash to {actual[:19]}..."
            )
    try:
        # is_zipfile() swallows only OSError: a zip64 locator naming another disk raises
        # BadZipFile("zipfiles that span multiple disks ...") (found by fuzz/fuzz_bundles.py)
        zf = zipfile.ZipFile(io.BytesIO(data)) if zipfile.is_zipfile(io.BytesIO(data)) else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            NotImplementedError, RuntimeError) as e:  # e.g. "zip file version 8.4" from a bad header
        raise BundleError(f"bundle is not a readable zip archive: {e}") from None
    if zf is None:
        raise BundleError("bundle is not a zip archive")
    with zf:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise BundleError(f"bundle has {len(infos)} entries, over the limit of {max_entries}")
        _check_infos(infos, max_uncompressed, max_ratio)
        files: dict[str, bytes] = {}
        for info in infos:
            try:
                content = zf.read(info)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError,
                    EOFError, RuntimeError, NotImplementedError, zlib.error) as e:
                raise BundleError(f"bundle entry {info.filename!r} is corrupt: {e}") from None
            if len(content) != info.file_size:
                raise BundleError(f"bundle entry {info.filename!r} has a wrong size in its header")
            files[info.filename] = content
    if MANIFEST_NAME not in files:
        raise BundleError("bundle has no manifest.json")
    for name, content in files.items():
        if name.endswith(".py") or name.endswith(".json"):
            try:
                content.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError(f"bundle entry {name!r} is not valid UTF-8") from None
    manifest = _parse_manifest(files[MANIFEST_NAME], files)
    return manifest, files


def _check_infos(infos: list[zipfile.ZipInfo], max_uncompressed: int, max_ratio: int) -> None:
    seen: set[str] = set()
    seen_folded: dict[str, str] = {}
    total = 0
    for info in infos:
        name = info.filename
        # zipfile rewrites "\\" to "/" on Windows only; check the raw name too.
        raw = getattr(info, "orig_filename", name)
        if "\\" in raw or "\\" in name:
            raise BundleError(f"bundle entry {raw!r} contains a backslash")
        _check_member_name(name)
        if name in seen:
            raise BundleError(f"bundle entry {name!r} appears more than once")
        folded = name.casefold()
        if folded in seen_folded:
            raise BundleError(
                f"bundle entries {seen_folded[folded]!r} and {name!r} differ only by case"
            )
        seen.add(name)
        seen_folded[folded] = name
        mode = (info.external_attr >> 16) & 0xFFFF
        ftype = stat.S_IFMT(mode)
        if ftype == stat.S_IFLNK:
            raise BundleError(f"bundle entry {name!r} is a symbolic link")
        if ftype not in (0, stat.S_IFREG):
            raise BundleError(f"bundle entry {name!r} is not a regular file (mode {oct(mode)})")
        if info.external_attr & 0x10:  # MS-DOS directory attribute
            raise BundleError(f"bundle entry {name!r} is a directory")
        if info.flag_bits & 0x1:
            raise BundleError(f"bundle entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BundleError(
                f"bundle entry {name!r} uses unsupported compression method {info.compress_type}"
            )
        total += info.file_size
        if total > max_uncompressed:
            raise BundleError(
                f"bundle expands to more than {max_uncompressed} bytes (zip bomb?)"
            )
        if info.file_size >= RATIO_CHECK_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > max_ratio:
                raise BundleError(
                    f"bundle entry {name!r} has compression ratio {ratio:.0f}:1, "
                    f"over the limit of {max_ratio}:1 (zip bomb?)"
                )


def _check_member_name(name: str) -> None:
    if not name:
        raise BundleError("bundle entry has an empty name")
    if "\\" in name:
        raise BundleError(f"bundle entry {name!r} contains a backslash")
    if "\x00" in name:
        raise BundleError(f"bundle entry {name!r} contains a NUL character")
    if name.startswith("/"):
        raise BundleError(f"bundle entry {name!r} is an absolute path")
    if re.match(r"[A-Za-z]:", name):
        raise BundleError(f"bundle entry {name!r} starts with a drive letter")
    if name.endswith("/"):
        raise BundleError(f"bundle entry {name!r} is a directory")
    parts = name.split("/")
    if ".." in parts:
        raise BundleError(f"bundle entry {name!r} escapes the bundle root")
    if "" in parts or "." in parts:
        raise BundleError(f"bundle entry {name!r} has an empty or '.' path segment")
    if not name.endswith(_ALLOWED_SUFFIXES):
        raise BundleError(f"bundle entry {name!r} is not a .py or .json file")


def _parse_manifest(raw: bytes, files: Mapping[str, bytes]) -> Manifest:
    try:
        m = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, int digit limit
        raise BundleError(f"manifest.json is not valid JSON: {e}") from None
    except RecursionError:
        raise BundleError("manifest.json is nested too deeply") from None
    if not isinstance(m, dict):
        raise BundleError("manifest.json must be a JSON object")
    for key in ("format", "kind", "entry", "apiVersion"):
        if key not in m:
            raise BundleError(f"manifest.json lacks {key!r}")
    fmt = m["format"]
    if fmt != MANIFEST_FORMAT or isinstance(fmt, bool):
        raise BundleError(f"manifest format {fmt!r} is not supported (expected {MANIFEST_FORMAT})")
    kind = m["kind"]
    if kind not in BUNDLE_KINDS:
        raise BundleError(f"manifest kind {kind!r} is not one of {list(BUNDLE_KINDS)}")
    api = m["apiVersion"]
    if not isinstance(api, int) or isinstance(api, bool) or api < 0:
        raise BundleError(f"manifest apiVersion {api!r} is not a non-negative integer")
    entry = m["entry"]
    if not isinstance(entry, str) or not entry:
        raise BundleError(f"manifest entry {entry!r} is not a non-empty string")
    member, module = _resolve_entry(entry, files)
    extra = {k: v for k, v in m.items() if k not in _RESERVED_MANIFEST_KEYS}
    return Manifest(kind=kind, entry=entry, api_version=api, entry_member=member,
                    entry_module=module, format=fmt, extra=extra)


def _resolve_entry(entry: str, files: Mapping[str, bytes]) -> tuple[str, str]:
    if entry.endswith(".py"):
        if entry not in files:
            raise BundleError(f"manifest entry {entry!r} is not a member of the bundle")
        return entry, _module_of(entry)
    if _MODULE_RE.match(entry):
        base = entry.replace(".", "/")
        for candidate in (base + ".py", base + "/__init__.py"):
            if candidate in files:
                return candidate, entry
        raise BundleError(
            f"manifest entry {entry!r} matches neither {base + '.py'!r} "
            f"nor {base + '/__init__.py'!r} in the bundle"
        )
    raise BundleError(f"manifest entry {entry!r} is neither a .py member nor a module name")


def _module_of(member: str) -> str:
    path = member[: -len(".py")]
    if path.endswith("/__init__"):
        path = path[: -len("/__init__")]
    elif path == "__init__":
        return ""
    return path.replace("/", ".")
