"""``python -m bench``: see :mod:`bench` for the workloads and the method."""

import sys

from .harness import main

sys.exit(main())
