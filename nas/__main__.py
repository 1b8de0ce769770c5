"""`python -m nas` is the `nas` command."""
import sys

from nas.cli import main

sys.exit(main())
