"""``python -m utils.data``: build and cache the course datasets (see :mod:`utils.data.cli`)."""

import sys

from utils.data.cli import main

sys.exit(main())
