"""Watch the churn model in production."""

import time


def watch(check):
    """Call ``check`` every minute, forever."""
    while True:
        check()
        time.sleep(60)
