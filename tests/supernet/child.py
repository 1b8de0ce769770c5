"""`python -m tests.supernet.child ARGS`: the real `nas` command line with the tiny elastic space registered,
for the test that kills a training process."""
import sys

from nas.cli import main
from search_spaces import spaces
from tests.supernet.helpers import TINY

if __name__ == "__main__":
    spaces.register(TINY)
    sys.exit(main(sys.argv[1:]))
