"""Signals at random points of a run: pybpftool ends as bpftool does (killed by the signal, or done),
and never prints a traceback once the CLI's code runs. A signal during the interpreter's own start-up,
before any pybpf code, is out of pybpf's reach (see README)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from .conftest import ENV, PYBPFTOOL

RUNS = 60


def _launchers(tmp_path):
    """pip's console script, `python -m pybpf`, and a `python -S` launcher like setup.sh's."""
    py = os.path.join(os.path.dirname(PYBPFTOOL), "python")
    src = os.path.dirname(os.path.dirname(os.path.abspath(__import__("pybpf").__file__)))
    launcher = tmp_path / "pybpftool"
    launcher.write_text(f"#!{py} -S\nimport sys\nsys.path[:0] = [{src!r}]\nfrom pybpf.cli.main import main\n"
                        "sys.exit(main())\n")
    launcher.chmod(0o755)
    return {"console-script": [PYBPFTOOL], "python-m": [py, "-m", "pybpf"], "launcher": [str(launcher)]}


@pytest.mark.parametrize("env", [{"PYTHONUNBUFFERED": "1"}, {"PYTHONUNBUFFERED": "", "PYTHONDONTWRITEBYTECODE": "1"}],
                         ids=["unbuffered", "buffered"])
@pytest.mark.parametrize("how", ["console-script", "python-m", "launcher"])
def test_signal_at_random_point(shared, tmp_path, how, env):
    argv = _launchers(tmp_path)[how]
    rng = random.Random(f"{how}{env}")
    startup = 0
    for i in range(RUNS):
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        args = ["map", "dump", "pinned", shared.path("hash")] if i % 2 else ["map", "show"]
        p = subprocess.Popen(argv + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**ENV, **env})
        time.sleep(rng.uniform(0, 0.05))
        p.send_signal(sig)
        err = p.stderr.read()
        rc = p.wait()
        if (b"Traceback" in err or b"KeyboardInterrupt" in err) and b"/pybpf/cli/" not in err:
            startup += 1  # raised in the interpreter's, the launcher's or `import pybpf`'s start-up
            continue
        assert b"Traceback" not in err and b"Exception" not in err, err.decode(errors="replace")
        assert rc in (0, -sig), (rc, err)
    assert startup < RUNS // 2, f"{startup} of {RUNS} runs stopped in start-up"


def test_sigint_during_long_dump_kills_by_sigint(shared):
    """A blocked write (a full pipe nobody reads) ends by the signal too."""
    r, w = os.pipe()
    try:
        p = subprocess.Popen([PYBPFTOOL, "map", "show"], stdout=w, stderr=subprocess.PIPE, env=ENV)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        err = p.stderr.read()
        assert p.wait() in (0, -signal.SIGINT) and b"Traceback" not in err
    finally:
        os.close(r)
        os.close(w)
