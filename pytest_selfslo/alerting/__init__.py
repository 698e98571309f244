"""Rule evaluation over time: recording rules into storage, the alert state machine, timelines."""
