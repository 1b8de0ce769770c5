"""Safety: specs and configs are parsed as data only (JSON; no pickle, no YAML, no eval); the one pickle
format we read (CIFAR batches) goes through an unpickler that rebuilds arrays and refuses everything else;
any weights would load with weights_only=True; storage passwords are masked in every message."""
import ast
import os
import pickle

import pytest

from nas.search.study import _scrub, mask_url
from nas.training.data import DataError, DataSource, load
from search_spaces.errors import SpecError
from search_spaces.spec import from_json
from tests.reliability.helpers import ROOT

SOURCES = sorted(p for pkg in ("nas", "search_spaces", "scaling") for p in (ROOT / pkg).rglob("*.py"))
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}
UNSAFE_ATTRS = {("pickle", "load"), ("pickle", "loads"), ("yaml", "load"), ("yaml", "unsafe_load"),
                ("yaml", "full_load"), ("marshal", "loads"), ("dill", "load"), ("dill", "loads"),
                ("shelve", "open"), ("jsonpickle", "decode")}


def _calls(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            yield node


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_from_data(path):
    for call in _calls(path):
        func = call.func
        if isinstance(func, ast.Name):
            assert func.id not in UNSAFE_CALLS, f"{path}:{call.lineno}: {func.id}()"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            pair = (func.value.id, func.attr)
            assert pair not in UNSAFE_ATTRS, f"{path}:{call.lineno}: {'.'.join(pair)}()"
            if pair == ("torch", "load"):
                safe = any(k.arg == "weights_only" and getattr(k.value, "value", None) is True for k in call.keywords)
                assert safe, f"{path}:{call.lineno}: torch.load without weights_only=True"


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module.split(".")[0]


def test_the_only_unpickler_is_restricted():
    risky = {"pickle", "cloudpickle", "dill", "marshal", "shelve", "yaml", "jsonpickle"}
    users = {p.relative_to(ROOT).as_posix(): sorted(risky & set(_imports(p))) for p in SOURCES}
    assert {k: v for k, v in users.items() if v} == {"nas/training/data.py": ["pickle"]}
    text = (ROOT / "nas" / "training" / "data.py").read_text()
    assert "class _ArrayUnpickler(pickle.Unpickler)" in text and "def find_class" in text


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_hostile_cifar_pickle_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    for name in ("data_batch_1", "test_batch"):
        (tmp_path / name).write_bytes(pickle.dumps({b"data": _Exploit(marker), b"labels": [0]}))
    with pytest.raises(DataError, match=r"data_batch_1: .*global posix.system is not allowed in a dataset file"):
        load(DataSource("cifar10", str(tmp_path)))
    assert not marker.exists()


def test_spec_json_is_data_only(tmp_path):
    marker = tmp_path / "pwned"
    hostile = ['{"__reduce__": "os.system"}', f"!!python/object/apply:os.system ['touch {marker}']",
               f'{{"stem": [{{"cell": "__import__(\'os\').system(\'touch {marker}\')"}}], "stages": [], "head": []}}']
    for text in hostile:
        with pytest.raises(SpecError):
            from_json(text)
    assert not marker.exists()


@pytest.mark.parametrize("url", [
    "postgresql://nas:hunter2@db.example:5432/studies",
    "postgresql+psycopg2://nas:hunter2@127.0.0.1/studies?sslmode=require",
    "mysql+pymysql://root:hunter2@localhost/nas",
])
def test_passwords_are_masked(url):
    assert "hunter2" not in mask_url(url) and "***" in mask_url(url)
    assert _scrub(f"could not connect with {url}: password hunter2 refused", url).count("hunter2") == 0
