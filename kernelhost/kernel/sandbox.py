"""Restricted loading of vat code.

`load_vat_namespace(files, entry)` compiles the ``*.py`` members of a vat bundle, checks
them, and runs the entry module with restricted builtins and a restricted importer. It
returns the entry module's namespace (which must define ``build_root_object``).

What the sandbox enforces, and where:

* At load time (an AST check of every ``.py`` file in the bundle, before anything runs):
  - imports: only the allowlist of pure standard modules (`DEFAULT_ALLOWED`), the modules
    the kernel injects (``extra_modules``, e.g. ``swingset``) and the bundle's own modules;
  - no dunder names or attributes (``__class__``, ``__mro__``, ``__globals__``,
    ``__builtins__`` ...) except the few in `SAFE_DUNDER_ATTRS` / `SAFE_DUNDER_NAMES`;
    classes may only *define* the dunder methods in `DEFINABLE_DUNDERS` (no ``__del__``:
    garbage-collection timing is not deterministic);
  - no frame/code/traceback introspection attributes (`DENIED_ATTRS`: ``gi_frame``,
    ``f_globals``, ``tb_frame`` ...), including as ``match`` keyword patterns;
  - ``str.format``/``format_map`` only on a string literal whose fields are plain
    (``"{0.__class__}".format(x)`` does attribute lookups inside the format machinery, out
    of reach of any AST check);
  - ``eval``/``exec``/``compile``/``open``/``globals``/``locals``/``vars``/``breakpoint``
    named anywhere (unless the vat binds that name itself).
* At run time:
  - builtins are a restricted table: ``getattr``/``setattr``/``hasattr``/``delattr`` refuse
    dunder and denied names, ``type`` takes one argument and refuses to hand out
    metaclasses, ``print`` goes to the kernel's log callback, and every removed builtin
    (``open``, ``id``, ``input`` ...) is a stub raising `SandboxViolation` when called;
  - allowlisted modules are handed out as fresh module objects carrying only their public,
    non-module attributes minus a per-module denylist (``json.codecs.builtins.open`` or
    ``dataclasses.sys.modules`` would otherwise be one attribute chain away), and never
    the real module;
  - attribute stores and deletes are rewritten to a guarded call that refuses to mutate
    modules, classes and functions not defined by this vat (``json.JSONEncoder.default =
    f`` would change the kernel's own JSON, and every other vat's, in a local worker).

This is defence in depth, not an isolation boundary: CPython cannot be made a secure
sandbox from inside. Untrusted (dynamic) vats additionally run in their own process with
resource limits (kernelhost.workers). Determinism caveat: ``hash()`` of strings and the
iteration order of sets of strings depend on PYTHONHASHSEED, which subprocess workers pin
to 0; a local (in-process) worker is only as deterministic as the node process's seed.

Standard library only, relative imports only: this module travels inside the kernel bundle.
"""

from __future__ import annotations

import ast
import builtins as _builtins
import dataclasses as _dataclasses
import functools as _functools
import keyword as _keyword
import operator as _operator
import string as _string
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "SandboxViolation",
    "DEFAULT_ALLOWED",
    "DENIED_ATTRS",
    "SAFE_DUNDER_ATTRS",
    "SAFE_DUNDER_NAMES",
    "BINDABLE_DUNDER_NAMES",
    "DEFINABLE_DUNDERS",
    "load_vat_namespace",
    "check_source",
    "preimport_allowed",
]


class SandboxViolation(Exception):
    """Vat code tried something the sandbox forbids. ``filename``/``lineno`` say where."""

    def __init__(self, message: str, *, filename: str | None = None, lineno: int | None = None):
        self.reason = message
        self.filename = filename
        self.lineno = lineno
        where = f"{filename}:{lineno}: " if filename is not None and lineno is not None else (
            f"{filename}: " if filename is not None else "")
        super().__init__(f"sandbox violation: {where}{message}")


# Pure, deterministic standard modules a vat may import. Dotted entries allow a submodule.
DEFAULT_ALLOWED: frozenset[str] = frozenset({
    "math", "cmath", "decimal", "fractions", "json", "re", "itertools", "functools",
    "collections", "collections.abc", "dataclasses", "heapq", "bisect", "enum", "typing",
    "string", "operator", "copy", "statistics",
})

# Attribute names (not dunders) that reach frames, code objects or interpreter internals,
# plus ``mro`` (a path to ``object``) and the two str methods that do attribute lookups
# inside a format string.
DENIED_ATTRS: frozenset[str] = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "cr_origin",
    "ag_frame", "ag_code", "ag_await", "f_globals", "f_locals", "f_builtins", "f_back",
    "f_code", "f_trace", "tb_frame", "tb_next", "co_code", "co_consts", "co_names",
    "func_globals", "func_code", "im_func", "im_self", "mro", "format", "format_map",
})
_FORMAT_ATTRS = frozenset({"format", "format_map"})

# Dunder attributes vat code may read: names, docs, and construction (super().__init__()).
SAFE_DUNDER_ATTRS: frozenset[str] = frozenset({"__init__", "__new__", "__name__", "__qualname__", "__doc__"})
# Dunder *names* vat code may read (``if __name__ == ...``) and the ones it may also bind
# (``__slots__``/``__all__`` in bodies). Binding ``__name__`` is refused: the interpreter's
# ``from m import x`` falls back to ``sys.modules[m.__name__ + ".x"]``, so a vat module
# renamed "json" would hand out the real ``json.decoder``.
SAFE_DUNDER_NAMES: frozenset[str] = frozenset({"__name__", "__slots__", "__all__", "__doc__"})
BINDABLE_DUNDER_NAMES: frozenset[str] = frozenset({"__slots__", "__all__"})
# Dunder methods a vat class may define. Everything that intercepts attribute access
# (__getattr__, __setattr__ ...), runs at unpredictable times (__del__) or hooks class
# creation (__init_subclass__, __set_name__, __class_getitem__) is left out.
DEFINABLE_DUNDERS: frozenset[str] = frozenset({
    "__init__", "__new__", "__post_init__", "__repr__", "__str__", "__format__", "__bytes__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__",
    "__len__", "__length_hint__", "__iter__", "__next__", "__reversed__", "__contains__",
    "__getitem__", "__setitem__", "__delitem__", "__missing__", "__call__",
    "__enter__", "__exit__", "__aenter__", "__aexit__", "__aiter__", "__anext__", "__await__",
    "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__",
    "__imul__", "__matmul__", "__rmatmul__", "__imatmul__", "__truediv__", "__rtruediv__",
    "__itruediv__", "__floordiv__", "__rfloordiv__", "__ifloordiv__", "__mod__", "__rmod__",
    "__imod__", "__divmod__", "__rdivmod__", "__pow__", "__rpow__", "__ipow__", "__neg__",
    "__pos__", "__abs__", "__invert__", "__and__", "__rand__", "__iand__", "__or__", "__ror__",
    "__ior__", "__xor__", "__rxor__", "__ixor__", "__lshift__", "__rlshift__", "__ilshift__",
    "__rshift__", "__rrshift__", "__irshift__", "__int__", "__float__", "__complex__",
    "__index__", "__round__", "__trunc__", "__floor__", "__ceil__",
})

# Builtins that are named-and-rejected at load time (when the vat does not bind the name
# itself): they are the classic first step of an escape, so fail early with a line number.
_REJECT_AT_LOAD = frozenset({"eval", "exec", "compile", "open", "globals", "locals", "vars", "breakpoint"})

_SAFE_BUILTIN_NAMES = (
    "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool", "bytearray", "bytes",
    "callable", "chr", "classmethod", "complex", "dict", "divmod", "enumerate", "filter",
    "float", "format", "frozenset", "hash", "hex", "int", "isinstance", "issubclass", "iter",
    "len", "list", "map", "max", "min", "next", "object", "oct", "ord", "pow", "property",
    "range", "repr", "reversed", "round", "set", "slice", "sorted", "staticmethod", "str",
    "sum", "super", "tuple", "zip", "NotImplemented", "Ellipsis", "None", "True", "False",
)
# Present in builtins but unavailable to vats: calling one raises SandboxViolation with a
# reason instead of a bare NameError.
_STUBBED_BUILTINS = {
    "open": "no file access", "input": "no console input", "eval": "no dynamic code",
    "exec": "no dynamic code", "compile": "no dynamic code", "globals": "no namespace access",
    "locals": "no namespace access", "vars": "no namespace access", "dir": "no introspection",
    "breakpoint": "no debugger", "help": "no introspection", "memoryview": "not available",
    "id": "object ids are not deterministic", "exit": "vats cannot exit the process",
    "quit": "vats cannot exit the process", "copyright": "not available", "credits": "not available",
    "license": "not available",
}
# SystemExit/KeyboardInterrupt are left out: a vat must not be able to stop the process.
_EXCLUDED_EXCEPTIONS = frozenset({"SystemExit", "KeyboardInterrupt"})


_VAT_FILE_PREFIX = "<vat>/"


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _where() -> tuple[str | None, int | None]:
    """File and line of the innermost vat code on the stack (the caller of a runtime guard,
    possibly through library code such as functools.reduce)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(_VAT_FILE_PREFIX):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None, None


def _runtime_violation(message: str) -> SandboxViolation:
    filename, lineno = _where()
    return SandboxViolation(message, filename=filename, lineno=lineno)


# ---------------------------------------------------------------------------------------
# What each allowlisted module exposes
# ---------------------------------------------------------------------------------------
# Either an explicit tuple of names, or ("*", {excluded names}) meaning "public non-module
# attributes except these". Modules allowed by a caller but absent here get ("*", {}).
_EXPORTS: dict[str, Any] = {
    "math": ("*", frozenset()),
    "cmath": ("*", frozenset()),
    # The context functions and the three shared Context objects are process-global mutable
    # state: one vat changing precision would change another vat's (and the kernel's) maths.
    "decimal": ("*", frozenset({"getcontext", "setcontext", "localcontext", "DefaultContext",
                                "BasicContext", "ExtendedContext"})),
    "fractions": ("Fraction",),
    "json": ("dumps", "loads", "dump", "load", "JSONEncoder", "JSONDecoder", "JSONDecodeError"),
    "re": ("compile", "search", "match", "fullmatch", "split", "findall", "finditer", "sub",
           "subn", "escape", "purge", "error", "Pattern", "Match", "RegexFlag", "NOFLAG", "A",
           "ASCII", "I", "IGNORECASE", "M", "MULTILINE", "S", "DOTALL", "X", "VERBOSE", "U",
           "UNICODE"),  # no LOCALE: locale-dependent
    "itertools": ("*", frozenset()),
    # singledispatch evaluates string annotations with eval(); update_wrapper/wraps take an
    # `assigned` tuple of attribute names that they copy with raw getattr/setattr.
    "functools": ("reduce", "partial", "partialmethod", "lru_cache", "cache", "cached_property",
                  "total_ordering", "cmp_to_key", "wraps", "update_wrapper",
                  "WRAPPER_ASSIGNMENTS", "WRAPPER_UPDATES"),
    "collections": ("namedtuple", "deque", "defaultdict", "OrderedDict", "Counter", "ChainMap",
                    "UserDict", "UserList", "UserString"),
    "collections.abc": ("*", frozenset()),
    "dataclasses": ("dataclass", "field", "fields", "asdict", "astuple", "is_dataclass",
                    "replace", "FrozenInstanceError", "InitVar", "MISSING", "KW_ONLY", "Field"),
    "heapq": ("*", frozenset()),
    "bisect": ("*", frozenset()),
    "enum": ("Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "auto", "unique"),
    # No get_type_hints/ForwardRef (eval of strings) and no TypedDict (it builds a class whose
    # __annotations__ keys are arbitrary strings; dataclass would paste them into exec'd code).
    "typing": ("Any", "Optional", "Union", "List", "Dict", "Set", "FrozenSet", "Tuple", "Type",
               "Callable", "Iterable", "Iterator", "Generator", "AsyncIterator", "AsyncIterable",
               "AsyncGenerator", "Awaitable", "Coroutine", "Sequence", "MutableSequence",
               "Mapping", "MutableMapping", "AbstractSet", "MutableSet", "Hashable", "Sized",
               "Collection", "Container", "Reversible", "TypeVar", "Generic", "Protocol",
               "ClassVar", "Final", "Literal", "NamedTuple", "cast", "overload", "final",
               "TYPE_CHECKING", "NoReturn", "Never", "Self", "Annotated", "TypeAlias",
               "DefaultDict", "OrderedDict", "Counter", "Deque", "ChainMap", "Text",
               "SupportsInt", "SupportsFloat", "SupportsIndex", "SupportsAbs", "SupportsRound"),
    # Formatter does attribute lookups from a format string.
    "string": ("ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits",
               "octdigits", "punctuation", "printable", "whitespace", "capwords", "Template"),
    # attrgetter/methodcaller are getattr by string, out of reach of the AST check.
    "operator": ("*", frozenset({"attrgetter", "methodcaller"})),
    "copy": ("copy", "deepcopy", "Error", "error"),
    # NormalDist.samples draws from `random`.
    "statistics": ("mean", "fmean", "geometric_mean", "harmonic_mean", "median", "median_low",
                   "median_high", "median_grouped", "mode", "multimode", "quantiles", "pstdev",
                   "pvariance", "stdev", "variance", "correlation", "covariance",
                   "linear_regression", "StatisticsError"),
}


def preimport_allowed(allowed_modules=DEFAULT_ALLOWED) -> None:
    """Import the allowlisted modules now (a subprocess worker does this before it drops the
    ability to open files)."""
    for name in sorted(allowed_modules):
        __import__(name)


def _real_module(name: str) -> types.ModuleType:
    __import__(name)
    return sys.modules[name]


def _public_values(module: types.ModuleType, spec) -> dict[str, Any]:
    if spec[0] == "*":
        excluded = spec[1]
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in dir(module) if not n.startswith("_")]
        names = [n for n in names if n not in excluded]
    else:
        names = list(spec)
    out = {}
    for name in sorted(names):
        if name.startswith("_") or not hasattr(module, name):
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            continue
        out[name] = value
    return out


# ---------------------------------------------------------------------------------------
# The AST check
# ---------------------------------------------------------------------------------------
def _format_literal_is_plain(template: str, depth: int = 0) -> bool:
    """True if a str.format template only uses plain positional/keyword fields: no
    ``{0.attr}`` or ``{0[key]}`` lookups, also inside nested format specs."""
    if depth > 2:
        return False
    try:
        parsed = list(_string.Formatter().parse(template))
    except ValueError:
        return False
    for _literal, field_name, spec, _conv in parsed:
        if field_name is not None and ("." in field_name or "[" in field_name):
            return False
        if spec and not _format_literal_is_plain(spec, depth + 1):
            return False
    return True


def _bound_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


class _Checker(ast.NodeVisitor):
    def __init__(self, filename: str, is_importable: Callable[[str], bool],
                 names_of: Callable[[str], Any] | None = None):
        self.filename = filename
        self.is_importable = is_importable
        # names_of(module) -> the names a standard/injected module exposes, or None for a
        # bundle module (checked at run time): lets `from json import decoder` fail at load.
        self.names_of = names_of or (lambda _module: None)
        self.bound: set[str] = set()

    def fail(self, node: ast.AST, message: str):
        raise SandboxViolation(message, filename=self.filename, lineno=getattr(node, "lineno", None))

    def check(self, tree: ast.Module) -> None:
        self.bound = _bound_names(tree)
        self.visit(tree)

    def _name(self, node: ast.AST, name: str | None, what: str, *, binds: bool = True) -> None:
        if name is None:
            return
        if _is_dunder(name) and name not in (BINDABLE_DUNDER_NAMES if binds else SAFE_DUNDER_NAMES):
            self.fail(node, f"{what} {name!r} is not allowed (dunder names are reserved)")

    def visit_Name(self, node: ast.Name):
        self._name(node, node.id, "name", binds=not isinstance(node.ctx, ast.Load))
        if isinstance(node.ctx, ast.Load) and node.id in _REJECT_AT_LOAD and node.id not in self.bound:
            self.fail(node, f"{node.id}() is not available to vat code ({_STUBBED_BUILTINS[node.id]})")

    def _attr(self, node: ast.AST, attr: str) -> None:
        if _is_dunder(attr) and attr not in SAFE_DUNDER_ATTRS:
            self.fail(node, f"attribute {attr!r} is not allowed (dunder attributes are reserved)")
        if attr in DENIED_ATTRS and attr not in _FORMAT_ATTRS:
            self.fail(node, f"attribute {attr!r} is not allowed (interpreter internals)")

    def visit_Attribute(self, node: ast.Attribute):
        self.generic_visit(node)  # inner first: report the first offence in evaluation order
        self._attr(node, node.attr)
        if node.attr in _FORMAT_ATTRS:
            value = node.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)
                    and _format_literal_is_plain(value.value)):
                self.fail(node, f".{node.attr}() is only allowed on a string literal with plain "
                                "fields (format strings can look up attributes); use an f-string")

    def visit_arg(self, node: ast.arg):
        self._name(node, node.arg, "argument")
        self.generic_visit(node)

    def _def(self, node, name: str, kind: str):
        if _is_dunder(name) and name not in DEFINABLE_DUNDERS:
            self.fail(node, f"{kind} {name!r} may not be defined by vat code")
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self._def(node, node.name, "method")

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef):
        self._name(node, node.name, "class")
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.fail(node, "metaclasses are not allowed in vat code")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler):
        self._name(node, node.name, "name")
        self.generic_visit(node)

    def visit_Global(self, node):
        for name in node.names:
            self._name(node, name, "name")

    visit_Nonlocal = visit_Global

    def visit_MatchAs(self, node):
        self._name(node, node.name, "name")
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        self._name(node, node.name, "name")

    def visit_MatchMapping(self, node):
        self._name(node, node.rest, "name")
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass):
        # `case C(attr=pattern)` is an attribute lookup done by the interpreter.
        for attr in node.kwd_attrs:
            self._attr(node, attr)
            if attr in _FORMAT_ATTRS:
                self.fail(node, f"attribute {attr!r} is not allowed in a class pattern")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            if any(_is_dunder(part) for part in alias.name.split(".")):
                self.fail(node, f"import of {alias.name!r} is not allowed")
            if not self.is_importable(alias.name):
                self.fail(node, f"import of {alias.name!r} is not allowed (not in the vat allowlist)")
            self._name(node, alias.asname, "name")

    def visit_ImportFrom(self, node: ast.ImportFrom):
        if node.module == "__future__" and node.level == 0:
            if any(alias.name != "annotations" for alias in node.names):
                self.fail(node, "only 'from __future__ import annotations' is allowed")
            return
        if node.level == 0:
            module = node.module or ""
            if any(_is_dunder(part) for part in module.split(".")):
                self.fail(node, f"import from {module!r} is not allowed")
            if not self.is_importable(module):
                self.fail(node, f"import from {module!r} is not allowed (not in the vat allowlist)")
        exposed = self.names_of(node.module or "") if node.level == 0 else None
        for alias in node.names:
            if alias.name != "*" and _is_dunder(alias.name):
                self.fail(node, f"importing {alias.name!r} is not allowed")
            if exposed is not None and alias.name != "*" and alias.name not in exposed:
                self.fail(node, f"{node.module!r} exposes no name {alias.name!r} to vat code")
            self._name(node, alias.asname, "name")


class _StoreRewriter(ast.NodeTransformer):
    """Route attribute stores/deletes through the mutation guard.

    ``a.b = v`` (the common case) becomes ``__sb_setattr__(v, a, 'b')`` -- value first, so
    evaluation order is unchanged. ``name.b += v`` becomes
    ``__sb_setattr__(__sb_iadd__(name.b, v), name, 'b')`` (the in-place operator of the
    ``operator`` module: same semantics for mutable values). Every other store/delete target
    (tuple unpacking, ``f().b += 1``, ``for a.b in``, ``del a.b``) becomes
    ``__sb_attrs__(a)['b']``, a subscript on a small proxy that does the guarded get/set/del.
    The attribute names in these forms are literal and were checked already, so the guard only
    has to look at the object; the fast path is one isinstance() call.
    """

    _IOPS = {ast.Add: "iadd", ast.Sub: "isub", ast.Mult: "imul", ast.MatMult: "imatmul",
             ast.Div: "itruediv", ast.FloorDiv: "ifloordiv", ast.Mod: "imod", ast.Pow: "ipow",
             ast.LShift: "ilshift", ast.RShift: "irshift", ast.BitOr: "ior", ast.BitXor: "ixor",
             ast.BitAnd: "iand"}

    def visit_AugAssign(self, node: ast.AugAssign):
        target = node.target
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            obj = target.value.id
            current = ast.Attribute(value=ast.Name(id=obj, ctx=ast.Load()), attr=target.attr, ctx=ast.Load())
            combined = ast.Call(func=ast.Name(id=f"__sb_{self._IOPS[type(node.op)]}__", ctx=ast.Load()),
                                args=[current, self.visit(node.value)], keywords=[])
            call = ast.Call(func=ast.Name(id="__sb_setattr__", ctx=ast.Load()),
                            args=[combined, ast.Name(id=obj, ctx=ast.Load()), ast.Constant(target.attr)],
                            keywords=[])
            return ast.copy_location(ast.Expr(value=call), node)
        self.generic_visit(node)
        return node

    def visit_Assign(self, node: ast.Assign):
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute):
            target = node.targets[0]
            value = self.visit(node.value)
            call = ast.Call(func=ast.Name(id="__sb_setattr__", ctx=ast.Load()),
                            args=[value, self.visit(target.value), ast.Constant(target.attr)],
                            keywords=[])
            return ast.copy_location(ast.Expr(value=ast.copy_location(call, node)), node)
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign):
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node: ast.Attribute):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            proxy = ast.Call(func=ast.Name(id="__sb_attrs__", ctx=ast.Load()),
                             args=[self.visit(node.value)], keywords=[])
            return ast.copy_location(
                ast.Subscript(value=ast.copy_location(proxy, node), slice=ast.Constant(node.attr),
                              ctx=node.ctx), node)
        self.generic_visit(node)
        return node


def check_source(source: str | bytes, filename: str = "<vat>", *,
                 is_importable: Callable[[str], bool] | None = None,
                 names_of: Callable[[str], Any] | None = None) -> ast.Module:
    """Parse and check one vat source file; return the rewritten AST ready to compile.
    Raises SandboxViolation (or SyntaxError for code that does not parse)."""
    tree = ast.parse(source, filename=filename, mode="exec")
    _Checker(filename, is_importable or DEFAULT_ALLOWED.__contains__, names_of).check(tree)
    tree = _StoreRewriter().visit(tree)
    return ast.fix_missing_locations(tree)


# ---------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------
_CODE_CACHE: dict = {}  # (filename, source, load context) -> checked, compiled code
_CODE_CACHE_LIMIT = 512


class _Loader:
    def __init__(self, files: Mapping[str, bytes], entry: str, allowed: frozenset[str],
                 extra_modules: Mapping[str, Any], log: Callable[[str], None] | None, prefix: str):
        self.allowed = allowed
        self.prefix = prefix
        self.log = log
        self.sources: dict[str, tuple[str, bytes, bool]] = {}  # modname -> (filename, src, is_pkg)
        for path in sorted(files):
            if not path.endswith(".py"):
                continue
            parts = path[:-3].split("/")
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            if not all(p.isidentifier() and not _keyword.iskeyword(p) for p in parts):
                raise SandboxViolation(f"bundle member {path!r} is not an importable module name")
            data = files[path]
            self.sources[".".join(parts)] = (path, data if isinstance(data, bytes) else data.encode(), is_pkg)
        self.entry = self._entry_module(entry)
        self.packages = {m for m, (_f, _s, pkg) in self.sources.items() if pkg}
        for mod in self.sources:  # implicit (namespace) packages for nested modules
            parts = mod.split(".")
            for i in range(1, len(parts)):
                self.packages.add(".".join(parts[:i]))
        self.extra = {name: self._copy_module(name, value) for name, value in (extra_modules or {}).items()}
        self.modules: dict[str, types.ModuleType] = {}     # bundle modules, by bundle name
        self.own_names = {self._qualified(m) for m in set(self.sources) | self.packages}
        self.own_names.add(self.prefix)
        # every __name__ a module handed out by the importer may have: none is importable
        self.expected_names = set(self.own_names) | {"<sandboxed __future__>"}
        self.expected_names |= {f"<sandboxed {m}>" for m in allowed}
        self.expected_names |= {f"<sandboxed {m}>" for m in extra_modules or {}}
        self.stdlib: dict[str, types.ModuleType] = {}
        self.builtins = self._make_builtins()
        self.codes: dict[str, types.CodeType] = {}
        # The check + rewrite + compile result depends only on the source, the allowlist,
        # the bundle's module names and the injected modules' public names: reuse it (code
        # objects are immutable) so bringing a vat back online does not re-check its code.
        context = (allowed, frozenset(self.sources), frozenset(self.packages),
                   tuple(sorted((n, frozenset(k for k in m.__dict__ if not k.startswith("_")))
                                for n, m in self.extra.items())))
        for mod, (path, src, _pkg) in self.sources.items():
            filename = f"<vat>/{path}"
            key = (filename, src, context)
            code = _CODE_CACHE.get(key)
            if code is None:
                tree = check_source(src, filename, is_importable=self._is_importable, names_of=self._names_of)
                code = compile(tree, filename, "exec", dont_inherit=True)
                if len(_CODE_CACHE) >= _CODE_CACHE_LIMIT:
                    _CODE_CACHE.pop(next(iter(_CODE_CACHE)))
                _CODE_CACHE[key] = code
            self.codes[mod] = code

    # -- names ---------------------------------------------------------------------------
    def _entry_module(self, entry: str) -> str:
        if entry.endswith(".py"):
            name = entry[:-3].replace("/", ".")
            if name.endswith(".__init__"):
                name = name[: -len(".__init__")]
        else:
            name = entry
        if name not in self.sources:
            raise SandboxViolation(f"entry {entry!r} is not a module of the bundle")
        return name

    def _qualified(self, bundle_name: str) -> str:
        # Vat module names get a prefix with a colon: nothing in sys.modules can have it, so
        # "is this class the vat's own?" (its __module__) cannot be confused with a stdlib one.
        return f"{self.prefix}:{bundle_name}" if bundle_name else self.prefix

    def _is_bundle(self, name: str) -> bool:
        return name in self.sources or name in self.packages

    def _is_importable(self, name: str) -> bool:
        if self._is_bundle(name) or name in self.extra or name in self.allowed:
            return True
        return False

    def _names_of(self, name: str):
        if self._is_bundle(name):
            return None
        if name in self.extra:
            mod = self.extra[name]
        elif name in self.allowed:
            mod = self._stdlib_module(name)
        else:
            return None
        return {k for k in mod.__dict__ if not k.startswith("_")}

    # -- modules -------------------------------------------------------------------------
    @staticmethod
    def _copy_module(name: str, value: Any) -> types.ModuleType:
        """A fresh module object with the public, non-module attributes of `value` (a dict,
        a module or any object): never hand the real module to vat code."""
        mod = _proxy_module(name)
        if isinstance(value, Mapping):
            items = dict(value)
        elif isinstance(value, types.ModuleType):
            items = _public_values(value, ("*", frozenset()))
        else:
            items = {n: getattr(value, n) for n in dir(value) if not n.startswith("_")}
        for key in sorted(items):
            if key.startswith("_") or isinstance(items[key], types.ModuleType):
                continue
            setattr(mod, key, items[key])
        return mod

    def _stdlib_module(self, name: str) -> types.ModuleType:
        mod = self.stdlib.get(name)
        if mod is not None:
            return mod
        mod = _proxy_module(name)
        values = _public_values(_real_module(name), _EXPORTS.get(name, ("*", frozenset())))
        for key, make_wrapper in _WRAPPED.get(name, {}).items():
            values[key] = make_wrapper(self)
        for key in sorted(values):
            setattr(mod, key, values[key])
        self.stdlib[name] = mod
        # allowed submodules are reachable as attributes (import collections.abc)
        for sub in sorted(self.allowed):
            if sub.startswith(name + ".") and "." not in sub[len(name) + 1:]:
                setattr(mod, sub[len(name) + 1:], self._stdlib_module(sub))
        return mod

    def _bundle_module(self, name: str) -> types.ModuleType:
        mod = self.modules.get(name)
        if mod is not None:
            return mod
        if name and "." in name:
            parent = self._bundle_module(name.rsplit(".", 1)[0])
        elif name:
            parent = self._bundle_module("")
        else:
            parent = None
        mod = types.ModuleType(self._qualified(name))
        is_pkg = name in self.packages or name == ""
        mod.__dict__["__builtins__"] = self.builtins
        mod.__dict__["__package__"] = self._qualified(name) if is_pkg else self._qualified(name.rpartition(".")[0])
        self.modules[name] = mod
        if parent is not None:
            setattr(parent, name.rsplit(".", 1)[-1], mod)
        code = self.codes.get(name)
        if code is not None:
            mod.__dict__["__file__"] = f"<vat>/{self.sources[name][0]}"
            try:
                exec(code, mod.__dict__)  # noqa: S102 - checked, rewritten code with restricted builtins
            except BaseException:
                del self.modules[name]
                raise
        return mod

    def _bundle_name_of(self, qualified: str) -> str:
        if qualified == self.prefix:
            return ""
        return qualified[len(self.prefix) + 1:]

    # -- the importer ---------------------------------------------------------------------
    def import_(self, name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        module = self._import(name, globals, fromlist, level)
        # `from m import x` falls back to sys.modules[m.__name__ + ".x"] when m has no x:
        # a module renamed (ModuleType.__init__ is reachable as m.__init__) must not get there.
        if module.__name__ not in self.expected_names:
            raise _runtime_violation(f"module {module.__name__!r} was renamed; refusing to import from it")
        return module

    def _import(self, name, globals, fromlist, level):
        if level:
            package = (globals or {}).get("__package__")
            if not isinstance(package, str) or not (package == self.prefix or package.startswith(self.prefix + ":")):
                raise _runtime_violation("relative import outside the vat bundle")
            parts = self._bundle_name_of(package).split(".") if self._bundle_name_of(package) else []
            if level - 1 > len(parts):
                raise _runtime_violation("relative import beyond the top of the vat bundle")
            base = parts[: len(parts) - (level - 1)]
            target = ".".join(base + ([name] if name else []))
            if not self._is_bundle(target) and target != "":
                raise ImportError(f"vat bundle has no module {target!r}")
            return self._bundle_from(target, fromlist, top_level=False)
        if name == "__future__":
            return _FUTURE
        if self._is_bundle(name):
            return self._bundle_from(name, fromlist, top_level=True)
        if name in self.extra:
            return self.extra[name]
        if name in self.allowed:
            mod = self._stdlib_module(name)
            top = name.split(".")[0]
            if fromlist or top not in self.allowed:
                return mod
            return self._stdlib_module(top)  # `import a.b` binds `a`, which carries `b`
        raise _runtime_violation(f"import of {name!r} is not allowed (not in the vat allowlist)")

    def _bundle_from(self, name: str, fromlist, top_level: bool) -> types.ModuleType:
        mod = self._bundle_module(name)
        if fromlist:
            for item in fromlist:
                sub = f"{name}.{item}" if name else item
                if item != "*" and self._is_bundle(sub):
                    self._bundle_module(sub)
            return mod
        if top_level and "." in name:
            return self.modules[name.split(".")[0]]
        return mod

    # -- builtins and guards ------------------------------------------------------------
    def may_mutate(self, obj: Any) -> bool:
        if isinstance(obj, types.ModuleType):
            return any(obj is m for m in self.modules.values())
        if isinstance(obj, (type, types.FunctionType)):
            return getattr(obj, "__module__", None) in self.own_names
        if isinstance(obj, (types.BuiltinFunctionType, types.MethodType, types.BuiltinMethodType)):
            return False
        return True

    def _make_builtins(self) -> dict[str, Any]:
        loader = self
        table: dict[str, Any] = {name: getattr(_builtins, name) for name in _SAFE_BUILTIN_NAMES}
        for name in dir(_builtins):
            value = getattr(_builtins, name)
            if (isinstance(value, type) and issubclass(value, BaseException)
                    and name not in _EXCLUDED_EXCEPTIONS):
                table[name] = value
        table["SandboxViolation"] = SandboxViolation
        for name, why in _STUBBED_BUILTINS.items():
            table[name] = _stub(name, why)

        def check_attr_name(name: Any, verb: str) -> str:
            if not isinstance(name, str):
                raise TypeError(f"{verb}(): attribute name must be a string")
            if (name.startswith("__") and name not in SAFE_DUNDER_ATTRS) or name in DENIED_ATTRS:
                raise _runtime_violation(f"{verb}() of {name!r} is not allowed")
            return name

        _missing = object()

        def safe_getattr(obj, name, default=_missing):
            check_attr_name(name, "getattr")
            if default is _missing:
                return getattr(obj, name)
            return getattr(obj, name, default)

        def safe_hasattr(obj, name):
            check_attr_name(name, "hasattr")
            return hasattr(obj, name)

        def guarded_setattr(obj, name, value):
            check_attr_name(name, "setattr")
            if not loader.may_mutate(obj):
                raise _runtime_violation(f"cannot set attribute {name!r} on {_describe(obj)}: "
                                         "it is not defined by this vat")
            setattr(obj, name, value)

        def guarded_delattr(obj, name):
            check_attr_name(name, "delattr")
            if not loader.may_mutate(obj):
                raise _runtime_violation(f"cannot delete attribute {name!r} of {_describe(obj)}: "
                                         "it is not defined by this vat")
            delattr(obj, name)

        def safe_type(*args):
            if len(args) != 1:
                raise _runtime_violation("type() takes exactly one argument in vat code "
                                         "(creating classes dynamically is not allowed)")
            result = type(args[0])
            if issubclass(result, type):
                raise _runtime_violation("type() of a class is not available to vat code")
            return result

        def vat_print(*args, sep=" ", end="\n", **_ignored):
            if loader.log is not None:
                loader.log(str(sep).join(str(a) for a in args) + str(end))

        guarded_kinds = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                         types.MethodType)

        plain_classes: set[type] = set()  # classes whose instances are never guarded

        def check_store_target(obj, name):
            cls = type(obj)
            if not issubclass(cls, guarded_kinds):
                plain_classes.add(cls)
            elif not loader.may_mutate(obj):
                raise _runtime_violation(f"cannot set attribute {name!r} on {_describe(obj)}: "
                                         "it is not defined by this vat")

        def setattr_value_first(value, obj, name, _type=type, _setattr=setattr):
            # rewritten `obj.name = value`: the name is a checked literal. Almost every store
            # goes to an instance of a plain class: one set lookup, then the real setattr.
            if _type(obj) not in plain_classes:
                check_store_target(obj, name)
            _setattr(obj, name, value)

        class _AttrProxy:
            __slots__ = ("_obj",)

            def __init__(self, obj):
                self._obj = obj

            def __getitem__(self, name):
                return getattr(self._obj, name)

            def __setitem__(self, name, value):
                guarded_setattr(self._obj, name, value)

            def __delitem__(self, name):
                guarded_delattr(self._obj, name)

        table.update({
            "getattr": safe_getattr, "hasattr": safe_hasattr, "setattr": guarded_setattr,
            "delattr": guarded_delattr, "type": safe_type, "print": vat_print,
            "__import__": self.import_, "__build_class__": _builtins.__build_class__,
            "__sb_setattr__": setattr_value_first, "__sb_attrs__": _AttrProxy,
            **{f"__sb_{op}__": getattr(_operator, op) for op in _StoreRewriter._IOPS.values()},
            "__name__": "builtins",
        })
        return table


def _proxy_module(name: str) -> types.ModuleType:
    """An empty module object for `name` whose __name__ is not importable. The interpreter's
    ``from m import x`` falls back to ``sys.modules[m.__name__ + '.x']`` when ``m`` lacks
    ``x``: with __name__ "json", ``from json import decoder`` would hand out the real
    ``json.decoder`` module (and through it ``re``, ``enum``, ``sys`` ...)."""
    mod = types.ModuleType(f"<sandboxed {name}>")
    return mod


def _make_future() -> types.ModuleType:
    import __future__
    mod = _proxy_module("__future__")
    mod.annotations = __future__.annotations
    return mod


_FUTURE = _make_future()


def _describe(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__!r}"
    if isinstance(obj, type):
        return f"class {obj.__qualname__!r}"
    return f"{type(obj).__name__} object"


def _stub(name: str, why: str):
    def stub(*_args, **_kwargs):
        raise _runtime_violation(f"{name}() is not available to vat code ({why})")
    stub.__name__ = name
    return stub


# Wrappers for library functions that would otherwise mutate objects that are not the vat's,
# or exec code built from attacker-chosen strings.
def _wrap_dataclass(loader: _Loader):
    real = _dataclasses.dataclass

    def check(cls):
        if not isinstance(cls, type) or not loader.may_mutate(cls):
            raise _runtime_violation("@dataclass applies only to classes defined by this vat")
        for key in cls.__dict__.get("__annotations__", {}):
            # dataclass pastes field names into source it exec()s
            if not isinstance(key, str) or not key.isidentifier() or _keyword.iskeyword(key):
                raise _runtime_violation(f"dataclass field name {key!r} is not an identifier")
        return cls

    def apply(cls, kwargs):
        check(cls)
        # dataclass looks the class's module up in sys.modules (ClassVar/InitVar detection for
        # string annotations, globals of the generated methods). Vat modules are never
        # registered there, so register this one for the duration of the call only: its
        # "vat:..." name cannot collide with anything importable.
        name = cls.__module__
        module = next((m for m in loader.modules.values() if m.__name__ == name), None)
        if module is None or name in sys.modules:
            return real(cls, **kwargs)
        sys.modules[name] = module
        try:
            return real(cls, **kwargs)
        finally:
            del sys.modules[name]

    def dataclass(cls=None, /, **kwargs):
        if cls is None:
            return lambda c: apply(c, kwargs)
        return apply(cls, kwargs)
    return dataclass


def _wrap_total_ordering(loader: _Loader):
    def total_ordering(cls):
        if not isinstance(cls, type) or not loader.may_mutate(cls):
            raise _runtime_violation("@total_ordering applies only to classes defined by this vat")
        return _functools.total_ordering(cls)
    return total_ordering


def _wrap_update_wrapper(loader: _Loader):
    def update_wrapper(wrapper, wrapped):
        # fixed assigned/updated: the real one copies any attribute names it is given
        if not loader.may_mutate(wrapper) or isinstance(wrapper, type):
            raise _runtime_violation("update_wrapper applies only to functions defined by this vat")
        return _functools.update_wrapper(wrapper, wrapped)
    return update_wrapper


def _wrap_wraps(loader: _Loader):
    update_wrapper = _wrap_update_wrapper(loader)

    def wraps(wrapped):
        return lambda wrapper: update_wrapper(wrapper, wrapped)
    return wraps


_WRAPPED: dict[str, dict[str, Callable[[_Loader], Any]]] = {
    "dataclasses": {"dataclass": _wrap_dataclass},
    "functools": {"total_ordering": _wrap_total_ordering, "update_wrapper": _wrap_update_wrapper,
                  "wraps": _wrap_wraps},
}


def load_vat_namespace(files: Mapping[str, bytes], entry: str, *,
                       allowed_modules: frozenset[str] | set[str] = DEFAULT_ALLOWED,
                       extra_modules: Mapping[str, Any] | None = None,
                       log: Callable[[str], None] | None = None,
                       module_prefix: str = "vat",
                       entry_function: str = "build_root_object") -> dict[str, Any]:
    """Check and run a vat bundle's entry module under the sandbox; return its namespace.

    files: bundle members (path -> bytes); only ``*.py`` members are used, all of them are
        checked up front so a violation anywhere fails the load.
    entry: the entry module as a member path (``"main.py"``, ``"pkg/__init__.py"``) or a
        dotted module name (``"main"``).
    allowed_modules: importable standard modules (dotted names allow submodules).
    extra_modules: modules the kernel injects by name, e.g. ``{"swingset": {"Far": ..., "E":
        ...}}`` (a dict, a module or a namespace object; only public non-module attributes are
        copied into a fresh module object).
    log: receives what the vat ``print()``s; discarded when None.
    module_prefix: prefix of the vat modules' ``__name__`` (``"vat:main"``).
    entry_function: the callable the entry module must define (``build_dispatch`` for raw
        vats that speak syscalls directly, without liveslots).

    Raises SandboxViolation (forbidden code, naming file and line), SyntaxError, or whatever
    the entry module raises while running. The namespace must define ``build_root_object``.
    """
    if not module_prefix or ":" in module_prefix or "." in module_prefix:
        raise ValueError("module_prefix must be a non-empty name without ':' or '.'")
    loader = _Loader(files, entry, frozenset(allowed_modules), extra_modules or {}, log, module_prefix)
    module = loader._bundle_module(loader.entry)
    namespace = module.__dict__
    if not callable(namespace.get(entry_function)):
        raise SandboxViolation(f"entry module does not define {entry_function}()",
                               filename=f"<vat>/{loader.sources[loader.entry][0]}")
    return namespace
