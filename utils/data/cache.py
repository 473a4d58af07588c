"""The cache of the course datasets: where it lives, manifests with checksums, atomic publish,
verified loads.

A dataset is built into ``<cache root>/<name>-<parameter digest>/``: written to a staging directory,
its ``manifest.json`` added (format version, parameters, size and CRC-32 of every file), then renamed
into place. A load checks the manifest and every file it reads; a missing, truncated, corrupted or
stale cache is reported (:class:`StaleCacheWarning`) and rebuilt, never used. Loading writes
nothing, so a complete cache on a read-only path loads; only building needs write access. Builds
into one cache root are serialised by a lock on the root directory: a process that waited for another
one's build loads that build instead of making its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import time
import uuid
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import fcntl
except ImportError:  # Windows: builds are not serialised between processes
    fcntl = None

#: Version of the cache layout and of the rendering recipe; a change makes old caches stale.
FORMAT_VERSION = 5


#: Version of the feature recipes in :mod:`utils.features`; a change makes cached features stale.
FEATURE_VERSION = 2


#: Environment variable that sets the cache root.
CACHE_ENV = "ML4MIR_DATA"


MANIFEST = "manifest.json"


class StaleCacheWarning(UserWarning):
    """A cache was found truncated, corrupted or stale, and is being rebuilt."""


class ReadOnlyCacheWarning(UserWarning):
    """A feature was computed but could not be stored: the cache is on a read-only path."""


class CacheError(Exception):
    """A cached file does not match its manifest."""


def default_cache_root() -> Path:
    """``$ML4MIR_DATA`` if set, else ``data/cache`` in the repository checkout, else
    ``~/.cache/ml4mir``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    repository = Path(__file__).resolve().parents[2]  # utils/data/cache.py -> the checkout
    if (repository / "pyproject.toml").exists() and (repository / "data").is_dir():
        return repository / "data" / "cache"
    return Path.home() / ".cache" / "ml4mir"


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()


def _writable_root(cache_dir: str | os.PathLike | None) -> Path:
    """The cache root, checked writable: only building needs that (a complete cache loads from a
    read-only path)."""
    root = _cache_root(cache_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise PermissionError(
            f"The cache directory {root} is not writable ({error.strerror or error}), and the "
            f"dataset must be built there (missing, stale or incomplete). Build it elsewhere: pass "
            f"cache_dir= (or --cache-dir) a writable directory, or set the environment variable "
            f"{CACHE_ENV}."
        ) from error
    return root


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def _write_array(directory: Path, name: str, array: np.ndarray) -> None:
    with open(directory / name, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def _checksum(buffer: bytes | bytearray) -> str:
    """CRC-32 of a cache file (fast enough to check on every load; not a security measure)."""
    return f"{zlib.crc32(buffer) & 0xFFFFFFFF:08x}"


def _file_entry(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "crc32": _checksum(path.read_bytes())}


def _read_verified(directory: Path, name: str, entry: dict) -> bytearray:
    """The bytes of a cache file, after checking its size and checksum against ``entry``."""
    path = directory / name
    if not path.is_file():
        raise CacheError(f"{name} is missing")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise CacheError(f"{name} is truncated or extended ({size} bytes, expected {entry['bytes']})")
    buffer = bytearray(size)
    with open(path, "rb") as handle:
        view, done = memoryview(buffer), 0
        while done < size and (count := handle.readinto(view[done:])):
            done += count
    if done != size or _checksum(buffer) != entry["crc32"]:
        raise CacheError(f"{name} is corrupted (checksum mismatch)")
    return buffer


def _array_from_buffer(buffer: bytearray) -> np.ndarray:
    """The array of an ``.npy`` file's bytes, without copying them."""
    fmt = np.lib.format
    stream = io.BytesIO(bytes(memoryview(buffer)[:1 << 16]))
    try:
        version = fmt.read_magic(stream)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
        count = int(np.prod(shape))
        array = np.frombuffer(buffer, dtype=dtype, count=count, offset=stream.tell())
    except ValueError as error:
        raise CacheError(f"not a valid .npy file ({error})") from error
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise CacheError("the manifest is missing")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CacheError(f"the manifest is unreadable ({error})") from error


def _check_manifest(manifest: dict, name: str, params: dict) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CacheError(
            f"it has format version {manifest.get('format_version')}, this code writes {FORMAT_VERSION}"
        )
    if manifest.get("dataset") != name or manifest.get("params") != params:
        raise CacheError("its parameters differ from the requested ones")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict) and {"bytes", "crc32"} <= set(entry) for entry in files.values()
    ):
        raise CacheError("its manifest does not list its files' sizes and checksums")


def _publish(staging: Path, target: Path) -> None:
    """Move a fully written ``staging`` directory to ``target``, replacing any old one."""
    trash = target.with_name(f".trash-{target.name}-{uuid.uuid4().hex}")
    if target.exists():
        os.replace(target, trash)
    os.replace(staging, target)
    shutil.rmtree(trash, ignore_errors=True)


def _build_into_cache(name: str, params: dict, directory: Path,
                      write_files: Callable[[Path], dict]) -> None:
    """Run ``write_files(staging)`` (returns extra manifest info), add the manifest, publish."""
    staging = directory.with_name(f".building-{directory.name}-{uuid.uuid4().hex}")
    staging.mkdir(parents=True)
    try:
        info = write_files(staging)
        files = {path.name: _file_entry(path) for path in sorted(staging.iterdir())}
        manifest = {"format_version": FORMAT_VERSION, "dataset": name, "params": params,
                    "files": files, "info": info}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _publish(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(root: Path):
    """Hold an exclusive lock on the cache directory ``root`` (no lock file is left behind)."""
    if fcntl is None:
        yield
        return
    handle = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _load_verified(name: str, params: dict, directory: Path,
                   read_files: Callable[[Path, dict], Any]) -> Any:
    """``read_files`` of a cache whose manifest matches ``name`` and ``params``; raises
    :class:`CacheError` or ``KeyError`` otherwise."""
    manifest = _read_manifest(directory)
    _check_manifest(manifest, name, params)
    return read_files(directory, manifest)


def _load_or_build(name: str, params: dict, cache_dir: str | os.PathLike | None, rebuild: bool,
                   write_files: Callable[[Path], dict],
                   read_files: Callable[[Path, dict], Any]) -> Any:
    """Load a verified cache of ``name`` built with ``params``, building it first if needed
    (loading writes nothing: a complete cache on a read-only path loads)."""
    directory = _cache_root(cache_dir) / f"{name}-{_digest(params)}"
    if not rebuild and directory.exists():
        try:
            return _load_verified(name, params, directory, read_files)
        except (CacheError, KeyError) as problem:
            reason = f"its manifest lacks {problem}" if isinstance(problem, KeyError) else problem
            warnings.warn(
                f"The cached {name} in {directory} cannot be used: {reason}. Rebuilding it.",
                StaleCacheWarning, stacklevel=3,
            )
    with _build_lock(_writable_root(cache_dir)):
        if not rebuild and directory.exists():  # built by another process while this one waited
            with contextlib.suppress(CacheError, KeyError):
                return _load_verified(name, params, directory, read_files)
        start = time.perf_counter()
        print(f"Building {name} into {directory} (once; later loads read the cache)...",
              file=sys.stderr)
        _build_into_cache(name, params, directory, write_files)
        print(f"Built {name} in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
        return read_files(directory, _read_manifest(directory))


def _restore_dtypes(meta: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    for column, dtype in dtypes.items():
        if dtype.startswith(("int", "float", "bool")):
            meta[column] = meta[column].astype(dtype)
        else:
            meta[column] = meta[column].astype(str)
    return meta


def _write_meta(directory: Path, meta: pd.DataFrame) -> dict[str, str]:
    meta.to_csv(directory / "meta.csv", index=False)
    return {column: str(dtype) for column, dtype in meta.dtypes.items()}


def _read_meta(directory: Path, manifest: dict) -> pd.DataFrame:
    data = _read_verified(directory, "meta.csv", manifest["files"]["meta.csv"])
    meta = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    return _restore_dtypes(meta, manifest["info"]["meta_dtypes"])


def _atomic_write_text(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    staging.write_text(text)
    os.replace(staging, path)
