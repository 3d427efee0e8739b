"""Commit points, crash safety, writer exclusion and read-only readers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kernelhost.swingstore import SwingStoreError, dump, open_swingstore

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_only_committed_data_survives_close(db_path):
    s = open_swingstore(db_path)
    ks = s.kernel
    ks.kv.set("kept", "1")
    ks.transcripts.init_transcript("v1")
    ks.transcripts.add_item("v1", "item-0")
    s.host.kv.set("host.height", "1")
    s.host.commit()
    ks.kv.set("kept", "2")
    ks.kv.set("lost", "x")
    ks.transcripts.add_item("v1", "item-1")
    ks.transcripts.init_transcript("v2")
    s.host.kv.set("host.height", "2")
    s.close()  # no commit

    s = open_swingstore(db_path)
    ks = s.kernel
    assert ks.kv.get("kept") == "1"
    assert ks.kv.get("lost") is None
    assert s.host.kv.get("host.height") == "1"
    assert ks.transcripts.read_span("v1") == ["item-0"]
    assert ks.transcripts.get_current_span_bounds("v1")["endPos"] == 1
    assert ks.transcripts.get_current_span_bounds("v2") is None
    # and the next append continues where the committed span ended
    assert ks.transcripts.add_item("v1", "item-1b") == 1
    s.host.commit()
    s.close()

    s = open_swingstore(db_path)
    assert s.kernel.transcripts.read_span("v1") == ["item-0", "item-1b"]
    s.close()


def test_nothing_autocommits(db_path):
    """Savepoints and releases inside a block never commit (#8423)."""
    s = open_swingstore(db_path)
    ks = s.kernel
    ks.start_crank()
    ks.kv.set("a", "1")
    ks.establish_crank_savepoint("deliver")
    ks.kv.set("b", "2")
    ks.end_crank()
    ks.start_crank()
    ks.kv.set("c", "3")
    ks.end_crank()
    s.close()
    s = open_swingstore(db_path)
    assert [s.kernel.kv.get(k) for k in "abc"] == [None, None, None]
    s.close()


def test_host_rollback_discards_block(db_path, recorder):
    s = open_swingstore(db_path, export_callback=recorder)
    ks = s.kernel
    ks.kv.set("a", "1")
    s.host.commit()
    before = ks.get_activity_hash()
    ks.start_crank()
    ks.kv.set("a", "2")
    ks.transcripts.init_transcript("v1")
    ks.emit_crank_hashes()
    s.host.rollback()
    assert ks.kv.get("a") == "1"
    assert ks.transcripts.get_current_span_bounds("v1") is None
    assert ks.get_activity_hash() == before
    assert not ks.in_crank
    ks.start_crank()  # usable again
    ks.end_crank()
    s.close()


def test_sigkill_mid_block_leaves_last_commit(db_path):
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from kernelhost.swingstore import open_swingstore
        s = open_swingstore({str(db_path)!r}, export_callback=lambda recs: None)
        ks = s.kernel
        ks.transcripts.init_transcript("v1")
        for i in range(100):
            ks.start_crank()
            ks.kv.set(f"k{{i:03d}}", "block1")
            ks.transcripts.add_item("v1", f"b1-{{i}}")
            ks.emit_crank_hashes()
            ks.end_crank()
        s.host.kv.set("host.height", "1")
        s.host.commit()
        for i in range(5000):
            ks.start_crank()
            ks.kv.set(f"k{{i % 100:03d}}", "block2")
            ks.kv.set(f"new{{i}}", "x" * 200)
            ks.transcripts.add_item("v1", f"b2-{{i}}")
            ks.emit_crank_hashes()
            ks.end_crank()
        print("mid-block", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "mid-block", line
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    s = open_swingstore(db_path)  # the dead writer's lock is gone with it
    ks = s.kernel
    assert s.host.kv.get("host.height") == "1"
    assert [ks.kv.get(f"k{i:03d}") for i in range(100)] == ["block1"] * 100
    assert ks.kv.get("new0") is None
    assert ks.transcripts.get_current_span_bounds("v1")["endPos"] == 100
    assert ks.transcripts.read_span("v1")[-1] == "b1-99"
    s.close()


def test_second_writer_gets_clear_error(db_path):
    s = open_swingstore(db_path)
    s.kernel.kv.set("a", "1")
    with pytest.raises(SwingStoreError, match="locked by another writer"):
        open_swingstore(db_path)
    s.host.commit()
    s.close()
    s2 = open_swingstore(db_path)  # free again after close
    assert s2.kernel.kv.get("a") == "1"
    s2.close()


def test_second_writer_in_another_process(db_path):
    s = open_swingstore(db_path)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from kernelhost.swingstore import open_swingstore, SwingStoreError
        try:
            open_swingstore({str(db_path)!r})
        except SwingStoreError as e:
            print("refused:", e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.startswith("refused: swing-store is locked by another writer"), out
    s.close()


def test_foreign_sqlite_writer_is_reported_not_corrupting(db_path):
    s = open_swingstore(db_path)
    s.host.commit()
    other = sqlite3.connect(str(db_path), isolation_level=None, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")
    try:
        s._core.conn.execute("PRAGMA busy_timeout = 100")
        with pytest.raises(SwingStoreError, match="locked by another writer"):
            s.kernel.kv.set("a", "1")
    finally:
        other.execute("ROLLBACK")
        other.close()
    s.kernel.kv.set("a", "1")
    s.host.commit()
    s.close()


def test_readonly_reads_while_writer_writes(db_path):
    w = open_swingstore(db_path)
    w.kernel.kv.set("a", "1")
    w.kernel.transcripts.init_transcript("v1")
    w.kernel.transcripts.add_item("v1", "i0")
    w.host.commit()
    r = open_swingstore(db_path, readonly=True)
    assert r.kernel.kv.get("a") == "1"
    w.kernel.kv.set("a", "2")
    w.kernel.transcripts.add_item("v1", "i1")
    # uncommitted writes are invisible to the reader
    assert r.kernel.kv.get("a") == "1"
    assert r.kernel.transcripts.read_span("v1") == ["i0"]
    with r.read_transaction():
        w.host.commit()
        assert r.kernel.kv.get("a") == "1"  # pinned snapshot
    assert r.kernel.kv.get("a") == "2"
    assert r.kernel.transcripts.read_span("v1") == ["i0", "i1"]
    assert dump(r) == dump(w)
    with pytest.raises(SwingStoreError, match="read-only"):
        r.kernel.kv.set("a", "3")
    with pytest.raises(SwingStoreError, match="read-only"):
        r.host.commit()
    r.close()
    w.close()


def test_readonly_needs_existing_store(tmp_path):
    with pytest.raises(SwingStoreError, match="no swing-store"):
        open_swingstore(tmp_path / "missing.sqlite", readonly=True)


def test_refuses_foreign_file_and_wrong_schema_version(tmp_path):
    foreign = tmp_path / "foreign.sqlite"
    c = sqlite3.connect(str(foreign))
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    with pytest.raises(SwingStoreError, match="not a swing-store"):
        open_swingstore(foreign)

    path = tmp_path / "old.sqlite"
    open_swingstore(path).close()
    c = sqlite3.connect(str(path))
    c.execute("PRAGMA user_version = 99")
    c.commit()
    c.close()
    with pytest.raises(SwingStoreError, match="schema version 99 is not supported"):
        open_swingstore(path)
    with pytest.raises(SwingStoreError, match="schema version 99"):
        open_swingstore(path, readonly=True)


def test_store_file_is_wal_with_full_sync(db_path):
    s = open_swingstore(db_path)
    conn = s._core.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    s.close()
