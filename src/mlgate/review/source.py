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
HASH_BLOCK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SourceTree:
    """The project's files under review, as POSIX paths relative to ``root``, each sorted.

    ``code`` holds the Python files under the configured source paths that are not tests;
    ``tests`` the Python files under the test paths (and any ``test_*.py`` found among the
    sources); ``docs`` the Markdown, reStructuredText and text files under the docs paths.
    ``oversized`` holds the files of any of those lists that are over :data:`MAX_FILE_BYTES`:
    they are left out of the other lists, so no check reads them, and the checks report them.
    """

    root: Path
    code: tuple[str, ...]
    tests: tuple[str, ...]
    docs: tuple[str, ...]
    oversized: tuple[str, ...] = ()

    def path(self, relative: str) -> Path:
        """Return the absolute path of one listed file."""
        return self.root / relative

    def text(self, relative: str) -> str:
        """Return one listed file's text; undecodable bytes become U+FFFD, never an error."""
        return self.path(relative).read_bytes().decode("utf-8", errors="replace")

    def file_hashes(self) -> dict[str, str]:
        """Return each listed file's sha256, keyed ``role:path``; oversized files count too, so
        evidence goes stale when one of them changes."""
        roles = (
            ("code", self.code),
            ("tests", self.tests),
            ("docs", self.docs),
            ("oversized", self.oversized),
        )
        return {
            f"{role}:{relative}": _file_sha256(self.path(relative))
            for role, files in roles
            for relative in files
        }

    def sha256(self) -> str:
        """Return a fingerprint of every listed file's path, role and contents."""
        digest = hashlib.sha256()
        for key, file_hash in self.file_hashes().items():
            digest.update(f"{key}\0{file_hash}\0".encode())
        return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks so that a large one is not held in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
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
    larger than :data:`MAX_FILES` files is refused: review reads every file whole, and such a
    tree is almost always a mis-set path. A file over :data:`MAX_FILE_BYTES` is listed in
    ``oversized`` instead of its role, for the checks to report. A source path that does not
    exist is refused by name, and so is a missing test path unless ``config.tests`` is the
    default ``["tests"]`` (the code review then reports that the project has no tests); missing
    docs paths are what the documentation check reports on.
    """
    config = config or ReviewConfig()
    root = Path(root).resolve()
    _require_present(root, "source", config.source, "the project's code")
    # The default test path is a guess that may be missing; any other was chosen on purpose.
    if config.tests != ReviewConfig().tests:
        _require_present(root, "tests", config.tests, "the project's tests")

    tests = _collect(root, config.tests, {".py"}, config.exclude)
    sources = _collect(root, config.source, {".py"}, config.exclude)
    code = [p for p in sources if p not in tests and not _is_test_file(p)]
    tests = sorted(set(tests) | {p for p in sources if _is_test_file(p)})
    docs = _collect(root, config.docs, DOC_SUFFIXES, config.exclude)

    _require_reasonable([*code, *tests, *docs])
    oversized = _oversized(root, [*code, *tests, *docs])
    code, tests, docs = ([p for p in files if p not in oversized] for files in (code, tests, docs))
    logger.info(
        "review reads %d code, %d test and %d documentation files; %d over %d bytes left out",
        len(code),
        len(tests),
        len(docs),
        len(oversized),
        MAX_FILE_BYTES,
    )
    return SourceTree(root, tuple(code), tuple(tests), tuple(docs), tuple(sorted(oversized)))


def _require_present(root: Path, key: str, entries: list[str], holding: str) -> None:
    """Refuse configured paths that the workspace does not have, naming them and the key."""
    absent = [entry for entry in entries if not (root / entry).exists()]
    if absent:
        raise ValidationError(
            f"review.{key} names {', '.join(absent)}, which the workspace does not have; "
            f"expected files or folders of {holding}",
            hint=f"fix review.{key} in mlgate.yaml (paths are relative to the workspace)",
        )


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


def _require_reasonable(files: list[str]) -> None:
    if len(files) > MAX_FILES:
        raise ValidationError(
            f"the review paths hold {len(files)} files; expected at most {MAX_FILES}",
            hint="narrow review.source, review.tests and review.docs in mlgate.yaml, or add "
            "review.exclude patterns",
        )


def _oversized(root: Path, files: list[str]) -> set[str]:
    """The files over :data:`MAX_FILE_BYTES`, each logged with its size."""
    found = set()
    for relative in files:
        size = (root / relative).stat().st_size
        if size > MAX_FILE_BYTES:
            logger.warning(
                "review leaves out %s: %d bytes, over %d; add it to review.exclude if it is "
                "generated",
                relative,
                size,
                MAX_FILE_BYTES,
            )
            found.add(relative)
    return found
