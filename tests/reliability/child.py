"""`python -m tests.reliability.child ARGS`: the real `nas` command line with the test space `plain`
registered, for tests that need a second process (signals, concurrent workers, a Ray cluster).

NAS_TEST_SLEEP="N:SECONDS" makes trials numbered N and up sleep that long in their Ray worker before
training, so an interrupt finds them running."""
import os
import sys

import nas.search.trial
from nas.cli import main
from search_spaces import spaces
from tests.reliability.helpers import faulty
from tests.spaces.test_base import Plain

if __name__ == "__main__":
    spaces.register(Plain())
    if os.environ.get("NAS_TEST_SLEEP"):
        first, _, seconds = os.environ["NAS_TEST_SLEEP"].partition(":")
        nas.search.trial.trial_fn = faulty({n: float(seconds) for n in range(int(first), 1000)})
    sys.exit(main(sys.argv[1:]))
