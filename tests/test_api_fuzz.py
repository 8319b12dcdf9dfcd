"""Python API fuzzer: wrong types and out-of-range values on every public method of Map and
Program give pybpf's errors, or a TypeError/ValueError that says what was expected, never a
bare CPython error (AttributeError, OverflowError, IndexError, "object of type ... has no len()").

``PYBPF_API_FUZZ_EXAMPLES`` sets the number of examples per test (default 150 in the suite;
bench/fuzz_api.py runs it with 10,000)."""

from __future__ import annotations

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pybpf import Map, MapType  # noqa: E402
from pybpf.errors import BPFError  # noqa: E402
from pybpf.programs import Program  # noqa: E402

EXAMPLES = int(os.environ.get("PYBPF_API_FUZZ_EXAMPLES", "150"))

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=20), st.binary(max_size=40), st.lists(st.binary(max_size=8), max_size=3),
    st.dictionaries(st.binary(max_size=4), st.binary(max_size=8), max_size=2), st.just(object()),
    st.sampled_from([b"\0" * 4, b"\0" * 8, "a\0b", 2**31, 2**32, 2**64, -1, 0]),
)

# Raw CPython texts that say nothing about the call: a TypeError/ValueError must not be one.
BARE = ("has no len()", "not supported between instances", "object is not iterable", "object is not callable",
        "object cannot be interpreted as an integer", "can't concat", "unhashable type")

MAP_METHODS = {
    "lookup": 2, "get": 2, "update": 3, "delete": 1, "get_next_key": 1, "lookup_and_delete": 2, "push": 2,
    "pop": 0, "peek": 0, "lookup_batch": 2, "lookup_and_delete_batch": 2, "update_batch": 3, "delete_batch": 1,
    "update_many": 2, "delete_many": 1, "items": 1, "keys": 1, "values": 1, "pin": 1, "__contains__": 1,
}
MAP_TYPES = [(MapType.HASH, 4, 8, 8), (MapType.ARRAY, 4, 8, 4), (MapType.PERCPU_HASH, 4, 8, 8),
             (MapType.QUEUE, 0, 4, 4), (MapType.BLOOM_FILTER, 0, 4, 8), (MapType.LPM_TRIE, 8, 8, 8)]


def _check(call) -> None:
    try:
        r = call()
        if hasattr(r, "__next__"):  # a generator: its checks run when it is started
            for _ in zip(range(3), r):
                pass
    except BPFError:
        pass
    except (TypeError, ValueError) as e:
        msg = str(e)
        assert msg and not any(b in msg for b in BARE), f"bare {type(e).__name__}: {msg}"
    except KeyError:  # KeyNotFound is a BPFError; any other KeyError is not ours
        raise


@pytest.fixture(scope="module")
def maps():
    from pybpf.maps import MapFlags

    ms = []
    for t, ks, vs, me in MAP_TYPES:
        flags = MapFlags.NO_PREALLOC if t == MapType.LPM_TRIE else 0
        ms.append(Map.create(t, ks, vs, me, flags=flags))
    yield ms
    for m in ms:
        m.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(which=st.integers(0, len(MAP_TYPES) - 1), method=st.sampled_from(sorted(MAP_METHODS)),
       args=st.lists(JUNK, max_size=3), bpffs=st.just("/nonexistent"))
def test_map_methods_with_junk(maps, which, method, args, bpffs):
    m = maps[which]
    if method == "pin":
        args = [f"{bpffs}/{args[0]!r}"[:60]] if args else [bpffs]
    _check(lambda: getattr(m, method)(*args[: max(MAP_METHODS[method], 0)]))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(args=st.lists(JUNK, min_size=4, max_size=4), kw=st.dictionaries(
    st.sampled_from(["name", "flags", "numa_node", "map_extra", "ifindex", "btf_fd", "btf_key_type_id",
                     "btf_value_type_id", "inner_map"]), JUNK, max_size=3))
def test_map_create_with_junk(args, kw):
    created = []

    def call():
        m = Map.create(*args, **kw)
        created.append(m)

    _check(call)
    for m in created:
        m.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(ctor=st.sampled_from(["from_id", "from_fd", "from_pinned", "from_name"]), arg=JUNK)
def test_constructors_with_junk(ctor, arg):
    for cls in (Map, Program):
        if not hasattr(cls, ctor):
            continue
        opened = []

        def call(cls=cls, opened=opened):
            r = getattr(cls, ctor)(arg)
            opened.extend(r if isinstance(r, list) else [r])

        _check(call)
        for o in opened:
            o.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(args=st.lists(JUNK, min_size=2, max_size=2), kw=st.dictionaries(
    st.sampled_from(["license", "name", "expected_attach_type", "attach_btf_id", "log_level", "log_size"]),
    JUNK, max_size=3))
def test_program_load_with_junk(args, kw):
    loaded = []

    def call():
        loaded.append(Program.load(*args, **kw))

    _check(call)
    for p in loaded:
        p.close()
