"""``python -m sceau …``: the operator's command line, as ``sceau …``."""

import sys

from sceau.cli import main

sys.exit(main())
