"""Saving and loading parameters: ``save(state, path)`` and ``load(path)``, as ``.npz``.

A save is atomic: the file is written next to its destination under a temporary name, flushed
to disk, and renamed over the destination in one step, so a crash mid-write leaves the previous
file whole. A marker entry tells tinygrad_ko's files from other ``.npz`` files; loading never
unpickles anything.
"""

from __future__ import annotations

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
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
            os.fchmod(file.fileno(), 0o666 & ~_umask())  # mkstemp made it private (0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
            raise ValueError(f"load: {path} is corrupted (entry {damaged!r} fails its checksum)")
        with np.load(path, allow_pickle=False) as archive:
            if MARKER not in archive.files:
                raise ValueError(f"load: {path} is not a tinygrad_ko parameter file "
                                 f"(no '{MARKER}' entry)")
            version = int(archive[MARKER])
            if version != FORMAT_VERSION:
                raise ValueError(f"load: {path} has format version {version}, this tinygrad_ko "
                                 f"reads version {FORMAT_VERSION}")
            return {name: archive[name] for name in archive.files if name != MARKER}
    except ValueError as error:
        if str(error).startswith("load:"):
            raise
        raise ValueError(f"load: {path} is truncated or corrupted ({error})") from None
    except Exception as error:  # zipfile and the .npy parser fail in many ways on damage
        raise ValueError(f"load: {path} is truncated or corrupted "
                         f"({type(error).__name__}: {error})") from None
