"""The one mechanism that applies every state machine of the desk.

A machine is a literal table `{(state, event): next_state}` (NautilusTrader's shape). Applying an
event to a row is a conditional UPDATE (`WHERE pk = ... AND <field> = <state as read>`), so two
workers, or a worker and a person, can never both win, followed in the same transaction by one
append-only event row (who, when, why) written by the caller's `record` callback. Research jobs,
model stages, promotion requests, orders and the kill switch all go through `StateMachine.apply`;
none has a private way to change its state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction

log = logging.getLogger(__name__)


class TransitionError(ValueError):
    """An event the table does not allow in the current state, named with what is allowed."""


@dataclass(frozen=True)
class StateMachine:
    name: str  # "research job", "order", ... (used in messages)
    table: Mapping[tuple[str, str], str]  # (state, event) -> next state
    state_field: str = "status"  # the model field that holds the state
    terminal: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        states = {s for (s, _e) in self.table} | set(self.table.values())
        stuck = set(self.terminal) & {s for (s, _e) in self.table}
        if stuck:
            raise ValueError(f"{self.name}: terminal states with outgoing edges: {sorted(stuck)}")
        object.__setattr__(self, "states", frozenset(states | set(self.terminal)))

    def events_from(self, state: str) -> list[str]:
        return [e for (s, e) in self.table if s == state]

    def next_state(self, state: str, event: str) -> str:
        try:
            return self.table[(state, event)]
        except KeyError:
            allowed = ", ".join(self.events_from(state)) or "nothing (terminal)"
            msg = f"a {self.name} in state {state!r} cannot take {event!r}; allowed: {allowed}"
            log.warning(msg)
            raise TransitionError(msg) from None

    def allows(self, state: str, event: str) -> bool:
        return (state, event) in self.table

    def apply(
        self,
        obj: models.Model,
        event: str,
        *,
        record: Callable[[str, str], Any],
        **fields: Any,
    ) -> bool:
        """Apply `event` to `obj` from the state it was read in.

        Raises TransitionError when the table does not allow the event. Returns False (writing
        nothing) when the row's state is no longer the one read: the caller lost a race and must
        not act on it. On success, `record(from_state, to_state)` writes the event row inside the
        same transaction, and `obj` carries the new state and `fields`."""
        from_state = getattr(obj, self.state_field)
        to_state = self.next_state(from_state, event)
        with transaction.atomic():
            won = (
                type(obj)
                ._default_manager.filter(pk=obj.pk, **{self.state_field: from_state})
                .update(**{self.state_field: to_state}, **fields)
            ) == 1
            if not won:
                return False
            record(from_state, to_state)
        setattr(obj, self.state_field, to_state)
        for name, value in fields.items():
            setattr(obj, name, value)
        return True


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete an append-only row."""


class AppendOnlyModel(models.Model):
    """Event and evidence rows: created once, never updated or deleted through the ORM instance
    (the admin, a shell or a careless service all go through save()/delete())."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
