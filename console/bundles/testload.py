"""Test-load a bundle in a child process, so an uploaded bundle's code never runs in the
console's own process.

The child is `python -c CHILD_SCRIPT` with the bundle on stdin and a fixed, tiny environment.
Before touching the bundle it drops to limits: no core files, no file writes, no children, a
memory cap and a CPU budget; the parent adds a wall-clock timeout. What the loaded code
prints goes to stderr; the one result line goes to the saved stdout.

- vat bundles: load the entry module through `kernelhost.kernel.sandbox.load_vat_namespace`
  (with a real liveslots `swingset` module injected, as the kernel does) and check that it
  defines `build_root_object`;
- kernel bundles: import it through the controller's kernel loader (a private package name,
  as make_controller does), check the manifest's API version is one this controller supports
  and that the API-1 entry points exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

from django.conf import settings

RESULT_MARK = "KC-TESTLOAD-RESULT "
DEFAULT_TIMEOUT_S = 30
MEMORY_BYTES = 1 << 30
CPU_SECONDS = 20

CHILD_SCRIPT = r'''
import json, os, resource, sys, traceback
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
def report(ok, message, **info):
    out.write("KC-TESTLOAD-RESULT " + json.dumps({"ok": ok, "message": message, **info}) + "\n")
    out.flush()
    os._exit(0)
try:
    kind, mem, cpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = sys.stdin.buffer.read()
    from kernelhost.swingstore.bundleformat import BundleError, bundle_id_of, read_bundle_files, validate_bundle
    if kind == "kernel":
        from kernelhost.controller import SUPPORTED_KERNEL_API_VERSIONS
        from kernelhost.controller.kernel_loader import load_kernel_bundle
    else:
        from kernelhost.kernel.liveslots import LiveSlots
        from kernelhost.kernel.sandbox import load_vat_namespace
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    except (ValueError, OSError):
        pass
    manifest = validate_bundle(data)
    if manifest.kind != kind:
        report(False, f"the manifest says kind {manifest.kind!r}, not {kind!r}")
    bundle_id = bundle_id_of(data)
    if kind == "kernel":
        if manifest.api_version not in SUPPORTED_KERNEL_API_VERSIONS:
            report(False, f"kernel API version {manifest.api_version} is not supported by this node "
                          f"(it supports {sorted(SUPPORTED_KERNEL_API_VERSIONS)})")
        module = load_kernel_bundle(bundle_id, data)
        missing = [name for name in ("initialize_kernel", "make_kernel") if not callable(getattr(module, name, None))]
        if missing:
            report(False, "the kernel bundle lacks the entry point" + ("s " if len(missing) > 1 else " ")
                   + ", ".join(missing))
        report(True, f"kernel imported; API version {manifest.api_version}",
               apiVersion=manifest.api_version, stateSchemaVersion=manifest.extra.get("stateSchemaVersion"),
               kernelVersion=manifest.extra.get("kernelVersion"))
    files = read_bundle_files(data)
    ls = LiveSlots(lambda vsc: None, lambda vsc: None, namespace_loader=None)
    printed = []
    ns = load_vat_namespace(files, manifest.entry_member, extra_modules={"swingset": ls.vat_module()},
                            log=lambda text: printed.append(str(text)[:200]))
    if not callable(ns.get("build_root_object")):
        report(False, "the entry module does not define build_root_object()")
    report(True, f"vat code loaded in the sandbox; {manifest.entry_member} defines build_root_object()",
           entry=manifest.entry_member)
except MemoryError:
    report(False, "loading the bundle ran out of memory")
except BaseException as exc:
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(tb):
        if frame.filename.startswith("<") or "vat" in frame.filename:
            where = f" ({frame.filename}, line {frame.lineno})"
            break
    text = str(exc).strip()
    report(False, f"{type(exc).__name__}{': ' + text if text else ''}{where}")
'''


@dataclass
class LoadResult:
    ok: bool
    message: str
    info: dict = field(default_factory=dict)


def _child_env() -> dict:
    env = {"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    if os.environ.get("PATH"):
        env["PATH"] = os.environ["PATH"]
    return env


def run_test_load(data: bytes, kind: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> LoadResult:
    """Load `data` (a bundle that passed validate_bundle) as `kind` in a child process."""
    if kind not in ("vat", "kernel"):
        raise ValueError(f"unknown bundle kind {kind!r}")
    cmd = [sys.executable, "-B", "-c", CHILD_SCRIPT, kind, str(MEMORY_BYTES), str(CPU_SECONDS)]
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, cwd=str(settings.BASE_DIR),
                              env=_child_env(), check=False)
    except subprocess.TimeoutExpired:
        return LoadResult(False, f"loading the bundle took more than {timeout:g} s (an endless loop at import?)")
    for line in reversed(proc.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith(RESULT_MARK):
            payload = json.loads(line[len(RESULT_MARK):])
            ok, message = bool(payload.pop("ok")), str(payload.pop("message"))
            return LoadResult(ok, message, payload)
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
    return LoadResult(False, f"the test-load process exited with code {proc.returncode} without a result"
                             + (f": {' | '.join(tail)}" if tail else ""))
