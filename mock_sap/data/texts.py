"""The mock system's language-dependent texts: messages (SAP's T100) and system status names (TJ02T), per language.

Languages are SAP's 2-letter keys. A text missing in the logon language is shown in English, the mock
system's default language (SAP shows the text of its logon or system language then).
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "EN"

# Message texts by key. The key is the message code (class/number) SAP answers; a mock that reuses one
# code for different texts tells them apart with a variant after '#' ("CO/093#already"), never sent.
# &1..&4 are the message's variables, in the order the code passes them, as in SAP's message texts.
MESSAGES: dict[str, dict[str, str]] = {
    # API_PRODUCTION_ORDER_2_SRV
    "CO/004": {
        "EN": "Order &1 does not exist",
        "DE": "Auftrag &1 ist nicht vorhanden",
    },
    "CO/011": {
        "EN": "Enter a quantity greater than zero",
        "DE": "Geben Sie eine Menge größer als null ein",
    },
    "CO/027": {
        "EN": "Order is currently being processed by another user (locked)",
        "DE": "Auftrag wird gerade von einem anderen Benutzer bearbeitet (gesperrt)",
    },
    "CO/041": {
        "EN": "Operation &1 does not exist in order &2",
        "DE": "Vorgang &1 ist im Auftrag &2 nicht vorhanden",
    },
    "CO/079": {
        "EN": "Start date is after the finish date; correct the dates",
        "DE": "Der Starttermin liegt nach dem Endtermin; korrigieren Sie die Termine",
    },
    "CO/093": {
        "EN": "Order &1 released",
        "DE": "Auftrag &1 wurde freigegeben",
    },
    "CO/093#already": {
        "EN": "Order &1 is already released",
        "DE": "Auftrag &1 ist bereits freigegeben",
    },
    "CO/093#operation-already": {
        "EN": "Operation &1 of order &2 is already released",
        "DE": "Vorgang &1 des Auftrags &2 ist bereits freigegeben",
    },
    "CO/094": {
        "EN": "Operation &1 of order &2 released",
        "DE": "Vorgang &1 des Auftrags &2 wurde freigegeben",
    },
    # The availability check's warning at release (the number is the mock's own, not checked against SAP's T100).
    "CO/263": {
        "EN": "Availability check: &2 missing part(s) in order &1 (&3)",
        "DE": "Verfügbarkeitsprüfung: &2 Fehlteil(e) im Auftrag &1 (&3)",
    },
    "CO/100": {
        "EN": "Order &1 saved",
        "DE": "Auftrag &1 wurde gesichert",
    },
    "CO/100#operation": {
        "EN": "Operation &1 saved",
        "DE": "Vorgang &1 wurde gesichert",
    },
    "CO/208": {
        "EN": "Order &1 is technically completed and cannot be changed",
        "DE": "Auftrag &1 ist technisch abgeschlossen und kann nicht geändert werden",
    },
    "CO/208#release": {
        "EN": "Order &1 is technically completed; release is not allowed",
        "DE": "Auftrag &1 ist technisch abgeschlossen; eine Freigabe ist nicht erlaubt",
    },
    "CO/209": {
        "EN": "Order &1 is flagged for deletion; release is not allowed",
        "DE": "Auftrag &1 ist zum Löschen vorgemerkt; eine Freigabe ist nicht erlaubt",
    },
    "CO/230": {
        "EN": "Order &1 is already technically completed",
        "DE": "Auftrag &1 ist bereits technisch abgeschlossen",
    },
    "CO/231": {
        "EN": "Order &1 technically completed",
        "DE": "Auftrag &1 wurde technisch abgeschlossen",
    },
    "CR/020": {
        "EN": "Work center &1 does not exist in plant &2",
        "DE": "Arbeitsplatz &1 ist im Werk &2 nicht vorhanden",
    },
    # API_PROD_ORDER_CONFIRMATION_2_SRV
    "RU/011": {
        "EN": "Enter an order number",
        "DE": "Geben Sie eine Auftragsnummer ein",
    },
    "RU/012": {
        "EN": "Enter an operation number",
        "DE": "Geben Sie eine Vorgangsnummer ein",
    },
    "RU/022": {
        "EN": "Unit &1 cannot be converted into &2",
        "DE": "Die Einheit &1 kann nicht in &2 umgerechnet werden",
    },
    "RU/036": {
        "EN": "Quantities must not be negative",
        "DE": "Mengen dürfen nicht negativ sein",
    },
    "RU/100": {
        "EN": "Confirmation of order &1 saved",
        "DE": "Rückmeldung zum Auftrag &1 wurde gesichert",
    },
    "RU/101": {
        "EN": "Order &1 does not exist",
        "DE": "Auftrag &1 ist nicht vorhanden",
    },
    "RU/110": {
        "EN": "Confirmation &1 cancelled",
        "DE": "Rückmeldung &1 wurde storniert",
    },
    "RU/140": {
        "EN": "Confirmation &1/&2 does not exist",
        "DE": "Rückmeldung &1/&2 ist nicht vorhanden",
    },
    "RU/141": {
        "EN": "Confirmation &1/&2 is already cancelled",
        "DE": "Rückmeldung &1/&2 ist bereits storniert",
    },
    "RU/150": {
        "EN": "Operation &1 of order &2 is not released",
        "DE": "Vorgang &1 des Auftrags &2 ist nicht freigegeben",
    },
    "RU/155": {
        "EN": "Order &1 is technically completed; no confirmation possible",
        "DE": "Auftrag &1 ist technisch abgeschlossen; keine Rückmeldung möglich",
    },
    "RU/201": {
        "EN": "Operation &1 does not exist in order &2",
        "DE": "Vorgang &1 ist im Auftrag &2 nicht vorhanden",
    },
    "RU/505": {
        "EN": "Confirmed yield exceeds the operation quantity of order &1 operation &2",
        "DE": "Die rückgemeldete Gutmenge überschreitet die Vorgangsmenge von Auftrag &1 Vorgang &2",
    },
    "RU/507": {
        "EN": "Operation &1 of order &2 is already finally confirmed",
        "DE": "Vorgang &1 des Auftrags &2 ist bereits endrückgemeldet",
    },
}

# System status texts of production orders (StatusShortName, StatusName) by status code.
STATUS_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "I0001": {"EN": ("CRTD", "Created"), "DE": ("EROF", "Eröffnet")},
    "I0002": {"EN": ("REL", "Released"), "DE": ("FREI", "Freigegeben")},
    "I0007": {"EN": ("PRT", "Printed"), "DE": ("DRUC", "Gedruckt")},
    "I0009": {"EN": ("CNF", "Confirmed"), "DE": ("RÜCK", "Rückgemeldet")},
    "I0010": {"EN": ("PCNF", "Partially confirmed"), "DE": ("TRÜC", "Teilrückgemeldet")},
    "I0012": {"EN": ("DLV", "Delivered"), "DE": ("GLFT", "Geliefert")},
    "I0016": {"EN": ("PRC", "Pre-costed"), "DE": ("VKAL", "Vorkalkuliert")},
    "I0028": {"EN": ("SETC", "Settlement rule created"), "DE": ("ABRV", "Abrechnungsvorschrift erfasst")},
    "I0042": {"EN": ("PREL", "Partially released"), "DE": ("TFRE", "Teilfreigegeben")},
    "I0043": {"EN": ("LKD", "Locked"), "DE": ("GESP", "Gesperrt")},
    "I0045": {"EN": ("TECO", "Technically completed"), "DE": ("TABG", "Technisch abgeschlossen")},
}
