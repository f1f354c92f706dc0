"""The service layer: what a person can change, one module per aggregate.

A service function takes the application, runs one transaction, writes the change, its
audit entry and its domain events, and does what must follow the commit.  The command line,
the REST API, the console and embedding code call these functions and only parse, call and
render; no rule and no audit entry lives in a face.

- :mod:`scrm.core.services.customers`: merge, unmerge, erase.
- :mod:`scrm.core.services.agents`: save an agent (an active one takes waiting cases).
- :mod:`scrm.core.services.apikeys`: create and revoke API keys.
- cases, their replies (the outbox) and SLA clocks: :class:`scrm.core.workflow.Workflow`,
  reached as ``app.workflow``; relabelling a message: ``app.relabel``.

The functions below them (:mod:`scrm.core.customers`, :mod:`scrm.core.agents`,
:mod:`scrm.core.apikeys`, :mod:`scrm.core.privacy`) take a session and never commit; each
writes its own audit entry, so that code running several of them in one session is audited
too.
"""
