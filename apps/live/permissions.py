"""Who may press what (role rows in apps/accounts/roles.py): traders STOP, CANCEL and FLAT the
desk's accounts; risk officers all of those and UNLOCK; viewers and quants nothing."""

STOP = "live.stop_killswitch"
CANCEL = "live.cancel_killswitch"
FLAT = "live.flat_killswitch"
UNLOCK = "live.unlock_killswitch"
