"""English for the staff chat pages (Dutch is the text itself; see ``hub.web.i18n``)."""

from __future__ import annotations

from hub.web.i18n import register

LABELS_NL = {"kind:direct": "direct", "kind:group": "groep", "kind:team": "team"}

MESSAGES = {
    "Chat": "Chat", "Alle chats": "All chats", "Direct bericht": "Direct message",
    "Collega": "Colleague", "Gesprek openen": "Open conversation",
    "Nieuwe groep": "New group", "Naam": "Name", "Leden": "Members",
    "Groep maken": "Create group", "Lid toevoegen": "Add member",
    "Verwijderen": "Remove", "Bewerken": "Edit", "Versturen": "Send",
    "Uw bericht": "Your message", "Oudere berichten": "Older messages",
    "Typ een bericht; @naam om iemand te noemen": "Type a message; @name to mention someone",
    "U zit nog in geen enkele chatkamer.": "You are not in any chat room yet.",
    "ongelezen": "unread", "vermeld": "mentioned", "bewerkt": "edited",
    "Dit bericht is verwijderd.": "This message was deleted.",
    "wordt verstuurd…": "sending…", "niet verstuurd": "not sent",
    "{name} typt…": "{name} is typing…", "offline": "offline",
    "Geen verbinding; we proberen het opnieuw.": "No connection; trying again.",
    "U heeft geen toegang tot deze chatkamer.": "You have no access to this chat room.",
    "kind:direct": "direct", "kind:group": "group", "kind:team": "team",
}

register("nl", LABELS_NL)
register("en", MESSAGES)
