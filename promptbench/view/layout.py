"""The viewer's own pages share one frame: the navigation, the styles, escaping.

Every string from a run (suite names, ids, model names) goes through :func:`esc`;
URLs are built with :func:`url`, which quotes each query value.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlencode

NAV = (("/", "Runs"), ("/compare", "Compare"))

STYLE = """
:root { color-scheme: light; --fg:#1d2433; --muted:#5f6b7a; --line:#d9dee5; --accent:#2457c5;
  --pass:#1a7f37; --fail:#c62828; --bg:#f7f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg);
  background:var(--bg); }
nav.pb-viewer { display:flex; gap:18px; align-items:center; padding:10px 20px; background:#1d2433; }
nav.pb-viewer a { color:#fff; text-decoration:none; font-weight:600; }
nav.pb-viewer .brand { color:#9fb3d9; font-weight:700; margin-right:8px; }
main { padding:16px 24px; max-width:1400px; }
h1 { font-size:20px; margin:8px 0 12px; }
h2 { font-size:16px; margin:22px 0 8px; }
table { border-collapse:collapse; background:#fff; width:100%; }
th, td { border-bottom:1px solid var(--line); padding:5px 9px; text-align:left;
  vertical-align:top; }
th { background:#eef1f5; font-weight:600; white-space:nowrap; }
th a { color:inherit; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
a { color:var(--accent); }
.muted { color:var(--muted); }
.status-finished { color:var(--pass); } .status-running { color:var(--accent); font-weight:600; }
.status-failed, .status-unreadable { color:var(--fail); font-weight:600; }
.status-interrupted, .status-stopped_at_budget { color:#a15c00; }
form.filters { display:flex; gap:10px; flex-wrap:wrap; align-items:end; margin-bottom:12px; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
select, input, button { font:inherit; padding:3px 6px; }
button { cursor:pointer; }
.pager { margin:10px 0; display:flex; gap:12px; align-items:center; }
.chart { background:#fff; border:1px solid var(--line); margin:8px 0 16px; padding:6px; }
.legend { display:flex; flex-wrap:wrap; gap:14px; font-size:13px; margin:4px 0; }
.legend i { display:inline-block; width:14px; height:4px; vertical-align:middle; margin-right:5px; }
.error { color:var(--fail); font-weight:600; }
.cards { display:flex; gap:12px; flex-wrap:wrap; }
.card { background:#fff; border:1px solid var(--line); padding:10px 14px; min-width:160px; }
.card b { font-size:20px; display:block; }
"""


def esc(text: object) -> str:
    """``text`` as HTML text or an attribute value."""
    return html.escape(str(text), quote=True)


def url(path: str, **query: object) -> str:
    """``path`` with ``query`` (None values left out; lists repeated), escaped for HTML."""
    items: list[tuple[str, str]] = []
    for key, value in query.items():
        if value is None or value == "":
            continue
        for v in value if isinstance(value, list | tuple) else [value]:
            items.append((key, str(v)))
    return esc(path + ("?" + urlencode(items) if items else ""))


def run_url(run_id: str) -> str:
    """The run's page (an id is checked before it is ever put in a URL)."""
    return esc("/runs/" + quote(run_id, safe=""))


def rows_api(run_id: str) -> str:
    """Where a run's page fetches its rows (a URL for a script, not escaped for HTML)."""
    return "/api/runs/" + quote(run_id, safe="") + "/rows"


def suite_url(suite: str) -> str:
    """The suite's history page."""
    return esc("/suites/" + quote(suite, safe=""))


def nav_bar() -> str:
    """The navigation bar, also put at the top of the report pages the viewer serves."""
    links = "".join(f'<a href="{href}" data-nav="{esc(label)}">{label}</a>' for href, label in NAV)
    return f'<nav class="pb-viewer"><span class="brand">promptbench view</span>{links}</nav>'


NAV_STYLE = (
    "<style>nav.pb-viewer{display:flex;gap:18px;align-items:center;padding:8px 20px;"
    "background:#1d2433;font:14px system-ui,sans-serif}nav.pb-viewer a{color:#fff;"
    "text-decoration:none;font-weight:600}nav.pb-viewer .brand{color:#9fb3d9;font-weight:700}"
    "</style>"
)


def page(title: str, body: str, *, kind: str, script: str = "") -> str:
    """A whole page of the viewer; ``kind`` names it for tests (``body[data-page]``)."""
    tail = f"<script>{script}</script>" if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · promptbench</title><style>{STYLE}</style></head>"
        f'<body data-page="{esc(kind)}">{nav_bar()}<main>{body}</main>{tail}</body></html>'
    )


def with_nav(report_page: str) -> str:
    """A report page (``promptbench report``'s, or ``diff --html``'s) with the viewer's bar."""
    marker = '<div id="app"'
    if marker not in report_page:
        return report_page
    return report_page.replace(marker, NAV_STYLE + nav_bar() + marker, 1)


def pct(x: float | None) -> str:
    """A rate in percent, or a dash."""
    return "—" if x is None else f"{x:.1%}"


def num(x: float | None) -> str:
    """A score, or a dash."""
    return "—" if x is None else f"{x:.3f}"
