"""The bootstrap script a subprocess worker runs (``python -s -S -P -B -c BOOTSTRAP``).

It is the only code in the worker that comes from the node's source tree, and it is a string:
the worker's interpreter runs without site-packages (``-S``), without the current directory
or script directory on sys.path (``-P``), in an empty temporary cwd, so it *cannot* import
``kernelhost``. Everything else -- the supervisor, liveslots, the sandbox -- is loaded from
the kernel bundle the parent sends over the pipe, mounted in memory under a private package
name, exactly the code the kernel itself was loaded from.

Why not ``-I``: isolated mode implies ``-E``, which ignores PYTHONHASHSEED, and vat workers
must run with a fixed hash seed (set intersections, dict-of-set iteration ...). The parent
passes an environment of exactly ``{"PYTHONHASHSEED": "0"}``, so no other PYTHON* variable
can reach the interpreter anyway.

Why limits are set here and not in a ``preexec_fn``: preexec_fn runs between fork and exec in
a copy of a multi-threaded parent (the node serves websockets and runs jobs on threads) and
can deadlock on a lock another thread held at fork time; the subprocess docs warn against
it. These lines run before any vat or bundle code, so the effect is the same.

Order of events in the worker:
1. move the protocol pipes off fds 0/1 (stdout goes to stderr, stdin to /dev/null) so a
   stray print() cannot corrupt the frame stream;
2. no core files, no file writes (RLIMIT_FSIZE 0), no child processes (RLIMIT_NPROC 0);
3. read the header frame (limits, bundle ID, package name), set RLIMIT_AS;
4. read the kernel bundle, check its SHA-512 against the bundle ID, mount it; when the header
   says so, read the code objects the parent compiled from that same bundle (same
   interpreter, same file names, so the same bytecode) instead of compiling every module
   again in every worker, which was ~40 % of a worker's start;
5. import the supervisor and every module vat code may import (the sandbox allowlist);
6. RLIMIT_NOFILE down to the fds already open: from here on nothing can be opened --
   no files, no sockets, no further imports from disk;
7. hand over to ``supervisor.main``, which arms RLIMIT_CPU before each delivery.
"""

BOOTSTRAP = r'''
def _boot():
    import gc, hashlib, io, json, marshal, os, resource, struct, sys, traceback, zipfile
    import importlib.abc, importlib.util

    hdr = struct.Struct(">I")
    rfd = os.dup(0)
    wfd = os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    buf = bytearray()

    def read_frame():
        # buffered: one os.read usually returns the whole frame
        while True:
            if len(buf) >= 4:
                (size,) = hdr.unpack_from(buf)
                if len(buf) >= 4 + size:
                    payload = bytes(buf[4:4 + size])
                    del buf[:4 + size]
                    return payload
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                return None
            buf.extend(chunk)

    def write(data):
        view = memoryview(data)
        while view:
            n = os.write(wfd, view)
            view = view[n:]

    def serve_forks(rfd, wfd, buf, read_frame, write, fatal):
        import fcntl, json, select, signal, socket

        gc.collect()
        gc.freeze()  # the kernel's modules stay shared with every worker (no copy-on-write by GC)
        ctl = socket.socket(fileno=rfd)  # rfd and wfd are the same Unix socket here
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        passed = []  # descriptors received, three per spawn request, in order

        def send(message):
            payload = json.dumps(message).encode()
            write(hdr.pack(len(payload)) + payload)

        def reap():
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                send(["exit", pid, os.waitstatus_to_exitcode(status)])

        send(["forkServerReady", {"pid": os.getpid()}])
        while True:
            frame = None
            if len(buf) >= 4 and len(buf) >= 4 + hdr.unpack_from(buf)[0]:
                frame = read_frame()  # complete in the buffer: no read
            if frame is None:
                ready = select.select([rfd, wake_r], [], [])[0]
                if wake_r in ready:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    reap()
                if rfd in ready:
                    data, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 16, 3)
                    passed.extend(fds)
                    if not data:
                        os._exit(0)  # the node is gone; its workers see their pipes close
                    buf.extend(data)
                continue
            message = json.loads(frame)
            if message[0] != "spawn" or len(passed) < 3:
                fatal("fork server: bad request " + repr(message)[:200])
            fds, passed[:] = passed[:3], passed[3:]
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                ctl.detach()  # its descriptor is about to be reused
                child_r, child_w, child_err = fds
                os.dup2(child_err, 1)
                os.dup2(child_err, 2)
                high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (child_r, child_w)]
                os.dup2(high[0], 3, inheritable=False)
                os.dup2(high[1], 4, inheritable=False)
                os.closerange(5, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
                del buf[:]
                return 3, 4
            for fd in fds:
                os.close(fd)
            send(["spawned", message[1], pid])
            reap()

    def fatal(reason, code=70):
        try:
            payload = json.dumps(["fatal", reason]).encode()
            write(hdr.pack(len(payload)) + payload)
        finally:
            os._exit(code)

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

        def no_children():
            try:
                resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
            except (ValueError, OSError):
                pass
        # The parent's environment is exactly {"PYTHONHASHSEED": "0"}, but the interpreter
        # adds LC_CTYPE itself when it coerces the C locale (PEP 538): take it back out so the
        # worker's environment is what the parent chose.
        for key in [k for k in os.environ if k != "PYTHONHASHSEED"]:
            del os.environ[key]
        raw = read_frame()
        if raw is None:
            os._exit(0)
        header = json.loads(raw)
        fork_server = bool(header.get("forkServer"))
        if not fork_server:
            no_children()
        limits = header["limits"]
        if limits.get("memoryBytes"):
            resource.setrlimit(resource.RLIMIT_AS, (limits["memoryBytes"], limits["memoryBytes"]))
        bundle = read_frame()
        if bundle is None:
            os._exit(0)
        codes = {}
        if header.get("precompiled"):
            raw_codes = read_frame()  # read before any refusal: the parent sends all at once
            if raw_codes is None:
                os._exit(0)
        if "b1-" + hashlib.sha512(bundle).hexdigest() != header["bundleID"]:
            fatal("kernel bundle does not match its bundle ID")
        if header.get("precompiled"):
            codes = marshal.loads(raw_codes)
            del raw_codes
        zf = zipfile.ZipFile(io.BytesIO(bundle))
        package = header["package"]
        table = {package: ("<root>", b"", True)}
        for name in sorted(zf.namelist()):
            if not name.endswith(".py"):
                continue
            parts = name[:-3].split("/")
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            for i in range(len(parts) - (0 if is_pkg else 1)):
                table.setdefault(".".join([package] + parts[:i + 1]), ("<namespace>", b"", True))
            table[".".join([package] + parts)] = (name, zf.read(name), is_pkg)
        zf.close()
        del bundle

        class BundleImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            def find_spec(self, fullname, path=None, target=None):
                entry = table.get(fullname)
                if entry is None:
                    return None
                return importlib.util.spec_from_loader(fullname, self, is_package=entry[2])

            def create_module(self, spec):
                return None

            def exec_module(self, module):
                name, source, _pkg = table[module.__name__]
                code = codes.pop(name, None)
                if code is None:
                    code = compile(source, "<kernel-bundle>/" + name, "exec", dont_inherit=True)
                exec(code, module.__dict__)

        sys.meta_path.insert(0, BundleImporter())
        supervisor = importlib.import_module(package + "." + header["supervisor"])
        for name in header.get("preimport", ()):
            importlib.import_module(name)
        if hasattr(supervisor, "prepare"):
            supervisor.prepare()
        kernelhost_importable = importlib.util.find_spec("kernelhost") is not None
        if fork_server:
            # Serve "spawn" requests; each forks a worker that returns from serve_forks()
            # with its own pipes on fds 3 and 4 and continues below as a fresh worker would.
            rfd, wfd = serve_forks(rfd, wfd, buf, read_frame, write, fatal)
            no_children()
        nofile = max(int(limits.get("nofile") or 0), rfd + 1, wfd + 1)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        cpu_seconds = limits.get("cpuSeconds")

        def arm_cpu():
            # RLIMIT_CPU counts the whole life of the process: give each delivery its own
            # budget by moving the soft limit to "used so far + budget".
            if not cpu_seconds:
                return
            usage = resource.getrusage(resource.RUSAGE_SELF)
            soft = int(usage.ru_utime + usage.ru_stime + cpu_seconds + 0.999)
            resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))

        def probe():
            info = {
                "pid": os.getpid(), "cwd": os.getcwd(), "env": dict(os.environ),
                "sysPath": list(sys.path), "kernelhostImportable": kernelhost_importable,
                "flags": {"hash_randomization": sys.flags.hash_randomization,
                          "no_site": sys.flags.no_site, "safe_path": sys.flags.safe_path,
                          "no_user_site": sys.flags.no_user_site},
                "hashOfKernel": hash("kernel"),
                "limits": {n: list(resource.getrlimit(getattr(resource, n))) for n in
                           ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE",
                            "RLIMIT_NPROC", "RLIMIT_CORE")},
                "supervisor": supervisor.__name__,
            }
            try:
                with open("/etc/hostname", "rb"):
                    info["openFile"] = "opened"
            except OSError as exc:
                info["openFile"] = type(exc).__name__ + ": " + str(exc)
            return info

        gc.collect()
    except BaseException:
        fatal("worker bootstrap failed: " + traceback.format_exc())
    code = supervisor.main(read_frame, write, {"before_delivery": arm_cpu, "probe": probe})
    os._exit(code or 0)


_boot()
'''
