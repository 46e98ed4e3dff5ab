"""Settings for the review tests: the sample projects' own tests are data, not mlgate's tests."""

from __future__ import annotations

# The samples under samples/ are model projects that the code review runs with their own pytest
# process; collecting their test_*.py here would run them as mlgate's tests.
collect_ignore_glob = ["samples/*"]
