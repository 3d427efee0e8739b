"""Fixtures shared by the whole suite: users per role and a live ASGI server for browsers."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from console.roles import ADMINS, OPERATORS, VOTERS

ROLE_USERS = {OPERATORS: "op", VOTERS: "vo", ADMINS: "ad"}
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def role_user(db):
    """Make a user holding `role`: role_user(OPERATORS) -> User."""
    from console.services.users import user_create_with_roles

    def make(role: str, username: str | None = None):
        return user_create_with_roles(username=username or ROLE_USERS[role], password=PASSWORD, roles=(role,))

    return make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ServerThread(threading.Thread):
    def __init__(self, port: int):
        super().__init__(name="asgi-live-server", daemon=True)
        import uvicorn

        config = uvicorn.Config("console.asgi:application", host="127.0.0.1", port=port,
                                ws="websockets-sansio", lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None

    def run(self):
        self.server.run()


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker):
    """A real uvicorn serving the ASGI app (HTTP + websockets) in this process, so tests can
    publish to the same channel layer the consumers listen on."""
    port = _free_port()
    thread = _ServerThread(port)
    thread.start()
    deadline = time.monotonic() + 20
    while not thread.server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live ASGI server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    thread.server.should_exit = True
    thread.join(timeout=10)


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop in the main thread, and
    tests that drive consumers with async_to_sync must not run after it starts."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _drain_in_process_jobs():
    """A job a test started must not write into the next test's database."""
    yield
    from console import jobs

    jobs.drain()
