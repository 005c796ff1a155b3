"""The LangChain calls of one guarded attempt (async, by hand); ``_sync`` is generated."""
