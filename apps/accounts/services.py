from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from .roles import ADMIN, ROLE_PERMISSIONS, ROLES

User = get_user_model()


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the role groups and give each exactly the permissions of ROLE_PERMISSIONS."""
    counts = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for dotted in ROLE_PERMISSIONS[role]:
            app_label, codename = dotted.split(".", 1)
            try:
                perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            except Permission.DoesNotExist as exc:
                raise ImproperlyConfigured(f"role {role!r} names unknown permission {dotted!r}") from exc
        group.permissions.set(perms)
        counts[role] = len(perms)
    return counts


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str


# alice the trader, bob the approver, ...: one persona per role.
DEMO_PERSONAS = {
    "viewer": "victor",
    "trader": "alice",
    "quant": "quinn",
    "risk_officer": "rita",
    "approver": "bob",
    "admin": "ada",
}


@transaction.atomic
def demo_users_create(*, password: str | None = None) -> list[DemoUser]:
    """Create (or reset) one demo user per role. Refused outside demo/dev settings."""
    if not settings.DEMO_MODE:
        raise ImproperlyConfigured("demo users are only created with DEMO_MODE (demo/dev settings)")
    roles_sync()
    created = []
    for role, username in DEMO_PERSONAS.items():
        pw = password or f"{username}-hourglass"
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@hourglass.local"}
        )
        user.set_password(pw)
        user.is_staff = role == ADMIN
        user.is_superuser = role == ADMIN
        user.first_name = username.capitalize()
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        created.append(DemoUser(username=username, password=pw, role=role))
    return created
