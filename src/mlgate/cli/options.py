"""The parameters of the ``mlgate`` commands, declared once for the local and the remote mode.

The local commands (``mlgate.cli``) act on the project's store; the remote ones
(``mlgate.client``) send the same request to the team server. Both take the same options with
the same help, so each shared parameter is a type alias here and both signatures use it, with
the default at the signature (``dataset: DatasetOption = None``): a wording changed here
changes in both modes. Only parameters with the same name, type and meaning in both modes
belong here. This module is imported at start-up, so it imports nothing heavier than typer
(``pathlib`` is already loaded by typer itself).
"""

from pathlib import Path
from typing import Annotated

import typer

ALERT_HELP = "The alert's number, as `mlgate alerts --all` shows it."
FINDING_HELP = "The finding's number, as `mlgate finding list` shows it."

# -- the main command ---------------------------------------------------------------------

VerboseOption = Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging.")]

# -- project ------------------------------------------------------------------------------

TargetOption = Annotated[str, typer.Option(help="Column the model predicts.")]
TierOption = Annotated[str, typer.Option(help="Risk tier: low, medium or high.")]
SensitiveOption = Annotated[str, typer.Option(help="Comma-separated sensitive columns.")]
ExcludeOption = Annotated[str, typer.Option(help="Comma-separated columns not to learn from.")]
PositiveLabelOption = Annotated[str, typer.Option(help="The favourable class.")]
EstimatorOption = Annotated[str, typer.Option(help="Dotted estimator class.")]
TrainDataOption = Annotated[Path | None, typer.Option(help="Register this file as 'train'.")]
ShowAllStagesOption = Annotated[bool, typer.Option("--all", help="Show every stage.")]
AdvanceToOption = Annotated[str | None, typer.Option(help="Keep advancing until this stage.")]
RunChecksOption = Annotated[bool, typer.Option(help="Run missing automated checks first.")]

# -- documents and data -------------------------------------------------------------------

DocumentPaths = Annotated[list[Path], typer.Argument(help="Filled document files or folders.")]
DataFile = Annotated[Path, typer.Argument(help="CSV or Parquet file.")]
DatasetNameOption = Annotated[str, typer.Option(help="train, holdout, current, or your own name.")]
ContractOption = Annotated[Path | None, typer.Option(help="Data contract YAML to keep with it.")]

# -- checks, approvals, waivers, members, audit -------------------------------------------

CheckName = Annotated[str, typer.Argument(help="A check name or a check requirement id.")]
DatasetOption = Annotated[
    str | None, typer.Option(help="Dataset to run on (default: the policy's).")
]
StreamingOption = Annotated[
    bool, typer.Option(help="Read the data in batches (automatic for large files).")
]
ApprovalRequirement = Annotated[str, typer.Argument(help="The approval requirement id.")]
ApproveCommentOption = Annotated[str, typer.Option(help="Why you approve.")]
RejectCommentOption = Annotated[str, typer.Option(help="Why you reject.")]
WaivedRequirement = Annotated[str, typer.Argument(help="The requirement id to set aside.")]
JustificationOption = Annotated[str, typer.Option(help="Why it is acceptable to skip it.")]
ExpiresOption = Annotated[str | None, typer.Option(help="Expiry date, YYYY-MM-DD.")]
DaysOption = Annotated[int | None, typer.Option(help="Or: expire after this many days.")]
MemberName = Annotated[str, typer.Argument(help="The person's user name.")]
RoleOption = Annotated[str, typer.Option(help="A role the policy knows.")]
AuditLimitOption = Annotated[int, typer.Option(help="How many recent events.")]
AuditFullOption = Annotated[
    bool, typer.Option("--full", help="Show every detail whole: full hashes, long values.")
]

# -- deployments and documents to download ------------------------------------------------

ModeOption = Annotated[str, typer.Option(help="batch, rest or stream.")]
EndpointOption = Annotated[str | None, typer.Option(help="Where it is served.")]
ModeFilterOption = Annotated[
    str | None, typer.Option(help="Only this mode: batch, rest or stream.")
]
ServingAtOption = Annotated[
    str | None,
    typer.Option(
        help="Show which version served in each mode at this UTC moment "
        "(2026-12-01 or 2026-12-01T10:00)."
    ),
]
RollbackReasonOption = Annotated[
    str, typer.Option(help="Why the live version is taken back (10+ characters).")
]
ReportPdfOption = Annotated[bool, typer.Option("--pdf", help="Also print it to a PDF beside it.")]
CardPdfOption = Annotated[bool, typer.Option(help="Also print the card to PDF.")]

# -- monitoring and alerts ----------------------------------------------------------------

UntilOption = Annotated[
    str | None,
    typer.Option(help="Monitor only windows that ended by this ISO date-time (UTC)."),
]
DashboardOption = Annotated[Path, typer.Option(help="Where to write the dashboard (HTML).")]
ShowResolvedOption = Annotated[bool, typer.Option("--all", help="Resolved alerts too.")]
AlertReasonOption = Annotated[
    str, typer.Option(help="What was found or done (10 characters or more).")
]

# -- findings -----------------------------------------------------------------------------

SeverityOption = Annotated[str, typer.Option(help="low, medium, high or critical.")]
TitleOption = Annotated[str, typer.Option(help="One line naming the problem.")]
DescriptionOption = Annotated[str, typer.Option(help="What is wrong and the evidence for it.")]
OwnerOption = Annotated[str, typer.Option(help="Who is to fix it.")]
DueOption = Annotated[
    str, typer.Option(help="Due date, YYYY-MM-DD (today or later somewhere on Earth).")
]
RemediationOption = Annotated[str, typer.Option(help="The agreed fix, if known.")]
FindingVersionOption = Annotated[
    int | None, typer.Option(help="Model version it concerns (default: the newest).")
]
FindingStatusOption = Annotated[str | None, typer.Option(help="Only open or only closed ones.")]
VersionFilterOption = Annotated[
    int | None, typer.Option(help="Only the findings of this model version.")
]
NewRemediationOption = Annotated[str | None, typer.Option(help="The new remediation plan.")]
NewOwnerOption = Annotated[str | None, typer.Option(help="Give the finding to someone else.")]
NewDueOption = Annotated[str | None, typer.Option(help="New due date, YYYY-MM-DD.")]
ResolutionOption = Annotated[str, typer.Option(help="How it was settled (10 characters or more).")]
ReopenReasonOption = Annotated[
    str, typer.Option(help="Why it is open again (10 characters or more).")
]

# -- labels and KPIs ----------------------------------------------------------------------

LabelFile = Annotated[
    Path, typer.Argument(help="CSV or Parquet with request_id, label[, observed_at].")
]
ReplaceLabelsOption = Annotated[
    bool, typer.Option("--replace", help="Overwrite stored labels that differ (audited).")
]
KpiName = Annotated[str, typer.Argument(help="A KPI declared under monitoring.kpis.")]
KpiValue = Annotated[str, typer.Argument(help="The KPI's value for the period.")]
PeriodStartOption = Annotated[str, typer.Option(help="First day of the period, YYYY-MM-DD.")]
PeriodEndOption = Annotated[str, typer.Option(help="Last day of the period (included).")]
KpiSourceOption = Annotated[str, typer.Option(help="Where the figure comes from.")]
KpiFilterOption = Annotated[str | None, typer.Option(help="Only the values of this KPI.")]
