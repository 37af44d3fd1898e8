"""``python -m symgrad`` is ``python -m symgrad.run``."""

import sys

from .run import main

sys.exit(main())
