"""`fmt-plugin rules`: what the rule pack in use decides, where each rule comes from, and
which of its data are still to be confirmed, in French for the practice.

Every point the pack settles without a public source (a *decision*) or takes from a source
we could not check (*à confirmer*) is listed, so a practice never learns of it from a
surprising status.
"""

from __future__ import annotations

from datetime import date

from fmt_plugin.rules.pack import Campaign, RulePack, Seasons
from fmt_plugin.views import french

KIND_LABELS = {"decision": "décision", "a_confirmer": "à confirmer"}


def campaign_text(seasons: Seasons, as_of: date) -> str:
    """`Campagne 2026-2027 (Métropole) : du 13/10/2026 au 28/02/2027, dates non confirmées`."""
    season = seasons.season_of(as_of)
    return f"Campagne {season}-{season + 1} ({seasons.label}) : " + _dates(
        seasons.campaign(season)
    )


def _dates(campaign: Campaign) -> str:
    text = f"du {french.day(campaign.start)} au {french.day(campaign.end)}"
    if not campaign.confirmed:
        text += ", dates non confirmées"
    return text


def render_rule_pack(pack: RulePack, as_of: date) -> str:
    """The pack's identity, indicators with their sources, campaigns and decisions."""
    lines = [
        f"Jeu de règles {pack.id} (version {pack.version}) : {pack.label}",
        f"Fichier : {pack.origin}",
        "",
        f"Indicateurs ({len(pack.indicators)})",
    ]
    for indicator in pack.indicators:
        lines.append(f"  {indicator.id} — {indicator.label}")
        lines.append(f"    Source : {indicator.source}")
    lines += ["", *_campaign_lines(pack, as_of), "", *_decision_lines(pack)]
    return "\n".join(lines) + "\n"


def _campaign_lines(pack: RulePack, as_of: date) -> list[str]:
    seasons = pack.seasons
    lines = [f"Campagnes grippe et Covid-19 — territoire : {seasons.label}"]
    for season, campaign in sorted(seasons.campaigns.items()):
        line = f"  {season}-{season + 1} : {_dates(campaign)}"
        if campaign.source:
            line += f" ({campaign.source})"
        lines.append(line)
    current = seasons.season_of(as_of)
    if current not in seasons.campaigns:
        lines.append(f"  {current}-{current + 1} : {_dates(seasons.campaign(current))}")
    month, day = seasons.default_campaign_start
    lines.append(
        f"  Saison non décrite : campagne à partir du {day:02d}/{month:02d}, "
        "dates non confirmées"
    )
    others = [
        s.label for name, s in pack.territories.items() if name != seasons.territory
    ]
    if others:
        lines.append(
            "  Autres territoires du jeu ([practice] territory) : " + ", ".join(others)
        )
    return lines


def _decision_lines(pack: RulePack) -> list[str]:
    if not pack.decisions:
        return ["Ce jeu de règles ne déclare aucune décision."]
    lines = [f"Décisions et données à confirmer ({len(pack.decisions)})"]
    for decision in pack.decisions:
        about = f" ({decision.indicator})" if decision.indicator else ""
        lines.append(f"  [{KIND_LABELS[decision.kind]}] {decision.topic}{about}")
        lines.append(f"    {decision.text}")
        if decision.source:
            lines.append(f"    Source : {decision.source}")
    return lines
