"""A key custodian: holds one share of each live epoch key, answers only warrants in scope."""
