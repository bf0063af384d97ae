"""Settings, split by concern. `tradingsite.settings` serves development, the demo and tests;
`tradingsite.settings.production` adds the checks a real deployment must pass."""

from .alerts import *
from .brokers import *
from .core import *
from .data import *
from .desk import *
from .security import *
from .trading import *
from .workers import *
