"""Texts of the security, staff and portal pages: English for every Dutch text, and Dutch
labels for the codes shown to people (roles, audit events, relations)."""

from __future__ import annotations

LABELS_NL: dict[str, str] = {
    "role:admin": "beheerder", "role:coordinator": "coördinator", "role:staff": "medewerker",
    "role:portal": "portaalgebruiker", "role:anonymous": "anoniem", "role:api": "koppeling",
    "role:system": "systeem",
    "event:read": "inzage", "event:search": "zoeken", "event:create": "aanmaken",
    "event:change": "wijziging", "event:delete": "verwijdering", "event:export": "export",
    "event:emergency_access": "noodtoegang", "event:login": "inloggen",
    "event:logout": "uitloggen", "event:lockout": "blokkade", "event:unlock": "deblokkade",
    "event:denied": "geweigerd",
    "relation:self": "cliënt zelf", "relation:family": "familie",
    "relation:legal_representative": "wettelijk vertegenwoordiger", "relation:other": "anders",
}

_LABELS_EN = {
    "role:admin": "administrator", "role:coordinator": "coordinator", "role:staff": "staff",
    "role:portal": "portal user", "role:anonymous": "anonymous", "role:api": "integration",
    "role:system": "system",
    "event:read": "read", "event:search": "search", "event:create": "create",
    "event:change": "change", "event:delete": "delete", "event:export": "export",
    "event:emergency_access": "emergency access", "event:login": "sign in",
    "event:logout": "sign out", "event:lockout": "lockout", "event:unlock": "unlock",
    "event:denied": "denied",
    "relation:self": "client", "relation:family": "family",
    "relation:legal_representative": "legal representative", "relation:other": "other",
}

_PAGES_EN = {
    "Hoofdmenu": "Main menu", "Cliënten": "Clients", "Gebruikers": "Users",
    "Auditlog": "Audit log", "Gesprekken": "Conversations",
    "Wie keek in mijn dossier": "Who viewed my record", "Account": "Account",
    "Uitloggen": "Sign out", "Inloggen": "Sign in",
    "De uitnodiging is verstuurd.": "The invitation has been sent.",
    "De uitnodiging is aangemaakt, maar er is geen e-mail verstuurd: er is geen mailserver "
    "ingesteld.": "The invitation was created, but no email was sent: no mail server is "
                  "configured.",
    "Opgeslagen.": "Saved.", "Medewerker uitnodigen": "Invite a staff member",
    "Naam": "Name", "E-mailadres": "Email address", "Rol": "Role", "Uitnodigen": "Invite",
    "privacyfunctionaris": "privacy officer", "tweede factor": "second factor",
    "ja": "yes", "nee": "no", "uitgenodigd": "invited", "uitgeschakeld": "disabled",
    "geblokkeerd tot": "locked until", "laatst ingelogd": "last signed in",
    "Opslaan": "Save", "Inschakelen": "Enable", "Uitschakelen": "Disable",
    "Blokkade opheffen": "Unlock",
    "Tweede factor van deze medewerker wissen?": "Remove this staff member's second factor?",
    "Tweede factor wissen": "Remove second factor",
    "Uitnodiging opnieuw sturen": "Send the invitation again",
    "De keten van het auditlog is intact: er is niets gewijzigd of verwijderd.":
        "The audit log chain is intact: nothing has been changed or deleted.",
    "Let op: de keten van het auditlog is verbroken bij regel {id}. Die regel of een regel "
    "ervoor is gewijzigd of verwijderd.": "Warning: the audit log chain is broken at line "
                                           "{id}. That line or one before it was changed or "
                                           "deleted.",
    "Noodtoegang (laatste 30 dagen)": "Emergency access (last 30 days)", "Reden": "Reason",
    "Cliënt (nummer)": "Client (number)", "Gebruiker": "User", "Iedereen": "Everyone",
    "Gebeurtenis": "Event", "Alle": "All", "Van": "From", "Tot en met": "Up to and including",
    "Filteren": "Filter", "Exporteren (CSV)": "Export (CSV)", "Wanneer": "When",
    "Wie": "Who", "Namens": "On behalf of", "Cliënt": "Client", "Object": "Object",
    "Vanaf": "From", "Uitkomst": "Outcome", "Toelichting": "Details",
    "Geen regels voor dit filter.": "No lines match this filter.",
    "Oudere regels": "Older lines", "Noodtoegang": "Emergency access",
    "Geen zorgrelatie met deze cliënt": "No care relationship with this client",
    "Als beheerder kunt u in een noodgeval tijdelijk toegang nemen. Dat wordt met uw reden "
    "vastgelegd en de privacyfunctionaris ziet het.": "As an administrator you can take "
        "temporary access in an emergency. It is recorded with your reason and the privacy "
        "officer sees it.",
    "Reden (verplicht)": "Reason (required)",
    "Noodtoegang nemen (1 uur)": "Take emergency access (1 hour)",
    "Dat lukte niet": "That did not work", "Naar de startpagina": "To the start page",
    "Wachtwoord vergeten": "Forgot password",
    "Als dit e-mailadres bij ons bekend is, ontvangt u binnen enkele minuten een e-mail met "
    "een link om een nieuw wachtwoord te kiezen.": "If we know this email address, you will "
        "receive an email with a link to choose a new password within a few minutes.",
    "Stuur mij een link": "Send me a link", "Terug naar inloggen": "Back to sign in",
    "Link werkt niet": "Link does not work",
    "Vraag degene die u uitnodigde om een nieuwe uitnodiging.":
        "Ask the person who invited you for a new invitation.",
    "Vraag een nieuwe link aan": "Request a new link",
    "Inloggen bij het cliëntportaal": "Sign in to the client portal",
    "Inloggen voor medewerkers": "Staff sign in",
    "Log in om verder te gaan. Na een tijd zonder activiteit wordt u automatisch uitgelogd.":
        "Sign in to continue. After a while without activity you are signed out "
        "automatically.",
    "Uw wachtwoord is ingesteld. U kunt nu inloggen.":
        "Your password has been set. You can sign in now.",
    "Wachtwoord": "Password", "Wachtwoord vergeten?": "Forgot your password?",
    "Herstelcodes": "Recovery codes", "Uw herstelcodes": "Your recovery codes",
    "Bewaar deze codes op een veilige plek. Elke code werkt één keer als u uw telefoon niet "
    "bij de hand heeft. U ziet ze maar één keer.": "Keep these codes in a safe place. Each "
        "code works once when you do not have your phone at hand. They are shown only once.",
    "Ik heb ze bewaard, ga verder": "I have saved them, continue",
    "Tweede stap": "Second step",
    "Vul de code van zes cijfers uit uw authenticator-app in. Kwijt? Gebruik een van uw "
    "herstelcodes.": "Enter the six-digit code from your authenticator app. Lost it? Use one "
                     "of your recovery codes.",
    "Code": "Code", "Bevestigen": "Confirm", "Wachtwoord kiezen": "Choose a password",
    "Welkom bij Zorghub": "Welcome to Zorghub", "Nieuw wachtwoord kiezen": "Choose a new password",
    "Kies een wachtwoord voor {email}. Minstens tien tekens; een zin van een paar woorden "
    "werkt goed.": "Choose a password for {email}. At least ten characters; a sentence of a "
                   "few words works well.",
    "Nog een keer": "Once more",
    "U bekijkt dit dossier via noodtoegang. Elke inzage wordt vastgelegd.":
        "You are viewing this record through emergency access. Every view is recorded.",
    "Cliëntnummer": "Client number", "Geboortedatum": "Date of birth", "Status": "Status",
    "Team": "Team", "Contactpersonen": "Contacts", "Geen contactpersonen.": "No contacts.",
    "(geen onderwerp)": "(no subject)", "Nog geen gesprekken.": "No conversations yet.",
    "Portaaltoegang": "Portal access", "Relatie tot de cliënt": "Relation to the client",
    "Uitnodigen voor het portaal": "Invite to the portal", "Gesprek": "Conversation",
    "Terug": "Back", "Nog geen berichten.": "No messages yet.",
    "Mijn cliënten": "My clients", "Lopende noodtoegang": "Current emergency access",
    "Dossier": "Record", "tot": "until",
    "Als beheerder ziet u geen cliëntdossiers, behalve via noodtoegang.":
        "As an administrator you see no client records, except through emergency access.",
    "U heeft nog geen cliënten in uw caseload of team.":
        "You have no clients in your caseload or team yet.",
    "Tweede factor instellen": "Set up a second factor",
    "Scan deze QR-code met een authenticator-app (bijvoorbeeld Google Authenticator, "
    "Microsoft Authenticator of FreeOTP) en vul daarna de code in die de app toont.":
        "Scan this QR code with an authenticator app (for example Google Authenticator, "
        "Microsoft Authenticator or FreeOTP) and then enter the code the app shows.",
    "QR-code voor uw authenticator-app": "QR code for your authenticator app",
    "Kunt u niet scannen? Typ deze sleutel over:": "Cannot scan? Type this key instead:",
    "Code uit de app": "Code from the app", "Instellen": "Set up",
    "Hier ziet u wie uw gegevens bekeek of wijzigde, en wanneer. Iets vreemds gezien? Neem "
    "contact op met de zorgorganisatie.": "Here you see who viewed or changed your data, and "
        "when. Noticed something odd? Contact the care organisation.",
    "Wat": "What", "Nog niemand heeft uw dossier bekeken.": "Nobody has viewed your record yet.",
    "Toegang namens": "Access on behalf of", "Tweede factor": "Second factor",
    "Uw account is extra beveiligd met een code uit een authenticator-app.":
        "Your account is further protected by a code from an authenticator app.",
    "Tweede factor uitzetten": "Turn off the second factor",
    "Beveilig uw account extra met een code uit een authenticator-app op uw telefoon.":
        "Protect your account further with a code from an authenticator app on your phone.",
    "Overal uitloggen": "Sign out everywhere", "Alle gesprekken": "All conversations",
    "Over": "About", "Zorgverlener": "Care provider",
    "U heeft toegang namens:": "You have access on behalf of:",
    "Er zijn nog geen gesprekken.": "There are no conversations yet.",
}

# messages of errors raised by the security area, shown on pages
_ERRORS_EN = {
    "Het e-mailadres of wachtwoord klopt niet.": "The email address or password is wrong.",
    "Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw.":
        "Too many failed attempts. Try again in {minutes} minutes.",
    "De code klopt niet. Probeer de volgende code uit uw app.":
        "The code is wrong. Try the next code from your app.",
    "Deze code is al gebruikt. Wacht op de volgende code in uw app.":
        "This code has been used already. Wait for the next code in your app.",
    "Deze link is ongeldig.": "This link is not valid.",
    "Deze link is al gebruikt.": "This link has been used already.",
    "Deze link is verlopen.": "This link has expired.",
    "Log in om verder te gaan.": "Sign in to continue.",
    "U heeft geen toegang tot deze pagina.": "You have no access to this page.",
    "U heeft geen toegang tot dit dossier.": "You have no access to this record.",
    "U heeft geen toegang tot dit gesprek.": "You have no access to this conversation.",
    "Het formulier is verlopen of ongeldig. Laad de pagina opnieuw en probeer het nog eens.":
        "The form has expired or is not valid. Reload the page and try again.",
    "Dit dossier bestaat niet.": "This record does not exist.",
    "Dit gesprek bestaat niet.": "This conversation does not exist.",
    "Deze medewerker bestaat niet.": "This staff member does not exist.",
    "U kunt dit niet bij uw eigen account doen.": "You cannot do this to your own account.",
    "Geef een reden van minstens tien tekens.": "Give a reason of at least ten characters.",
    "Ongeldig nummer.": "Not a valid number.",
    "Vul een geldig e-mailadres in.": "Enter a valid email address.",
    "Vul een naam in (hoogstens 200 tekens).": "Enter a name (at most 200 characters).",
    "Onbekende rol.": "Unknown role.", "Onbekende relatie.": "Unknown relation.",
    "Er is al een medewerker met dit e-mailadres.":
        "There already is a staff member with this email address.",
    "Deze medewerker heeft al een wachtwoord.": "This staff member already has a password.",
    "De twee wachtwoorden zijn niet gelijk.": "The two passwords are not the same.",
    "Het wachtwoord moet minstens 10 tekens lang zijn.":
        "The password must be at least 10 characters long.",
    "Het wachtwoord mag niet met een spatie beginnen of eindigen.":
        "The password must not begin or end with a space.",
    "Een datum schrijft u als JJJJ-MM-DD.": "Write a date as YYYY-MM-DD.",
    "Het auditlog kan niet worden gewijzigd.": "The audit log cannot be changed.",
}

MESSAGES_EN: dict[str, str] = {**_LABELS_EN, **_PAGES_EN, **_ERRORS_EN}
