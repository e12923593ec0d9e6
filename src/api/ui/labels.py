"""The pages' words: Dutch (the users' language, issue #23 point 4) by default, English with
``?lang=en``. A value without a label (a role, an organisation) is shown as recorded."""

from collections.abc import Callable

LANGUAGES = ("nl", "en")

_WORDS: dict[str, tuple[str, str]] = {
    # key: (nl, en)
    "app": ("Rode Draad", "Rode Draad"),
    "board": ("Overzichtsbord", "Board"),
    "board_intro": (
        "Geblokkeerde en risicovolle trajecten, langst vastgelopen eerst.",
        "Blocked and at-risk trajectories, longest stuck first.",
    ),
    "trajectory": ("Traject", "Trajectory"),
    "status": ("Status", "Status"),
    "sector": ("Sector", "Sector"),
    "region": ("Regio", "Region"),
    "coordinator": ("Coördinator", "Coordinator"),
    "days_stuck": ("Dagen vast", "Days stuck"),
    "days_blocked": ("Dagen geblokkeerd", "Days blocked"),
    "reasons": ("Redenen", "Reasons"),
    "why": ("Waarom", "Why"),
    "open_escalations": ("Open escalaties", "Open escalations"),
    "filter": ("Filteren", "Filter"),
    "organisation": ("Organisatie", "Organisation"),
    "reason": ("Reden", "Reason"),
    "min_days": ("Minstens dagen vast", "At least days stuck"),
    "idle_days": ("Stil na dagen", "Silent after days"),
    "any": ("(alle)", "(any)"),
    "none_stuck": ("Geen vastgelopen trajecten.", "No trajectory is stuck."),
    "signed_in_as": ("Aangemeld als", "Signed in as"),
    "acting_as": ("in de rol", "in the role"),
    "of": ("van", "of"),
    "sign_in": ("Aanmelden", "Sign in"),
    "sign_out": ("Afmelden", "Sign out"),
    "local_sign_in": ("Lokaal aanmelden (uitproberen)", "Local sign-in (trying it out)"),
    "local_sign_in_intro": (
        "Alleen in de ingebedde modus, alleen vanaf deze computer. Kies wie u bent.",
        "Embedded mode only, from this computer only. Choose who you are.",
    ),
    "user": ("Gebruiker", "User"),
    "role": ("Rol", "Role"),
    "sign_in_needed": (
        "Meld u aan om deze pagina te zien.",
        "Sign in to see this page.",
    ),
    "no_sign_in": (
        "Aanmelden via de identiteitsprovider is nog niet gebouwd; lokaal aanmelden staat uit.",
        "Signing in with the identity provider is not built yet; local sign-in is off.",
    ),
    "plan_state": ("Planstand", "Plan state"),
    "question": ("Hulpvraag", "Question"),
    "client": ("Cliënt", "Client"),
    "parties": ("Partners", "Parties"),
    "roles_in_force": ("Rolafspraken van kracht", "Role agreements in force"),
    "goals": ("Doelen", "Goals"),
    "actions": ("Acties", "Actions"),
    "plan": ("Plan", "Plan"),
    "plan_none": ("Nog geen ondertekend plan.", "No signed plan yet."),
    "signed_on": ("ondertekend op", "signed on"),
    "by": ("door", "by"),
    "valid_until": ("geldig tot", "valid until"),
    "closed": ("afgesloten", "closed"),
    "open": ("open", "open"),
    "owner": ("eigenaar", "owner"),
    "due": ("tegen", "due"),
    "next_consultation": ("Volgend overleg", "Next consultation"),
    "next_evaluation": ("Volgende evaluatie", "Next evaluation"),
    "blocked_since": ("Geblokkeerd sinds", "Blocked since"),
    "missed_deadlines": ("Gemiste termijnen", "Missed deadlines"),
    "thread": ("Rode draad", "Thread"),
    "thread_intro": (
        "Wat er gebeurde, in de tijd. Gearceerd: geblokkeerd.",
        "What happened, over time. Hatched: blocked.",
    ),
    "lane_status": ("Status", "Status"),
    "lane_consultations": ("Overleg", "Consultations"),
    "lane_agreements": ("Rolafspraak", "Role agreement"),
    "lane_plan": ("Plan", "Plan"),
    "lane_escalations": ("Escalatie", "Escalation"),
    "lane_handovers": ("Overdrachten", "Handovers"),
    "lane_deadlines": ("Termijnen", "Deadlines"),
    "in_force": ("van kracht", "in force"),
    "continues_from": ("Vervolg op", "Continues"),
    "continued_by": ("Voortgezet door", "Continued by"),
    "back_to_board": ("Terug naar het bord", "Back to the board"),
    "not_found": ("Niet gevonden", "Not found"),
    "not_found_text": (
        "Deze pagina bestaat niet, of u mag ze niet zien.",
        "This page does not exist, or you may not see it.",
    ),
    "refused": ("Geweigerd", "Refused"),
    "language": ("English", "Nederlands"),
    "skip": ("Naar de inhoud", "Skip to content"),
    "erased": ("Persoonsgegevens gewist", "Personal data erased"),
    "missed": ("gemist", "missed"),
    "met_late": ("laat gehaald", "met late"),
    "waived": ("afgezien", "waived"),
    "today": ("vandaag", "today"),
    "none": ("geen", "none"),
    "events": ("gebeurtenissen", "events"),
    "statistics": ("Statistiek", "Statistics"),
    "as_of": ("Stand op een dag", "As of a day"),
    "as_of_intro": (
        "De toestand aan het einde van de gekozen dag (UTC), zoals we die nu kennen.",
        "The state at the end of the chosen day (UTC), as known now.",
    ),
    "day": ("Dag", "Day"),
    "slider": ("Dag op de tijdlijn van het traject", "Day on the trajectory's time line"),
    "show": ("Toon", "Show"),
    "plan_in_force": ("Plan van kracht", "Plan in force"),
    "yes": ("ja", "yes"),
    "no": ("nee", "no"),
    "consents_in_force": ("Toestemmingen van kracht", "Consents in force"),
    "deadlines": ("Termijnen", "Deadlines"),
    "standing": ("Stand", "Standing"),
    "rule": ("Regel", "Rule"),
    "recorded_later": ("Later vastgelegd", "Recorded later"),
    "recorded_later_intro": (
        "Feiten die op deze dag al gebeurd waren, maar pas later werden vastgelegd.",
        "Facts that had happened by this day but were recorded only later.",
    ),
    "occurred": ("gebeurd", "occurred"),
    "recorded": ("vastgelegd", "recorded"),
    "statistics_intro": (
        "De statistiekreleases van uw regio('s); per regio de proceskaart.",
        "The statistics releases of your region(s); per region its process map.",
    ),
    "releases": ("Releases", "Releases"),
    "release": ("Release", "Release"),
    "period": ("Periode", "Period"),
    "process_map": ("Proceskaart", "Process map"),
    "map_intro": (
        "Alleen gepubliceerde aantallen: een overgang of activiteit die ontbreekt, kwam niet "
        "voor of werd achtergehouden.",
        "Published numbers only: a transition or activity that is absent did not occur or was "
        "withheld.",
    ),
    "activities": ("activiteiten", "activities"),
    "transitions": ("Overgangen", "Transitions"),
    "from": ("Van", "From"),
    "to": ("Naar", "To"),
    "count": ("Aantal", "Count"),
    "median": ("mediaan", "median"),
    "weeks": ("weken", "weeks"),
    "trend": ("Trend", "Trend"),
    "trend_intro": (
        "Per periode, uit de laatste release van die periode: het aandeel lopende trajecten dat "
        "geblokkeerd was en de termijnen van één regel. Alleen gepubliceerde aantallen; "
        "afgeschermd betekent: achtergehouden, niet nul.",
        "Per period, from that period's latest release: the share of running trajectories that "
        "were blocked and the deadlines of one rule. Published numbers only; withheld means "
        "held back, not zero.",
    ),
    "share_blocked": ("Aandeel geblokkeerd", "Share blocked"),
    "deadlines_kept": ("Termijnen gehaald", "Deadlines kept"),
    "withheld": ("afgeschermd", "withheld"),
    "not_released": ("niet in de release", "not in the release"),
    "running": ("lopend", "running"),
    "fell_due": ("Vervallen", "Fell due"),
    "choose_rule": ("Termijnregel", "Deadline rule"),
    "no_releases": ("Nog geen release van deze regio.", "No release of this region yet."),
}

_VALUES: dict[str, tuple[str, str]] = {
    # statuses
    "referred": ("aangemeld", "referred"),
    "accepted": ("aanvaard", "accepted"),
    "declined": ("geweigerd", "declined"),
    "active": ("lopend", "active"),
    "blocked": ("geblokkeerd", "blocked"),
    "closed": ("afgesloten", "closed"),
    # sectors
    "youth_care": ("jeugdhulp", "youth care"),
    "disability_care": ("handicapzorg", "disability care"),
    "primary_care": ("eerste lijn", "primary care"),
    "mental_health": ("GGZ", "mental health"),
    "education": ("onderwijs", "education"),
    # reasons
    "regulation": ("regelgeving", "regulation"),
    "waiting_list": ("wachtlijst", "waiting list"),
    "admission_criteria": ("toelatingscriteria", "admission criteria"),
    "funding": ("financiering", "funding"),
    "capacity": ("capaciteit", "capacity"),
    "cooperation": ("samenwerking", "cooperation"),
    "client_situation": ("situatie cliënt", "client situation"),
    "network_breakdown": ("netwerk weggevallen", "network breakdown"),
    "safety": ("veiligheid", "safety"),
    "other": ("andere", "other"),
    # escalation levels
    "team": ("team", "team"),
    "organisation": ("organisatie", "organisation"),
    "network": ("netwerk", "network"),
    "policy": ("beleid", "policy"),
    # consultation kinds
    "start": ("startoverleg", "start"),
    "three_month": ("drie maanden", "three months"),
    "ad_hoc": ("ad hoc", "ad hoc"),
    "end": ("eindoverleg", "end"),
    "mdo": ("MDO", "MDO"),
    "plan_meeting": ("planbespreking", "plan meeting"),
    "intervision": ("intervisie", "intervision"),
    # deadline standings
    "due": ("verlopen", "due"),
    "met": ("gehaald", "met"),
    "met_late": ("laat gehaald", "met late"),
    "missed": ("gemist", "missed"),
    # signatories
    "client": ("cliënt", "client"),
    "representative": ("vertegenwoordiger", "representative"),
}

Translate = Callable[[str], str]


def language(requested: str | None) -> str:
    return requested if requested in LANGUAGES else "nl"


def words(lang: str) -> tuple[Translate, Translate]:
    """→ (a label by key, a recorded value in words)."""
    i = LANGUAGES.index(lang)

    def label(key: str) -> str:
        return _WORDS[key][i]

    def value(raw: object) -> str:
        text = str(raw)
        found = _VALUES.get(text)
        return found[i] if found else text

    return label, value
