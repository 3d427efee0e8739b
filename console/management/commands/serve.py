"""`make run`'s server: the ASGI app on uvicorn and, in embedded mode, the node runner in a
thread of the same process (the in-memory channel layer only reaches consumers in-process)."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from console import jobs


class Command(BaseCommand):
    help = "Serve the console (HTTP + websockets) and, unless --no-node, run the node beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-node", action="store_true", help="serve only; the node runs elsewhere")
        parser.add_argument("--block-time-ms", type=int, default=2000)

    def handle(self, *args, host, port, no_node, block_time_ms, **options):
        import uvicorn

        stop = threading.Event()
        runner = None if no_node else self._start_node(stop, block_time_ms)
        mode = "redis" if settings.REDIS_URL else "embedded"
        self.stdout.write(f"Kernel Console on http://{host}:{port}/ ({mode} mode). Ctrl-C stops.")
        # Bounded shutdown: open websockets (and their channel-layer waits) must not keep a
        # stopping server alive; bench soak saw one still up 60 s after SIGINT.
        config = uvicorn.Config("console.asgi:application", host=host, port=port, ws="websockets-sansio",
                                lifespan="off", log_level="warning", timeout_graceful_shutdown=10)
        try:
            uvicorn.Server(config).run()  # returns after Ctrl-C, once connections are closed
        finally:
            stop.set()
            jobs.drain()
            if runner is not None:
                self.stdout.write("Stopping the node runner after the current block…")
                runner.join(timeout=60)

    def _start_node(self, stop: threading.Event, block_time_ms: int):
        try:
            from kernelhost.runner import run_node
        except ImportError:
            self.stdout.write("(node runner not available in this build; serving the console only)")
            return None
        thread = threading.Thread(target=run_node, kwargs={"stop": stop, "block_time_ms": block_time_ms},
                                  name="node-runner", daemon=True)
        thread.start()
        return thread
