"""Governance pages: proposals, the live tally, voting and proposing (issue 9).

Views are thin: `selectors` builds plain, JSON-safe view models (the same dicts feed the pages
and the live events), `services` turns valid forms into chain transactions, `live` publishes.
"""
