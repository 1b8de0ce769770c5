"""A real Ray cluster: `ray start --head` on 127.0.0.1 plus one worker node (each a `--block` process we
own, so stopping them stops exactly this cluster), a small `nas search --address` on it, then the cluster
stopped. Each node has one CPU, so two concurrent trials need both nodes."""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import ROOT, assert_recorded_once, load, nas, search_argv

RAY = str(Path(sys.executable).parent / "ray")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_nodes(address, env):
    code = (f"import ray; ray.init(address={address!r}, _node_ip_address='127.0.0.1', log_to_driver=False); "
            "print(sum(n['Alive'] for n in ray.nodes()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else 0


@pytest.fixture
def cluster(tmp_path):
    """A head node and one worker node on 127.0.0.1 with token authentication (a token of our own);
    yields the address and the environment that reaches it; stops both nodes."""
    address = f"127.0.0.1:{_free_port()}"
    # a temp dir of our own (short: it holds Unix sockets) keeps Ray's "current cluster" file out of /tmp/ray,
    # where a plain ray.init() elsewhere on this machine would find this cluster and join it
    temp = tempfile.mkdtemp(prefix="nas-ray-", dir="/tmp")
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    env = os.environ | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}  # stop at once: nothing to drain
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1", "--temp-dir", temp]
    logs = [open(tmp_path / f"{name}.log", "w") for name in ("head", "worker")]
    head = subprocess.Popen([RAY, "start", "--head", "--port", address.split(":")[1], "--include-dashboard", "false",
                             *common], cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    nodes = [head]
    try:
        socket_ready(address, head)
        nodes.append(subprocess.Popen([RAY, "start", "--address", address, *common], cwd=ROOT, env=env,
                                      stdout=logs[1], stderr=subprocess.STDOUT))
        for _ in range(20):
            assert nodes[1].poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            if _alive_nodes(address, env) == 2:
                break
            time.sleep(1)
        else:
            raise AssertionError("the worker node never joined:\n" + (tmp_path / "worker.log").read_text()[-2000:])
        yield address, env
    finally:
        for node in reversed(nodes):
            node.terminate()  # `ray start --block` stops its node's processes on SIGTERM
        for node in reversed(nodes):
            node.wait(timeout=60)
        for log in logs:
            log.close()
        shutil.rmtree(temp, ignore_errors=True)


def socket_ready(address, proc, attempts=120):
    """Wait until the head's GCS port answers."""
    host, port = address.split(":")
    for _ in range(attempts):
        assert proc.poll() is None, "ray start --head exited"
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the head node never answered at {address}")


def test_search_on_a_two_node_cluster(tmp_path, cluster):
    address, env = cluster
    run = tmp_path / "run"
    child = nas(*search_argv(run, "--address", address, "--max-concurrent", "2", "--cpus-per-trial", "1", trials=4),
                env=env)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-3000:]
    assert f"Ray: {address}" in out
    study = load(f"sqlite:///{run / 'study.db'}")
    assert sum(t.user_attrs.get("status") == "trained" for t in study.get_trials()) == 4
    assert_recorded_once(study)
    assert _alive_nodes(address, env) == 2  # the search disconnected; the cluster it joined is still up until we stop it
