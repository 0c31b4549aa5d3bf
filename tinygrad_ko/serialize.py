"""Saving and loading parameters: ``save(state, path)`` and ``load(path)``, as ``.npz``.

A save is atomic: the file is written next to its destination under a temporary name, flushed
to disk, and renamed over the destination in one step, so a crash mid-write leaves the previous
file whole. A marker entry tells tinygrad_ko's files from other ``.npz`` files; loading never
unpickles anything. Errors name the user's path, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_ko.tensor import Tensor

MARKER = "__tinygrad_ko__"
FORMAT_VERSION = 1
# np.savez takes the entries as keyword arguments: these names are its own parameters.
_RESERVED = {MARKER, "file", "allow_pickle"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(path: Path, error: OSError, creating: bool) -> str:
    """Why ``path`` could not be written, in the user's terms (the OSError names the temporary
    file, which the user never asked for); ``creating``: the temporary file could not be made."""
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return "it is a folder"
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        for folder in path.parents:  # the nearest ancestor that exists tells what went wrong
            if folder.is_dir():
                break
            if folder.exists():
                return f"{folder} is a file, not a folder"
            if folder.parent.is_dir():
                return f"the folder {folder} does not exist"
    if isinstance(error, PermissionError):
        return f"no permission to write in {path.parent}"
    cause = error.strerror or str(error)
    return f"cannot create a file in {path.parent} ({cause})" if creating else cause


def _cannot_write(path: Path, error: OSError, creating: bool) -> OSError:
    """``error`` again, of the same type and errno, with a message naming ``path``."""
    failure = type(error)(f"save: cannot write {path}: {_reason(path, error, creating)}")
    failure.errno = error.errno
    return failure


def _temporary_file(path: Path) -> tuple[int, str]:
    """A new private file beside ``path`` (same folder, so ``os.replace`` is one atomic step)."""
    if path.is_dir():  # else the error would come only at the rename, after all the writing
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def why_unwritable(path: str | os.PathLike) -> str | None:
    """Why ``save(state, path)`` could not write ``path`` ("it is a folder", "the folder ... does
    not exist", ...), or None when it could; ``path`` itself is left alone. It creates and
    removes a file beside ``path``, as permission bits cannot tell (root ignores them, and some
    file systems refuse everyone)."""
    path = Path(path)
    try:
        handle, temporary = _temporary_file(path)
    except OSError as error:
        return _reason(path, error, creating=True)
    os.close(handle)
    os.unlink(temporary)
    return None


def save(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` (names to arrays or Tensors, e.g. ``model.state_dict()``) to ``path``."""
    if not isinstance(state, dict):
        raise TypeError(f"save: expected a dict of name -> array, got {type(state).__name__}")
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str) or not name or name in _RESERVED or "\x00" in name:
            raise ValueError(f"save: invalid name {name!r}")
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"save: '{name}' is not numeric (dtype {array.dtype})")
        arrays[name] = array
    arrays[MARKER] = np.array(FORMAT_VERSION)
    # np.savez stores each name as the zip entry "<name>.npy", and np.load looks a name up among
    # the entries first: np.load(...)["x.npy"] would give the array saved as "x". Refuse such a
    # pair, so the file reads the same with np.load as with load.
    owner = {f"{name}.npy": name for name in arrays}
    for name in arrays:
        if name in owner:
            raise ValueError(f"save: the names {owner[name]!r} and {name!r} collide in an .npz "
                             f"file (NumPy stores {owner[name]!r} as the entry {name!r}); "
                             "rename one of them")
    path = Path(path)
    try:
        handle, temporary = _temporary_file(path)
    except OSError as error:
        raise _cannot_write(path, error, creating=True) from None
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
            os.fchmod(file.fileno(), 0o666 & ~_umask())  # mkstemp made it private (0600)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _cannot_write(path, error, creating=False) from None
        raise


def _holds_objects(archive: zipfile.ZipFile, entry: str) -> bool:
    """Whether the ``.npy`` header of ``entry`` declares Python objects, which only unpickling
    could read. An entry that is not a readable ``.npy`` is left for the loading to report."""
    with archive.open(entry) as member:
        try:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            _, _, dtype = read_header(member)
        except Exception:
            return False
    return dtype.hasobject


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read what ``save`` wrote: a dict of names to arrays. A file that is truncated, corrupted
    or not written by tinygrad_ko raises ``ValueError`` saying so; a missing file raises
    ``FileNotFoundError``."""
    with open(path, "rb") as file:  # missing file, folder, no permission: raised as they are
        signature = file.read(4)
    if signature != b"PK\x03\x04":
        raise ValueError(f"load: {path} is not a tinygrad_ko parameter file: not an .npz "
                         "archive (empty, truncated, corrupted or another format)")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads every entry: checksums catch flipped bits
            if damaged is not None:
                raise ValueError(f"load: {path} is corrupted (entry {damaged!r} fails its "
                                 "checksum)")
            entries = archive.namelist()
            pickled = [entry.removesuffix(".npy") for entry in entries
                       if _holds_objects(archive, entry)]
        if pickled:  # said before anything else: np.load would call it a damaged file
            raise ValueError(f"load: {path} contains Python objects; refusing to unpickle "
                             f"them ({pickled[0]!r} has dtype object; a parameter file holds "
                             "only numbers)")
        with np.load(path, allow_pickle=False) as archive:
            if MARKER not in archive.files:
                raise ValueError(f"load: {path} is not a tinygrad_ko parameter file "
                                 f"(no '{MARKER}' entry)")
            version = int(archive[MARKER])
            if version != FORMAT_VERSION:
                raise ValueError(f"load: {path} has format version {version}, this tinygrad_ko "
                                 f"reads version {FORMAT_VERSION}")
            # Read each array by its entry's full name: NumPy's short name ("x" for the entry
            # "x.npy") can also be another entry's full name, as in a file np.savez wrote with
            # both "x" and "x.npy".
            return {entry.removesuffix(".npy"): archive[entry] for entry in entries
                    if entry != f"{MARKER}.npy"}
    except ValueError as error:
        if str(error).startswith("load:"):
            raise
        raise ValueError(f"load: {path} is truncated or corrupted ({error})") from None
    except Exception as error:  # zipfile and the .npy parser fail in many ways on damage
        raise ValueError(f"load: {path} is truncated or corrupted "
                         f"({type(error).__name__}: {error})") from None
