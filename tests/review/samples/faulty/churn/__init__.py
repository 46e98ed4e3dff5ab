"""A churn model with faults planted on purpose."""
