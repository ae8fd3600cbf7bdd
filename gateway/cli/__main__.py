"""`python -m gateway.cli ...`: the same as `aas-gateway ...`."""

import sys

from gateway.cli import main

sys.exit(main())
