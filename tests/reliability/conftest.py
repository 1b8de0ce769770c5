"""One local Ray for the in-process searches of this folder (the child-process tests start their own)."""
import pytest

from search_spaces import spaces
from tests.spaces.test_base import Plain


@pytest.fixture(scope="package")
def ray_local():
    """A local Ray on 127.0.0.1 with 2 CPUs, shared by every in-process search here."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


@pytest.fixture
def plain_space(monkeypatch):
    """The tiny literal space `plain` registered as the only space."""
    monkeypatch.setattr(spaces, "SPACES", {"plain": Plain()})
