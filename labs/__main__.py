"""python -m labs doctor | sandbox serve [--port N] | sandbox reset (see labs.devtools.cli)."""
import sys

from labs.devtools.cli import main

sys.exit(main())
