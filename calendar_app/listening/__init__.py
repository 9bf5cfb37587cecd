"""Listening: what people say to our accounts, and an early warning when it swells.

- `mastodon`: reading mentions, replies, quotes, watched hashtags and search terms from a
  Mastodon server (through the Mastodon channel's own HTTP handling: outbound policy, deadlines,
  secrets), and a streamed event as the same item.
- `streaming`: Mastodon's streaming API, kept open by long-lived readers beside the scheduler,
  with a catch-up from the cursor at every (re)connection; polling is the fallback.
- `bluesky`: reading mentions of, replies to and quotes of a Bluesky account, and posts with
  its watched hashtags and terms, from the repo firehose (the PDS's, or a relay's), from a
  sequence number kept in the database.
- `watch`: how a post matches a watched hashtag or search term (one rule for every network).
- `inbox`: items stored once, routing rules, watched hashtags and terms, who sees and assigns
  what, closing.
- `listener`: the scheduler's job that reads every listening channel from where it stopped.
- `replies`: answering an item through its channel, in its thread.
- `detector`: pure functions that tell a storm from a busy Monday (median and MAD of the same
  time of week), and the job that opens alerts.
- `alerts`: an alert opened, dismissed or declared, and the hold of an undecided alert that the
  claim applies next to the crisis and the blackouts.

Listening sits below the crisis (a declaration may turn an alert into a crisis) and above
planning and the networks.
"""
