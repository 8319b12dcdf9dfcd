"""``pybpftool``: option parsing (GNU getopt_long, as bpftool's main.c), object dispatch, exit status."""

from __future__ import annotations

import sys

from pybpf.cli.args import Args, Usage, is_prefix
from pybpf.cli.common import cmd_select
from pybpf.cli.output import Output, die_by_signal

# getopt_long(argc, argv, "VhpjfLmndB:l", options): long name -> (short, takes an argument).
_LONG = (
    ("json", "j", False), ("help", "h", False), ("pretty", "p", False), ("version", "V", False),
    ("bpffs", "f", False), ("mapcompat", "m", False), ("nomount", "n", False), ("debug", "d", False),
    ("use-loader", "L", False), ("base-btf", "B", True), ("legacy", "l", False),
)
_SHORT = "VhpjfLmndl"
_SHORT_ARG = "B"


class Options:
    """The global options, and what bpftool keeps in globals for usage()."""

    __slots__ = ("bin_name", "json", "pretty", "show_pinned", "nomount", "debug", "legacy", "base_btf",
                 "last_help")

    def __init__(self, bin_name: str):
        self.bin_name = bin_name
        self.json = self.pretty = self.show_pinned = self.nomount = self.debug = self.legacy = False
        self.base_btf: str | None = None
        self.last_help = None  # (help function, Args) for usage()


def getopt(argv: list[str]):
    """GNU getopt_long with permutation. Yields (opt, optarg, argv, optind) per option, '?' for an
    error (``argv[optind - 1]`` is then the word bpftool names); returns the operands at the end
    via StopIteration.value."""
    argv = list(argv)
    argc = len(argv)
    optind = first = last = 1
    nextchar = ""

    def exchange() -> None:
        nonlocal first, last
        # Move the options in [last, optind) before the operands in [first, last).
        argv[first:optind] = argv[last:optind] + argv[first:last]
        first += optind - last
        last = optind

    while True:
        if not nextchar:
            if last > optind:
                last = optind
            if first > optind:
                first = optind
            if first != last and last != optind:
                exchange()
            elif last != optind:
                first = optind
            while optind < argc and (not argv[optind].startswith("-") or argv[optind] == "-"):
                optind += 1
            last = optind
            if optind != argc and argv[optind] == "--":
                optind += 1
                if first != last and last != optind:
                    exchange()
                elif first == last:
                    first = optind
                last = argc
                optind = argc
            if optind == argc:
                if first != last:
                    optind = first
                return argv[optind:]
            word = argv[optind]
            if word.startswith("--"):
                body = word[2:]
                name, eq, value = body.partition("=")
                optind += 1
                exact = [o for o in _LONG if o[0] == name]
                found = exact or [o for o in _LONG if o[0].startswith(name)]
                if len(found) != 1:
                    yield "?", None, argv, optind
                    continue
                _, short, has_arg = found[0]
                if eq:
                    if not has_arg:
                        yield "?", None, argv, optind
                        continue
                    yield short, value, argv, optind
                elif has_arg:
                    if optind < argc:
                        optind += 1
                        yield short, argv[optind - 1], argv, optind
                    else:
                        yield "?", None, argv, optind
                else:
                    yield short, None, argv, optind
                continue
            nextchar = word[1:]
        c = nextchar[0]
        nextchar = nextchar[1:]
        if not nextchar:
            optind += 1
        if c in _SHORT:
            yield c, None, argv, optind
        elif c in _SHORT_ARG:
            if nextchar:
                optarg = nextchar
                optind += 1
            elif optind == argc:
                yield "?", None, argv, optind
                continue
            else:
                optarg = argv[optind]
                optind += 1
            nextchar = ""
            yield c, optarg, argv, optind
        else:
            yield "?", None, argv, optind


def _bin_name(argv0: str) -> str:
    name = argv0.rsplit("/", 1)[-1]
    return "pybpftool" if not name or name.endswith(".py") or name == "-c" else name


def do_help(args: Args, out: Output) -> int:
    """bpftool's top-level help (stderr), or ``null`` under -j."""
    if out.json:
        out.null()
        return 0
    b = out.opts.bin_name
    out.stderr(
        f"Usage: {b} [OPTIONS] OBJECT {{ COMMAND | help }}\n"
        f"       {b} batch file FILE\n"
        f"       {b} version\n"
        "\n"
        "       OBJECT := { prog | map | link | cgroup | perf | net | feature | btf | gen | struct_ops | iter }\n"
        "       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} |\n"
        "                    {-V|--version} }\n"
    )
    return 0


def do_version(args: Args, out: Output) -> int:
    """pybpftool's own version, in bpftool's layout."""
    from pybpf import __version__

    if out.json:
        out.start_object()
        out.string_field("version", __version__)
        out.name("libbpf_version")
        out.null()
        out.name("features")
        out.start_object()
        out.bool_field("libbfd", False)
        out.bool_field("libbpf_strict", False)
        out.bool_field("skeletons", False)
        out.end_object()
        out.end_object()
    else:
        out.write(f"{out.opts.bin_name} v{__version__}\nusing pybpf v{__version__} (bpf(2) through ctypes, no libbpf)\n"
                  "features:\n")
    return 0


_WS = " \t\r\n"
_LINE_MAX = 65536
_ARGS_MAX = 4096


def _make_args(line: str, cmd_nb: int, out: Output) -> list[str] | None:
    """bpftool's make_args: split on blanks; a word opened by ' or " runs to the same quote."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in _WS:
            i += 1
        if i >= n:
            break
        if len(words) >= _ARGS_MAX - 1:
            out.error(f"too many arguments to command {cmd_nb}")
            return None
        if line[i] in "'\"":
            end = line.find(line[i], i + 1)
            if end < 0:
                out.error(f"unterminated quoted string in command {cmd_nb}")
                return None
            words.append(line[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < n and line[j] not in _WS:
                j += 1
            words.append(line[i:j])
            i = j + 1
    return words


def do_batch(args: Args, out: Output) -> int:
    """``batch file FILE``: run each line of FILE ('-': stdin) as a pybpftool command."""
    if len(args) < 2:
        out.error("too few parameters for batch")
        return -1
    if not is_prefix(args.cur, "file"):
        out.error(f"expected 'file', got: {args.cur}")
        return -1
    if len(args) > 2:
        out.error("too many parameters for batch")
        return -1
    args.next()
    path = args.cur
    try:
        f = _stdin() if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as e:
        import os

        out.error(f"Can't open file ({path}): {os.strerror(e.errno or 0)}")
        return -1
    if out.json:
        out.start_array()
    lines = 0
    err = 0
    read_error = None
    try:
        while True:
            try:
                raw = f.readline(_LINE_MAX - 1)
            except OSError as e:
                read_error = e.errno
                break
            if not raw:
                break
            buf = raw.decode("utf-8", "surrogateescape").partition("#")[0]
            if len(raw) == _LINE_MAX - 1 and not raw.endswith(b"\n"):
                import errno

                read_error = errno.E2BIG
                break
            while "\\\n" in buf:
                cont = f.readline(_LINE_MAX - 1)
                if not cont:
                    out.error(f"missing continuation line on command {lines}")
                    return _batch_end(out, f, -1)
                text = cont.decode("utf-8", "surrogateescape").partition("#")[0]
                if len(buf) + len(text) + 1 > _LINE_MAX:
                    out.error(f"command {lines} is too long")
                    return _batch_end(out, f, -1)
                buf = buf[:-2] + text
            words = _make_args(buf, lines, out)
            if words is None:
                return _batch_end(out, f, -1)
            if not words:
                continue
            if out.json:
                out.start_object()
                out.name("command")
                out.start_array()
                for w in words:
                    out.string(w)
                out.end_array()
                out.name("output")
            err = cmd_select(OBJECTS, Args(words, 0), out, do_help)
            if out.json:
                out.end_object()
            if err:
                return _batch_end(out, f, err)
            lines += 1
        if read_error is not None:
            import os

            out.error(f"reading batch file failed: {os.strerror(read_error)}")
            return _batch_end(out, f, -1)
        if not out.json:
            out.write(f"processed {lines} commands\n")
        return _batch_end(out, f, 0)
    except BaseException:
        f.close()
        raise


class _NoStdin:
    """stdin when the process was started without one: reading fails as read(0) would."""

    def readline(self, size: int = -1) -> bytes:
        import errno

        raise OSError(errno.EBADF, "Bad file descriptor")

    def close(self) -> None:
        pass


class _Stdin:
    """stdin's bytes, left open at the end."""

    def __init__(self, f):
        self.readline = f.readline

    def close(self) -> None:
        pass


def _stdin():
    return _Stdin(sys.stdin.buffer) if sys.stdin is not None else _NoStdin()


def _batch_end(out: Output, f, err: int) -> int:
    f.close()
    if out.json:
        out.end_array()
    return err


# bpftool's object table, in its order (prefixes resolve against it): a function, a module
# name, or None (not in pybpftool).
OBJECTS = (
    ("help", do_help),
    ("batch", do_batch),
    ("prog", None),
    ("map", "pybpf.cli.cmd_map"),
    ("link", None),
    ("cgroup", None),
    ("perf", None),
    ("net", None),
    ("feature", None),
    ("btf", None),
    ("gen", None),
    ("struct_ops", None),
    ("iter", "pybpf.cli.cmd_iter"),
    ("version", do_version),
)


def _usage(out: Output) -> int:
    help_fn, args = out.opts.last_help or (do_help, Args([], 0))
    help_fn(args, out)
    # bpftool aborts on an assertion when usage() ends a batch inside its JSON array; close it.
    if out.json:
        out.end_all()
    return 255


def main(argv: list[str] | None = None) -> int:
    """Run pybpftool with ``argv`` (default ``sys.argv``, a program run: C's signal dispositions
    too); returns the exit status."""
    program = argv is None
    if program:
        from pybpf.cli import default_signals

        default_signals()
        argv = sys.argv
    opts = Options(_bin_name(argv[0] if argv else "pybpftool"))
    out = Output()
    out.opts = opts
    version = False
    opts.last_help = (do_help, Args([], 0))
    try:
        try:
            gen = getopt(argv)
            while True:
                try:
                    opt, optarg, cur, optind = next(gen)
                except StopIteration as stop:
                    words = stop.value
                    break
                if opt == "V":
                    version = True
                elif opt == "h":
                    do_help(Args([], 0), out)
                    out.close(newline=False)
                    return 0
                elif opt in "pj":
                    if opt == "p":
                        opts.pretty = True
                    opts.json = out.json = True
                    out.pretty = opts.pretty
                elif opt == "f":
                    opts.show_pinned = True
                elif opt == "n":
                    opts.nomount = True
                elif opt == "d":
                    opts.debug = True
                elif opt == "l":
                    opts.legacy = True
                elif opt == "B":
                    import os

                    if not os.path.isfile(optarg):
                        out.error(f"failed to parse base BTF at '{optarg}': -2\n")
                        # bpftool returns from main() here, without jsonw_destroy's newline.
                        return _finish(out, 255, newline=False)
                    opts.base_btf = optarg
                elif opt == "?":
                    out.error(f"unrecognized option '{cur[optind - 1]}'")
                    if out.json:
                        return _finish(out, 255)
                    do_help(Args([], 0), out)
                    return _finish(out, 255)
            if version:
                do_version(Args(words, 0), out)
                out.close(newline=False)
                return 0
            ret = cmd_select(OBJECTS, Args(words, 0), out, do_help)
        except Usage:
            ret = _usage(out)
        return _finish(out, ret)
    except BrokenPipeError:
        die_by_signal(13)
        raise
    except KeyboardInterrupt:
        if program:  # only if it came before default_signals(): die as the signal would have us
            die_by_signal(2)
        raise
    except Exception as e:  # a bug: still an error line and a status, never a traceback
        out.error(f"internal error: {type(e).__name__}: {e}")
        return _finish(out, 255)


def _finish(out: Output, ret: int, newline: bool = True) -> int:
    try:
        out.close(newline)
    except BrokenPipeError:
        die_by_signal(13)
        raise
    return ret & 0xFF


if __name__ == "__main__":
    sys.exit(main())
