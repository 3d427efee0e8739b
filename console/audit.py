"""The audit log: every privileged action the console takes or refuses, with who, what, when
and how it ended. Written by services (uploads, validation outcomes, transaction submissions,
governance proposals and votes) and by the permission checks that refuse a forged request.

`audit_record` never raises into the caller: an action that already happened must not be
reported as failed because its log line could not be written (the failure is logged instead).
"""

from __future__ import annotations

import logging
from functools import wraps

from django.core.exceptions import PermissionDenied

from console.models import AuditEntry
from console.roles import has_role

log = logging.getLogger(__name__)

OK, FAILED, DENIED = AuditEntry.OK, AuditEntry.FAILED, AuditEntry.DENIED
MAX_TARGET = 255


def audit_record(user, action: str, target: str = "", outcome: str = OK, detail: dict | None = None) -> AuditEntry | None:
    """Write one audit entry. `user` may be None (a background job acting for nobody) or an
    anonymous user; `detail` must be JSON-safe."""
    if outcome not in (OK, FAILED, DENIED):
        raise ValueError(f"unknown audit outcome {outcome!r}")
    who = user if user is not None and getattr(user, "is_authenticated", False) else None
    try:
        return AuditEntry.objects.create(who=who, username=who.get_username() if who else "", action=action,
                                         target=str(target)[:MAX_TARGET], outcome=outcome, detail=detail or {})
    except Exception:  # noqa: BLE001 - see the module docstring
        log.exception("could not write audit entry %s %s %s", action, target, outcome)
        return None


def audited_role_required(*roles: str, action: str):
    """Like console.roles.role_required, but a refusal is also written to the audit log
    (a voter's forged POST to an admin form shows up there as `denied`)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                audit_record(request.user, action, target=request.path, outcome=DENIED,
                             detail={"method": request.method, "requires": list(roles)})
                raise PermissionDenied(f"requires role: {' or '.join(roles)}")
            return view(request, *args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorator
