"""``python -m simulators``: see ``simulators.runner``."""

import sys

from simulators.runner import main

sys.exit(main())
