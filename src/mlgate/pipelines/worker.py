"""The process one pipeline run happens in: ``python -m mlgate.pipelines.worker``.

The project's entry point runs here, apart from the process that started it, so that a hang
can be killed at the timeout and a crash (even of the interpreter) cannot take the scheduler
down. The worker writes its outcome as JSON to the result file it was given: what the run
produced, or the error in one line. The traceback goes to stderr, which the starting process
keeps as the run's log file.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def work(root: Path, name: str, run_id: int, run_dir: Path) -> dict[str, Any]:
    """Run pipeline ``name`` of the workspace at ``root``; return the outcome to record."""
    from mlgate.config import Workspace
    from mlgate.errors import GovernanceError
    from mlgate.lifecycle.service import Governance
    from mlgate.pipelines.steps import run_step

    try:
        gov = Governance(Workspace(root))
        pipeline = gov.config.pipelines[name]
        output = run_step(gov, pipeline, run_dir, run_id)
    except GovernanceError as exc:
        logger.error("pipeline %s failed: %s", name, exc.message)
        return {"status": "failed", "error": exc.message}
    except Exception as exc:  # the project's code may raise anything; the log keeps it whole
        traceback.print_exc()
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}

    logger.info("pipeline %s produced %s", name, output)
    return {"status": "succeeded", "output": output}


def main(argv: list[str]) -> int:
    """Parse ``ROOT NAME RUN_ID RUN_DIR RESULT_FILE``, run, and write the outcome."""
    root, name, run_id, run_dir, result_file = argv
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    outcome = work(Path(root), name, int(run_id), Path(run_dir))
    partial = Path(result_file).with_suffix(".partial")
    partial.write_text(json.dumps(outcome), encoding="utf-8")
    partial.replace(result_file)
    return 0 if outcome["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
