"""English for the mail admin pages (Dutch is the text itself; see ``hub.web.i18n``)."""

from __future__ import annotations

from hub.web.i18n import register

MESSAGES = {
    "Alleen openstaande tonen": "Show open items only",
    "Begin van het bericht": "Start of the message",
    "Bericht in quarantaine": "Quarantined message",
    "Berichten die niet verwerkt konden worden. Ze zijn byte voor byte bewaard; niets is "
    "weggegooid.": "Messages that could not be processed. They are kept byte for byte; "
                   "nothing was thrown away.",
    "Beveiliging": "Security", "Bron": "Source",
    "E-mailadres van de mailbox": "Address of the mailbox",
    "Gebruikersnaam": "User name",
    "Gelukt: het bericht staat nu in de inbox.": "Done: the message is in the inbox now.",
    "Het lukt nog steeds niet; de reden hieronder is bijgewerkt.":
        "It still fails; the reason below has been updated.",
    "In orde. Laatst opgehaald: {moment}": "Fine. Last fetched: {moment}",
    "Ingekort; download het origineel voor alles.":
        "Shortened; download the original for all of it.",
    "Ingeschakeld": "Enabled", "Laatst opgehaald": "Last fetched",
    "Laatste fout": "Last error",
    "Leeg laten om de mailserver van de hub te gebruiken.":
        "Leave empty to use the hub's mail server.",
    "Mailbox toevoegen": "Add a mailbox", "Mailboxen": "Mailboxes", "Map": "Folder",
    "Mislukt op rij": "Failures in a row", "Naam": "Name",
    "Niets in quarantaine.": "Nothing in quarantine.",
    "Nog geen mailboxen.": "No mailboxes yet.", "Nog niet opgehaald.": "Not fetched yet.",
    "Ontvangen": "Received", "Ook verwerkte tonen": "Also show processed items",
    "Opgehaalde mail als gelezen markeren": "Mark fetched mail as read",
    "Opgehaalde mail van de server verwijderen": "Delete fetched mail from the server",
    "Opgeslagen. De mailbox wordt binnen enkele seconden (opnieuw) opgehaald.":
        "Saved. The mailbox will be fetched (again) within seconds.",
    "Ophalen mislukt ({count} keer op rij)": "Fetching failed ({count} times in a row)",
    "Opnieuw geprobeerd": "Retried", "Opnieuw proberen": "Retry", "Opslaan": "Save",
    "Origineel downloaden (.eml)": "Download the original (.eml)", "Poort": "Port",
    "Quarantaine": "Quarantine", "Reden": "Reason", "Server": "Server",
    "Stand": "Checkpoint", "Status": "Status",
    "Verbinding gelukt: {count} bericht(en) in de map.":
        "Connected: {count} message(s) in the folder.",
    "Verbinding mislukt": "Connection failed", "Verbinding testen": "Test the connection",
    "Wachtwoord of app-wachtwoord": "Password or app password",
    "antwoorden versturen": "sending replies", "geen": "none",
    "leeg laten om het huidige te houden": "leave empty to keep the current one",
    "nog niet": "not yet", "open": "open", "ophalen": "fetching",
    "uitgeschakeld": "disabled", "verwerkt": "processed",
    "verwerkt op {moment}": "processed on {moment}",
    "{count} keer opnieuw geprobeerd": "retried {count} times",
    "security:tls": "TLS", "security:starttls": "STARTTLS", "security:none": "none (plain)",
}
# labels of codes need a Dutch text too
LABELS_NL = {"security:tls": "TLS", "security:starttls": "STARTTLS",
             "security:none": "geen (onversleuteld)"}

register("en", MESSAGES)
register("nl", LABELS_NL)
