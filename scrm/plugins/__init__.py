"""Built-in plugins that ship inside the ``scrm`` distribution.

(Channel plugins that are separate distributions, ``scrm-twitter`` and friends, live in the
top-level ``plugins/`` folder of the repository.)
"""
