"""`python -m crawlers.demo --port 8765`: serve the demo news network until Ctrl-C."""

import sys

from .server import main

sys.exit(main())
