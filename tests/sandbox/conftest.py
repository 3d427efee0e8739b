"""Fixtures for the worker tests: a kernel bundle made from the source tree, a vat bundle."""

from __future__ import annotations

import textwrap

import pytest

from kernelhost.swingstore.bundleformat import bundle_id_of, make_bundle_from_files


def build_kernel_bundle() -> bytes:
    """The kernel bundle exactly as the controller makes it from the source tree."""
    from kernelhost.controller.bundling import bundle_kernel_source

    return bundle_kernel_source()


@pytest.fixture(scope="session")
def kernel_bundle() -> tuple[bytes, str]:
    data = build_kernel_bundle()
    return data, bundle_id_of(data)


TEST_VAT = textwrap.dedent('''
    import json
    from swingset import Far, E

    def build_root_object(vat_powers, vat_parameters, baggage):
        state = {"count": 0}

        def ping(x):
            state["count"] += 1
            return x + 1

        def remember(key, value):
            if baggage.has(key):
                baggage.set(key, value)
            else:
                baggage.init(key, value)
            return baggage.get(key)

        def tell(target, word):
            E.sendonly(target).hear(word)
            E.sendonly(target).hear(word + "!")
            return "told"

        def burn(n):
            total = 0
            for i in range(n):
                total += i
            return total

        def spin():
            while True:
                pass

        def hog():
            return len(bytearray(4 * 1024 ** 3))

        def chatty():
            print("hello from the vat")
            return json.dumps({"count": state["count"]})

        return Far("root", {"ping": ping, "remember": remember, "tell": tell, "spin": spin, "burn": burn,
                            "hog": hog, "chatty": chatty})
''')


@pytest.fixture(scope="session")
def vat_bundle() -> bytes:
    return make_bundle_from_files({"main.py": TEST_VAT.encode()}, kind="vat", entry="main", api_version=1)
