"""The documentation check: the project's docs explain training, prediction, set-up and problems.

A model that only its authors can run is not ready for review. The check reads the project's
documentation files (``SourceTree.docs``: README.md and docs/ by default, see
:mod:`mlgate.review.source`), splits them into sections (:mod:`mlgate.review.docs`) and looks for
four sections, each found by keywords in its heading (:data:`FAMILIES`):

- ``training``: a usage manual for training (train, training, retrain, fit, fitting);
- ``prediction``: a usage manual for prediction (predict, prediction, scoring, inference,
  serving, serve);
- ``configuration``: configuration, configure, config, settings, parameters;
- ``troubleshooting``: troubleshooting, FAQ, known issues, common problems, errors, debugging.

A keyword matches a whole word of the heading, case-insensitively ("Model training" matches,
"Constraint" does not). A heading counts only when its body, subsections included, holds at
least ``min_section_words`` words: a heading over an empty or one-line body is a placeholder,
not a manual. One heading may serve several families ("Training and prediction").

A missing section fails the check, and the finding names it and the keywords looked for; each
section found is reported with its ``file:line``. A file that is not valid UTF-8 is read with
replacement characters and reported as a warning, never a crash; so is a file over the review's
size limit, which is left unread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Finding, worst
from mlgate.errors import ValidationError
from mlgate.review.code import too_large_message
from mlgate.review.docs import Section, count_words, sections
from mlgate.review.source import DOC_SUFFIXES

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {"min_section_words": 20}

# Each required section and the heading words (or phrases) that name it.
FAMILIES: dict[str, tuple[str, ...]] = {
    "training": ("train", "training", "retrain", "retraining", "fit", "fitting"),
    "prediction": ("predict", "prediction", "predictions", "scoring", "inference", "serving",
                   "serve"),
    "configuration": ("configuration", "configure", "configuring", "config", "settings",
                      "parameters"),
    "troubleshooting": ("troubleshooting", "troubleshoot", "faq", "frequently asked questions",
                        "known issues", "common problems", "errors", "debugging"),
}  # fmt: skip
WHAT: dict[str, str] = {
    "training": "a usage manual for training the model",
    "prediction": "a usage manual for prediction (scoring, inference)",
    "configuration": "a configuration section",
    "troubleshooting": "a troubleshooting section",
}

_HEADING_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class _Reading:
    """The documentation as read: every section, the files and their words, decoding problems."""

    sections: list[Section]
    files: int
    words: int
    undecodable: list[tuple[str, str]]


def families_of(title: str) -> list[str]:
    """Return the families whose keywords appear as whole words in a heading ``title``."""
    words = _HEADING_WORD.findall(title.lower())
    text = f" {' '.join(words)} "
    return [
        family
        for family, keywords in FAMILIES.items()
        if any(f" {keyword} " in text for keyword in keywords)
    ]


def check_documentation(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Check that the project's docs hold the four required sections, each with a real body."""
    limits = {**DEFAULTS, **thresholds}
    minimum = limits["min_section_words"]
    reading = _read(_source(inp))

    candidates: dict[str, list[Section]] = {family: [] for family in FAMILIES}
    for section in reading.sections:
        for family in families_of(section.title):
            candidates[family].append(section)

    findings: list[Finding] = []
    found: dict[str, Section] = {}
    for family, matches in candidates.items():
        counted = [s for s in matches if s.words >= minimum]
        if counted:
            found[family] = max(counted, key=lambda s: s.words)
            findings.append(_found(family, found[family]))
        else:
            findings.append(_missing(family, matches, minimum, reading.files))
    findings += [_undecodable(file, problem) for file, problem in reading.undecodable]
    findings += _too_large(_source(inp))

    logger.info(
        "documentation: %d file(s), %d heading(s), %d word(s); sections found: %s",
        reading.files,
        len(reading.sections),
        reading.words,
        ", ".join(found) or "none",
    )
    return _result(reading, candidates, found, findings, minimum)


def _source(inp: CheckInput) -> Any:
    if inp.source is None:
        raise ValidationError(
            "the documentation check needs the project's files (CheckInput.source); got none",
            hint="run it with `mlgate check documentation`, which lists the review.docs paths",
        )
    return inp.source


def _read(source: Any) -> _Reading:
    """Split every documentation file into sections, noting files that are not UTF-8."""
    found: list[Section] = []
    words = 0
    undecodable = []
    for relative in source.docs:
        raw = source.path(relative).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="replace")
            line = raw[: exc.start].count(b"\n") + 1
            undecodable.append((relative, f"byte 0x{raw[exc.start]:02x} on line {line}"))
        found += sections(text, relative)
        words += count_words(text)
    return _Reading(found, len(source.docs), words, undecodable)


def _found(family: str, section: Section) -> Finding:
    message = f"{WHAT[family]}: '{section.title}' at {section.where} ({section.words} words)"
    return Finding("info", message, family, section.where)


def _missing(family: str, matches: list[Section], minimum: float, files: int) -> Finding:
    keywords = ", ".join(FAMILIES[family])
    if matches:
        short = "; ".join(f"'{s.title}' at {s.where} has {s.words}" for s in matches[:5])
        message = (
            f"no {family} section with a body: {short} word(s); expected {WHAT[family]} with at "
            f"least {minimum:g} words in its body"
        )
    elif files == 0:
        message = (
            f"no {family} section: no documentation file was found (review.docs in "
            f"mlgate.yaml, by default README.md and docs/); expected {WHAT[family]} under a "
            f"heading naming one of: {keywords}"
        )
    else:
        message = (
            f"no {family} section: no heading in the {files} documentation file(s) names one "
            f"of: {keywords}; expected {WHAT[family]}"
        )
    return Finding("fail", message, family, None)


def _undecodable(file: str, problem: str) -> Finding:
    message = (
        f"{file} is not valid UTF-8 ({problem}); it was read with replacement characters, "
        "save it as UTF-8"
    )
    return Finding("warn", message, file, None)


def _too_large(source: Any) -> list[Finding]:
    """A warning for each documentation file left unread for its size."""
    return [
        Finding(
            "warn",
            f"{relative}: {too_large_message(source.path(relative).stat().st_size)}",
            relative,
            None,
        )
        for relative in getattr(source, "oversized", ())
        if Path(relative).suffix.lower() in DOC_SUFFIXES
    ]


def _result(
    reading: _Reading,
    candidates: Mapping[str, list[Section]],
    found: Mapping[str, Section],
    findings: list[Finding],
    minimum: float,
) -> CheckResult:
    missing = [family for family in FAMILIES if family not in found]
    metrics: dict[str, float | int | str | None] = {
        "n_sections_found": len(found),
        "n_sections_required": len(FAMILIES),
        "n_doc_files": reading.files,
        "n_headings": len(reading.sections),
        "n_words": reading.words,
        "n_undecodable_files": len(reading.undecodable),
    }
    summary = (
        f"{len(found)} of {len(FAMILIES)} required sections in {reading.files} documentation "
        f"file(s), {reading.words} words"
    )
    if missing:
        summary += f"; missing: {', '.join(missing)}"
    rows = [
        {
            "section": family,
            "heading": s.title,
            "where": s.where,
            "words": s.words,
            "counted": found.get(family) == s,
            "long_enough": s.words >= minimum,
        }
        for family, matches in candidates.items()
        for s in matches
    ]
    return CheckResult(
        check="documentation",
        status=worst([f.severity for f in findings if f.severity != "info"]),
        summary=summary,
        metrics=metrics,
        findings=findings,
        tables={"sections": rows},
    )


SPEC = CheckSpec(
    name="documentation",
    title="User documentation",
    function=check_documentation,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Reads the project's documentation (Markdown and reStructuredText under review.docs) and "
        "requires four sections, found by keywords in their headings: a usage manual for "
        "training, one for prediction (scoring, inference), a configuration section and a "
        "troubleshooting section. A heading whose body has fewer than min_section_words words "
        "does not count. Missing sections fail and are named; found ones are listed with "
        "file:line."
    ),
    needs_source=True,
)
