"""`python -m tests.checkpoint_child ARGS`: the real `nas train` command line, killed with SIGKILL right after
its first epoch's checkpoint is written (a kill at a known point: the test needs no race with the clock)."""
import os
import signal
import sys

from nas.cli import main
from nas.training import checkpoint

if __name__ == "__main__":
    save = checkpoint._Saver.__call__

    def save_then_die(self, state):
        save(self, state)
        if len(state.history) == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint._Saver.__call__ = save_then_die
    sys.exit(main(sys.argv[1:]))
