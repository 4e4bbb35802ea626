"""Keeps numba's on-disk cache of the crossbar kernels consistent with their sources.

numba keys a cached kernel on its own source file only: a kernel of ``sparse.py`` that inlines
a helper of ``fused.py`` is loaded from the cache unchanged after ``fused.py`` changed (an
edit, a ``git pull`` on an editable install), silently running the old code. So at import the
kernels' sources (:data:`SOURCES`) are hashed together; when the hash differs from the one
stored beside the cache, the cache files of those modules are removed and each kernel compiles
once more. Where the package's ``__pycache__`` cannot be written (numba then caches elsewhere)
nothing is done.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: the modules whose kernels share inlined helpers
SOURCES = ("fused.py", "fused_steps.py", "sparse.py", "trains.py", "fast_probabilities.py",
           "fast_periphery.py", "column_transfer.py")
STAMP = "kernel-sources.sha256"


def sources_digest(directory: Path) -> str:
    """sha256 of the sources in :data:`SOURCES` order (a missing file counts as empty)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        path = directory / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b""))
    return digest.hexdigest()


def refresh(directory: Path) -> bool:
    """Drop the cached kernels of :data:`SOURCES` in ``directory/__pycache__`` if the sources
    changed since the stamp was written; True if it dropped them."""
    cache = directory / "__pycache__"
    stamp = cache / STAMP
    digest = sources_digest(directory)
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    modules = {name.removesuffix(".py") for name in SOURCES}
    try:
        cache.mkdir(exist_ok=True)
        for path in cache.iterdir():
            if path.suffix in (".nbi", ".nbc") and path.name.split(".")[0] in modules:
                path.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return True
