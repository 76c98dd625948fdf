"""python -m dagmake: the same as the dagmake command."""

import sys

from .cli import main

sys.exit(main())
