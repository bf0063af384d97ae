"""Kill switch reads."""

from __future__ import annotations

from dataclasses import dataclass

from apps.trading.models import TradingAccount

from .gate import switch_states
from .machine import State


@dataclass(frozen=True)
class EffectiveSwitch:
    account: str
    account_state: str
    desk_state: str

    @property
    def state(self) -> str:
        """What governs the account: its own switch when pressed, else the desk's."""
        return self.account_state if self.account_state != State.ACTIVE else self.desk_state


def killswitch_effective(*, account: TradingAccount) -> EffectiveSwitch:
    account_state, desk_state = switch_states(account.pk)
    return EffectiveSwitch(account=account.name, account_state=account_state, desk_state=desk_state)
