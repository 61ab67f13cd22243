"""The transparency portal: public pages about cameras, usage, the audit log and the policy.

Every page is built from what the records server holds (its tables, its
settings and its audit log) into one :class:`~underseal_server.portal.content.Page`,
which is rendered three ways from the same object: server-side HTML (no
JavaScript needed), JSON, and one CSV per table. Nothing here reads a plate:
the hotlist appears only as counts by reason and source.
"""

from underseal_server.portal.routes import router

__all__ = ["router"]
