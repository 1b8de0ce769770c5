"""Test-wide settings and shared fixtures: one torch thread (the tests build many small networks; on 2 cores
a second thread only adds contention), Optuna quiet, a local Ray per test module, the tiny `plain` space, and
no GPU in this process for tests not marked `cuda`."""
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


@pytest.fixture(autouse=True)
def cpu_unless_marked_cuda(request, monkeypatch):
    """On a GPU machine the CPU tests still run on the CPU (`--device auto`, the default, would take the GPU
    torch sees); tests marked `cuda` see it."""
    if request.node.get_closest_marker("cuda") is None:
        import nas.training.device

        monkeypatch.setattr(nas.training.device, "cuda_devices", lambda: 0)
