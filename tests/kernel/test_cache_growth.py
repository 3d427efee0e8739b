"""The kernel's and the swing-store's read caches hold live state, not the keys of the
promises, messages and c-list entries that are gone. They used to keep each deleted or
missing key as a None entry: ~30 entries per host call in the kernel's cache and 6 in the
swing-store's, which made the node's memory grow with every block of `bench soak`."""

from __future__ import annotations

from .conftest import boot, call, three_vat_config

CALLS = 200


def cache_sizes(c, store) -> tuple[int, int]:
    return len(c._kernel.kv._cache), len(store.kernel.kv._core.cache)


def test_steady_traffic_grows_the_caches_only_by_live_state(store):
    c = boot(store, three_vat_config())
    assert call(c, "left", "wire") == ("fulfilled", "wired")
    for i in range(20):  # warm-up: every key family seen once
        assert call(c, "left", "send_and_reply", i) == ("fulfilled", i)
    kernel_warm, store_warm = cache_sizes(c, store)
    for i in range(CALLS):
        assert call(c, "left", "send_and_reply", i) == ("fulfilled", i)
    kernel_after, store_after = cache_sizes(c, store)
    # What each call leaves alive: its result promise, which the host may still ask about
    # (state, refCount, data.body, plus the kernel's known-absent marks for its policy,
    # queue and slots). Nothing of the messages and promises between the vats.
    result_promise = 6
    assert kernel_after - kernel_warm <= CALLS * result_promise + 20, (kernel_warm, kernel_after)
    stored_fields = 3
    assert store_after - store_warm <= CALLS * stored_fields + 20, (store_warm, store_after)
    # and nothing in the swing-store's cache stands for a key that does not exist
    assert [k for k, v in store.kernel.kv._core.cache.items() if v is None] == []

