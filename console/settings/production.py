"""Production settings: what `python manage.py check --deploy --settings=console.settings.production`
checks. DEBUG is always off, SECRET_KEY must come from the environment (base.py refuses to
start without it), and the HTTPS settings are on by default; each can be relaxed through the
environment (console/env.py) for a deployment behind a TLS-terminating proxy.

    SECRET_KEY=... ALLOWED_HOSTS=console.example.org python manage.py check --deploy \\
        --settings=console.settings.production
"""

import os

from django.core.exceptions import ImproperlyConfigured

from console.env import env_bool, env_str

# base.py reads DEBUG from the environment; production never runs with it on.
if env_bool("DEBUG", False):
    raise ImproperlyConfigured("DEBUG must be off with console.settings.production")
os.environ["DEBUG"] = "false"

from console.settings.base import *  # noqa: E402,F403
from console.settings.base import ALLOWED_HOSTS, DEBUG  # noqa: E402

if DEBUG:  # pragma: no cover - guarded above
    raise ImproperlyConfigured("production settings must not run with DEBUG on")
if env_str("ALLOWED_HOSTS") is None:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production (comma-separated host names)")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty")

# HTTPS: cookies only over TLS, redirect plain HTTP, HSTS (one year by default).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env_str("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (set SECURE_PROXY_SSL_HEADER=1).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Static files are collected (collectstatic) and served compressed by WhiteNoise.
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False
