"""Telling people about alerts: a webhook and an e-mail to the project's emergency contacts.

:func:`deliver` sends one notice for every alert that opened or resolved in an evaluation (an
alert that merely continues is not sent again). Call it after the transaction that evaluated
the alerts has committed, so nobody is told of an alert that was rolled back.

**Webhook.** The URL is read from the environment variable that
``monitoring.notify.webhook_url_env`` names (``MLGATE_ALERT_WEBHOOK`` by default), never from
``mlgate.yaml``, because such URLs often carry a token. Only ``http`` and ``https`` URLs are
used. The body is JSON (see :func:`alert_payload`). A 5xx answer or a connection error is tried
again twice, after :data:`RETRY_BACKOFF` seconds; any other answer of 300 or more is a failure
at once. When ``MLGATE_ALERT_WEBHOOK_SECRET`` is set, the header ``X-Mlgate-Signature`` holds
``sha256=`` and the hex HMAC-SHA256 of the exact body bytes under that secret, so the receiver
can check that the notice came from mlgate and was not altered.

**E-mail.** One message to the primary, secondary and escalation contacts of the newest
emergency contacts record, through the SMTP server of ``monitoring.notify.smtp`` (STARTTLS
unless switched off; user name and password read from the environment variables it names).

Every attempt is appended to the alert's ``notified`` list (channel, status, time, detail) and
audited as ``alert.notified``. The detail names the webhook's host, never its full URL, and
names the contacts by role, never by address; no password is stored anywhere. A failure is
logged as a warning and recorded, and never raised: a broken mail server must not stop
monitoring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from mlgate import __version__
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import AlertChanges
from mlgate.monitoring.settings import SmtpConfig
from mlgate.registry.models import Alert, Evidence

logger = logging.getLogger(__name__)

SECRET_ENV = "MLGATE_ALERT_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Mlgate-Signature"
RETRY_BACKOFF: tuple[float, ...] = (0.5, 1.0)  # seconds before the 2nd and 3rd attempt
CONTACT_ROLES = ("primary", "secondary", "escalation")
SENT, FAILED, NOT_CONFIGURED = "sent", "failed", "not_configured"


@dataclass(frozen=True)
class Delivery:
    """One channel's outcome for one alert: ``sent``, ``failed`` or ``not_configured``."""

    alert_id: int
    event: str  # "opened" or "resolved"
    channel: str  # "webhook" or "email"
    status: str
    detail: str
    attempts: int
    at: str

    def record(self) -> dict[str, Any]:
        """Return the entry stored in the alert's ``notified`` list."""
        entry = asdict(self)
        del entry["alert_id"]
        return entry


def deliver(gov: Governance, changes: AlertChanges) -> list[Delivery]:
    """Notify about every opened and resolved alert of ``changes``; return each outcome."""
    events = [("opened", a) for a in changes.opened] + [("resolved", a) for a in changes.resolved]
    if not events:
        return []

    started = time.perf_counter()
    contacts = _contacts(gov)
    deliveries: list[Delivery] = []
    for event, alert in events:
        payload = alert_payload(gov, alert, event)
        deliveries.append(_webhook(gov, alert.id, event, payload))
        deliveries.append(_email(gov, alert.id, event, payload, contacts))

    _record(gov, deliveries)
    failed = sum(1 for d in deliveries if d.status == FAILED)
    logger.info(
        "delivered %d notices for %d alerts in %.1f s (%d failed)",
        len(deliveries),
        len(events),
        time.perf_counter() - started,
        failed,
    )
    return deliveries


def alert_payload(gov: Governance, alert: Alert, event: str) -> dict[str, Any]:
    """Return the JSON body of a notice: which project, which alert, and what happened."""
    return {
        "source": "mlgate",
        "mlgate_version": __version__,
        "event": f"alert.{event}",
        "project": gov.config.project,
        "alert": {
            "id": alert.id,
            "rule": alert.rule_id,
            "metric": alert.metric,
            "subject": alert.subject,
            "severity": alert.severity,
            "action": alert.action,
            "threshold": alert.threshold,
            "first_value": alert.first_value,
            "last_value": alert.last_value,
            "first_window_start": _iso(alert.first_window_start),
            "last_window_end": _iso(alert.last_window_end),
            "breaches": alert.breaches,
            "model_version": alert.model_version,
            "message": alert.message,
            "opened_at": _iso(alert.opened_at),
            "resolved_at": _iso(alert.resolved_at),
        },
        "sent_at": _now(),
    }


# -- webhook -----------------------------------------------------------------------------------


def _webhook(gov: Governance, alert_id: int, event: str, payload: dict[str, Any]) -> Delivery:
    config = gov.config.monitoring.notify
    variable = config.webhook_url_env
    url = os.environ.get(variable, "").strip() if variable else ""
    if not url:
        where = f"{variable} is not set" if variable else "no webhook variable is configured"
        return Delivery(alert_id, event, "webhook", NOT_CONFIGURED, where, 0, _now())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        detail = f"{variable} is not an http or https URL (scheme '{parts.scheme}')"
        logger.warning("alert %d not sent by webhook: %s", alert_id, detail)
        return Delivery(alert_id, event, "webhook", FAILED, detail, 0, _now())

    body = json.dumps(payload, sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"mlgate/{__version__}"}
    secret = os.environ.get(SECRET_ENV)
    if secret:
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"

    target = _host(parts)
    status, detail, attempts = _post(url, body, headers, config.timeout_seconds)
    if status == FAILED:
        logger.warning(
            "alert %d not sent by webhook to %s after %d attempts: %s",
            alert_id,
            target,
            attempts,
            detail,
        )
    return Delivery(alert_id, event, "webhook", status, f"{target}: {detail}", attempts, _now())


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[str, str, int]:
    """POST ``body``; try again after a 5xx or a connection error. Return status, detail, tries."""
    detail = ""
    for attempt in range(1, len(RETRY_BACKOFF) + 2):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return SENT, f"HTTP {response.status}", attempt
        except urllib.error.HTTPError as exc:
            detail = f"HTTP {exc.code}"
            exc.close()
            if exc.code < 500:
                return FAILED, detail, attempt
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            detail = f"connection failed: {type(reason).__name__}: {reason}"
        if attempt <= len(RETRY_BACKOFF):
            time.sleep(RETRY_BACKOFF[attempt - 1])
    return FAILED, detail, len(RETRY_BACKOFF) + 1


def _host(parts: Any) -> str:
    """Return scheme, host and port of a URL: never its path, query or credentials."""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


# -- e-mail ------------------------------------------------------------------------------------


def _email(
    gov: Governance,
    alert_id: int,
    event: str,
    payload: dict[str, Any],
    contacts: dict[str, str],
) -> Delivery:
    smtp = gov.config.monitoring.notify.smtp
    if smtp is None:
        return Delivery(
            alert_id,
            event,
            "email",
            NOT_CONFIGURED,
            "monitoring.notify.smtp is not set",
            0,
            _now(),
        )
    if not contacts:
        detail = "no emergency contacts are recorded; submit the emergency_contacts record"
        logger.warning("alert %d not sent by e-mail: %s", alert_id, detail)
        return Delivery(alert_id, event, "email", FAILED, detail, 0, _now())

    message = _message(smtp, payload, contacts)
    server = f"{smtp.host}:{smtp.port}"
    try:
        _send(smtp, message)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        detail = f"{server}: {type(exc).__name__}: {_safe(exc, smtp)}"
        logger.warning("alert %d not sent by e-mail via %s: %s", alert_id, server, detail)
        return Delivery(alert_id, event, "email", FAILED, detail, 1, _now())
    roles = ", ".join(contacts)
    return Delivery(
        alert_id, event, "email", SENT, f"{server}: to the {roles} contacts", 1, _now()
    )


def _message(smtp: SmtpConfig, payload: dict[str, Any], contacts: dict[str, str]) -> EmailMessage:
    alert = payload["alert"]
    verb = "OPEN" if payload["event"] == "alert.opened" else "RESOLVED"
    message = EmailMessage()
    message["Subject"] = (
        f"[mlgate] {verb} {alert['severity']} alert on {payload['project']}: "
        f"{alert['rule']} ({alert['subject']})"
    )
    message["From"] = smtp.sender
    message["To"] = ", ".join(contacts.values())
    lines = [
        f"Project: {payload['project']}",
        f"Alert {alert['id']} {payload['event'].removeprefix('alert.')}: {alert['message']}",
        "",
        f"Rule: {alert['rule']} on {alert['metric']}, threshold {alert['threshold']}",
        f"Subject: {alert['subject']}",
        f"Severity: {alert['severity']}; action: {alert['action']}",
        f"First value {alert['first_value']}, last value {alert['last_value']} over "
        f"{alert['breaches']} breaching window(s), {alert['first_window_start']} to "
        f"{alert['last_window_end']}",
        f"Model version: {alert['model_version']}",
        "",
        "See `mlgate alerts show "
        f"{alert['id']}` in the project's workspace; resolve it there with a reason once "
        "the cause is understood.",
    ]
    message.set_content("\n".join(lines))
    return message


def _send(smtp: SmtpConfig, message: EmailMessage) -> None:
    user = _env(smtp.username_env, "username")
    password = _env(smtp.password_env, "password")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        client.ehlo()
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if user is not None and password is not None:
            client.login(user, password)
        client.send_message(message)


def _env(variable: str | None, what: str) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ValueError(f"the SMTP {what} variable {variable} is not set")
    return value


def _safe(exc: Exception, smtp: SmtpConfig) -> str:
    """Return an error's text with the SMTP password blanked, should a server echo it."""
    text = str(exc)
    password = os.environ.get(smtp.password_env) if smtp.password_env else None
    return text.replace(password, "***") if password else text


def _contacts(gov: Governance) -> dict[str, str]:
    """Return the e-mail of each contact role from the newest emergency contacts record."""
    with gov.transaction() as session:
        stmt = (
            select(Evidence)
            .where(
                Evidence.project_id == gov.project(session).id,
                Evidence.name == "emergency_contacts",
                Evidence.status == "pass",
            )
            .order_by(Evidence.id.desc())
        )
        evidence = session.execute(stmt).scalars().first()
    document = (evidence.payload.get("document") or {}) if evidence is not None else {}
    found = {}
    for role in CONTACT_ROLES:
        email = (document.get(role) or {}).get("email")
        if email:
            found[role] = str(email)
    return found


# -- recording ---------------------------------------------------------------------------------


def _record(gov: Governance, deliveries: Sequence[Delivery]) -> None:
    """Append each attempt to its alert's ``notified`` list and audit it, in one transaction."""
    by_event: dict[tuple[int, str], list[Delivery]] = {}
    for delivery in deliveries:
        by_event.setdefault((delivery.alert_id, delivery.event), []).append(delivery)

    with gov.transaction() as session:
        for (alert_id, event), attempts in by_event.items():
            alert = session.get(Alert, alert_id)
            if alert is None:
                continue
            alert.notified = [*(alert.notified or []), *(d.record() for d in attempts)]
            gov.audit(
                session,
                "alert.notified",
                f"alert:{alert_id}",
                {
                    "event": event,
                    "deliveries": [
                        {"channel": d.channel, "status": d.status, "detail": d.detail}
                        for d in attempts
                    ],
                },
            )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.isoformat(timespec="seconds")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
