"""The admins' dashboard: open tickets, tickets created per day as a bar chart, median delays,
and beside the chart the ratings and tickets by category of the last 30 days."""

from __future__ import annotations

from datetime import date, timedelta

from babel.numbers import format_decimal
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.utils import get_cwidth

from ..context import SessionContext
from ..domain.models import Dashboard
from ..i18n import N_, _, current_code
from ..ui.chart import bar_chart
from ..ui.screens import menu
from ..ui.terminal import Terminal
from ..ui.text import fit
from .common import Notice

WEEKDAYS = (N_("lun."), N_("mar."), N_("mer."), N_("jeu."), N_("ven."), N_("sam."), N_("dim."))


def duration(delay: timedelta | None) -> str:
    """« 2 h 15 min », « 3 j 4 h », « 40 min »; « — » when there is nothing to measure."""
    if delay is None:
        return _("—")
    minutes = int(delay.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("{d} j {h} h").format(d=days, h=hours) if hours else _("{d} j").format(d=days)
    if hours:
        return _("{h} h {m} min").format(h=hours, m=minutes) if minutes else _("{h} h").format(h=hours)
    return _("{m} min").format(m=minutes) if minutes else _("moins d'une minute")


def day_label(day: date) -> str:
    return f"{_(WEEKDAYS[day.weekday()])} {day:%d/%m}"


def dashboard_lines(board: Dashboard, width: int) -> list[StyleAndTextTuples]:
    """The dashboard as lines cut to `width` columns (every text is ours, no user's)."""
    statuses = " · ".join(_("{label} : {n}").format(label=s.label, n=n) for s, n in board.open_by_status)
    urgencies = " · ".join(f"{u.label} {n}" for u, n in board.open_by_urgency)
    lines: list[StyleAndTextTuples] = [
        [
            ("class:label", _("Tickets ouverts : {n}").format(n=board.open_total)),
            ("", " · " + statuses + " · "),
            ("class:error" if board.late_open else "", _("en retard : {n}").format(n=board.late_open)),
        ],
        [("class:label", _("Urgence des ouverts :")), ("", " " + urgencies)],
        [
            ("class:label", _("Médianes sur {days} jours :").format(days=board.window_days)),
            (
                "",
                " "
                + _("premier retour {first} · résolution {done}").format(
                    first=duration(board.median_first_response), done=duration(board.median_resolution)
                ),
            ),
        ],
        [
            (
                "class:label",
                _("Tickets créés par jour, {n} derniers jours :").format(n=len(board.created_per_day)),
            )
        ],
    ]
    if board.mail_waiting is not None:
        lines.insert(
            3,
            [
                ("class:label", _("Courriels :")),
                (
                    "",
                    " "
                    + _("{waiting} en attente · {failed} en échec (python -m server mail-queue)").format(
                        waiting=board.mail_waiting, failed=board.mail_failed
                    ),
                ),
            ],
        )
    days = [(day_label(d), n) for d, n in board.created_per_day]
    lines += beside(bar_chart, days, side_lines(board), width)
    return [_cut(line, width) for line in lines]


# The column beside the chart (ratings, categories), and the narrowest screen that has room for
# both: narrower, it goes under the chart.
SIDE = 30
SIDE_BY_SIDE = 70


def average(value: float | None) -> str:
    """« 4,2/5 » in French, « 4.2/5 » in English; « — » without any rating."""
    if value is None:
        return _("—")
    return format_decimal(value, format="0.0", locale=current_code()) + "/5"


def side_lines(board: Dashboard) -> list[StyleAndTextTuples]:
    """The ratings and the tickets by category of the last `window_days` days, SIDE wide."""
    said = _("{n} réponse(s) · moyenne {avg}").format(n=board.ratings, avg=average(board.average_rating))
    lines: list[StyleAndTextTuples] = [
        [("class:label", _("Avis sur {days} jours :").format(days=board.window_days))],
        [("", said)],
        [],
        [("class:label", _("Tickets par catégorie ({days} j) :").format(days=board.window_days))],
    ]
    shown = list(board.by_category)
    room = max(1, len(board.created_per_day) - len(lines))
    if len(shown) > room:
        rest = sum(n for _name, n in shown[room - 1 :])
        shown = [*shown[: room - 1], (_("autres"), rest)]
    for name, n in shown:
        count = f" {n}"
        lines.append([("", fit(name or _("sans catégorie"), SIDE - len(count)) + count)])
    if not shown:
        lines.append([("class:dim", _("aucun ticket"))])
    return lines


def beside(draw, rows: list[tuple[str, int]], side: list[StyleAndTextTuples], width: int) -> list:
    """The chart with `side` to its right where the screen is wide enough, else under it."""
    if width < SIDE_BY_SIDE:
        return [[("", line)] for line in draw(rows, width)] + [[], *side]
    left = width - SIDE - 2
    chart = draw(rows, left)
    out: list[StyleAndTextTuples] = []
    for i in range(max(len(chart), len(side))):
        line = chart[i] if i < len(chart) else ""
        out.append([("", line + " " * (left - get_cwidth(line) + 2)), *(side[i] if i < len(side) else [])])
    return out


def _cut(line: StyleAndTextTuples, width: int) -> StyleAndTextTuples:
    # A line of several fragments cut to `width` columns as a whole, each keeping its style.
    out: StyleAndTextTuples = []
    left = width
    for style, text, *_rest in line:
        if left <= 0:
            break
        shown = text if get_cwidth(text) <= left else fit(text, left)
        out.append((style, shown))
        left -= get_cwidth(shown)
    return out


async def show_dashboard(term: Terminal, ctx: SessionContext) -> Notice:
    """The dashboard until the admin goes back; `Actualiser` reads the figures again."""
    while True:
        board = await ctx.dashboard()
        choice = await menu(
            term,
            _("Tableau de bord"),
            [("refresh", _("Actualiser"))],
            body=lambda width, b=board: dashboard_lines(b, width),
            back_label=None,
            back_hint=_("retour"),
        )
        if choice is None:
            return Notice()
