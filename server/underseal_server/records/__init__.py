"""The records server: enrolment, hotlists and bundles, sealed ingest, warrants, the log."""
