"""pybpftool: bpftool's command line (``map`` and the top level), output-compatible with bpftool 7.1.0.

``main.py`` parses the options and dispatches, ``args.py`` is the token stream, ``output.py``
the plain/JSON writer, ``common.py`` what every command shares (dispatch, MAP/PROG, pins,
exit status), ``entries.py`` the element formatters, ``cmd_map.py`` and ``dump.py`` the map
commands. Command modules import ``common``, never one another.
"""


def default_signals() -> None:
    """Signals as a C program has them: SIGPIPE and SIGXFSZ kill (Python ignores them), SIGINT
    kills rather than raising KeyboardInterrupt. Called first thing by the entry points."""
    import _signal

    _signal.signal(_signal.SIGINT, _die)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)


def _die(signum, frame) -> None:
    # A Python-level handler rather than SIG_DFL: a SIGINT caught by Python's own handler before
    # it was replaced still arrives here (with SIG_DFL, Python would report it and go on).
    import _signal
    import posix  # not os: under -S it may still be half imported

    _signal.signal(signum, _signal.SIG_DFL)
    posix.kill(posix.getpid(), signum)


def run() -> int:
    """The ``pybpftool`` console script."""
    default_signals()
    from pybpf.cli.main import main

    return main()


def _startup() -> None:
    import sys

    if sys.argv and sys.argv[0].rpartition("/")[2] == "pybpftool":
        default_signals()


# A console script imports this package before it calls main(): the sooner the better. A SIGINT
# that Python's own handler turned into KeyboardInterrupt meanwhile still ends the run by SIGINT.
try:
    _startup()
except KeyboardInterrupt:
    _die(2, None)
