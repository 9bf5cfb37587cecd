"""Networks: one module per network a channel posts to, with its rules, how to publish to it
and how to check what is there (`mastodon.py`), plus what all of them share (`secrets.py`:
channel secrets encrypted at rest).

Networks sit low: planning validates against them and the queue sends through them; they import
nothing above models and outbound.
"""
