"""The three roles, as Django groups, and the checks every view and consumer uses.

Roles are enforced on the server: templates only hide links, the decorators refuse.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import PermissionDenied

OPERATORS = "operators"
VOTERS = "voters"
ADMINS = "admins"
ALL_ROLES = (OPERATORS, VOTERS, ADMINS)

# Admins may do what operators may (operator actions are listed in the issue as theirs too).
_IMPLIED = {ADMINS: {OPERATORS}}


def ensure_role_groups() -> None:
    for name in ALL_ROLES:
        Group.objects.get_or_create(name=name)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_kc_roles", None)
    if cached is not None:
        return cached
    names = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
    if user.is_superuser:
        names |= set(ALL_ROLES)
    for role in list(names):
        names |= _IMPLIED.get(role, set())
    roles = frozenset(names)
    user._kc_roles = roles
    return roles


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def role_required(*roles: str):
    """View decorator: 403 unless the user holds one of the roles (login is checked by the
    middleware before any view runs)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied(f"requires role: {' or '.join(roles)}")
            return view(request, *args, **kwargs)

        wrapper.required_roles = roles
        return wrapper

    return decorator


def can_view_node(user) -> bool:
    """Anyone with a role may watch node health; voters need it to judge proposals."""
    return bool(user_roles(user))
