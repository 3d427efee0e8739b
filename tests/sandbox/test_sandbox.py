"""The vat sandbox: escapes are refused with SandboxViolation (at load where the code shows
it, at call where only the run-time value does); ordinary vat code loads and works."""

from __future__ import annotations

import asyncio
import json
import textwrap

import pytest

from kernelhost.kernel.sandbox import DEFAULT_ALLOWED, SandboxViolation, load_vat_namespace

ROOT = "\ndef build_root_object(vat_powers, vat_parameters, baggage):\n    return None\n"


def load(src: str, *, extra=None, files=None, log=None, entry="main.py"):
    members = {"main.py": textwrap.dedent(src).encode() + ROOT.encode()}
    members.update(files or {})
    return load_vat_namespace(members, entry, extra_modules=extra, log=log)


def violates_at_load(src: str, fragment: str = "") -> SandboxViolation:
    with pytest.raises(SandboxViolation) as info:
        load(src)
    assert fragment in str(info.value)
    return info.value


def violates_at_call(src: str, fragment: str = "", fn: str = "attack") -> SandboxViolation:
    ns = load(src)
    with pytest.raises(SandboxViolation) as info:
        ns[fn]()
    assert fragment in str(info.value)
    return info.value


# --- imports -------------------------------------------------------------------------------
@pytest.mark.parametrize("stmt", [
    "import os", "import sys", "import subprocess", "from os import path", "import importlib",
    "import ctypes", "import random", "import time", "import json.decoder", "import builtins",
    "from importlib import import_module", "import socket", "import pickle", "import threading",
])
def test_forbidden_imports_fail_at_load_with_file_and_line(stmt):
    err = violates_at_load(f"x = 1\n{stmt}\n", "not allowed")
    assert err.filename == "<vat>/main.py"
    assert err.lineno == 2
    assert "<vat>/main.py:2" in str(err)


def test_a_violation_in_a_helper_module_fails_the_whole_load():
    with pytest.raises(SandboxViolation) as info:
        load("", files={"helpers.py": b"import os\n"})
    assert info.value.filename == "<vat>/helpers.py"


def test_submodules_of_allowed_modules_are_not_reachable():
    # `from json import decoder` would fall back to sys.modules["json.decoder"]
    violates_at_load("from json import decoder", "exposes no name 'decoder'")
    violates_at_load("from string import Formatter", "exposes no name")
    violates_at_load("from operator import attrgetter", "exposes no name")
    violates_at_load("from functools import singledispatch", "exposes no name")
    violates_at_load("from typing import get_type_hints", "exposes no name")
    violates_at_load("from typing import TypedDict", "exposes no name")
    violates_at_load("from decimal import getcontext", "exposes no name")


def test_allowed_module_proxies_hide_imported_modules():
    ns = load("""
        import json, dataclasses, re, enum, statistics
        def probe():
            return [hasattr(json, n) for n in ("codecs", "decoder", "encoder", "scanner")] + \\
                   [hasattr(dataclasses, "sys"), hasattr(re, "enum"), hasattr(enum, "sys"),
                    hasattr(statistics, "random"), hasattr(statistics, "NormalDist")]
    """)
    assert ns["probe"]() == [False] * 9


def test_dunder_import_and_relative_escape():
    violates_at_load("m = __import__('os')", "'__import__'")
    violates_at_load("from .. import x", "")  # beyond the bundle root: at run time


# --- builtins ------------------------------------------------------------------------------
@pytest.mark.parametrize("src", [
    "open('/etc/passwd')", "eval('1+1')", "exec('x=1')", "compile('1', 'f', 'eval')",
    "globals()", "locals()", "vars()", "breakpoint()",
])
def test_dangerous_builtins_are_rejected_at_load(src):
    violates_at_load(f"def f():\n    return {src}\n", "not available")


@pytest.mark.parametrize("name", ["id", "input", "dir", "memoryview", "exit", "help"])
def test_removed_builtins_raise_at_call(name):
    violates_at_call(f"def attack():\n    return {name}(1)\n", "not available to vat code")


def test_open_bound_by_the_vat_itself_is_not_rejected_at_load():
    ns = load("def open(x):\n    return x\ndef ok():\n    return open(3)\n")
    assert ns["ok"]() == 3


def test_system_exit_is_not_available():
    ns = load("def attack():\n    raise SystemExit(3)\n")
    with pytest.raises(NameError):
        ns["attack"]()


def test_builtins_dict_is_unreachable():
    violates_at_load("b = __builtins__", "'__builtins__'")
    violates_at_load("def f():\n    return __builtins__['open']\n", "'__builtins__'")


# --- dunder escapes ------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "().__class__.__mro__[1].__subclasses__()",
    "[].__class__.__base__",
    "(lambda: 0).__globals__",
    "(lambda: 0).__code__",
    "type(1).__subclasses__()",
    "object.__subclasses__()",
    "int.__dict__",
    "x.__getattribute__('a')",
    "x.__reduce_ex__(2)",
    "type(1).mro()",
])
def test_dunder_attribute_chains_fail_at_load(expr):
    violates_at_load(f"x = 1\ndef attack():\n    return {expr}\n", "not allowed")


def test_getattr_with_dunder_names_fails_at_call():
    violates_at_call("def attack():\n    return getattr(1, '__class__')\n", "getattr() of '__class__'")
    violates_at_call("def attack():\n    return getattr(1, '__cl' + 'ass__')\n", "not allowed")
    violates_at_call("def attack():\n    return hasattr(1, '__globals__')\n", "not allowed")
    violates_at_call("class C: pass\ndef attack():\n    setattr(C, '__eq__', None)\n", "not allowed")
    violates_at_call("def attack():\n    def g():\n        yield 1\n    return getattr(g(), 'gi_frame')\n",
                     "not allowed")


def test_runtime_violation_names_the_vat_line():
    err = violates_at_call("\n\ndef attack():\n    return getattr(1, '__class__')\n")
    assert (err.filename, err.lineno) == ("<vat>/main.py", 4)


def test_format_string_attribute_lookups_are_blocked():
    violates_at_load("def attack():\n    return '{0.__class__}'.format(1)\n", "format")
    violates_at_load("def attack():\n    return '{0[x]}'.format({'x': 1})\n", "format")
    violates_at_load("def attack():\n    return '{:{0.__class__}}'.format(1)\n", "format")
    violates_at_load("t = '{0.__class__}'\ndef attack():\n    return t.format(1)\n", "format")
    violates_at_load("def attack():\n    return str.format('{0.__class__}', 1)\n", "format")
    violates_at_load("def attack():\n    return '{0.__class__}'.format_map({})\n", "format")
    violates_at_call("def attack():\n    return getattr('{0.__class__}', 'format')(1)\n", "not allowed")
    violates_at_load("def attack():\n    return f'{attack.__globals__}'\n", "'__globals__'")
    # plain formatting still works
    ns = load("def ok(a, b):\n    return '{} and {name:>4}'.format(a, name=b) + ' %(k)s' % {'k': 1}\n")
    assert ns["ok"](1, "x") == "1 and    x 1"


def test_frame_and_traceback_introspection_is_blocked():
    violates_at_load("def g():\n    yield 1\ndef attack():\n    return g().gi_frame.f_globals\n", "gi_frame")
    violates_at_load("async def c():\n    pass\ndef attack():\n    return c().cr_frame\n", "cr_frame")
    violates_at_load("async def a():\n    yield 1\ndef attack():\n    return a().ag_frame\n", "ag_frame")
    violates_at_load("def attack():\n    try:\n        1/0\n    except Exception as e:\n"
                     "        return e.__traceback__.tb_frame\n", "__traceback__")
    violates_at_load("def attack(tb):\n    return tb.tb_frame.f_back\n", "tb_frame")


def test_match_class_patterns_cannot_read_dunders():
    violates_at_load("def attack(x):\n    match x:\n        case object(__class__=c):\n            return c\n",
                     "__class__")


def test_type_cannot_make_classes_or_reach_metaclasses():
    violates_at_call("def attack():\n    return type('X', (), {})\n", "exactly one argument")
    violates_at_call("def attack():\n    return type(type(1))\n", "type() of a class")
    violates_at_call("import enum\nclass C(enum.Enum):\n    A = 1\ndef attack():\n    return type(C)\n",
                     "type() of a class")
    assert load("def ok():\n    return type(1) is int\n")["ok"]() is True
    violates_at_load("class M: pass\nclass X(metaclass=M): pass\n", "metaclass")


@pytest.mark.parametrize("method", ["__del__", "__getattr__", "__getattribute__", "__setattr__",
                                    "__init_subclass__", "__set_name__", "__reduce__", "__class_getitem__"])
def test_classes_cannot_define_hook_dunders(method):
    violates_at_load(f"class C:\n    def {method}(self, *a):\n        pass\n", "may not be defined")


def test_internal_guard_names_are_unreachable():
    violates_at_load("f = __sb_setattr__", "'__sb_setattr__'")
    violates_at_load("f = __sb_attrs__", "'__sb_attrs__'")


# --- mutation of shared objects ----------------------------------------------------------------
def test_vat_cannot_mutate_standard_library_classes_or_modules():
    before = json.JSONEncoder.item_separator
    violates_at_call("import json\ndef attack():\n    json.JSONEncoder.item_separator = ';'\n", "not defined by this vat")
    violates_at_call("import json\ndef attack():\n    setattr(json.JSONEncoder, 'default', None)\n", "not defined")
    violates_at_call("import json\ndef attack():\n    json.JSONEncoder.item_separator += ';'\n", "not defined")
    violates_at_call("import json\ndef attack():\n    del json.JSONEncoder.default\n", "not defined")
    violates_at_call("import json\ndef attack():\n    json.dumps = None\n", "not defined")
    violates_at_call("import json\nfrom dataclasses import dataclass\ndef attack():\n"
                     "    dataclass(json.JSONEncoder)\n", "@dataclass")
    violates_at_call("import json, functools\ndef attack():\n    functools.total_ordering(json.JSONEncoder)\n",
                     "@total_ordering")
    violates_at_call("import json, functools\ndef attack():\n    functools.update_wrapper(json.dumps, len)\n",
                     "update_wrapper")
    assert json.JSONEncoder.item_separator == before
    assert json.dumps({"a": 1}) == '{"a": 1}'


def test_each_load_gets_its_own_module_proxies():
    a = load("import math\n")
    b = load("import math\n")
    assert a["math"] is not b["math"]


# --- legitimate vats -------------------------------------------------------------------------
LEGIT = """
from __future__ import annotations
import math, json, re, heapq, bisect, itertools, operator, copy, string
import collections.abc
from collections import defaultdict, namedtuple, Counter, deque
from dataclasses import dataclass, field, asdict, replace
from decimal import Decimal, Context
from enum import Enum, auto
from fractions import Fraction
from functools import reduce, partial, lru_cache, total_ordering, wraps
from typing import Any, Optional
import statistics
from swingset import Far
from .lib import helpers
from .lib.helpers import triple

Pair = namedtuple("Pair", "a b")

class Color(Enum):
    RED = auto()
    GREEN = auto()

@dataclass(frozen=True)
class Amount:
    brand: str
    value: int = 0
    tags: list = field(default_factory=list)

@total_ordering
class Version:
    __slots__ = ("n",)
    def __init__(self, n):
        self.n = n
    def __eq__(self, other):
        return self.n == other.n
    def __lt__(self, other):
        return self.n < other.n

def logged(fn):
    @wraps(fn)
    def inner(*a):
        return fn(*a)
    return inner

class Holder:
    def __init__(self):
        self.count = 0
        self.a, self.b = 1, 2
        self._private = "ok"
    @logged
    def bump(self, by: int = 1) -> int:
        self.count += by
        for self.last in range(2):
            pass
        if hasattr(self, "b"):
            del self.b
        return self.count

async def later(x):
    return x * 2

def build_root_object(vat_powers, vat_parameters, baggage):
    h = Holder()
    h.bump(); h.bump(5)
    out = {
        "count": h.count, "last": h.last, "has_b": hasattr(h, "b"), "private": h._private,
        "sqrt": math.sqrt(16), "json": json.loads(json.dumps({"k": [1, 2]})),
        "re": re.findall(r"\\d+", "a1b22"), "heap": heapq.nsmallest(2, [5, 1, 3]),
        "bisect": bisect.bisect([1, 3, 5], 4), "chain": list(itertools.chain([1], [2])),
        "op": operator.add(2, 3), "dd": dict(defaultdict(int, a=1)),
        "pair": Pair(1, 2).b, "counter": Counter("abca").most_common(1)[0],
        "deque": list(deque([1, 2], maxlen=1)), "amount": asdict(replace(Amount("BLD"), value=3)),
        "dec": str(Decimal("1.10") + Decimal("2.205")), "ctx": str(Context(prec=3).divide(Decimal(1), Decimal(3))),
        "color": Color.GREEN.name, "frac": str(Fraction(1, 3) + Fraction(1, 6)),
        "reduce": reduce(operator.mul, [1, 2, 3, 4]), "partial": partial(pow, 2)(10),
        "versions": sorted([Version(3), Version(1)])[0].n, "ge": Version(2) >= Version(1),
        "mean": statistics.mean([1, 2, 3, 4]), "triple": triple(3), "helper": helpers.triple(1),
        "far": Far("iface"), "mapping": isinstance({}, collections.abc.Mapping),
        "template": string.Template("$who!").substitute(who="vat"),
        "fstring": f"{h.count:03d}", "deep": copy.deepcopy({"a": [1]}),
        "cached": lru_cache(maxsize=None)(lambda x: x + 1)(1),
        "match": _match({"kind": "pt", "x": 1}),
    }
    print("built", len(out))
    return out

def _match(value):
    match value:
        case {"kind": "pt", "x": x}:
            return x
        case _:
            return None
"""

HELPERS = b"""
from . import util
def triple(x):
    return util.times(x, 3)
"""
UTIL = b"""
from .. import consts
def times(a, b):
    return a * b * consts.ONE
"""


def legit_files():
    return {"main.py": LEGIT.encode(), "lib/__init__.py": b"", "lib/helpers.py": HELPERS,
            "lib/util.py": UTIL, "consts.py": b"ONE = 1\n", "manifest.json": b"{}"}


def test_a_legitimate_vat_loads_and_works():
    logged = []
    ns = load_vat_namespace(legit_files(), "main.py", extra_modules={"swingset": {"Far": lambda i: ("far", i)}},
                            log=logged.append)
    out = ns["build_root_object"](None, {}, None)
    assert out == {
        "count": 6, "last": 1, "has_b": False, "private": "ok", "sqrt": 4.0, "json": {"k": [1, 2]},
        "re": ["1", "22"], "heap": [1, 3], "bisect": 2, "chain": [1, 2], "op": 5, "dd": {"a": 1},
        "pair": 2, "counter": ("a", 2), "deque": [2],
        "amount": {"brand": "BLD", "value": 3, "tags": []}, "dec": "3.305", "ctx": "0.333",
        "color": "GREEN", "frac": "1/2", "reduce": 24, "partial": 1024, "versions": 1, "ge": True,
        "mean": 2.5, "triple": 9, "helper": 3, "far": ("far", "iface"), "mapping": True,
        "template": "vat!", "fstring": "006", "deep": {"a": [1]}, "cached": 2, "match": 1,
    }
    assert logged == [f"built {len(out)}\n"]
    assert asyncio.run(ns["later"](21)) == 42
    assert ns["__name__"] == "vat:main"
    assert ns["Amount"].__module__ == "vat:main"


def test_entry_may_be_a_dotted_module_name_and_must_define_build_root_object():
    ns = load_vat_namespace({"pkg/__init__.py": b"", "pkg/entry.py": ROOT.encode()}, "pkg.entry")
    assert callable(ns["build_root_object"])
    with pytest.raises(SandboxViolation, match="build_root_object"):
        load_vat_namespace({"main.py": b"x = 1\n"}, "main.py")
    with pytest.raises(SandboxViolation, match="not a module of the bundle"):
        load_vat_namespace({"main.py": ROOT.encode()}, "other.py")


def test_missing_bundle_module_is_an_import_error():
    with pytest.raises(SandboxViolation):
        load("from nothere import x\n")
    ns = load("def f():\n    from . import nothere\n")
    with pytest.raises(ImportError):
        ns["f"]()


def test_injected_modules_are_copied_not_shared():
    import types
    real = types.ModuleType("liveslots_helpers")
    real.Far = lambda x: x
    real._secret = 1
    real.os = __import__("os")
    ns = load("import swingset\ndef probe():\n    return (hasattr(swingset, 'Far'), hasattr(swingset, '_secret'),"
              " hasattr(swingset, 'os'))\n", extra={"swingset": real})
    assert ns["probe"]() == (True, False, False)


def test_default_allowlist_is_pure():
    assert not ({"os", "sys", "io", "time", "random", "importlib", "subprocess", "socket"} & DEFAULT_ALLOWED)


def test_modules_cannot_be_renamed_to_reach_real_submodules():
    # `from m import x` falls back to sys.modules[m.__name__ + ".x"]
    violates_at_load("__name__ = 'json'\n", "'__name__'")
    violates_at_load("def f():\n    global __name__\n", "'__name__'")
    violates_at_load("import json as __name__\n", "'__name__'")
    ns = load("import helpers\ndef attack():\n    helpers.__init__('json')\n    from helpers import decoder\n"
              "    return decoder\n", files={"helpers.py": b"x = 1\n"})
    with pytest.raises(SandboxViolation, match="renamed"):
        ns["attack"]()
    assert load("def ok():\n    return __name__\n")["ok"]() == "vat:main"


def test_annotated_attribute_stores_are_guarded_too():
    ns = load("import json\nclass C:\n    def __init__(self):\n        self.x: int = 3\n"
              "def ok():\n    return C().x\n"
              "def attack():\n    json.JSONEncoder.item_separator: str = ';'\n")
    assert ns["ok"]() == 3
    with pytest.raises(SandboxViolation, match="not defined by this vat"):
        ns["attack"]()


@pytest.mark.parametrize("expr", [
    "functools.reduce(getattr, ['__class__'], 1)",
    "list(map(getattr, [1], ['__globals__']))",
    "json.loads('{}', object_hook=dir)",
    "sorted([2, 1], key=id)",
    "functools.partial(setattr, json.JSONEncoder, 'default')(None)",
])
def test_builtins_passed_as_callbacks_stay_guarded(expr):
    violates_at_call(f"import functools, json\ndef attack():\n    return {expr}\n")


def test_dataclass_refuses_non_identifier_field_names():
    # the field names of a dataclass are pasted into source that dataclasses exec()s
    ns = load("from dataclasses import dataclass\nclass C:\n    x: int\n"
              "def ok():\n    return dataclass(C)(1).x\n")
    assert ns["ok"]() == 1
    # vat code cannot build such a class (no 3-argument type(), no TypedDict, no
    # __annotations__); make one outside, as if another hole had been found
    bad = type("Bad", (), {"__annotations__": {"x=1\n import os #": int}, "__module__": "vat:main"})
    with pytest.raises(SandboxViolation, match="not an identifier"):
        ns["dataclass"](bad)
