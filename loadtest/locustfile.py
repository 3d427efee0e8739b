"""Locust users for `manage.py bench http`: logged-in operators reading the node pages.

Run by console/loadtest/httpload.py as `python -m locust -f loadtest/locustfile.py --headless ...`
with KC_SESSION (a session key) and KC_VAT (a vat with a transcript) in the environment. Each
user loops without think time (a closed loop: requests/s is what the server can do with this
many concurrent users). A response counts as a failure unless it is a 200 that shows the
page's own content, so a redirect to the login page or an error page cannot pass as served;
failures are named "HTTP <status>" so the 5xx can be counted apart.
"""

import os
import random

from locust import FastHttpUser, constant, task

SESSION = os.environ["KC_SESSION"]
VAT = os.environ["KC_VAT"]
TRANSCRIPT_LENGTH = int(os.environ.get("KC_TRANSCRIPT_LENGTH", "0"))


class Operator(FastHttpUser):
    wait_time = constant(0)

    def _page(self, path: str, name: str, marker: str) -> None:
        with self.client.get(path, name=name, headers={"Cookie": f"sessionid={SESSION}"},
                             allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif marker not in (response.text or ""):
                response.failure(f"HTTP 200 without {marker!r}")

    @task(3)
    def dashboard(self) -> None:
        self._page("/", "dashboard", 'id="chain-height"')

    @task(2)
    def runqueue(self) -> None:
        self._page("/runqueue/", "run-queue", "<h1>Run-queue</h1>")

    @task(2)
    def transcript(self) -> None:
        start = random.randrange(TRANSCRIPT_LENGTH) if TRANSCRIPT_LENGTH > 1 else 0
        self._page(f"/vats/{VAT}/transcript/?start={start}", "transcript", f"<h1>Transcript of {VAT}</h1>")
