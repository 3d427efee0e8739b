"""Vat sandbox escape attempts beyond tests/sandbox/test_sandbox.py (which covers forbidden
imports, the classic dunder chains, gi_frame/cr_frame/ag_frame/f_globals/tb_frame, basic
format-string lookups and metaclasses): more `__builtins__` routes, sys/gc via module
attributes, further generator/coroutine/frame attributes (gi_code, gi_yieldfrom, cr_await,
cr_code, f_locals, f_builtins, __self__ of builtins), format-string variants, and resource
attacks (recursion bombs, deep nesting, huge integers) against a running kernel."""

from __future__ import annotations

import textwrap

import pytest

from kernelhost.kernel.sandbox import SandboxViolation, load_vat_namespace

from .conftest import tried

ROOT = "\ndef build_root_object(vat_powers, vat_parameters, baggage):\n    return None\n"


def load(src: str):
    return load_vat_namespace({"main.py": textwrap.dedent(src).encode() + ROOT.encode()}, "main.py")


def attempt(src: str):
    """Load and run attack(); return 'load' / 'call' if the sandbox refused it, else the result."""
    tried("sandbox escape attempts")
    try:
        ns = load(src)
    except SandboxViolation:
        return "load"
    try:
        return ns["attack"]()
    except SandboxViolation:
        return "call"


REFUSED = {
    # __builtins__ and friends
    "getattr(module, '__builtins__')": "import json\ndef attack():\n    return getattr(json, '__builtins__')\n",
    "walrus __builtins__": "def attack():\n    return (b := __builtins__)\n",
    "__loader__": "def attack():\n    return __loader__\n",
    "__spec__": "def attack():\n    return __spec__\n",
    "print.__self__ (builtins module)": "def attack():\n    return print.__self__\n",
    "len.__self__": "def attack():\n    return len.__self__\n",
    "getattr(print, '__self__')": "def attack():\n    return getattr(print, '__self__')\n",
    "reduce(getattr) to __self__": "import functools\ndef attack():\n    return functools.reduce(getattr, ['__self__'], print)\n",
    "vars bound to a name": "def attack():\n    v = vars\n    return v()\n",
    "type.__dict__": "def attack():\n    return type.__dict__\n",
    "getattr(object, '__subclasses__')": "def attack():\n    return getattr(object, '__subclasses__')()\n",
    "split dunder string": "def attack():\n    return getattr(attack, '__glob' 'als__')\n",
    "__closure__": "def attack():\n    def f():\n        pass\n    return f.__closure__\n",
    "__func__ of a bound method": "class A:\n    def m(self):\n        pass\ndef attack():\n    return A().m.__func__\n",
    "__defaults__": "def attack():\n    return (lambda: 0).__defaults__\n",
    "__context__ of an exception": "def attack():\n    try:\n        1/0\n    except Exception as e:\n        return e.__context__\n",
    "getattr(e, '__traceback__')": "def attack():\n    try:\n        1/0\n    except Exception as e:\n        return getattr(e, '__traceback__')\n",
    # generator / coroutine / frame introspection
    "gi_code": "def g():\n    yield 1\ndef attack():\n    return g().gi_code\n",
    "getattr(gen, 'gi_code')": "def g():\n    yield 1\ndef attack():\n    return getattr(g(), 'gi_code')\n",
    "gi_yieldfrom": "def g():\n    yield 1\ndef attack():\n    return g().gi_yieldfrom\n",
    "cr_await": "async def c():\n    pass\ndef attack():\n    x = c()\n    return x.cr_await\n",
    "cr_code": "async def c():\n    pass\ndef attack():\n    return c().cr_code\n",
    "f_locals": "def attack(f=None):\n    return f.f_locals\n",
    "f_builtins": "def attack(f=None):\n    return f.f_builtins\n",
    "match keyword gi_frame": "def attack(x=None):\n    match x:\n        case str(gi_frame=f):\n            return f\n",
    # format strings
    "format on a variable": "def attack():\n    f = '{0.__class__}'\n    return f.format(1)\n",
    "unbound str.format": "def attack():\n    m = str.format\n    return m('{0.__class__}', 1)\n",
    "getattr(s, 'format_map')": "def attack():\n    return getattr('{0.__class__}', 'format_map')({})\n",
    # hooks a class may not define
    "__mro_entries__": "class A:\n    def __mro_entries__(self, b):\n        return ()\n",
    "__class_getitem__ bound": "class A:\n    __class_getitem__ = print\n",
    # modules that would hand out sys / gc
    "import gc": "import gc\n",
    "from typing import get_type_hints": "from typing import get_type_hints\n",
    "from dataclasses import make_dataclass": "from dataclasses import make_dataclass\n",
    "memoryview()": "def attack():\n    return memoryview(b'')\n",
}


@pytest.mark.parametrize("src", list(REFUSED.values()), ids=list(REFUSED))
def test_escape_is_refused(src):
    assert attempt(src) in ("load", "call")


@pytest.mark.parametrize("module", ["json", "re", "functools", "typing", "collections", "decimal", "enum",
                                    "dataclasses", "copy", "statistics", "string", "operator", "itertools"])
@pytest.mark.parametrize("name", ["sys", "gc", "os", "_sys", "builtins", "_os", "importlib"])
def test_sys_and_gc_are_not_reachable_through_allowed_modules(module, name):
    tried("sandbox escape attempts")
    ns = load(f"import {module}\ndef attack():\n    return hasattr({module}, {name!r})\n")
    assert ns["attack"]() is False


def test_format_builtin_and_percent_formatting_do_no_attribute_lookups():
    # format(value, spec) and %-formatting have no field syntax: these are harmless
    with pytest.raises(ValueError):
        attempt("def attack():\n    return format(1, '{0.__class__}')\n")
    assert attempt("def attack():\n    return '%(a)s' % {'a': 1}\n") == "1"
    assert attempt("def attack():\n    x = 1\n    return f'{x!r:{x}}'\n") == "1"


def test_namedtuple_and_enum_reject_or_neutralise_hostile_names():
    with pytest.raises(ValueError, match="identifiers"):
        attempt("from collections import namedtuple\ndef attack():\n    return namedtuple('X', ['a=1\\n import os'])\n")
    # module= only labels the class; it does not import or reach the named module
    cls = attempt("from collections import namedtuple\ndef attack():\n    return namedtuple('X', ['a'], module='os')\n")
    assert cls.__module__ == "os" and not hasattr(cls, "system")


def test_recursion_bomb_is_a_recursion_error_in_the_vat_only():
    with pytest.raises(RecursionError):
        attempt("def attack():\n    return attack()\n")
    with pytest.raises(RecursionError):
        attempt("def attack():\n    x = []\n    for i in range(100_000):\n        x = [x]\n    return repr(x)\n")


def test_huge_int_to_str_hits_the_digit_limit():
    with pytest.raises(ValueError, match="4300 digits"):
        attempt("def attack():\n    return str(10**5000)\n")


# --- against a running kernel (local worker) ------------------------------------------------
HOSTILE_VAT = """
from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    def recurse(n=0):
        return recurse(n + 1)

    def deep():
        x = 0
        for _ in range(200_000):
            x = [x]
        return x

    def huge():
        return 10 ** 5000

    def ping(x):
        return x + 1

    return Far("hostile", {"recurse": recurse, "deep": deep, "huge": huge, "ping": ping})
"""


@pytest.fixture
def hostile_kernel(tmp_path):
    from kernelhost.swingstore import open_swingstore
    from tests.kernel.conftest import boot

    src = tmp_path / "hostile"
    src.mkdir()
    (src / "vat.py").write_text(HOSTILE_VAT)
    store = open_swingstore(None)
    c = boot(store, {"vats": {"hostile": {"source": str(src)}}})
    yield c
    c.shutdown()
    store.close()


@pytest.mark.parametrize("method,reason", [("recurse", "RecursionError|recursion"), ("deep", "nested|Recursion"),
                                           ("huge", "integer")])
def test_resource_attacks_reject_the_call_and_the_kernel_goes_on(hostile_kernel, method, reason):
    from tests.kernel.conftest import call

    tried("sandbox escape attempts")
    state, value = call(hostile_kernel, "hostile", method)
    assert state == "rejected", value
    assert not hostile_kernel.panicked
    import re

    assert re.search(reason, f"{getattr(value, 'name', '')} {value}"), value
    assert call(hostile_kernel, "hostile", "ping", 41) == ("fulfilled", 42)


def test_deeply_nested_arguments_from_outside_are_refused_before_the_vat(hostile_kernel):
    deep = 0
    for _ in range(200_000):
        deep = [deep]
    with pytest.raises(TypeError, match="nested") as info:  # the bundle's own PassableError class
        hostile_kernel.queue_to_vat_root("hostile", "ping", [deep])
    assert type(info.value).__name__ == "PassableError"
    from tests.kernel.conftest import call

    assert call(hostile_kernel, "hostile", "ping", 1) == ("fulfilled", 2)


POW_BOMB_VAT = """
from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    return Far("bomb", {"bomb": lambda: 10 ** 10 ** 8, "ping": lambda: 1})
"""


@pytest.mark.slow
def test_huge_integer_bomb_in_a_subprocess_worker_terminates_the_vat_not_the_kernel(tmp_path):
    """10**10**8 runs for minutes. In a subprocess worker the CPU / wall-clock limits end it:
    the vat is terminated and the kernel goes on. (In a *local* worker it blocks the kernel
    process — see the hardening report: local workers are for trusted vats only.)"""
    import time

    from kernelhost.swingstore import open_swingstore
    from kernelhost.workers import WorkerLimits, make_worker_factory
    from tests.kernel.conftest import boot, call

    tried("sandbox escape attempts")
    src = tmp_path / "bomb"
    src.mkdir()
    (src / "vat.py").write_text(POW_BOMB_VAT)
    store = open_swingstore(None)
    c = boot(store, {"vats": {"bomb": {"source": str(src), "managerType": "subprocess"}}},
             worker_factory=make_worker_factory(limits=WorkerLimits(cpu_seconds=1, wall_seconds=3)))
    try:
        started = time.monotonic()
        state, value = call(c, "bomb", "bomb")
        assert state == "rejected" and "terminated" in str(value), value
        assert time.monotonic() - started < 30
        assert not c.panicked
    finally:
        c.shutdown()
        store.close()
