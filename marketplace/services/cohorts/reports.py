"""The cohort report: one set of figures for the page, the JSON API, the CSV export and the charts.

Charts are SVGs drawn on the server with matplotlib, in the interface language, so the page needs no
script and no outside host; each chart has a table with the same numbers beside it (README: "Charts").
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select

from ...extensions import db
from ...models import Cohort, CohortParticipant, Meeting, Tandem
from ...states import PUBLISHED, ParticipantStatus, TandemStatus
from .. import exports, labels, meetings, milestones, pulse
from ..labels import score_percent
from . import enrolment, surveys

SCORE_BINS = 10
CHARTS = ("meetings", "scores", "satisfaction", "milestones")


def _published(cohort: Cohort) -> list[Tandem]:
    return enrolment.cohort_tandems(cohort, PUBLISHED)


def _months(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def meetings_by_month(cohort: Cohort, tandem_ids: list[int], today: date | None = None) -> list[dict[str, Any]]:
    """Meetings held per month of the cohort (a day logged by both partners counts once)."""
    if not tandem_ids:
        return []
    rows = db.session.execute(
        select(Meeting.tandem_id, Meeting.held_on)
        .where(Meeting.tandem_id.in_(tandem_ids), Meeting.status == Meeting.HELD).distinct()
    ).all()
    counts: dict[str, int] = {}
    for _tandem_id, held_on in rows:
        key = f"{held_on.year:04d}-{held_on.month:02d}"
        counts[key] = counts.get(key, 0) + 1
    held_days = [held_on for _tandem_id, held_on in rows]
    first = min([cohort.starts_on, *held_days])
    last = max([min(cohort.ends_on, today or date.today()), *held_days, first])
    return [{"month": month, "count": counts.get(month, 0)} for month in _months(first, last)]


def score_distribution(scores: list[float]) -> list[dict[str, Any]]:
    bins = [0] * SCORE_BINS
    for score in scores:
        bins[min(int(score * SCORE_BINS), SCORE_BINS - 1)] += 1
    return [
        {"from": round(i / SCORE_BINS, 2), "to": round((i + 1) / SCORE_BINS, 2), "count": count}
        for i, count in enumerate(bins)
    ]


def report(cohort: Cohort, today: date | None = None) -> dict[str, Any]:
    """Every figure of the report, JSON-ready."""
    counts = enrolment.counts(cohort)
    people = db.session.scalar(
        select(func.count(func.distinct(CohortParticipant.user_id)))
        .where(CohortParticipant.cohort_id == cohort.id, CohortParticipant.status == ParticipantStatus.ACCEPTED)
    ) or 0
    published = _published(cohort)
    matched_mentees = len({t.mentee_user_id for t in published})
    scores = [t.score for t in published if t.score is not None]
    progress = meetings.progress_for(published, today)
    held = sum(row.held for row in progress.values())
    target_total = len(published) * cohort.meeting_target
    survey = surveys.results(cohort)
    reached = milestones.progress_of_goals([t.goal_id for t in published if t.goal_id is not None])
    return {
        "cohort": {
            "id": cohort.id, "name": cohort.name, "state": cohort.state,
            "starts_on": cohort.starts_on.isoformat(), "ends_on": cohort.ends_on.isoformat(),
            "meeting_target": cohort.meeting_target,
        },
        "participants": {
            "people": people, "mentors": counts.mentors, "mentees": counts.mentees,
            "applied": counts.applied, "waitlisted": counts.waitlisted, "rejected": counts.rejected,
        },
        "matching": {
            "tandems": len(published),
            "drafts": counts.drafts,
            "matched_mentees": matched_mentees,
            "matched_share": round(matched_mentees / counts.mentees, 4) if counts.mentees else None,
            "average_score": round(sum(scores) / len(scores), 4) if scores else None,
            "lowest_score": round(min(scores), 4) if scores else None,
            "score_distribution": score_distribution(scores),
        },
        "meetings": {
            "held": held,
            "target": target_total,
            "share_of_target": round(held / target_total, 4) if target_total else None,
            "average_per_tandem": round(held / len(published), 2) if published else None,
            "tandems_at_target": sum(1 for row in progress.values() if row.held >= row.target),
            "tandems_behind": sum(1 for row in progress.values() if row.behind),
            "by_month": meetings_by_month(cohort, [t.id for t in published], today),
        },
        "milestones": {
            "total": reached.total,
            "reached": reached.done,
            "share_reached": reached.share,
            "tandems_with_milestones": milestones.goals_with_milestones([t.goal_id for t in published]),
        },
        "survey": survey.as_json(),
        "pulse": pulse.results(cohort).as_json(),
        "early_termination": early_termination(published),
    }


def early_termination(published: list[Tandem]) -> dict[str, Any]:
    """Tandems a partner ended before the cohort closed (status `ended`), their share and the reasons given."""
    ended = [t for t in published if t.status == TandemStatus.ENDED]
    return {
        "tandems": len(published),
        "ended_early": len(ended),
        "rate": round(len(ended) / len(published), 4) if published else None,
        # Sorted, so the list's order says nothing about which tandem ended when.
        "reasons": sorted((labels.end_reason_text(t.end_reason.strip()) for t in ended if t.end_reason.strip()),
                          key=str.casefold),
    }


# Lists of texts in the report, one CSV row per entry under this metric name.
LIST_METRICS = {"improvements": "improve", "comments": "comment", "reasons": "reason"}


def _report_rows(data: dict[str, Any]) -> list[list[Any]]:
    """The report's figures as section, metric, value rows (lists become one row per entry)."""
    rows = []
    for section in ("cohort", "participants", "matching", "meetings", "milestones", "survey", "pulse",
                    "early_termination"):
        for metric, value in data[section].items():
            if metric == "score_distribution":
                rows += [[section, f"score {e['from']:.1f}-{e['to']:.1f}", e["count"]] for e in value]
            elif metric == "by_month":
                rows += [[section, f"meetings {entry['month']}", entry["count"]] for entry in value]
            elif metric in ("satisfaction_counts", "usefulness_counts"):
                name = metric.removesuffix("_counts")
                rows += [[section, f"{name} {score}", count] for score, count in (value or {}).items()]
            elif metric in LIST_METRICS:
                rows += [[section, LIST_METRICS[metric], text] for text in value]
            else:
                rows.append([section, metric, value])
    return rows


def report_csv(data: dict[str, Any]) -> str:
    """The report's figures as section,metric,value rows (headers stay English: scripts read them)."""
    return exports.write_csv(["section", "metric", "value"], _report_rows(data))


TANDEM_COLUMNS = ["tandem_id", "mentor", "mentor_company", "mentee", "mentee_company", "goal", "status", "score",
                  "meetings_held", "meeting_target", "last_meeting", "behind"]


def _tandem_rows(cohort: Cohort, today: date | None, localised: bool) -> list[list[Any]]:
    """One row per published tandem, for the manager's own follow-up (no survey answers, no notes)."""
    published = _published(cohort)
    progress = meetings.progress_for(published, today)

    def company(user):
        return user.effective_company.name if user and user.effective_company else ""

    rows = []
    for tandem in published:
        row = progress[tandem.id]
        mentor, mentee = tandem.mentor_user, tandem.mentee
        if localised:  # a person reads it: labels in their language, real dates and numbers
            status, score, behind = labels.tandem_status_label(tandem.status), tandem.score, _yes_no(row.behind)
            last = row.last_meeting_on
        else:
            status, behind = tandem.status, "yes" if row.behind else "no"
            score = "" if tandem.score is None else f"{tandem.score:.4f}"
            last = row.last_meeting_on.isoformat() if row.last_meeting_on else ""
        rows.append([
            tandem.id, mentor.name if mentor else "", company(mentor), mentee.name if mentee else "", company(mentee),
            tandem.goal.title if tandem.goal else "", status, score, row.held, row.target, last, behind,
        ])
    return rows


def tandems_csv(cohort: Cohort, today: date | None = None) -> str:
    """One row per published tandem, for the manager's own follow-up (no survey answers, no notes)."""
    return exports.write_csv(TANDEM_COLUMNS, _tandem_rows(cohort, today, localised=False))


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def cohort_xlsx(cohort: Cohort, data: dict[str, Any], today: date | None = None) -> bytes:
    """The tandems, their progress and the report's figures as a workbook with headers in the reader's language."""
    tandem_header = [_("Tandem"), _("Mentor"), _("Mentor's company"), _("Mentee"), _("Mentee's company"), _("Goal"),
                     _("Status"), _("Score"), _("Meetings held"), _("Meeting target"), _("Last meeting"),
                     _("Behind")]
    progress_rows = [
        [row.tandem.id, row.tandem.mentor_user.name if row.tandem.mentor_user else "",
         row.tandem.mentee.name if row.tandem.mentee else "", row.held, row.target, row.last_meeting_on,
         row.next_planned_on, row.days_left, _yes_no(row.behind)]
        for row in meetings.cohort_progress(cohort, today=today)
    ]
    progress_header = [_("Tandem"), _("Mentor"), _("Mentee"), _("Meetings held"), _("Meeting target"),
                       _("Last meeting"), _("Next planned meeting"), _("Days left"), _("Behind")]
    return exports.write_xlsx([
        (_("Tandems"), tandem_header, _tandem_rows(cohort, today, localised=True)),
        (_("Progress"), progress_header, progress_rows),
        (_("Report"), [_("Section"), _("Figure"), _("Value")], _report_rows(data)),
    ])


def month_label(month: str) -> str:
    """"Dez. 2026" / "Dec 2026" for the report's "2026-12" (the API and CSV keep the ISO form)."""
    year, number = month.split("-")
    return format_date(date(int(year), int(number), 1), "MMM yyyy")


def score_bin_label(entry: dict[str, Any]) -> str:
    """One bar of the score distribution on the pages' 0-100 scale: "60–70 %"."""
    return f"{round(entry['from'] * 100)}–{score_percent(entry['to'])}"


# Text stays text in the SVG (not outlines): it scales crisply, can be searched and read out. Large type, as on a
# phone the chart shrinks to about half its drawn width.
CHART_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "tandem", "font.size": 13}


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    axes = figure.subplots()
    # The numbers on the axis follow the interface language (1.000 / 1,000).
    axes.yaxis.set_major_formatter(lambda value, _position: format_decimal(value))
    return figure, axes


def _draw(axes, data: dict[str, Any], name: str) -> None:
    colour = "#0b6464"
    if name == "meetings":
        rows = data["meetings"]["by_month"]
        axes.bar([month_label(r["month"]) for r in rows], [r["count"] for r in rows], color=colour)
        axes.set_title(_("Meetings held per month"))
        axes.set_ylabel(_("meetings"))
        axes.tick_params(axis="x", labelrotation=45, labelsize=11)
        if not rows:  # an empty axis would be numbered -0.04 ... 0.04
            axes.set_xticks([])
            axes.text(0.5, 0.5, _("No meetings yet."), ha="center", va="center", transform=axes.transAxes)
    elif name == "scores":
        rows = data["matching"]["score_distribution"]
        axes.bar([score_bin_label(r) for r in rows], [r["count"] for r in rows], color=colour)
        axes.set_title(_("Match scores of the tandems"))
        axes.set_xlabel(_("match (0–100 %)"))
        axes.set_ylabel(_("tandems"))
        axes.tick_params(axis="x", labelrotation=60, labelsize=10)
    elif name == "milestones":
        figures = data["milestones"]
        axes.bar([_("reached"), _("not yet reached")], [figures["reached"], figures["total"] - figures["reached"]],
                 color=colour)
        axes.set_title(_("Milestones of the tandems' goals"))
        axes.set_ylabel(_("milestones"))
    else:
        counts = data["survey"]["satisfaction_counts"]
        axes.bar([str(k) for k in range(1, 6)], [counts[str(k)] for k in range(1, 6)], color=colour)
        axes.set_title(_("Satisfaction (1 = poor, 5 = excellent)"))
        axes.set_ylabel(_("answers"))
    # Counts are never negative; with all bars at 0 (a cohort that just started) the automatic range
    # would run from -0.05 to 0.05.
    axes.set_ylim(bottom=0, top=max(1, axes.get_ylim()[1]))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)


def chart_svg(data: dict[str, Any], name: str) -> bytes | None:
    """An SVG of one chart in the interface language, or None when there is nothing that may be shown
    (e.g. fewer than 5 survey answers, or no milestones yet)."""
    if name not in CHARTS or (name == "satisfaction" and not data["survey"]["shown"]) or (
        name == "milestones" and not data["milestones"]["total"]
    ):
        return None
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(CHART_STYLE):
        figure, axes = _figure()
        _draw(axes, data, name)
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
