"""pybpftool: bpftool's command line (``map`` and the top level), output-compatible with bpftool 7.1.0.

``main.py`` parses the options and dispatches, ``args.py`` is the token stream, ``output.py``
the plain/JSON writer, ``common.py`` what every command shares (dispatch, MAP/PROG, pins,
exit status), ``entries.py`` the element formatters, ``cmd_map.py`` and ``dump.py`` the map
commands. Command modules import ``common``, never one another.
"""
