"""Publishing a reviewed model's wheel to a PyPI-compatible index with twine.

The index is ``--repository-url``, else ``MLGATE_PUBLISH_URL``, else ``TWINE_REPOSITORY_URL``;
any server that speaks the upload API of PyPI works (Artifactory, Nexus, devpi, pypiserver).
Credentials come only from ``TWINE_USERNAME`` and ``TWINE_PASSWORD``: they reach twine through its
environment, never its command line, and are never logged, stored or audited. A URL that carries
credentials itself is refused for the same reason.

The wheel is built afresh in a temporary folder (building is deterministic, so it is the same
file ``mlgate package`` writes), uploaded, and the upload is audited as ``model.published`` with
the file name, its sha256, the repository URL and the model version. Twine's failures become
errors that name the URL and what the server said: a refused login, a version already on the
index, nothing answering at the address.
"""

from __future__ import annotations

import html
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from mlgate.errors import ConflictError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent, ModelVersion
from mlgate.release.gate import chosen_version, release_details, reviewed_version, subject_of
from mlgate.release.package import BuiltWheel, build_wheel

logger = logging.getLogger(__name__)

URL_VARIABLES = ("MLGATE_PUBLISH_URL", "TWINE_REPOSITORY_URL")
CREDENTIAL_VARIABLES = ("TWINE_USERNAME", "TWINE_PASSWORD")
PUBLISH_ROLES = {"ml_engineer", "admin"}
TWINE_TIMEOUT = 300  # seconds; MLGATE_PUBLISH_TIMEOUT overrides it for a slow index
EMPTY_BODIES = ("", "None", "null")  # what some servers put in an error page with no reason
HTTP_ERROR = re.compile(r"HTTPError:\s*(\d{3})\s*([^\n]*?)\s+from\s")


@dataclass(frozen=True)
class Published:
    """A wheel uploaded to an index."""

    wheel: BuiltWheel
    repository_url: str


def repository_url(given: str | None, env: dict[str, str]) -> str:
    """Return the index URL to upload to, from the option or the environment, checked."""
    url = given or next((env[v] for v in URL_VARIABLES if env.get(v)), "")
    if not url:
        raise ValidationError(
            "no repository URL to publish to; expected --repository-url or one of "
            f"{', '.join(URL_VARIABLES)}",
            hint="for instance --repository-url https://nexus.example.com/repository/pypi-internal/",
        )

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"repository URL {_safe(url)!r} is not an http(s) address; expected a URL such as "
            "https://devpi.example.com/team/prod/"
        )
    if parts.username or parts.password:
        raise ValidationError(
            f"repository URL {_safe(url)!r} carries credentials; expected them only in "
            f"{' and '.join(CREDENTIAL_VARIABLES)}, so they never appear on a command line or "
            "in the audit trail"
        )
    return url


def _safe(url: str) -> str:
    """Return ``url`` with any user name and password replaced, for messages."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"***@{parts.hostname}{port}").geturl()


def publish_model(
    gov: Governance,
    version: int | None = None,
    url: str | None = None,
    env: dict[str, str] | None = None,
) -> Published:
    """Upload the wheel of a reviewed model version to the index at ``url``; audit it.

    ``env`` is the environment twine runs with (default: this process's); the credentials are
    read from it. An unreviewed version is refused and the refusal audited as ``model.publish``.
    """
    env = dict(os.environ if env is None else env)
    target = repository_url(url, env)
    where = {"repository_url": target}
    asked = chosen_version(gov, version)
    _require_publisher(gov, asked, where)
    chosen = reviewed_version(gov, asked.version, "model.publish", where)
    missing = [v for v in CREDENTIAL_VARIABLES if not env.get(v)]
    if missing:
        raise ValidationError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; the "
            f"credentials for {target} are read only from the environment",
            hint="export TWINE_USERNAME=... TWINE_PASSWORD=... (an API token: __token__ and "
            "the token), then publish again",
        )

    with tempfile.TemporaryDirectory(prefix="mlgate-publish-") as folder:
        wheel = build_wheel(gov, chosen, Path(folder))
        try:
            _upload(gov, wheel, target, env)
        except (ValidationError, ConflictError) as failure:
            _audit_failure(gov, chosen.version, wheel, target, failure.message)
            raise

    with gov.transaction() as session:
        gov.audit(
            session,
            "model.published",
            f"model:v{chosen.version}",
            {
                "wheel": wheel.filename,
                "wheel_sha256": wheel.sha256,
                "repository_url": target,
                "model_version": chosen.version,
                "distribution": wheel.names.distribution,
            },
        )
    logger.info("published %s to %s", wheel.filename, target)
    return Published(wheel, target)


def _require_publisher(gov: Governance, chosen: ModelVersion, details: dict[str, str]) -> None:
    """Refuse, and audit on ``chosen``, a publisher who holds none of :data:`PUBLISH_ROLES`."""
    with gov.transaction() as session:
        gov.require_role(
            session,
            PUBLISH_ROLES,
            "model.publish",
            subject_of(chosen),
            "publish models",
            release_details(chosen, details),
        )


def _audit_failure(
    gov: Governance, version: int, wheel: BuiltWheel, url: str, reason: str
) -> None:
    """Record a failed upload: the trail shows every attempt to release a model."""
    with gov.transaction() as session:
        gov.audit(
            session,
            "model.publish.failed",
            f"model:v{version}",
            {
                "wheel": wheel.filename,
                "wheel_sha256": wheel.sha256,
                "repository_url": url,
                "reason": reason[:500],
            },
        )


def _timeout(env: dict[str, str]) -> float:
    given = env.get("MLGATE_PUBLISH_TIMEOUT")
    if given is None:
        return TWINE_TIMEOUT
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValidationError(
            f"MLGATE_PUBLISH_TIMEOUT must be a number of seconds above 0; got {given!r}"
        )
    return seconds


def _upload(gov: Governance, wheel: BuiltWheel, url: str, env: dict[str, str]) -> None:
    """Run ``twine upload`` for ``wheel``; turn its failures into errors naming ``url``."""
    command = [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--verbose",
        "--repository-url",
        url,
        str(wheel.path),
    ]
    twine_env = {
        **env,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "NO_COLOR": "1",
        "COLUMNS": "500",
    }
    twine_env.pop("TWINE_REPOSITORY", None)
    twine_env.pop("TWINE_REPOSITORY_URL", None)

    timeout = _timeout(env)
    started = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            env=twine_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValidationError(
            f"uploading {wheel.filename} to {url} did not finish within {timeout:g} s: the "
            "index accepted the connection but did not answer",
            hint="check the index; MLGATE_PUBLISH_TIMEOUT sets a longer wait for a slow one",
        ) from exc
    except OSError as exc:
        raise ValidationError(f"twine could not be started: {exc}") from exc
    logger.info(
        "twine upload of %s to %s exited %d after %.2f s",
        wheel.filename,
        url,
        result.returncode,
        time.perf_counter() - started,
    )
    if result.returncode != 0:
        raise upload_error(gov, wheel, url, result.stdout + result.stderr)


def upload_error(
    gov: Governance, wheel: BuiltWheel, url: str, output: str
) -> ValidationError | ConflictError:
    """Return the error for a failed upload, from twine's ``output``."""
    text = _clean(output)
    if "No module named twine" in text:
        return ValidationError(
            "twine is not installed, and publishing uses it",
            hint="pip install 'mlgate[review]' (or pip install twine)",
        )

    match = HTTP_ERROR.search(text)
    if match is None:
        if re.search(r"connection refused|failed to establish|name or service", text, re.I):
            return ValidationError(
                f"nothing answers at {url}: the connection was refused",
                hint="check the repository URL and that the index is running",
            )
        return ValidationError(f"uploading {wheel.filename} to {url} failed: {_last_line(text)}")

    status, reason = int(match.group(1)), match.group(2).strip()
    said = server_text(text)
    server = f"the server answered {status} {reason}" + (f": {said}" if said else "")
    if status in (401, 403):
        return ValidationError(
            f"{url} refused the credentials in {' and '.join(CREDENTIAL_VARIABLES)}: {server}",
            hint="check the user name and password (or token) and that it may upload here",
        )
    if status == 409 or (status == 400 and re.search(r"already exist", said, re.I)):
        earlier = _earlier_publication(gov, wheel.filename, url)
        return ConflictError(
            f"version {wheel.names.version} of {wheel.names.distribution} is already on {url} "
            f"({server}){earlier}; an index accepts each file once",
            hint="package and publish a newer model version instead",
        )
    return ValidationError(f"uploading {wheel.filename} to {url} failed: {server}")


def server_text(output: str) -> str:
    """Return what the server said about a failed upload, from twine's verbose output.

    That is the body twine printed after ``Response from``: the ``<pre>`` or paragraph text of
    an HTML error page, or the plain text, in one line of at most 300 characters.
    """
    start = output.find("Response from")
    end = output.find("HTTPError", start)
    if start < 0:
        return ""
    body = output[start : end if end > 0 else None].split("\n", 1)[-1]
    preformatted = re.findall(r"<pre>(.*?)</pre>", body, re.S | re.I)
    if preformatted:
        body = " ".join(preformatted)
    else:
        body = re.sub(r"<(style|title|head)\b.*?</\1>", " ", body, flags=re.S | re.I)
    body = re.sub(r"<[^>]+>", " ", body)
    body = re.sub(r"\b(INFO|WARNING|ERROR)\b", " ", html.unescape(body))
    said = " ".join(body.split())[:300]
    return "" if said in EMPTY_BODIES else said


def _clean(output: str) -> str:
    """Return twine's output without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


def _last_line(text: str) -> str:
    """Return twine's closing message: its last line, with the redirect it names if any."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "twine printed nothing"
    redirect = [line for line in lines if re.search(r"redirect", line, re.I)]
    last = (
        lines[-1] if not redirect or redirect[-1] == lines[-1] else f"{redirect[-1]} {lines[-1]}"
    )
    return last[:500]


def _earlier_publication(gov: Governance, filename: str, url: str) -> str:
    """Return a note on when this file was published to ``url`` before, from the trail."""
    with gov.transaction() as session:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.project == gov.config.project)
            .where(AuditEvent.action == "model.published")
            .order_by(AuditEvent.seq.desc())
        )
        for event in session.execute(stmt).scalars():
            payload = event.payload or {}
            if payload.get("wheel") == filename and payload.get("repository_url") == url:
                return f"; {event.actor} published it there at {event.created_at[:19]}"
    return ""
