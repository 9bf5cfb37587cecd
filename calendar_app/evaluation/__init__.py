"""Evaluation: did the plan work?

- `reading`: what one published post has achieved on its network (Mastodon, Bluesky).
- `measure`: the results job: each published network delivery is measured 1 h, 24 h, 7 days and
  30 days after it went out, and every measurement is kept (a time series, never overwritten).
- `inbound`: webhook channels send their numbers to a signed endpoint instead.
- `series`: the stored points, per delivery and per post, and as CSV.
- `campaign`, `team`, `report`: what the numbers say about a campaign, a team and a month.
"""
