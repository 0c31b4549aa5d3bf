"""Tests of ``tinygrad_ko.serialize``: ``save``/``load`` round trips (values, dtypes, shapes,
bit-exact), a model through a file, atomic writes (a crash at any point of a save leaves the old
file whole and no temporary file behind), the errors of ``load`` on truncated, corrupted and
foreign files, and the errors of ``save``, which must leave the destination untouched.

Expected values are the arrays the test itself wrote; damaged files are made here byte by byte.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_ko as tg
from tinygrad_ko import nn, serialize

MARKER = "__tinygrad_ko__"  # the entry that marks tinygrad_ko's files (serialize's docstring)


def assert_exactly_equal(got: dict, expected: dict) -> None:
    """Same names, and for each the same dtype, shape and bytes (so NaN, -0.0 round trip too)."""
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        value = np.asarray(value.data if isinstance(value, tg.Tensor) else value)
        assert isinstance(got[name], np.ndarray), name
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        assert got[name].tobytes() == value.tobytes(), name


def sample_state() -> dict:
    return {
        "0.weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "0.bias": np.array([1.5, -0.0, np.nan, np.inf, -np.inf]),
        "steps": np.array([3, -2, 2**40], dtype=np.int64),
        "count": np.array(7, dtype=np.int64),      # 0-d
        "scale": np.array(0.25, dtype=np.float32),  # 0-d
        "empty": np.zeros((0, 3)),
    }


# ---- round trips ---------------------------------------------------------------------------------


def test_round_trip_is_exact(tmp_path):
    state = sample_state()
    path = tmp_path / "state.npz"
    tg.save(state, path)
    assert_exactly_equal(tg.load(path), state)
    assert_exactly_equal(tg.load(str(path)), state)


def test_tensors_and_parameters_are_saved_as_their_values(tmp_path):
    t = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (t * t).sum().backward()
    state = {"t": t, "p": nn.Parameter(np.eye(2)), "n": tg.Tensor(np.array(3.0))}
    tg.save(state, tmp_path / "t.npz")
    loaded = tg.load(tmp_path / "t.npz")
    assert_exactly_equal(loaded, {"t": t.data, "p": np.eye(2), "n": np.array(3.0)})
    assert loaded["t"].dtype == np.float32


DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_]


@given(state=st.dictionaries(
    keys=st.from_regex(r"[a-z][a-z0-9_.]{0,12}", fullmatch=True),
    values=st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(
        dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))),
    max_size=4,
))
def test_round_trip_is_exact_for_any_numeric_arrays(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("roundtrip") / "state.npz"
    tg.save(state, path)
    assert_exactly_equal(tg.load(path), state)


def test_a_model_through_a_file_gives_identical_outputs(tmp_path):
    source = nn.mlp([4, 8, 3], rng=0)
    target = nn.mlp([4, 8, 3], rng=1)
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    assert not np.array_equal(source(x).data, target(x).data)
    tg.save(source.state_dict(), tmp_path / "model.npz")
    target.load_state_dict(tg.load(tmp_path / "model.npz"))
    np.testing.assert_array_equal(target(x).data, source(x).data)
    for (name, p), (_, q) in zip(source.named_parameters(), target.named_parameters()):
        assert q.dtype == p.dtype, name
        np.testing.assert_array_equal(q.data, p.data, err_msg=name)


def test_save_writes_exactly_the_given_path_an_npz_that_numpy_reads(tmp_path):
    path = tmp_path / "weights.bin"  # no .npz appended, unlike np.savez(filename)
    tg.save({"w": np.ones(2)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(["w", MARKER])
        np.testing.assert_array_equal(archive["w"], np.ones(2))


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "state.npz"
    tg.save({"old": np.ones(3)}, path)
    tg.save({"new": np.zeros(2)}, path)
    assert_exactly_equal(tg.load(path), {"new": np.zeros(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["state.npz"]


def test_a_saved_file_gets_the_usual_permissions(tmp_path):
    # as a file written by np.savez or open(): 0o666 less the umask, readable by others when the
    # umask allows it (a temporary file from mkstemp is 0o600 until its mode is set)
    reference = tmp_path / "reference"
    with open(reference, "wb"):
        pass
    tg.save({"w": np.ones(2)}, tmp_path / "state.npz")
    mode = os.stat(tmp_path / "state.npz").st_mode & 0o777
    assert oct(mode) == oct(os.stat(reference).st_mode & 0o777)


# ---- atomic writes -------------------------------------------------------------------------------


def _crash_while_writing(error):
    def savez(file, *args, **kwargs):
        file.write(b"PK\x03\x04" + b"\x00" * 100)  # half a zip file ...
        raise error  # ... and then the disk fills up, or the user presses Ctrl-C

    return savez


def _crash_at(error):
    def fail(*args, **kwargs):
        raise error

    return fail


def crash(monkeypatch, target: str, fake) -> None:
    """Replace ``np.savez``, ``os.fsync`` or ``os.replace`` as ``serialize`` reaches them."""
    module, name = target.split(".")
    monkeypatch.setattr(getattr(serialize, module), name, fake)


CRASHES = [
    pytest.param("np.savez", _crash_while_writing(OSError(28, "No space left on device")),
                 OSError, id="write-oserror"),
    pytest.param("np.savez", _crash_while_writing(KeyboardInterrupt()), KeyboardInterrupt,
                 id="write-interrupt"),
    pytest.param("os.fsync", _crash_at(OSError(5, "I/O error")), OSError, id="fsync"),
    pytest.param("os.replace", _crash_at(OSError(18, "cross-device link")), OSError,
                 id="replace"),
]


@pytest.mark.parametrize("target, fake, error", CRASHES)
def test_a_crash_during_save_leaves_the_old_file_whole(tmp_path, monkeypatch, target, fake, error):
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "model.npz"
    good = sample_state()
    tg.save(good, path)
    good_bytes = path.read_bytes()

    crash(monkeypatch, target, fake)
    with pytest.raises(error):
        tg.save({"0.weight": np.zeros((3, 4))}, path)
    monkeypatch.undo()

    assert path.read_bytes() == good_bytes
    assert_exactly_equal(tg.load(path), good)
    assert [p.name for p in folder.iterdir()] == ["model.npz"]  # no temporary file left


@pytest.mark.parametrize("target, fake, error", CRASHES)
def test_a_crash_during_a_first_save_leaves_no_file(tmp_path, monkeypatch, target, fake, error):
    crash(monkeypatch, target, fake)
    with pytest.raises(error):
        tg.save({"w": np.ones(3)}, tmp_path / "model.npz")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


# ---- load errors ---------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path) -> tuple[Path, bytes, dict]:
    state = {"w": np.arange(1, 7, dtype=np.float64).reshape(2, 3) * 1.25,
             "b": np.array([10, 20, 30], dtype=np.int64)}
    path = tmp_path / "good.npz"
    tg.save(state, path)
    return path, path.read_bytes(), state


def test_a_truncated_file_raises_value_error_saying_so(saved, tmp_path):
    _, raw, _ = saved
    bad = tmp_path / "bad.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated"):
        tg.load(bad)
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="truncated"):
        tg.load(bad)


def test_every_truncation_raises_value_error(saved, tmp_path):
    _, raw, _ = saved
    bad = tmp_path / "bad.npz"
    for n in range(len(raw)):
        bad.write_bytes(raw[:n])
        with pytest.raises(ValueError, match=r"^load: ") as caught:
            tg.load(bad)
        # below 4 bytes not even the zip signature is left to recognise the file by
        if n == 0 or n >= 4:
            assert "truncated" in str(caught.value), (n, str(caught.value))


def test_a_flipped_byte_in_the_array_data_raises_value_error_saying_corrupted(saved, tmp_path):
    _, raw, state = saved
    at = raw.find(state["w"].tobytes())
    assert at > 0
    damaged = bytearray(raw)
    damaged[at + 3] ^= 0x10
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="corrupted"):
        tg.load(bad)


def test_any_single_damaged_byte_raises_value_error_or_loads_the_original(saved, tmp_path):
    # A damaged byte may be harmless (a timestamp in the zip directory), but it must never
    # give other values, nor an exception other than ValueError.
    _, raw, state = saved
    bad = tmp_path / "bad.npz"
    problems = []
    for at in range(len(raw)):
        for mask in (0x01, 0xFF):
            damaged = bytearray(raw)
            damaged[at] ^= mask
            bad.write_bytes(bytes(damaged))
            try:
                loaded = tg.load(bad)
            except ValueError:
                continue
            except Exception as error:
                problems.append((at, hex(mask), f"{type(error).__name__}: {error}"))
                continue
            try:
                assert_exactly_equal(loaded, state)
            except AssertionError:
                problems.append((at, hex(mask), "loaded different values"))
    assert not problems, f"{len(problems)} damaged files: {problems[:8]}"


def test_a_damaged_array_header_is_caught_not_loaded_as_a_shorter_array(tmp_path):
    # One flipped bit turns the shape (1000,) into (0000,) == (0,). The zip CRC of the entry no
    # longer matches; an array bigger than one read buffer must still be checked.
    path = tmp_path / "big.npz"
    tg.save({"w": np.arange(1000.0)}, path)
    raw = path.read_bytes()
    assert raw.count(b"(1000,)") == 1
    path.write_bytes(raw.replace(b"(1000,)", b"(0000,)"))
    with pytest.raises(ValueError, match="corrupted"):
        tg.load(path)


def test_a_foreign_npz_raises_value_error(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(ValueError, match=r"not a tinygrad_ko parameter file.*__tinygrad_ko__"):
        tg.load(path)


def test_a_npy_file_raises_value_error(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match=r"not a tinygrad_ko parameter file.*npz"):
        tg.load(path)


@pytest.mark.parametrize("content", [b"hello, world\n", b"w,b\n1.0,2.0\n", b"\x00" * 64])
def test_a_text_or_junk_file_raises_value_error(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"not a tinygrad_ko parameter file: not an \.npz archive"):
        tg.load(path)


def test_a_file_from_another_format_version_raises_value_error(tmp_path):
    path = tmp_path / "future.npz"
    np.savez(path, **{MARKER: np.array(2), "w": np.ones(3)})
    with pytest.raises(ValueError, match="version 2"):
        tg.load(path)


class _Trap:
    """Unpickling this makes a directory: proof that something was unpickled."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self):
        return os.mkdir, (str(self.flag),)


def test_load_never_unpickles(tmp_path):
    flag = tmp_path / "unpickled"
    path = tmp_path / "pickled.npz"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(flag)
    np.savez(path, **{MARKER: np.array(1), "w": trap})
    pickle.loads(pickle.dumps(_Trap(tmp_path / "check")))  # the trap works ...
    assert (tmp_path / "check").is_dir()
    with pytest.raises(ValueError, match=r"^load: "):
        tg.load(path)
    assert not flag.exists()  # ... and load did not spring it

    npy = tmp_path / "pickled.npy"
    np.save(npy, trap)
    with pytest.raises(ValueError, match=r"^load: "):
        tg.load(npy)
    assert not flag.exists()


def test_a_missing_file_raises_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "nothing.npz")


# ---- save errors ---------------------------------------------------------------------------------


def _save_errors():
    good = np.ones(2)
    return [
        pytest.param([("w", good)], TypeError, "dict", id="list-of-pairs"),
        pytest.param(None, TypeError, "dict", id="none"),
        pytest.param(nn.Linear(2, 2), TypeError, "dict", id="a-model-itself"),
        pytest.param({"w": good, "s": np.array(["a", "b"])}, TypeError, "'s'", id="strings"),
        pytest.param({"w": good, "o": np.array([{}, 1], dtype=object)}, TypeError, "'o'",
                     id="objects"),
        pytest.param({"w": good, "n": None}, TypeError, "'n'", id="none-value"),
        pytest.param({"w": good, "d": np.array(["2024-01-01"], dtype="datetime64[D]")},
                     TypeError, "'d'", id="dates"),
        pytest.param({"w": good, "": good}, ValueError, "name", id="empty-name"),
        pytest.param({"w": good, 3: good}, ValueError, "3", id="int-name"),
        pytest.param({"w": good, None: good}, ValueError, "None", id="none-name"),
        pytest.param({"w": good, MARKER: good}, ValueError, MARKER, id="marker-name"),
        # the zip format ends a name at a NUL byte: "a\0b" would come back as "a"
        pytest.param({"w": good, "a\x00b": good}, ValueError, "name", id="nul-in-name"),
    ]


@pytest.mark.parametrize("state, error, mentions", _save_errors())
def test_save_errors_leave_no_new_file(tmp_path, state, error, mentions):
    path = tmp_path / "model.npz"
    with pytest.raises(error, match=mentions):
        tg.save(state, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("state, error, mentions", _save_errors())
def test_save_errors_leave_an_existing_file_unchanged(tmp_path, state, error, mentions):
    path = tmp_path / "model.npz"
    good = sample_state()
    tg.save(good, path)
    good_bytes = path.read_bytes()
    with pytest.raises(error, match=mentions):
        tg.save(state, path)
    assert path.read_bytes() == good_bytes
    assert_exactly_equal(tg.load(path), good)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


@pytest.mark.parametrize("name", ["file", "allow_pickle"])
def test_names_that_numpy_savez_would_swallow_are_refused(tmp_path, name):
    path = tmp_path / "w.npz"
    with pytest.raises(ValueError, match="invalid name"):
        tg.save({name: np.ones(2)}, path)
    assert not path.exists()


# ---- names after NumPy's naming, pickled objects, errors naming the user's path ----------------


@pytest.mark.parametrize("first, second", [
    ("x", "x.npy"),                  # np.load(...)["x.npy"] finds the entry of "x"
    ("w.npy", "w.npy.npy"),
    (MARKER, f"{MARKER}.npy"),       # the marker is a name too
])
def test_names_that_collide_after_numpys_naming_are_refused_before_writing(tmp_path, first,
                                                                          second):
    path = tmp_path / "model.npz"
    tg.save({"w": np.ones(2)}, path)
    before = path.read_bytes()
    state = {second: np.zeros(3)} if first == MARKER else {first: np.ones(2), second: np.zeros(3)}
    with pytest.raises(ValueError, match="collide") as caught:
        tg.save(state, path)
    assert repr(first) in str(caught.value) and repr(second) in str(caught.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_load_reads_each_array_by_its_full_entry_name(tmp_path):
    # Written by np.savez itself, which takes both names: "x" is the entry "x.npy", "x.npy" the
    # entry "x.npy.npy", and each must come back with its own values.
    path = tmp_path / "both.npz"
    np.savez(path, **{MARKER: np.array(1), "x": np.ones(2), "x.npy": np.zeros(3)})
    assert_exactly_equal(tg.load(path), {"x": np.ones(2), "x.npy": np.zeros(3)})


@pytest.mark.parametrize("marked", [True, False], ids=["with-marker", "without-marker"])
def test_loading_pickled_objects_says_so_and_unpickles_nothing(tmp_path, marked):
    flag = tmp_path / "unpickled"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(flag)
    path = tmp_path / "objects.npz"
    np.savez(path, **({MARKER: np.array(1)} if marked else {}), w=np.ones(2), o=trap)
    with pytest.raises(ValueError, match="contains Python objects; refusing to unpickle") as e:
        tg.load(path)
    assert str(path) in str(e.value) and "'o'" in str(e.value)
    assert "corrupted" not in str(e.value)
    assert not flag.exists()


def _unwritable_paths(tmp_path: Path) -> list[tuple[Path, type, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"not a folder")
    return [
        (tmp_path / "missing" / "model.npz", FileNotFoundError,
         f"the folder {tmp_path / 'missing'} does not exist"),
        (tmp_path / "missing" / "deeper" / "model.npz", FileNotFoundError,
         f"the folder {tmp_path / 'missing'} does not exist"),
        (tmp_path, IsADirectoryError, "it is a folder"),
        # Read-only even for root: a regular file where a folder is expected, and /proc.
        (a_file / "inside" / "model.npz", NotADirectoryError, f"{a_file} is a file, not a folder"),
        (Path("/proc/model.npz"), OSError, "/proc"),
    ]


def test_save_errors_name_the_users_path_not_a_temporary_file(tmp_path):
    for path, error, reason in _unwritable_paths(tmp_path):
        with pytest.raises(error) as caught:
            tg.save({"w": np.ones(2)}, path)
        message = str(caught.value)
        assert message.startswith(f"save: cannot write {path}: "), message
        assert reason in message and ".tmp" not in message, message
        assert caught.value.errno is not None
        assert serialize.why_unwritable(path) in message  # what the command line reports
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing left behind


def test_why_unwritable_is_none_for_a_writable_path_and_touches_nothing(tmp_path):
    existing = tmp_path / "old.npz"
    existing.write_bytes(b"old")
    assert serialize.why_unwritable(tmp_path / "new.npz") is None
    assert serialize.why_unwritable(existing) is None
    assert [p.name for p in tmp_path.iterdir()] == ["old.npz"]
    assert existing.read_bytes() == b"old"
