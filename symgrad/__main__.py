"""``python -m symgrad`` is ``python -m symgrad.run``."""

from .run import console

console()
