"""The notebooks' common set-up and their checked claims.

Every notebook's stamped setup cell calls :func:`setup`; every result a notebook's prose states is
checked by :func:`claim` on the numbers the notebook itself produced, so a change that breaks a
claim fails the test suite (which executes every notebook).
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import os
import random
import socket
import sys
import warnings
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from utils.checks import check_int

#: The GitHub repository the course lives in: the one place the slug is set (badges, Colab set-up).
REPOSITORY = "ml4mir/metric-learning-for-mir"
BRANCH = "main"

#: Packages whose versions the setup cell reports.
REPORTED_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "librosa", "music21")

#: Versions known not to work with the course, and why.
KNOWN_BAD = {
    "metric-learn": ("0.7", "fails with scikit-learn >= 1.8 (`force_all_finite`); the course does not use it"),
}


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a notebook gives the same numbers twice."""
    seed = check_int(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # CPU kernels are deterministic already; this costs 3 s of imports
        torch.use_deterministic_algorithms(True, warn_only=True)


def versions(packages: tuple[str, ...] = REPORTED_PACKAGES) -> dict[str, str]:
    """The installed version of each package ("missing" when it is not installed)."""
    found = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def warn_on_known_bad_versions() -> list[str]:
    """Warn about installed packages known not to work; return the warnings' texts."""
    messages = []
    for name, (prefix, why) in KNOWN_BAD.items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if version.startswith(prefix):
            messages.append(f"{name} {version} is installed: it {why}.")
    for message in messages:
        warnings.warn(message, stacklevel=2)
    return messages


def block_network() -> None:
    """Refuse every connection outside loopback (the tests run offline, and prove it).

    The test suite sets ``ML4MIR_OFFLINE=1``, so that :func:`setup` calls this in every notebook's
    kernel too: a notebook that secretly downloads something fails instead of passing online only.
    """
    if getattr(socket.socket.connect, "_ml4mir_guard", False):
        return
    allowed_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(host):
            raise ConnectionRefusedError(f"ML4MIR_OFFLINE is set: no connection to {host!r} allowed.")
        return allowed_connect(sock, address)

    guarded_connect._ml4mir_guard = True
    socket.socket.connect = guarded_connect


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def fail_on_deprecations() -> None:
    """Turn deprecation warnings caused by the course's own code (``utils`` or a notebook cell,
    ``__main__``) into errors, so a removed-soon API fails the tests before it breaks a reader's run.
    The test suite sets ``ML4MIR_STRICT_WARNINGS=1``, so that :func:`setup` calls this in every kernel."""
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("error", category=category, module=r"(utils|__main__)\b")


def setup(seed: int = 0, quiet: bool = False, torch_threads: int = 1) -> None:
    """Seed everything, apply the course's plot style, report versions and warn on bad ones.

    torch, and NumPy's, SciPy's and scikit-learn's BLAS/OpenMP pools, run on ``torch_threads`` CPU
    threads: the course's problems are small, one thread is as fast on a laptop (several times
    faster on a busy one), never oversubscribes a shared machine, and gives the same numbers on
    machines with different core counts.
    """
    check_int(torch_threads, "torch_threads")
    if os.environ.get("ML4MIR_OFFLINE") == "1":
        block_network()
    if os.environ.get("ML4MIR_STRICT_WARNINGS") == "1":
        fail_on_deprecations()
    seed_everything(seed)
    import torch

    torch.set_num_threads(torch_threads)
    import scipy.linalg  # noqa: F401  (load SciPy's own BLAS now, so that the limit reaches it too)
    import sklearn.utils  # noqa: F401  (and scikit-learn's OpenMP runtime)

    threadpool_limits(torch_threads)
    try:
        from utils import plots

        plots.use_course_style()
    except ImportError:
        pass
    found = versions()
    warn_on_known_bad_versions()
    if not quiet:
        print("  ".join(f"{name} {version}" for name, version in found.items()))


def claim(statement: str, holds: bool) -> None:
    """Check a claim the prose makes about a result; raise ``AssertionError`` naming it if false.

    >>> claim("two is more than one", 2 > 1)
    ✓ two is more than one
    """
    if not bool(holds):
        raise AssertionError(f"The notebook claims: {statement!r}, but its own numbers disagree.")
    print(f"✓ {statement}")


#: The data the notebooks' prose describes (``utils.data.DEFAULT_DATA``).
DEFAULT_DATA = "gm_notes"


def claims_for(data: str) -> Callable[[str, bool], None]:
    """The notebook's ``check(statement, holds)`` for the data ``DATA`` names: :func:`claim` on the
    default data (which the prose describes); on other data a report that never stops the notebook.

    >>> claims_for("folder:/music")("two is less than one", 2 < 1)
    ✗ two is less than one (the prose's claim, asserted on the default data; not so on folder:/music)
    """
    if data == DEFAULT_DATA:
        return claim

    def report(statement: str, holds: bool) -> None:
        verdict = "✓" if bool(holds) else "✗"
        print(f"{verdict} {statement} (the prose's claim, asserted on the default data; "
              f"{'also so' if bool(holds) else 'not so'} on {data})")

    return report
