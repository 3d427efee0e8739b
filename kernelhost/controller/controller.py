"""The controller: the host's handle on a kernel loaded from its stored bundle.

    initialize_swingset(kernel_storage, config)       once per store (genesis)
    c = make_controller(kernel_storage, devices=..., worker_factory=..., options=...)
    c.run(policy) / c.step() / c.queue_to_vat_root(...) / ...

The controller lives outside the kernel bundle: it bundles sources, validates
and installs bundles, and loads the kernel code the store names under
``kernelBundleID`` (kernel_loader). Everything it asks of the kernel goes
through the kernel's entry points, so a kernel upgrade (a new bundle ID, then a
restart) changes the code without changing this module.
"""

from __future__ import annotations

from kernelhost.swingstore.bundleformat import (
    BundleError,
    bundle_id_of,
    is_bundle_id,
    read_bundle_files,
    validate_bundle,
)

from .bundling import bundle_kernel_source, bundle_vat_source
from .kernel_loader import KernelBundleError, load_kernel_bundle

__all__ = [
    "Controller",
    "KernelPanic",
    "KernelStartError",
    "KernelRef",
    "SUPPORTED_KERNEL_API_VERSIONS",
    "initialize_swingset",
    "make_controller",
]

# The entry-point shapes this controller can drive (kernel manifest "apiVersion").
SUPPORTED_KERNEL_API_VERSIONS = frozenset({1})
_RESULT_POLICIES = ("ignore", "logAlways", "logFailure", "panic")


class KernelPanic(Exception):
    """The kernel panicked. Sticky: every later run()/step() raises it again; the host
    must not commit the swing-store after it."""


class KernelStartError(Exception):
    """The stored state or kernel bundle cannot be started (not initialised, unknown
    state schema, bad kernel bundle)."""


class KernelRef:
    """A kernel object or promise inside a value read from the kernel (kp_status)."""

    __slots__ = ("kref", "iface")

    def __init__(self, kref: str, iface: str | None = None):
        self.kref = kref
        self.iface = iface

    def __repr__(self) -> str:
        return f"KernelRef({self.kref}{', ' + self.iface if self.iface else ''})"

    def __eq__(self, other) -> bool:
        return isinstance(other, KernelRef) and other.kref == self.kref

    def __hash__(self) -> int:
        return hash(self.kref)


# ----------------------------------------------------------------------------- bundles
def _install(kernel_storage, data: bytes, alleged_id: str | None = None) -> tuple[str, object]:
    manifest = validate_bundle(data, alleged_id)
    bundle_id = bundle_id_of(data)
    kernel_storage.bundles.add_bundle(bundle_id, data)
    return bundle_id, manifest


def _make_bundle_reader(kernel_storage):
    cache: dict = {}

    def read_bundle(bundle_id: str):
        hit = cache.get(bundle_id)
        if hit is None:
            data = kernel_storage.bundles.get_bundle(bundle_id)
            manifest = validate_bundle(data, bundle_id)
            files = read_bundle_files(data, bundle_id)
            info = dict(manifest.extra, kind=manifest.kind, entry=manifest.entry_member,
                        apiVersion=manifest.api_version)
            hit = cache[bundle_id] = (info, files)
            if len(cache) > 64:
                cache.pop(next(iter(cache)))
        return hit

    return read_bundle


def _check_kernel_bundle(kernel_storage, bundle_id: str):
    if not is_bundle_id(bundle_id):
        raise KernelStartError(f"malformed kernel bundle ID {bundle_id!r}")
    if not kernel_storage.bundles.has_bundle(bundle_id):
        raise KernelStartError(f"kernel bundle {bundle_id[:19]}... is not installed")
    data = kernel_storage.bundles.get_bundle(bundle_id)
    try:
        manifest = validate_bundle(data, bundle_id)
    except BundleError as e:
        raise KernelStartError(f"kernel bundle {bundle_id[:19]}... is invalid: {e}") from e
    if manifest.kind != "kernel":
        raise KernelStartError(f"bundle {bundle_id[:19]}... is a {manifest.kind!r} bundle, not a kernel bundle")
    if manifest.api_version not in SUPPORTED_KERNEL_API_VERSIONS:
        raise KernelStartError(f"kernel bundle {bundle_id[:19]}... speaks kernel API {manifest.api_version}; "
                               f"this controller supports {sorted(SUPPORTED_KERNEL_API_VERSIONS)}")
    return data, manifest


def _load(kernel_storage, bundle_id: str):
    data, manifest = _check_kernel_bundle(kernel_storage, bundle_id)
    try:
        return load_kernel_bundle(bundle_id, data), manifest
    except KernelBundleError as e:
        raise KernelStartError(str(e)) from e


# ----------------------------------------------------------------------------- genesis
def initialize_swingset(kernel_storage, config: dict, *, kernel_source_dir=None, base_dir=None) -> str:
    """Genesis: bundle + install the kernel, record its ID under ``kernelBundleID``,
    install the vat bundles, create the static vats and queue bootstrap. Returns the
    kernel bundle ID. Raises KernelStartError if the store is already initialised.

    config: ``{"vats": {name: {"source": dir|zip|bundleID, "parameters": {...},
    "critical": bool, "entry": module, "managerType", "enablePipelining"}},
    "bootstrap": name, "devices": [...], "bundles": {name: {"source": ...}},
    "defaultManagerType": "local"}``. Relative sources resolve against `base_dir`
    (or ``config["baseDir"]``)."""
    if kernel_storage.kv.get("version") is not None or kernel_storage.kv.get("kernelBundleID") is not None:
        raise KernelStartError("swing-store is already initialised")
    base_dir = base_dir or config.get("baseDir")
    kernel_bundle = bundle_kernel_source(kernel_source_dir)  # None: bundling.KERNEL_SOURCE_DIR, read now
    kernel_id, _manifest = _install(kernel_storage, kernel_bundle)

    def install_source(what: str, spec: dict) -> str:
        source = spec.get("source") if isinstance(spec, dict) else spec
        if source is None:
            source = spec.get("bundleID")
        if is_bundle_id(source):
            if not kernel_storage.bundles.has_bundle(source):
                raise KernelStartError(f"{what}: bundle {source[:19]}... is not installed")
            bundle_id = source
        else:
            data = bundle_vat_source(source, entry=spec.get("entry") if isinstance(spec, dict) else None,
                                     base_dir=base_dir)
            bundle_id, _m = _install(kernel_storage, data)
        info = _make_bundle_reader(kernel_storage)(bundle_id)[0]
        if info["kind"] != "vat":
            raise KernelStartError(f"{what}: bundle {bundle_id[:19]}... is a {info['kind']!r} bundle, not a vat")
        return bundle_id

    vats = []
    for name, spec in (config.get("vats") or {}).items():
        if not isinstance(spec, dict):
            raise KernelStartError(f"vat {name!r}: config must be a dict")
        unknown = sorted(set(spec) - {"source", "bundleID", "parameters", "critical", "entry", "managerType",
                                      "enablePipelining"})
        if unknown:
            raise KernelStartError(f"vat {name!r}: unknown config keys {unknown}")
        vat = {"name": name, "bundleID": install_source(f"vat {name!r}", spec)}
        for key in ("parameters", "critical", "managerType", "enablePipelining"):
            if key in spec:
                vat[key] = spec[key]
        vats.append(vat)
    vats.sort(key=lambda v: v["name"])  # creation order must not depend on dict order
    named = {name: install_source(f"bundle {name!r}", spec)
             for name, spec in sorted((config.get("bundles") or {}).items())}
    kconfig = {
        "vats": vats,
        "bootstrap": config.get("bootstrap"),
        "devices": sorted(config.get("devices") or []),
        "namedBundles": named,
        "defaultManagerType": config.get("defaultManagerType") or "local",
    }
    kmod, _manifest = _load(kernel_storage, kernel_id)
    try:
        kmod.initialize_kernel(kernel_storage, kconfig, kernel_bundle_id=kernel_id)
    except kmod.KernelStateError as e:
        raise KernelStartError(str(e)) from e
    return kernel_id


def make_controller(kernel_storage, *, devices: dict | None = None, worker_factory=None,
                    options: dict | None = None) -> Controller:
    """Start the kernel named by ``kernelBundleID``, loaded from the stored bundle.

    devices: endowments by device name, e.g. ``{"bridge": fn(dict) -> dict}``.
    worker_factory: ``fn(spec) -> worker`` for vats whose manager type is not "local".
    options: ``{"log": fn(str)}`` receives vat prints and kernel notes; ``{"failpoint":
    fn(name)}`` is called with "kernel.after_crank" after every crank and with
    "vat.upgrade.after_stop" inside an upgrade crank (an exception from it leaves the
    crank unflushed and the kernel unusable, and propagates as is);
    ``{"maxVatsOnline": n}`` (default 50) bounds live workers (LRU);
    ``{"dynamicManagerType": "local"|"subprocess"}`` is the worker of dynamic vats that
    do not ask for one (default: "subprocess" when a worker_factory is given, else
    "local"); ``{"testBundleSwaps": {bundleID: bundleID}}`` is a test-only hook that
    loads another bundle where one is recorded (replay divergence tests)."""
    options = dict(options or {})
    bundle_id = kernel_storage.kv.get("kernelBundleID")
    if bundle_id is None:
        raise KernelStartError("swing-store is not initialised (no kernelBundleID): run initialize_swingset")
    kmod, manifest = _load(kernel_storage, bundle_id)
    try:
        kernel = kmod.make_kernel(kernel_storage, read_bundle=_make_bundle_reader(kernel_storage),
                                  kernel_bundle_id=bundle_id, devices=devices, worker_factory=worker_factory,
                                  log=options.pop("log", None), options=options)
    except kmod.KernelStateError as e:
        raise KernelStartError(str(e)) from e
    return Controller(kernel_storage, kernel, kmod, bundle_id, manifest)


class Controller:
    def __init__(self, kernel_storage, kernel, kmod, bundle_id: str, manifest):
        self._storage = kernel_storage
        self._kernel = kernel
        self._kmod = kmod
        self._panic_type = kmod.KernelPanicError
        self.kernel_bundle_id = bundle_id
        self.kernel_version = kmod.KERNEL_VERSION
        self.kernel_api_version = manifest.api_version

    # ---- running
    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except self._panic_type as e:
            raise KernelPanic(str(e)) from e

    def run(self, policy=None) -> int:
        """Run cranks until the queue is empty or `policy` says stop; returns cranks run."""
        return self._guard(self._kernel.run, policy)

    def step(self) -> int:
        """Run at most one crank; returns 1 or 0."""
        return self._guard(self._kernel.step)

    @property
    def fires_failpoints(self) -> bool:
        """True when the kernel fires ``kernel.after_crank`` itself (options["failpoint"])."""
        return self._kernel._failpoint is not None

    @property
    def panicked(self) -> bool:
        return self._kernel.panic_error is not None

    def terminate_vat(self, vat_id: str, reason: str) -> bool:
        """Terminate a vat now (host/governance remedy "terminateVat"), by vatID or name.

        Performed at once as its own hashed flush unit (deterministic: the same call at
        the same point of the block sequence gives every node the same state): promises
        the vat decides are rejected with "vat terminated: <reason>", its c-list is
        emptied, later sends to its objects reject; the notifies and vat-admin's
        ``done()`` run at the next run(). Returns False if already terminated. Raises
        KeyError for an unknown vat and ValueError for a critical
        vat (terminating it would panic the kernel); the state is unchanged then."""
        try:
            return self._guard(self._kernel.host_terminate_vat, vat_id, str(reason))
        except self._kmod.KernelStateError as e:
            if self._kernel.panic_error is not None or "critical" not in str(e):
                raise
            raise ValueError(str(e)) from None

    # ---- messages and promises
    def queue_to_vat_root(self, vat_name: str, method: str, args: list, result_policy: str = "ignore") -> str:
        """Queue ``method(*args)`` to a vat's root (args: plain data). Returns the result kpid,
        which stays inspectable with kp_status until kp_release."""
        if result_policy not in _RESULT_POLICIES:
            raise ValueError(f"result_policy must be one of {_RESULT_POLICIES}")
        return self._guard(self._kernel.queue_to_vat_root, vat_name, method, list(args), result_policy)

    def kp_status(self, kpid: str):
        """("unresolved", None) | ("fulfilled", value) | ("rejected", error). Objects in the
        value come back as KernelRef; errors as exceptions with .name and a message."""
        state, data = self._kernel.kp_status(kpid)
        if data is None:
            return state, None
        value = self._kmod.marshal.unserialize(data, lambda slot, iface, _p: KernelRef(slot, iface))
        return state, value

    def kp_release(self, kpid: str) -> None:
        self._guard(self._kernel.kp_release, kpid)

    # ---- bundles and kernel upgrade
    def install_bundle(self, data: bytes, alleged_id: str | None = None) -> str:
        """Validate and store a bundle; returns its ID (the same ID again for the same bytes)."""
        bundle_id, _manifest = _install(self._storage, data, alleged_id)
        return bundle_id

    def set_kernel_bundle_id(self, bundle_id: str) -> None:
        """Make `bundle_id` (installed, kind kernel, loadable) the kernel of the next start."""
        _load(self._storage, bundle_id)
        self._guard(self._kernel.set_kernel_bundle_id, bundle_id)

    # ---- devices
    def timer_poll(self, height: int, time_ms: int) -> int:
        """Tell the timer device the block height and time; returns wake-ups fired."""
        return self._guard(self._kernel.timer_poll, int(height), int(time_ms))

    def bridge_inbound(self, obj: dict) -> bool:
        """A chain->kernel event for the bridge handler; False if no handler is registered."""
        return self._guard(self._kernel.bridge_inbound, obj)

    def deliver_inbound(self, peer: str, messages: list, ack: int) -> bool:
        return self._guard(self._kernel.deliver_inbound, peer, messages, ack)

    def get_mailbox_outbox(self) -> dict:
        return self._kernel.mailbox_outbox()

    # ---- inspection
    def get_status(self) -> dict:
        return self._kernel.get_status()

    def get_activity_hash(self) -> str:
        return self._storage.get_activity_hash()

    def get_log(self) -> list:
        return list(self._kernel.log_lines)

    def run_queue_items(self, limit: int = 50) -> list:
        return self._kernel.run_queue_items(limit)

    def shutdown(self) -> None:
        self._kernel.shutdown()
