"""``python -m pybpf``: the pybpftool command line."""

from pybpf.cli import default_signals

default_signals()

import sys  # noqa: E402

from pybpf.cli.main import main  # noqa: E402

sys.exit(main())
