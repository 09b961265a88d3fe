"""English for the channel admin pages, and Dutch labels of the codes they show
(``kind:whatsapp``, ``field:token``, ``payload:json``); see ``hub.web.i18n``.

Texts the mail pages use too are repeated here with the same English, so these pages
do not depend on another area's catalogue being imported.
"""

from __future__ import annotations

from hub.web.i18n import register

LABELS_NL = {
    "kind:whatsapp": "WhatsApp", "kind:messenger": "Messenger",
    "field:kind": "Soort", "field:account_id": "Account-id", "field:name": "Naam",
    "field:token": "Toegangstoken", "field:notice_template": "Meldingssjabloon",
    "field:notice_language": "Taal van het sjabloon",
    "payload:json": "JSON", "payload:text": "tekst", "payload:hex": "hexadecimaal",
}

LABELS_EN = {
    "kind:whatsapp": "WhatsApp", "kind:messenger": "Messenger",
    "field:kind": "Kind", "field:account_id": "Account id", "field:name": "Name",
    "field:token": "Access token", "field:notice_template": "Notice template",
    "field:notice_language": "Template language",
    "payload:json": "JSON", "payload:text": "text", "payload:hex": "hexadecimal",
}

# what hub.channels.accounts and these pages say when they refuse
REFUSALS_EN = {
    "ongeldige kanaalgegevens": "invalid channel details",
    "dit account is al aan een andere organisatie gekoppeld":
        "this account is already connected to another organisation",
    "Dit account is al gekoppeld; wijzig het in de lijst.":
        "This account is already connected; change it in the list.",
    "Dit kanaal bestaat niet.": "This channel does not exist.",
    "kies uit whatsapp, messenger": "choose whatsapp or messenger",
    "Meta's id bestaat uit cijfers": "Meta's id consists of digits",
    "een naam van 1 tot 120 tekens": "a name of 1 to 120 characters",
    "een toegangstoken zonder spaties": "an access token without spaces",
    "sjabloonnamen bestaan uit a-z, 0-9 en _": "template names consist of a-z, 0-9 and _",
    "een taalcode zoals nl of nl_NL": "a language code such as nl or nl_NL",
}

PAGES_EN = {
    "Account-id": "Account id",
    "Alleen openstaande tonen": "Show open items only",
    "Bron": "Source",
    "De wijzigingen zijn opgeslagen.": "The changes have been saved.",
    "Gelukt: het item is verwerkt.": "Done: the item has been processed.",
    "Goedgekeurd sjabloon voor buiten het 24-uursvenster, met één parameter: de link naar "
    "het portaal.": "Approved template for outside the 24-hour window, with one "
                    "parameter: the link to the portal.",
    "Het huidige token wordt nooit getoond; het nieuwe vervangt het meteen.":
        "The current token is never shown; the new one replaces it at once.",
    "Het kanaal is gekoppeld.": "The channel has been connected.",
    "Het lukt nog steeds niet; de nieuwe reden staat hieronder.":
        "It still fails; the new reason is below.",
    "Het nieuwe toegangstoken is opgeslagen.": "The new access token has been saved.",
    "In quarantaine": "In quarantine",
    "Ingekort; download het origineel voor alles.":
        "Shortened; download the original for all of it.",
    "Ingeschakeld": "Enabled", "Inhoud": "Content",
    "Kanaal koppelen": "Connect a channel", "Kanalen": "Channels",
    "Laatste fout": "Last error", "Laatste webhook": "Last webhook",
    "Meldingssjabloon": "Notice template",
    "Meldingssjabloon (alleen WhatsApp)": "Notice template (WhatsApp only)",
    "Naam": "Name", "Naar het nieuwe item in quarantaine": "To the new quarantined item",
    "Niets in quarantaine.": "Nothing in quarantine.",
    "Nieuw toegangstoken": "New access token",
    "Nog geen kanalen gekoppeld.": "No channels connected yet.",
    "Ontvangen": "Received", "Ook verwerkte tonen": "Also show processed items",
    "Opnieuw aangeboden, maar nog niet verwerkt. Draait de worker?":
        "Offered again, but not processed yet. Is the worker running?",
    "Opnieuw aangeboden; de verwerking loopt nog. Deze pagina ververst vanzelf.":
        "Offered again; processing is under way. This page refreshes by itself.",
    "Opnieuw geprobeerd": "Retried", "Opnieuw proberen": "Retry", "Opslaan": "Save",
    "Origineel downloaden": "Download the original", "Quarantaine": "Quarantine",
    "Quarantaine van de kanalen": "Channel quarantine", "Reden": "Reason",
    "Soort": "Kind", "Status": "Status", "Taal van het sjabloon": "Template language",
    "Toegangstoken": "Access token", "Toegangstoken vervangen": "Replace the access token",
    "Token vervangen": "Replace token",
    "Uitgeschakeld: er gaat niets meer uit via dit kanaal; wat cliënten sturen komt wel "
    "binnen.": "Disabled: nothing is sent through this channel any more; what clients "
               "send still comes in.",
    "Webhook-adressen voor Meta": "Webhook addresses for Meta",
    "Webhook-item in quarantaine": "Quarantined webhook item",
    "WhatsApp- en Messenger-berichten die niet verwerkt konden worden. Ze zijn byte voor "
    "byte bewaard.": "WhatsApp and Messenger messages that could not be processed. They "
                     "are kept byte for byte.",
    "WhatsApp-nummers en Facebook-pagina's waarvan de berichten in de inbox komen.":
        "WhatsApp numbers and Facebook Pages whose messages come into the inbox.",
    "WhatsApp: het phone_number_id uit WhatsApp Manager. Messenger: het id van de "
    "Facebook-pagina.": "WhatsApp: the phone_number_id from WhatsApp Manager. Messenger: "
                        "the id of the Facebook Page.",
    "Wijzigen": "Change", "geen": "none", "ingeschakeld": "enabled",
    "nog niets ontvangen": "nothing received yet", "open": "open",
    "uitgeschakeld": "disabled", "verborgen": "hidden", "verwerkt": "processed",
    "verwerkt op {moment}": "processed on {moment}",
    "{count} keer opnieuw geprobeerd": "retried {count} times",
}

register("nl", LABELS_NL)
register("en", {**LABELS_EN, **REFUSALS_EN, **PAGES_EN})
