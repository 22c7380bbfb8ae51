"""The store: settings, schema, migrations and queries. Every stage meets here."""
