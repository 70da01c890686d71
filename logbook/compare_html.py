"""The comparison report as one self-contained HTML file, for readers who do not program.

Everything is inline: the style, and the charts as SVG drawn by matplotlib
(its `Figure` alone, without pyplot, so no interactive backend is ever
loaded). The file depends only on the comparison: no clock, no random ids
(each chart's SVG ids come from a fixed salt), no metadata, fixed number
formats, groups in key order. So the same events give the same file, byte for
byte, and it holds no link to anything outside it.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, time
from html import escape
from typing import Any, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from logbook.compare import BRUSSELS, CHANNELS, PROFILE_KINDS, RULES, CompareKey, Comparison, Group

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
"""Okabe and Ito's colours, told apart by colour-blind readers too."""
REFERRED, NOT_REFERRED = "#009E73", "#D55E00"
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
"""No metadata block at all: no date, no version, no links."""
CHART_STYLE = {
    "svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9, "axes.spines.top": False,
    "axes.spines.right": False, "axes.titlesize": 10, "legend.frameon": False,
}
GROUPS_OF = {CompareKey.SITE: "sites", CompareKey.TEAM: "teams", CompareKey.PROFILE_KIND: "profile kinds"}
GROUP_WORD = {CompareKey.SITE: "Site", CompareKey.TEAM: "Team", CompareKey.PROFILE_KIND: "Profile kind"}
CHANNEL_NAMES = {"messenger": "Messenger", "whatsapp": "WhatsApp"}
PROFILE_KIND_NAMES = {
    "personal": "personal profile", "shared": "shared profile", "professional": "professional profile",
    "page": "page",
}
PROFILE_KIND_MEANINGS = {
    "personal": "a worker's own Facebook or WhatsApp profile",
    "shared": "one profile that all the team's workers use",
    "professional": "a profile of the service, meant for managing groups; street workers and outreach workers "
                    "may also keep contact from it",
    "page": "the region's Facebook page",
}
RULE_NAMES = {
    "drift_into_help": "Drift into help",
    "help_question_not_referred": "Help question not referred",
    "professional_profile_contact": "Contact from a professional profile",
    "personal_profile_contact": "Contact through a personal profile",
    "intern_personal_profile": "Intern on a personal profile",
    "worrying_post_without_follow_up": "Worrying post without follow-up",
    "out_of_hours": "Out of working hours",
}
RULE_MEANINGS = {
    "drift_into_help": "a conversation in which the worker actually helped on social media; the agreement says "
                       "to refer to the safe chat instead",
    "help_question_not_referred": "a help question that was not referred (to the safe chat or in person) in time",
    "professional_profile_contact": "contact from a professional profile by someone who is neither a street "
                                    "worker nor an outreach worker",
    "personal_profile_contact": "contact through a worker's own profile (CAW Noord-West-Vlaanderen may do so as "
                                "an experiment: there it is noted, for information)",
    "intern_personal_profile": "an intern keeping contact through their own profile",
    "worrying_post_without_follow_up": "a reach-out after a worrying post with no further contact or planned "
                                       "follow-up in time",
    "out_of_hours": "contact outside working hours, where a policy asks for it",
}

STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; color: #1a1a1a; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; }
h1 { font-size: 1.7rem; line-height: 1.25; margin-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin-top: 1.5rem; }
p.period { font-size: 1.1rem; margin-top: 0; }
.explain { background: #f4f6f8; border-left: 4px solid #0072B2; padding: .6rem .9rem; }
table { border-collapse: collapse; margin: 1rem 0; font-family: 'Helvetica Neue', Arial, sans-serif;
        font-size: .9rem; }
caption { text-align: left; font-weight: bold; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .7rem; vertical-align: top; }
thead th { border-bottom: 2px solid #888; text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; }
.key, .code { color: #666; font-size: .8em; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #444; }
dl.provenance dt { font-weight: bold; }
dl.provenance dd { margin: 0 0 .6rem 0; word-break: break-all; }
"""


def render(comparison: Comparison) -> str:
    """The report as HTML text."""
    plural = GROUPS_OF[comparison.by]
    title = f"How the {plural} compare: contact, drift into help, referral and boundary crossings"
    body = [f"<h1>{escape(title)}</h1>", f'<p class="period">{escape(_period(comparison))}</p>',
            _introduction(comparison), _provenance(comparison)]
    if comparison.groups:
        body += [_summary(comparison), _contacts(comparison), _drift(comparison), _referral(comparison),
                 _crossings(comparison), _glossary()]
    else:
        body.append("<p>No contact was recorded in this period.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


# The sections.


def _introduction(comparison: Comparison) -> str:
    plural = GROUPS_OF[comparison.by]
    return _explain(
        f"This report compares the {plural} of the logbook in which welfare workers record their contacts with "
        "young people and adults on Facebook Messenger and WhatsApp. The sector agreement says social media are for "
        "keeping in touch, informing and inviting, not for helping: a help question belongs in the safe chat. "
        "The report counts what was recorded; it names no client and no worker."
    )


def _provenance(comparison: Comparison) -> str:
    versions = ", ".join(comparison.policy_versions) or "none (no contact in the period)"
    return (
        "<h2>What this report rests on</h2>\n"
        + _explain(
            "The figures come from the recorded events up to the position below, and from nothing else. Anyone who "
            "makes this report again from the same events gets exactly this file; the digest identifies those "
            "events, so two reports with the same digest rest on the same events."
        )
        + '\n<dl class="provenance">\n'
        f"<dt>Events up to position</dt><dd>{_count(comparison.position)}</dd>\n"
        f"<dt>Policy versions that judged the contacts</dt><dd>{escape(versions)}</dd>\n"
        f"<dt>Digest of the events</dt><dd><code>{escape(comparison.events_digest)}</code></dd>\n</dl>"
    )


def _summary(comparison: Comparison) -> str:
    rows = [
        [_count(g.contacts.total), _count(g.drift.conversations), _percent(g.drift.share),
         _percent(g.referral.rate), _hours(g.referral.median_hours), _count(g.crossings.total)]
        for g in comparison.groups
    ]
    headers = ["Contacts", "Conversations", "Drifted into help", "Help questions referred in time",
               "Median hours to referral", "Boundary crossings"]
    return "<h2>In short</h2>\n" + _group_table("summary", "The figures at a glance", comparison, headers, rows)


def _contacts(comparison: Comparison) -> str:
    kinds = _present(PROFILE_KINDS, (g.contacts.by_profile_kind for g in comparison.groups))
    channels = _present(CHANNELS, (g.contacts.by_channel for g in comparison.groups))
    kind_rows = [
        [*(_count_and_share(g.contacts.by_profile_kind[kind], g.contacts.total) for kind in kinds),
         _count_and_share(g.contacts.by_interns, g.contacts.total), _count(g.contacts.total)]
        for g in comparison.groups
    ]
    channel_rows = [
        [*(_count_and_share(g.contacts.by_channel[channel], g.contacts.total) for channel in channels),
         _count(g.contacts.total)]
        for g in comparison.groups
    ]
    kind_headers = [*(PROFILE_KIND_NAMES[kind] for kind in kinds), "of which by interns", "All contacts"]
    channel_headers = [*(CHANNEL_NAMES.get(channel, channel) for channel in channels), "All contacts"]
    return "\n".join([
        "<h2>1. Contacts per month, by channel and by profile</h2>",
        _explain(
            "Every contact a worker recorded (retracted ones left out), counted in the month it took place "
            "(Brussels time). A profile is the Facebook or WhatsApp identity the worker used: their own "
            "(personal), one the team shares, or a professional profile of the service. The sector agreement "
            "expects contact through professional means; CAW Noord-West-Vlaanderen has room to experiment."
        ),
        _group_table("contacts-by-profile-kind", "Contacts by profile (share of all contacts)", comparison,
                     kind_headers, kind_rows),
        _group_table("contacts-by-channel", "Contacts by channel (share of all contacts)", comparison,
                     channel_headers, channel_rows),
        _figure(_monthly_chart(comparison, "channel", channels), "Contacts per month, by channel."),
        _figure(_monthly_chart(comparison, "profile_kind", kinds), "Contacts per month, by profile."),
        _monthly_table(comparison, channels, kinds),
    ])


def _drift(comparison: Comparison) -> str:
    rows = [
        [_count(g.drift.conversations), _count(g.drift.drifted), _percent(g.drift.share),
         _count(g.drift.drifted_then_referred), _percent(g.drift.referred_share)]
        for g in comparison.groups
    ]
    headers = ["Conversations", "Drifted into help", "Share drifted", "Then referred", "Share of drifted then referred"]
    return "\n".join([
        "<h2>2. Conversations that drifted into help</h2>",
        _explain(
            "A conversation is one exchange with a client (one thread, or contacts close together in time). It "
            "drifted into help when the worker actually helped on social media, which the policy records as a "
            "boundary crossing. A drift followed by a referral to the safe chat or to an appointment is less "
            "serious than one where the help stayed on social media."
        ),
        _group_table("drift", "Conversations that drifted into help", comparison, headers, rows),
        _figure(_drift_chart(comparison), "Share of conversations that drifted into help, split by whether a "
                                          "referral followed."),
    ])


def _referral(comparison: Comparison) -> str:
    rows = [
        [_count(g.referral.help_questions), _count(g.referral.referred), _percent(g.referral.rate),
         _hours(g.referral.median_hours), _hours(g.referral.p90_hours)]
        for g in comparison.groups
    ]
    headers = ["Help questions", "Referred in time", "Referral rate", "Median hours to referral",
               "90% referred within (hours)"]
    return "\n".join([
        "<h2>3. Referral after help questions</h2>",
        _explain(
            "When a client asks for help, the agreement says to refer them to the safe chat (or to an "
            "appointment). A help question counts as referred when a referral of that client followed within the "
            "time the policy allows (48 hours in the sector agreement of 2019). The hours are from the question to "
            "the referral: half of the referred questions were referred within the median; nine in ten within "
            "the last column's hours."
        ),
        _group_table("referral", "Referral after help questions", comparison, headers, rows),
        _figure(_referral_chart(comparison), "Share of help questions referred in time, and the hours it took."),
    ])


def _crossings(comparison: Comparison) -> str:
    rules = [rule for rule in RULES if any(g.crossings.by_rule[rule] for g in comparison.groups)]
    header = "".join(f'<th scope="col">{_group_name(comparison, g)}</th>' for g in comparison.groups)
    lines = [
        f'<tr><th scope="row">{escape(RULE_NAMES[rule])} <span class="code">{escape(rule)}</span></th>'
        + "".join(f"<td>{_count(g.crossings.by_rule[rule])}</td>" for g in comparison.groups) + "</tr>"
        for rule in rules
    ]
    lines.append('<tr><th scope="row">All crossings</th>'
                 + "".join(f"<td>{_count(g.crossings.total)}</td>" for g in comparison.groups) + "</tr>")
    meanings = "".join(
        f"<li><strong>{escape(RULE_NAMES[rule])}</strong>: {escape(RULE_MEANINGS[rule])}.</li>" for rule in rules
    )
    return "\n".join([
        "<h2>4. Boundary crossings by rule</h2>",
        _explain(
            "The policy that encodes the sector agreement judges every contact. A boundary crossing is a contact "
            "or conversation that crosses one of its rules; crossings that later resolved (a referral came in "
            "time, the contact was retracted) are not counted. Crossings are counted in the period they started in."
        ),
        f"<ul>{meanings}</ul>" if meanings else "<p>No crossing started in this period.</p>",
        f'<table id="crossings-by-rule">\n<caption>Boundary crossings by rule</caption>\n'
        f'<thead><tr><th scope="col">Rule</th>{header}</tr></thead>\n<tbody>\n' + "\n".join(lines)
        + "\n</tbody>\n</table>",
        _figure(_crossings_chart(comparison, rules), "Boundary crossings by rule.") if rules else "",
    ])


def _glossary() -> str:
    kinds = "".join(f"<li><strong>{escape(PROFILE_KIND_NAMES[kind])}</strong>: {escape(meaning)}.</li>"
                    for kind, meaning in PROFILE_KIND_MEANINGS.items())
    return f"<h2>Words used</h2>\n<ul>{kinds}</ul>"


# Tables.


def _group_table(
    table_id: str, caption: str, comparison: Comparison, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> str:
    head = "".join(f'<th scope="col">{escape(header)}</th>' for header in headers)
    body = "\n".join(
        f'<tr><th scope="row">{_group_name(comparison, group)}</th>' + "".join(f"<td>{cell}</td>" for cell in row)
        + "</tr>"
        for group, row in zip(comparison.groups, rows, strict=True)
    )
    return (
        f'<table id="{table_id}">\n<caption>{escape(caption)}</caption>\n'
        f'<thead><tr><th scope="col">{GROUP_WORD[comparison.by]}</th>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def _monthly_table(comparison: Comparison, channels: Sequence[str], kinds: Sequence[str]) -> str:
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name in [
        *(CHANNEL_NAMES.get(channel, channel) for channel in channels),
        *(PROFILE_KIND_NAMES[kind] for kind in kinds), "All contacts"])
    rows = []
    for group in comparison.groups:
        for month in group.contacts.by_month:
            cells = [*(month.by_channel[c] for c in channels), *(month.by_profile_kind[k] for k in kinds),
                     month.contacts]
            rows.append(f'<tr><th scope="row">{_group_name(comparison, group)}</th><td>{_month(month.month)}</td>'
                        + "".join(f"<td>{_count(cell)}</td>" for cell in cells) + "</tr>")
    return (
        '<table id="contacts-per-month">\n<caption>Contacts per month</caption>\n'
        f'<thead><tr><th scope="col">{GROUP_WORD[comparison.by]}</th><th scope="col">Month</th>{head}</tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _group_name(comparison: Comparison, group: Group) -> str:
    if comparison.by is CompareKey.PROFILE_KIND:
        return escape(PROFILE_KIND_NAMES.get(group.key, group.key))
    if group.label != group.key:
        return f'{escape(group.label)} <span class="key">({escape(group.key)})</span>'
    return escape(group.key)


def _explain(text: str) -> str:
    return f'<p class="explain">{escape(text)}</p>'


def _figure(svg: str, caption: str) -> str:
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(caption)}" ', 1)
    return f"<figure>\n{svg}\n<figcaption>{escape(caption)}</figcaption>\n</figure>"


# Charts.


def _chart(
    name: str, draw: Callable[[Figure], None], width: float, height: float,
    layout: Literal["constrained"] | None = "constrained",
) -> str:
    """A chart drawn by ``draw`` on a new figure, as SVG to put inline: no prolog, no metadata, no links."""
    style: Any = {**CHART_STYLE, "svg.hashsalt": f"logbook-compare-{name}"}  # matplotlib types rc keys as literals
    with matplotlib.rc_context(style):
        figure = Figure(figsize=(width, height), layout=layout)
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):].strip()
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    # Ids are the document's: each chart's own prefix keeps them unique among the charts.
    return re.sub(r'(\bid="|url\(#|href="#)', rf"\g<1>{name}-", svg)


def _monthly_chart(comparison: Comparison, dimension: str, categories: Sequence[str]) -> str:
    groups = comparison.groups
    columns = min(len(groups), 3)
    rows = math.ceil(len(groups) / columns)
    vocabulary = CHANNELS if dimension == "channel" else PROFILE_KINDS
    names = CHANNEL_NAMES if dimension == "channel" else PROFILE_KIND_NAMES
    labels = [_short_month(month) for month in comparison.months]

    def draw(figure: Figure) -> None:
        axes = figure.subplots(rows, columns, sharey=True, squeeze=False).flatten()
        for ax, group in zip(axes, groups, strict=False):
            bottom = [0] * len(labels)
            for category in categories:
                heights = [(m.by_channel if dimension == "channel" else m.by_profile_kind)[category]
                           for m in group.contacts.by_month]
                ax.bar(labels, heights, bottom=bottom, label=names.get(category, category),
                       color=PALETTE[vocabulary.index(category)])
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            ax.set_title(_plain_group_name(comparison, group))
            ax.tick_params(axis="x", labelrotation=45)
        for ax in axes[len(groups):]:
            ax.set_visible(False)
        for ax in axes[::columns]:
            ax.set_ylabel("contacts")
        handles, legend_labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, legend_labels, loc="upper center", ncols=len(categories), fontsize=8)
        # Short labels only: fixed margins draw once, where a layout engine draws twice.
        figure.subplots_adjust(left=0.75 / width, right=0.98, bottom=0.7 / height, top=1 - 0.65 / height,
                               wspace=0.08, hspace=0.55)

    width, height = 3.3 * columns, 0.4 + 2.8 * rows
    return _chart(f"contacts-per-month-by-{dimension}", draw, width, height, layout=None)


def _drift_chart(comparison: Comparison) -> str:
    groups = list(reversed(comparison.groups))
    names = [_plain_group_name(comparison, g) for g in groups]

    def draw(figure: Figure) -> None:
        ax = figure.subplots()
        referred = [_share_of(g.drift.drifted_then_referred, g.drift.conversations) for g in groups]
        not_referred = [_share_of(g.drift.drifted - g.drift.drifted_then_referred, g.drift.conversations)
                        for g in groups]
        ax.barh(names, referred, color=REFERRED, label="drifted, then referred")
        bars = ax.barh(names, not_referred, left=referred, color=NOT_REFERRED, label="drifted, not referred")
        ax.bar_label(bars, [f"{_percent(g.drift.share)}" for g in groups], padding=3, fontsize=8)
        ax.set_xlabel("% of conversations")
        ax.legend(loc="lower right", fontsize=8)

    return _chart("drift-into-help", draw, 6.5, 0.6 + 0.45 * len(groups) + 0.8)


def _referral_chart(comparison: Comparison) -> str:
    groups = comparison.groups
    names = [_plain_group_name(comparison, g) for g in groups]

    def draw(figure: Figure) -> None:
        rate_ax, hours_ax = figure.subplots(1, 2)
        rate_ax.bar(names, [100 * (g.referral.rate or 0) for g in groups], color=PALETTE[0])
        rate_ax.set_ylim(0, 100)
        rate_ax.set_ylabel("% referred in time")
        positions = range(len(groups))
        hours_ax.bar([p - 0.2 for p in positions], [g.referral.median_hours or 0 for g in groups], width=0.4,
                     color=PALETTE[1], label="median")
        hours_ax.bar([p + 0.2 for p in positions], [g.referral.p90_hours or 0 for g in groups], width=0.4,
                     color=PALETTE[5], label="90% within")
        hours_ax.set_xticks(list(positions), names)
        hours_ax.set_ylabel("hours from question to referral")
        hours_ax.legend(loc="upper left", fontsize=8)
        for ax in (rate_ax, hours_ax):
            ax.tick_params(axis="x", labelrotation=30 if len(groups) > 2 else 0)

    return _chart("referral", draw, 7.5, 3.2)


def _crossings_chart(comparison: Comparison, rules: Sequence[str]) -> str:
    groups = comparison.groups
    ordered = list(reversed(rules))
    height = 0.8 / len(groups)

    def draw(figure: Figure) -> None:
        ax: Axes = figure.subplots()
        for index, group in enumerate(groups):
            offsets = [r + 0.4 - height * (index + 0.5) for r in range(len(ordered))]
            bars = ax.barh(offsets, [group.crossings.by_rule[rule] for rule in ordered], height=height,
                           color=PALETTE[index % len(PALETTE)], label=_plain_group_name(comparison, group))
            ax.bar_label(bars, [_count(group.crossings.by_rule[rule]) for rule in ordered], padding=2, fontsize=7)
        ax.set_yticks(range(len(ordered)), [RULE_NAMES[rule] for rule in ordered])
        ax.set_xlabel("crossings")
        ax.legend(loc="lower right", fontsize=8)

    return _chart("crossings-by-rule", draw, 7.5, 0.8 + len(rules) * (0.3 + 0.13 * len(groups)))


def _plain_group_name(comparison: Comparison, group: Group) -> str:
    if comparison.by is CompareKey.PROFILE_KIND:
        return PROFILE_KIND_NAMES.get(group.key, group.key)
    return group.label


def _present(names: Sequence[str], counts: Iterable[dict[str, int]]) -> list[str]:
    """The names with a count anywhere, in the vocabulary's order."""
    counted = list(counts)
    return [name for name in names if any(each.get(name) for each in counted)]


# Numbers and moments, always in the same format.


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def _count_and_share(value: int, whole: int) -> str:
    return f"{_count(value)} ({_percent(value / whole if whole else None)})"


def _share_of(part: int, whole: int) -> float:
    return 100 * part / whole if whole else 0.0


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _month(text: str) -> str:
    year, month = text.split("-")
    return f"{MONTH_NAMES[int(month) - 1]} {year}"


def _short_month(text: str) -> str:
    year, month = text.split("-")
    return f"{MONTH_NAMES[int(month) - 1][:3]} {year[2:]}"


def _period(comparison: Comparison) -> str:
    start, end = comparison.start, comparison.end
    if start is None and end is None:
        return "Every recorded contact."
    if end is None:
        return f"Contacts from {_moment(start)} on."
    if start is None:
        return f"Contacts before {_moment(end)}."
    return f"Contacts from {_moment(start)} up to, not including, {_moment(end)}."


def _moment(moment: datetime | None) -> str:
    assert moment is not None
    local = moment.astimezone(BRUSSELS)
    day = f"{local.day} {MONTH_NAMES[local.month - 1]} {local.year}"
    return day if local.time() == time(0) else f"{day}, {local:%H:%M} (Brussels time)"
