"""Property tests: the store against plain-Python models."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelhost.swingstore import open_swingstore

# Any text except lone surrogates (not encodable as UTF-8) and host keys.
key_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8
).filter(lambda k: not k.startswith("host."))
small_keys = st.sampled_from(["a", "b", "ab", "b.1", "b.10", "b.2", "local.x", "local.y",
                              "é", "\U0001f600", "z"])
values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ops=st.lists(st.tuples(st.booleans(), key_text, values), max_size=60),
       prefix=st.text(alphabet="ab.é", max_size=2))
def test_kv_iteration_order_matches_sorted_model(ops, prefix):
    store = open_swingstore(None)
    kv = store.kernel.kv
    model: dict[str, str] = {}
    for is_set, key, value in ops:
        if is_set:
            kv.set(key, value)
            model[key] = value
        else:
            kv.delete(key)
            model.pop(key, None)
    assert list(kv.iter_prefix("")) == sorted(model.items())
    assert list(kv.iter_prefix(prefix)) == sorted(
        (k, v) for k, v in model.items() if k.startswith(prefix))
    walked, k = [], ""
    while (k := kv.get_next_key(k)) is not None:
        walked.append(k)
    assert walked == sorted(model)
    for key in model:
        assert kv.get(key) == model[key]
    store.close()


op = st.one_of(
    st.tuples(st.just("set"), small_keys, values),
    st.tuples(st.just("delete"), small_keys, st.just("")),
    st.tuples(st.just("savepoint"), st.sampled_from(["s1", "s2", "s3"]), st.just("")),
    st.tuples(st.just("rollback"), st.sampled_from(["start", "s1", "s2", "s3"]), st.just("")),
)
crank = st.tuples(st.lists(op, max_size=12), st.booleans())  # (ops, emit hashes?)
block = st.lists(crank, max_size=5)


@SETTINGS
@given(blocks=st.lists(block, min_size=1, max_size=4), commit_last=st.booleans())
def test_cranks_with_rollbacks_match_model(blocks, commit_last):
    exported: list = []
    store = open_swingstore(None, export_callback=exported.extend)
    ks = store.kernel
    state: dict[str, str] = {}  # committed-or-not current state
    feed: list[str] = []        # crank-hasher input since the last emit
    activity = ""
    committed_state: dict[str, str] = {}
    committed_activity = ""
    for b_index, cranks in enumerate(blocks):
        for ops, emit in cranks:
            ks.start_crank()
            saves = {"start": (dict(state), list(feed))}
            order = ["start"]
            for kind, key, value in ops:
                if kind == "set":
                    ks.kv.set(key, value)
                    state[key] = value
                    if not key.startswith("local."):
                        feed.append(f"add\n{key}\n{value}\n")
                elif kind == "delete":
                    ks.kv.delete(key)
                    state.pop(key, None)
                    if not key.startswith("local."):
                        feed.append(f"delete\n{key}\n")
                elif kind == "savepoint":
                    if key in saves:
                        continue
                    ks.establish_crank_savepoint(key)
                    saves[key] = (dict(state), list(feed))
                    order.append(key)
                elif key in saves:  # rollback
                    ks.rollback_crank(key)
                    saved_state, saved_feed = saves[key]
                    state, feed = dict(saved_state), list(saved_feed)
                    for later in order[order.index(key) + 1:]:
                        del saves[later]
                    order = order[: order.index(key) + 1]
                assert {k: ks.kv.get(k) for k in state} == state
            if emit:
                crankhash, act = ks.emit_crank_hashes()
                expected = hashlib.sha256("".join(feed).encode()).hexdigest()
                assert crankhash == expected
                activity = hashlib.sha256(
                    f"activityhash\n{activity}\n{crankhash}\n".encode()).hexdigest()
                assert act == activity
                state["activityhash"] = activity
                feed = []
            ks.end_crank()
        if b_index < len(blocks) - 1 or commit_last:
            store.host.commit()
            feed = []
            committed_state, committed_activity = dict(state), activity
    model_consensus = {k: v for k, v in state.items() if not k.startswith("local.")}
    assert list(ks.kv.iter_prefix("")) == sorted(state.items())
    shadow: dict[str, str] = {}
    for key, value in exported:
        if value is None:
            shadow.pop(key, None)
        else:
            shadow[key] = value
    assert shadow == {"kv." + k: v for k, v in model_consensus.items()}
    store.host.rollback()
    assert list(ks.kv.iter_prefix("")) == sorted(committed_state.items())
    assert ks.get_activity_hash() == committed_activity
    store.close()
