"""``python -m pybpf``: the pybpftool command line."""

import sys

from pybpf.cli.main import main

sys.exit(main())
