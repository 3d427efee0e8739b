"""kvStore: basic operations, namespaces, ordering and scans."""

from __future__ import annotations

import pytest

from kernelhost.swingstore import SwingStoreError, open_swingstore


def test_get_set_delete_has(store):
    kv = store.kernel.kv
    assert kv.get("a") is None
    assert not kv.has("a")
    kv.set("a", "1")
    assert kv.get("a") == "1"
    assert kv.has("a")
    kv.set("a", "2")
    assert kv.get("a") == "2"
    kv.delete("a")
    assert kv.get("a") is None
    kv.delete("a")  # deleting an absent key is fine
    assert not kv.has("a")


def test_the_cache_remembers_neither_deleted_keys_nor_misses(store):
    """Remembering them made the writer's cache grow with every block (tests/kernel/
    test_cache_growth.py); a read after the delete still sees the key absent."""
    kv, cache = store.kernel.kv, store.kernel.kv._core.cache
    kv.set("a", "1")
    store.host.commit()
    kv.delete("a")
    assert "a" not in cache
    assert kv.get("a") is None and kv.get("never") is None
    assert "a" not in cache and "never" not in cache
    kv.set("a", "1")  # the same value as before the delete: must be written, not skipped
    store.host.commit()
    assert kv.get("a") == "1"
    assert dict(kv.iter_prefix("a")) == {"a": "1"}


def test_empty_string_value_is_present(store):
    store.kernel.kv.set("e", "")
    assert store.kernel.kv.get("e") == ""
    assert store.kernel.kv.has("e")


@pytest.mark.parametrize("bad", [None, 1, b"x", ""])
def test_keys_must_be_nonempty_str(store, bad):
    with pytest.raises(SwingStoreError, match="non-empty str"):
        store.kernel.kv.set(bad, "v")


@pytest.mark.parametrize("bad", [None, 1, b"x"])
def test_values_must_be_str(store, bad):
    with pytest.raises(SwingStoreError, match="must be a str"):
        store.kernel.kv.set("k", bad)


def test_kernel_facet_refuses_host_keys(store):
    kv = store.kernel.kv
    for op in (lambda: kv.get("host.height"), lambda: kv.set("host.height", "1"),
               lambda: kv.delete("host.height"), lambda: kv.has("host.x"),
               lambda: list(kv.iter_prefix("host."))):
        with pytest.raises(SwingStoreError, match="host key"):
            op()


def test_host_facet_only_host_keys(store):
    hkv = store.host.kv
    hkv.set("host.height", "7")
    assert hkv.get("host.height") == "7"
    assert hkv.has("host.height")
    for op in (lambda: hkv.set("crankNumber", "1"), lambda: hkv.get("local.x"),
               lambda: hkv.delete("kv"), lambda: list(hkv.iter_prefix("v1."))):
        with pytest.raises(SwingStoreError, match="host"):
            op()
    hkv.delete("host.height")
    assert hkv.get("host.height") is None


def test_get_next_key_is_lexicographic_and_skips_host_keys(store):
    kv, hkv = store.kernel.kv, store.host.kv
    for k in ["b", "a", "host-x", "ho", "local.z", "c.1", "c.10", "c.2"]:
        kv.set(k, k.upper())
    hkv.set("host.a", "1")
    hkv.set("host.b", "2")
    seen = []
    k = ""
    while (k := kv.get_next_key(k)) is not None:
        seen.append(k)
    assert seen == sorted(["b", "a", "host-x", "ho", "local.z", "c.1", "c.10", "c.2"])
    assert kv.get_next_key("host") == "host-x"
    assert kv.get_next_key("local.z") is None
    assert hkv.get_next_key("") == "host.a"
    assert hkv.get_next_key("host.a") == "host.b"
    assert hkv.get_next_key("host.b") is None


def test_iter_prefix_sorted_and_bounded(store):
    kv = store.kernel.kv
    keys = ["v1.c.ko20", "v1.c.ko3", "v1.vs.x", "v10.c.a", "v1", "v2.c.ko1", "v1/after"]
    for k in keys:
        kv.set(k, "x" + k)
    got = list(kv.iter_prefix("v1."))
    assert got == [(k, "x" + k) for k in sorted(k for k in keys if k.startswith("v1."))]
    assert [k for k, _ in kv.iter_prefix("")] == sorted(keys)
    assert list(kv.iter_prefix("zzz")) == []


def test_iter_prefix_allows_deleting_while_iterating(store):
    kv = store.kernel.kv
    for i in range(1000):
        kv.set(f"v9.vs.{i:04d}", str(i))
    kv.set("v9/after", "keep")
    for key, _value in kv.iter_prefix("v9."):
        kv.delete(key)
    assert list(kv.iter_prefix("v9")) == [("v9/after", "keep")]


def test_unicode_order_matches_python(store):
    kv = store.kernel.kv
    keys = ["a", "é", "z", "\u4e2d", "\U0001f600", "Z", "a\x00b", "~"]
    for k in keys:
        kv.set(k, k)
    assert [k for k, _ in kv.iter_prefix("")] == sorted(keys)


def test_in_memory_store(recorder_factory):
    s = open_swingstore(None)
    s.kernel.kv.set("a", "1")
    s.host.commit()
    assert s.kernel.kv.get("a") == "1"
    clone = open_swingstore(None, serialized=s.debug.serialize())
    assert clone.kernel.kv.get("a") == "1"
    s.close()
    clone.close()


def test_closed_store_raises(db_path):
    s = open_swingstore(db_path)
    s.close()
    with pytest.raises(SwingStoreError, match="closed"):
        s.kernel.kv.get("a")
    s.close()  # idempotent
