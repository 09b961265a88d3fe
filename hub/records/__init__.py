"""Client records: validation, normalisation, duplicates, import, demo data and admins.

The CSV importer (``hub import-clients``) and the JSON API (``/api/v1/clients``) both go
through ``hub.records.clients``, so a phone number, an email address or a duplicate is
judged the same way whichever door a record comes in by.
"""
