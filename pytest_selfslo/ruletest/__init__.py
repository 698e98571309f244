"""Test runners: promtool-format rule unit tests, promqltest scripts, failure reports, coverage."""
