"""Opening a guarded litellm attempt's stream (async, by hand); ``_sync`` is generated."""
