"""Facebook pages and Messenger channel for scrm (distribution ``scrm-facebook``, entry point group ``scrm``).

Only hook implementations live here; the channel itself is in ``channel.py``.  The
channel is being built (see the project's issues); until then this plugin registers nothing
and its part of the sample data is ingested in scrm's interchange format.
"""
