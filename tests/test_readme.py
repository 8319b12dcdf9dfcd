"""The README's library examples run as written (pins redirected into a private bpffs dir)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run(bpffs_dir, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    code = "\n".join(blocks).replace("/sys/fs/bpf/", f"{bpffs_dir}/")
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["2", "None"]            # the values the comments promise
    assert out[-1] == "True"                   # map-in-map lookup gives the inner id
