"""Reports rendered from `result.json` files only: candidate and cohort HTML, Markdown, JUnit XML and JSON.

Nothing here grades: every report is a pure function of results already written, so `grader report` can
re-render at any time. Templates live in the shipped `reports/` directory (Jinja2, autoescaping on for
HTML and XML, undefined names are errors). Everything a candidate wrote (names, test output, file names,
log tails, messages) is untrusted text: it reaches the page only through autoescaping, and each HTML page
also carries a Content-Security-Policy that forbids any fetch and any script but the report's own.

The `candidate` audience renders from a redacted copy of the result (`redact_for_candidate`) that holds
no hidden-test names, messages, evidence or logs, so no template can leak them by mistake.

The rooms: `facts` (what a result says: band, name, redaction), `text` (formatting filters), `charts` (SVG
geometry), `candidate_view`, `cohort_view` and `compare_view` (the data each page shows), `render` (the templates) and
`files` (reading results, writing report files).
"""

from grader.report.candidate_view import candidate_context, markdown_context
from grader.report.cohort_view import cohort_context, cohort_rows
from grader.report.compare_view import compare_context, render_compare_html
from grader.report.facts import (
    AUDIENCES,
    DID_NOT_RUN,
    NOT_SCORED,
    Audience,
    Band,
    ReportError,
    band_for,
    display_name,
    redact_for_candidate,
    result_band,
    result_bands,
)
from grader.report.files import DEFAULT_FORMATS, FORMATS, load_results, parse_formats, write_reports
from grader.report.render import (
    render_candidate_html,
    render_cohort_html,
    render_cohort_markdown,
    render_junit,
    render_markdown,
)
from grader.report.text import location

__all__ = [
    "AUDIENCES",
    "DEFAULT_FORMATS",
    "DID_NOT_RUN",
    "FORMATS",
    "NOT_SCORED",
    "Audience",
    "Band",
    "ReportError",
    "band_for",
    "candidate_context",
    "cohort_context",
    "cohort_rows",
    "compare_context",
    "display_name",
    "load_results",
    "location",
    "markdown_context",
    "parse_formats",
    "redact_for_candidate",
    "render_candidate_html",
    "render_cohort_html",
    "render_cohort_markdown",
    "render_compare_html",
    "render_junit",
    "render_markdown",
    "result_band",
    "result_bands",
    "write_reports",
]
