"""Demo accounts for `make run`: one per role, so a newcomer can try each view at once."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from console.roles import ADMINS, OPERATORS, VOTERS, ensure_role_groups

# Demo logins are for a local, embedded node; they are printed by `make run` and are not
# created when DEBUG is off.
DEMO_USERS = (
    ("operator", "operator-demo-pass", (OPERATORS,)),
    ("voter1", "voter-demo-pass", (VOTERS,)),
    ("voter2", "voter-demo-pass", (VOTERS,)),
    ("voter3", "voter-demo-pass", (VOTERS,)),
    ("admin", "admin-demo-pass", (ADMINS,)),
)
# Each demo voter speaks for one of the demo genesis validators (kernelhost/demo/chain-genesis.json).
DEMO_VOTER_VALIDATORS = {"voter1": "val1", "voter2": "val2", "voter3": "val3"}


@transaction.atomic
def user_create_with_roles(*, username: str, password: str, roles: tuple[str, ...]) -> User:
    ensure_role_groups()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.save()
    user.groups.set(Group.objects.filter(name__in=roles))
    return user


def demo_users_ensure() -> list[tuple[str, str, tuple[str, ...]]]:
    from kernelhost.governance.services import voter_link_ensure

    for username, password, roles in DEMO_USERS:
        user = user_create_with_roles(username=username, password=password, roles=roles)
        if username in DEMO_VOTER_VALIDATORS:
            voter_link_ensure(user, DEMO_VOTER_VALIDATORS[username])
    return list(DEMO_USERS)
