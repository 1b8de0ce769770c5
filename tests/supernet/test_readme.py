"""The README's supernet example runs as written and its last line is True."""
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_supernet_example_runs():
    section = README.read_text().split("## Supernets", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    *lines, last = block.strip().splitlines()
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    assert eval(last.split("#")[0], namespace) is True
