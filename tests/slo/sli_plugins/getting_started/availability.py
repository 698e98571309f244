"""Python port of Sloth's getting-started SLI plugin (``examples/plugins/getting-started/
availability/plugin.go`` of slok/sloth): the error ratio of HTTP requests, 5xx and 429 as
errors, for the ``job`` option and an optional ``filter`` of label matchers."""

from __future__ import annotations

import re
from collections.abc import Mapping

SLI_PLUGIN_ID = "getting_started_availability"

_QUERY = """
sum(rate(http_request_duration_seconds_count{{ {filter}job="{job}",code=~"(5..|429)" }}[{{{{.window}}}}]))
/
sum(rate(http_request_duration_seconds_count{{ {filter}job="{job}" }}[{{{{.window}}}}]))"""
#: Go's regexp.MatchString finds the pattern anywhere (re.search, not fullmatch)
_FILTER = re.compile(r'([^=]+="[^=,"]+",)+')


def sli_plugin(meta: Mapping[str, str], labels: Mapping[str, str],
               options: Mapping[str, str]) -> str:
    """The error-ratio query, with ``{{.window}}`` where the range goes."""
    if "job" not in options:
        raise ValueError("job options is required")
    for key in ("owner", "tier"):
        if not labels.get(key):
            raise ValueError(f'invalid labels: "{key}" label is required')
    filter_ = options.get("filter", "")
    if filter_:
        filter_ = filter_.strip("{}").strip(",") + ","
        if not _FILTER.search(filter_):
            raise ValueError(f"invalid prometheus filter: {filter_}")
    return _QUERY.format(filter=filter_, job=options["job"])
