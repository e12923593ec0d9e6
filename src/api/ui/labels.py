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
        "Aanmelden staat uit: er is geen identiteitsprovider ingesteld en lokaal aanmelden "
        "staat uit.",
        "Signing in is off: no identity provider is configured and local sign-in is off.",
    ),
    "sign_in_failed": ("Aanmelden is niet gelukt", "Signing in did not succeed"),
    "sign_in_again": ("Opnieuw aanmelden", "Sign in again"),
    "sign_in_state": (
        "Het antwoord van de identiteitsprovider hoort niet bij de aanmelding die deze browser "
        "begon. Meld u opnieuw aan vanaf deze pagina.",
        "The identity provider's answer does not belong to the sign-in this browser started. "
        "Sign in again from this page.",
    ),
    "sign_in_no_flow": (
        "Deze browser is geen aanmelding bezig, of ze is al gebruikt (een teruggeladen of "
        "gedeelde link?). Meld u opnieuw aan.",
        "No sign-in is under way in this browser, or it was used already (a reloaded or "
        "shared link?). Sign in again.",
    ),
    "sign_in_expired": (
        "De aanmelding duurde te lang. Meld u opnieuw aan.",
        "The sign-in took too long. Sign in again.",
    ),
    "sign_in_provider_error": (
        "De identiteitsprovider heeft u niet aangemeld. Probeer opnieuw, of vraag uw beheerder "
        "om toegang als dit blijft gebeuren.",
        "The identity provider did not sign you in. Try again, or ask your administrator for "
        "access if it keeps happening.",
    ),
    "sign_in_code_refused": (
        "De identiteitsprovider weigerde de aanmeldcode (al gebruikt, verlopen of niet voor "
        "deze aanmelding). Meld u opnieuw aan.",
        "The identity provider refused the sign-in code (used already, expired, or not for "
        "this sign-in). Sign in again.",
    ),
    "sign_in_token_invalid": (
        "Het bewijs van aanmelding van de identiteitsprovider klopt niet; u bent niet "
        "aangemeld. Meld u opnieuw aan; blijft dit gebeuren, meld het dan aan uw beheerder.",
        "The identity provider's proof of sign-in does not hold; you are not signed in. Sign "
        "in again; if it keeps happening, tell your administrator.",
    ),
    "sign_in_claims": (
        "Uw account bij de identiteitsprovider noemt niet wie u bent voor Rode Draad "
        "(organisatie, rol en regio). Vraag uw beheerder die toe te voegen.",
        "Your account at the identity provider does not say who you are for Rode Draad "
        "(organisation, role and region). Ask your administrator to add them.",
    ),
    "sign_in_unreachable": (
        "De identiteitsprovider is nu niet bereikbaar of antwoordt niet zoals verwacht. "
        "Probeer het over enkele minuten opnieuw.",
        "The identity provider cannot be reached or does not answer as expected. Try again in "
        "a few minutes.",
    ),
    "signed_in": ("Aangemeld", "Signed in"),
    "continue": ("Verder", "Continue"),
    "signed_out": ("Afgemeld", "Signed out"),
    "signed_out_text": ("U bent afgemeld.", "You are signed out."),
    "details": ("Details", "Details"),
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
