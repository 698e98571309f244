"""The lint checks, one module per family (structure, PromQL)."""
