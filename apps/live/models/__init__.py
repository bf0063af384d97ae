from .cycle import (
    CycleEvent,
    CycleRun,
    PaperEvidence,
    PaperTrackingPoint,
    ReconcileTrigger,
    Reconciliation,
)
from .switch import FlatReport, KillSwitch, KillSwitchEvent

__all__ = [
    "CycleEvent",
    "CycleRun",
    "FlatReport",
    "KillSwitch",
    "KillSwitchEvent",
    "PaperEvidence",
    "PaperTrackingPoint",
    "ReconcileTrigger",
    "Reconciliation",
]
