"""`manage.py check --deploy` with the production settings is clean, and the production
settings refuse to start without a secret key, without ALLOWED_HOSTS or with DEBUG on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(tmp_path, **env_overrides):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; a deployment never has it.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update({"SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "console.example.org",
                "KERNELCONSOLE_VAR_DIR": str(tmp_path)})
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                           "--settings=console.settings.production"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    from .conftest import tried

    tried("web: check --deploy")
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("overrides,message", [
    ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
    ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set"),
    ({"DEBUG": "true"}, "DEBUG must be off"),
], ids=["no-secret-key", "no-allowed-hosts", "debug-on"])
def test_production_settings_refuse_unsafe_configuration(tmp_path, overrides, message):
    result = run_check(tmp_path, **overrides)
    assert result.returncode != 0
    assert message in result.stderr
