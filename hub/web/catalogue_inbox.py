"""English for the inbox area's pages (Dutch is the text itself; see ``hub.web.i18n``)."""

from __future__ import annotations

from hub.web.i18n import register

MESSAGES = {
    # labels shared by lists and messages (hub/templates/inbox/_macros.html)
    "E-mail": "Email", "WhatsApp": "WhatsApp", "Messenger": "Messenger", "Portaal": "Portal",
    "Notitie": "Note", "Open": "Open", "Wacht op antwoord": "Waiting for reply",
    "Gesluimerd": "Snoozed", "Afgehandeld": "Resolved", "Ontvangen": "Received",
    "In de wachtrij": "Queued", "Verzonden": "Sent", "Afgeleverd": "Delivered",
    "Gelezen": "Read", "Mislukt": "Failed", "Alles": "All", "Mijn gesprekken": "Mine",
    "Mijn team": "My team", "Niet toegewezen": "Unassigned",
    "Alle statussen": "All statuses",
    # pages
    "Acties": "Actions", "Afhandelen": "Resolve", "Alle kanalen": "All channels",
    "Antwoord": "Reply", "Bericht": "Message", "Berichten": "Messages",
    "Bestaande antwoorden": "Existing replies", "Bijlagen": "Attachments",
    "Cliënt koppelen": "Link to a client", "Collega": "Colleague",
    "Dit gesprek is intussen gewijzigd.": "This conversation has changed meanwhile.",
    "Er is nieuwe activiteit.": "There is new activity.", "Filter": "Filter",
    "Filter weghalen": "Remove filter",
    "Geen gesprekken met deze filters.": "No conversations match these filters.",
    "Geen opvolging gepland.": "No follow-up planned.",
    "Geplande opvolging": "Planned follow-up",
    "Gesprekken in de inbox": "Conversations in the inbox", "Heropenen": "Reopen",
    "Inbox": "Inbox",
    "Interne notitie (alleen voor medewerkers)": "Internal note (staff only)",
    "Kanaal": "Channel", "Koppelen": "Link", "Niet gekoppeld": "Not linked",
    "Niets gevonden voor “{query}”.": "Nothing found for “{query}”.",
    "Nieuw bericht": "New message", "Nieuw standaardantwoord": "New canned reply",
    "Nieuwste": "Newest", "Nog geen standaardantwoorden.": "No canned replies yet.",
    "Notitie opslaan": "Save note", "Onbekend": "Unknown", "Onderwerp": "Subject",
    "Ongelezen": "Unread", "Ontkoppelen": "Unlink",
    "Oudere berichten worden niet getoond.": "Older messages are not shown.",
    "Oudere gesprekken": "Older conversations",
    "Portaaltoegang geven": "Give portal access", "Sluimeren": "Snooze",
    "Sluimeren tot": "Snooze until",
    "Standaardantwoord invoegen": "Insert a canned reply",
    "Standaardantwoord invoegen…": "Insert a canned reply…",
    "Standaardantwoorden": "Canned replies", "Tekst": "Text", "Tijdlijn": "Timeline",
    "Titel": "Title", "Toevoegen": "Add", "Toewijzen": "Assign",
    "Toon de nieuwste": "Show the newest", "Typ minstens twee letters.":
    "Type at least two letters.", "Uw bericht": "Your message", "Versturen": "Send",
    "Ververs de pagina": "Reload the page", "Verwijderen": "Delete",
    "Via {channel}": "By {channel}", "Welke gesprekken": "Which conversations",
    "Wie mag dit dossier inzien": "Who may see this record",
    "Zoek in berichten en cliënten": "Search messages and clients", "Zoeken": "Search",
    "gepland": "planned", "gesprek": "conversation", "ik": "me",
    "medewerker": "staff member", "niet bewaard": "not kept",
    "niet gekoppeld aan een cliënt": "not linked to a client",
    "nieuwe berichten": "new messages", "ongelezen": "unread", "portaal": "portal",
    "team": "team", "tot {moment}": "until {moment}", "vanaf": "from",
    "{count} bijlage(n)": "{count} attachment(s)", "— geen team —": "— no team —",
    "— niemand —": "— nobody —", "Status": "Status", "Cliënt": "Client",
}

register("en", MESSAGES)
