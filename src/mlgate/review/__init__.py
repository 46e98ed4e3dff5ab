"""Machine review of a model project's own Python source: faults a reviewer would flag."""
