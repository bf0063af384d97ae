from __future__ import annotations

from .roles import ROLES


def user_roles(user) -> list[str]:
    if not user.is_authenticated:
        return []
    names = set(user.groups.values_list("name", flat=True))
    return [r for r in ROLES if r in names]


def user_has_role(user, *roles: str) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or set(user_roles(user)) & set(roles)))
