"""Networks: one module per network a channel posts to, with its rules, how to publish to it
and how to check what is there (`mastodon.py`, `bluesky.py`), plus what they share (`base.py`:
the publisher interface, `check` and `find`; `secrets.py`: channel secrets encrypted at rest;
`atproto.py`: XRPC requests and kept sessions of an AT Protocol account).

Networks sit low: planning validates against them and the queue sends through them; they import
nothing above models and outbound.
"""
