"""`python -m agent.hollow`: run the hollow agent's command line."""

import sys

from agent.hollow.cli import main

sys.exit(main())
