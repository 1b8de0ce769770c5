"""Test-wide settings and shared fixtures: one torch thread (the tests build many small networks; on 2 cores
a second thread only adds contention), Optuna quiet, a local Ray per test module, the tiny `plain` space."""
import optuna
import pytest
import torch

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def ray_local():
    """A fresh local Ray on 127.0.0.1 with 2 CPUs for the in-process searches of one test module
    (address="local": never a `ray start` cluster another test left running)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


@pytest.fixture
def plain_space(monkeypatch):
    """The tiny literal space `plain` (tests/spaces/test_base.py) registered as the only space."""
    from search_spaces import spaces
    from tests.helpers import only_spaces
    from tests.spaces.test_base import Plain

    monkeypatch.setattr(spaces, "SPACES", only_spaces(Plain()))
