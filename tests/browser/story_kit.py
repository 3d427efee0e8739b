"""Helpers for the browser stories (tests/browser/test_stories.py): a real node running in a
background thread of the test process, sessions per user, and a modified kernel bundle.

The node is the real runner (`kernelhost.runner.run_node`, real host, kernel and chain) in a
plain thread, publishing through settings.NODE_EVENT_PUBLISHER to the channel layer the live
ASGI server listens on. It runs on its own (block time ~300 ms) except while a test holds it
between blocks (`hold()` / `step()` / `release()`): the gate sits in the runner's `on_block`
callback, after a block has committed and been published, so holding never interrupts a block.
A test holds the chain where the story must not race the clock (a vote has to be in the
block the test then watches arrive) and while users or the test write to the database (see
readers_never_lock); otherwise blocks come as they come.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.core.management import call_command
from django.db import connection, connections
from playwright.sync_api import expect

from tests.conftest import PASSWORD

log = logging.getLogger(__name__)

STORY_GENESIS = Path(__file__).resolve().with_name("story_genesis.json")
BLOCK_TIME_MS = 300
LIVE_TIMEOUT_MS = 30_000  # block-driven changes: generous, never a timing assertion
WAIT_S = 60.0


RUNNER_THREAD = "story-node-runner"


class RunnerFailed(AssertionError):
    pass


_READERS = {"uncommitted": False, "patched": False}


def _install_read_mode_patch() -> None:
    """Every SQLite cursor made while a story runs reads uncommitted (except the runner's):
    Django keeps in-memory test connections open per thread, so the pragma is set on the
    connection's next cursor, and set back once the story is over."""
    if _READERS["patched"]:
        return
    from django.db.backends.sqlite3.base import DatabaseWrapper

    original = DatabaseWrapper.create_cursor

    def create_cursor(self, name=None):
        want = _READERS["uncommitted"] and threading.current_thread().name != RUNNER_THREAD
        if getattr(self, "_story_read_uncommitted", False) != want:
            self.connection.execute(f"PRAGMA read_uncommitted = {int(want)}")
            self._story_read_uncommitted = want
        return original(self, name)

    DatabaseWrapper.create_cursor = create_cursor
    _READERS["patched"] = True


@contextmanager
def readers_never_lock():
    """The SQLite test database is in memory with a shared cache, where a reader's table
    lock makes a writer fail at once with "database table is locked" (no busy timeout), and
    the reverse. Production uses a file in WAL mode, where readers never block the writer:
    the web server's and the test's connections read uncommitted here to get the same. The
    web side's writes (logins, uploads, votes) happen while the test holds the runner, so two
    writers never meet. Nothing changes on PostgreSQL."""
    if connection.vendor != "sqlite":
        yield
        return
    _install_read_mode_patch()
    _READERS["uncommitted"] = True
    try:
        yield
    finally:
        _READERS["uncommitted"] = False


class StoryNode:
    """The node runner in a background thread, with a gate between blocks."""

    def __init__(self, block_time_ms: int = BLOCK_TIME_MS) -> None:
        self.block_time_ms = block_time_ms
        self.stop = threading.Event()
        self.height = 0
        self.outcomes: list = []
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._held = False
        self._permits = 0
        self._parked = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> StoryNode:
        self._thread = threading.Thread(target=self._run, name=RUNNER_THREAD, daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self.stop.set()
        with self._cond:
            self._held = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=WAIT_S)
            if self._thread.is_alive():
                log.error("story node runner did not stop")

    def _run(self) -> None:
        from kernelhost.runner import run_node

        try:
            # publish=None: the runner resolves settings.NODE_EVENT_PUBLISHER, as in production.
            run_node(stop=self.stop, block_time_ms=self.block_time_ms, on_block=self._on_block)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread by check()
            log.exception("story node runner failed")
            self.error = exc
        finally:
            with self._cond:
                self._cond.notify_all()
            connections.close_all()

    def _on_block(self, outcome) -> None:
        with self._cond:
            self.height = outcome.height
            self.outcomes.append(outcome)
            if self._permits > 0:
                self._permits -= 1
            self._cond.notify_all()
            while self._held and self._permits == 0 and not self.stop.is_set():
                self._parked = True
                self._cond.notify_all()
                self._cond.wait(0.2)
            self._parked = False

    # -- control from the test thread -----------------------------------------------------

    def check(self) -> None:
        if self.error is not None:
            raise RunnerFailed(f"the node runner stopped: {type(self.error).__name__}: {self.error}") from self.error
        if self._thread is not None and not self._thread.is_alive() and not self.stop.is_set():
            raise RunnerFailed("the node runner stopped")

    def _wait(self, predicate, what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                self.check()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what} (height {self.height})")
                self._cond.wait(min(left, 0.2))
        self.check()

    def wait_for_height(self, height: int, timeout: float = WAIT_S) -> int:
        self._wait(lambda: self.height >= height, f"block {height}", timeout)
        return self.height

    def hold(self) -> int:
        """Let the block in progress finish, then keep the chain at that height. Returns it."""
        with self._cond:
            self._held = True
        self._wait(lambda: self._parked, "the runner to stop between blocks")
        return self.height

    def step(self, blocks: int = 1) -> int:
        """While held: make exactly `blocks` more blocks, then hold again."""
        with self._cond:
            assert self._held, "step() needs hold() first"
            target = self.height + blocks
            self._permits = blocks
            self._parked = False
            self._cond.notify_all()
        self._wait(lambda: self.height >= target and self._parked, f"block {target}")
        return self.height

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._permits = 0
            self._cond.notify_all()

    @contextmanager
    def held(self):
        """`with node.held():` no block runs inside (user actions that write to the database)."""
        self.hold()
        try:
            yield self
        finally:
            self.release()


def init_story_node(settings, tmp_path: Path, config: Path = STORY_GENESIS) -> str:
    """A fresh node on its own swing-store file, made by the real `initnode` command."""
    settings.SWINGSTORE_PATH = str(tmp_path / "story-swingstore.sqlite")
    call_command("initnode", "--config", str(config))
    return settings.SWINGSTORE_PATH


def kernel_bundle_variant(tmp_path: Path, version_tag: str) -> tuple[bytes, str]:
    """A kernel bundle of a copy of kernelhost/kernel whose KERNEL_VERSION is tagged:
    (zip bytes, bundle ID)."""
    from kernelhost.controller.bundling import KERNEL_SOURCE_DIR, bundle_kernel_source
    from kernelhost.swingstore.bundleformat import bundle_id_of

    src = tmp_path / f"kernel-{version_tag}"
    shutil.copytree(KERNEL_SOURCE_DIR, src, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    version = src / "version.py"
    text = version.read_text()
    assert 'KERNEL_VERSION = "' in text
    version.write_text(text.replace('KERNEL_VERSION = "', f'KERNEL_VERSION = "{version_tag}-', 1))
    data = bundle_kernel_source(src)
    return data, bundle_id_of(data)


def submit(tx: dict):
    from kernelhost.chain.services.txs import submit_tx

    return submit_tx(tx)


# -- browser sessions -----------------------------------------------------------------------

def session(browser, server: str, username: str):
    """A page in its own browser context (own cookies), logged in through the real form."""
    page = browser.new_context().new_page()
    page.set_default_timeout(LIVE_TIMEOUT_MS)
    page.goto(f"{server}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def go_live(page, url: str):
    page.goto(url)
    expect(page.locator("#ws-status")).to_have_text("live", timeout=LIVE_TIMEOUT_MS)
    return page


def vote_in_page(page, label: str) -> None:
    """Vote through the card and its confirmation step."""
    page.get_by_label(label, exact=True).check()
    page.locator("#vote-form button[type=submit]").click()
    expect(page.locator("#vote-confirm")).to_contain_text(label)
    page.locator("#confirm-vote").click()
    expect(page.locator(".messages")).to_contain_text("counts once the next block includes it")
