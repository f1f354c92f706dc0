"""The service layer: what a person can change, one module per aggregate.

A service function takes the application, runs one transaction, writes the change, its
audit entry and its domain events, and does what must follow the commit (the events are
dispatched through :func:`scrm.core.dispatch.transaction`).  The command line, the REST
API, the console, the worker and embedding code call these functions and only parse, call
and render; no rule and no audit entry lives in a face.

- :mod:`scrm.core.services.cases`: move a case along the loop, assign, promise, rate, link
  into an incident, merge, move or split out a message, close the silent ones, hand
  waiting cases to agents.
- :mod:`scrm.core.services.outbox`: replies (one case or an incident, template previews,
  answers given outside scrm), delivering the outbox, retrying a failed reply.
- :mod:`scrm.core.services.sla`: the SLA sweep (warnings, breaches, escalations).
- :mod:`scrm.core.services.customers`: merge, unmerge, erase.
- :mod:`scrm.core.services.agents`: save an agent (an active one takes waiting cases).
- :mod:`scrm.core.services.apikeys`: create and revoke API keys.
- relabelling a message: ``app.relabel``.

The functions below them (:mod:`scrm.core.cases`, :mod:`scrm.core.loop`,
:mod:`scrm.core.replies`, :mod:`scrm.core.customers`, :mod:`scrm.core.agents`,
:mod:`scrm.core.apikeys`, :mod:`scrm.core.privacy`...) take a session and never commit;
those that change what a person asked for write their own audit entry, so that code running
several of them in one session is audited too.
"""
