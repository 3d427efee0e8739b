"""Settings for the console and the node, all from the environment (see console/env.py).

Embedded mode (no DATABASE_URL, no REDIS_URL): SQLite under var/, the in-memory channel
layer and an in-process job runner, so `make run` needs no server. With them set, the same
code runs on PostgreSQL, Redis, channels-redis and separate rq workers.
"""

from __future__ import annotations

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from console.env import BASE_DIR, VAR_DIR, dev_secret_key, env_bool, env_list, env_str

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = dev_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "django_rq",
    "axes",
    "kernelhost",
    "kernelhost.chain",
    "kernelhost.governance",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.LoginRequiredMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED = env_str("REDIS_URL") is None
if DATABASE_URL:
    # A connection pool, not persistent connections: under ASGI each request runs its sync
    # view on a thread of its own, and conn_max_age kept every such thread's connection open,
    # so 20 concurrent readers exhausted PostgreSQL's 100 connections (`bench http` found it).
    # A pooled connection goes back to the pool when the request ends.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2, "max_size": int(env_str("DATABASE_POOL_MAX", "20")), "timeout": 30}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "chain.sqlite3",
            # The node and the ASGI server share this file in embedded mode: wait for the
            # writer instead of failing with "database is locked".
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The node publishes live events through this callable (kernelhost never imports console).
NODE_EVENT_PUBLISHER = "console.node_events.publish_node_event"

SWINGSTORE_PATH = env_str("SWINGSTORE_PATH", str(VAR_DIR / "swingstore.sqlite"))

REDIS_URL = env_str("REDIS_URL")
CHANNEL_REDIS_SOCKET_TIMEOUT_S = 30
# redis-py 8 caps a pool at 100 connections and raises "Too many connections" past it instead
# of waiting; channels-redis takes one per group_add, so 100 dashboards connecting at once
# failed (`bench soak`). Per ASGI process; Redis itself allows 10,000 clients by default.
CHANNEL_REDIS_MAX_CONNECTIONS = 1000
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as channels_redis's
            # 5 s BZPOPMIN: a consumer with no message for 5 s then died with TimeoutError and
            # its websocket closed (found by `bench soak` once blocks took longer than 5 s;
            # redis/redis-py#4091). The read timeout must outlast the blocking pop.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT_S,
                                  "max_connections": CHANNEL_REDIS_MAX_CONNECTIONS}],
                       "capacity": 1500, "expiry": 10},
        }
    }
    RQ_QUEUES = {
        "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
        "node": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1},
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Embedded mode: django-rq is still configured (the admin pages import it), but jobs are
    # run by console.jobs' in-process runner instead of being enqueued.
    RQ_QUEUES = {
        "default": {"HOST": "127.0.0.1", "PORT": 6379, "DB": 0, "ASYNC": False},
        "node": {"HOST": "127.0.0.1", "PORT": 6379, "DB": 0, "ASYNC": False},
    }

# "rq" or "inprocess"; unset = rq when REDIS_URL is set (see console/jobs.py).
JOBS_MODE = env_str("JOBS_MODE")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes): 5 failed logins for the same username from the same address
# lock that pair out for 15 minutes (HTTP 429 with a message saying so); a success does not
# wipe earlier failures. Attempts are kept in the database (AxesDatabaseHandler).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = False
AXES_COOLOFF_MESSAGE = "Too many failed login attempts: this account is locked for 15 minutes from this address."
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Serve straight from static/ in development; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Prometheus scrapes /metrics with "Authorization: Bearer <token>"; unset = metrics disabled.
METRICS_TOKEN = env_str("METRICS_TOKEN", "dev-metrics-token" if DEBUG else None)

# Uploads: bundles are capped well below memory; Django refuses larger bodies outright.
BUNDLE_MAX_BYTES = 8 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = BUNDLE_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = BUNDLE_MAX_BYTES + 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
