"""Test settings: the same code paths, with fast hashing and isolated files.

DATABASE_URL / REDIS_URL, when set (CI does), make the integration tests run against the real
PostgreSQL and Redis; otherwise SQLite and the in-memory layer are used.
"""

import os
import tempfile

os.environ.setdefault("KERNELCONSOLE_VAR_DIR", tempfile.mkdtemp(prefix="kc-test-var-"))

from console.settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
METRICS_TOKEN = "test-metrics-token"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Jobs run in this process so browser tests need no worker; test_jobs_rq.py covers rq itself.
JOBS_MODE = "inprocess"
