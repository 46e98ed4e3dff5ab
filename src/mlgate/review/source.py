"""The files of a model project that the review checks read: its code, its tests, its docs.

The workspace's ``review`` settings (:class:`mlgate.config.ReviewConfig`) say where they are.
:func:`discover` lists them once, with the same exclusions for every check, and
:meth:`SourceTree.sha256` fingerprints their contents, so evidence from a review binds to the
exact code it read and goes stale when a file changes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from mlgate.config import ReviewConfig
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

SKIPPED_DIRS = frozenset(
    {".git", ".mlgate", ".venv", "venv", "env", "build", "dist", "__pycache__", "node_modules"}
)
DOC_SUFFIXES = frozenset({".md", ".rst", ".txt"})
MAX_FILES = 5000
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class SourceTree:
    """The project's files under review, as POSIX paths relative to ``root``, each sorted.

    ``code`` holds the Python files under the configured source paths that are not tests;
    ``tests`` the Python files under the test paths (and any ``test_*.py`` found among the
    sources); ``docs`` the Markdown, reStructuredText and text files under the docs paths.
    """

    root: Path
    code: tuple[str, ...]
    tests: tuple[str, ...]
    docs: tuple[str, ...]

    def path(self, relative: str) -> Path:
        """Return the absolute path of one listed file."""
        return self.root / relative

    def text(self, relative: str) -> str:
        """Return one listed file's text; undecodable bytes become U+FFFD, never an error."""
        return self.path(relative).read_bytes().decode("utf-8", errors="replace")

    def file_hashes(self) -> dict[str, str]:
        """Return each listed file's sha256, keyed ``role:path``."""
        return {
            f"{role}:{relative}": hashlib.sha256(self.path(relative).read_bytes()).hexdigest()
            for role, files in (("code", self.code), ("tests", self.tests), ("docs", self.docs))
            for relative in files
        }

    def sha256(self) -> str:
        """Return a fingerprint of every listed file's path, role and contents."""
        digest = hashlib.sha256()
        for key, file_hash in self.file_hashes().items():
            digest.update(f"{key}\0{file_hash}\0".encode())
        return digest.hexdigest()


def relative_posix(root: Path, name: str) -> str:
    """Return ``name`` (absolute, or relative to ``root``) as a POSIX path relative to ``root``.

    Tools report paths either way; a path outside ``root`` is returned as it is.
    """
    path = Path(name)
    if not path.is_absolute():
        path = root / path
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def discover(root: Path, config: ReviewConfig | None = None) -> SourceTree:
    """List the code, test and documentation files of the project in ``root``.

    Hidden folders, virtual environments, build output and mlgate's own state are skipped, as
    are files matching ``config.exclude`` and symbolic links that lead out of ``root``. A tree
    larger than :data:`MAX_FILES` files or holding a file over :data:`MAX_FILE_BYTES` is refused:
    review reads every file whole, and such a tree is almost always a mis-set path. A source
    path that does not exist is refused by name; missing test or docs paths are what the
    checks report on.
    """
    config = config or ReviewConfig()
    root = Path(root).resolve()
    absent = [entry for entry in config.source if not (root / entry).exists()]
    if absent:
        raise ValidationError(
            f"review.source names {', '.join(absent)}, which the workspace does not have; "
            "expected files or folders of the project's code",
            hint="fix review.source in mlgate.yaml (paths are relative to the workspace)",
        )

    tests = _collect(root, config.tests, {".py"}, config.exclude)
    sources = _collect(root, config.source, {".py"}, config.exclude)
    code = [p for p in sources if p not in tests and not _is_test_file(p)]
    tests = sorted(set(tests) | {p for p in sources if _is_test_file(p)})
    docs = _collect(root, config.docs, DOC_SUFFIXES, config.exclude)

    _require_reasonable(root, [*code, *tests, *docs])
    logger.info(
        "review reads %d code, %d test and %d documentation files",
        len(code),
        len(tests),
        len(docs),
    )
    return SourceTree(root, tuple(code), tuple(tests), tuple(docs))


def _collect(
    root: Path, entries: list[str], suffixes: set[str] | frozenset[str], exclude: list[str]
) -> list[str]:
    found: set[str] = set()
    for entry in entries:
        start = root / entry
        if start.is_file() and start.suffix in suffixes:
            candidates = [start]
        elif start.is_dir():
            candidates = [p for p in start.rglob("*") if p.suffix in suffixes and p.is_file()]
        else:
            continue

        for path in candidates:
            relative = _inside(root, path)
            if relative is None or _skipped(relative, exclude):
                continue
            found.add(relative)
    return sorted(found)


def _inside(root: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix() if path.exists() else None
    except ValueError:  # a symbolic link that leads out of the project
        return None


def _skipped(relative: str, exclude: list[str]) -> bool:
    folders = relative.split("/")[:-1]
    if any(
        part in SKIPPED_DIRS or part.startswith(".") or part.endswith(".egg-info")
        for part in folders
    ):
        return True
    return any(fnmatch.fnmatch(relative, pattern) for pattern in exclude)


def _is_test_file(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def _require_reasonable(root: Path, files: list[str]) -> None:
    if len(files) > MAX_FILES:
        raise ValidationError(
            f"the review paths hold {len(files)} files; expected at most {MAX_FILES}",
            hint="narrow review.source, review.tests and review.docs in mlgate.yaml, or add "
            "review.exclude patterns",
        )
    for relative in files:
        size = (root / relative).stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValidationError(
                f"{relative} is {size} bytes; review reads files of at most "
                f"{MAX_FILE_BYTES} bytes",
                hint="add it to review.exclude in mlgate.yaml if it is generated",
            )
