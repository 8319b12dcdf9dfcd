"""pybpftool: bpftool's command line (``map`` and the top level), output-compatible with bpftool 7.1.0.

``main.py`` parses the options and dispatches, ``args.py`` is the token stream, ``output.py``
the plain/JSON writer, ``entries.py`` the element formatter, ``cmd_map.py`` the map commands.
"""
