"""The async drivers of a guarded call, written by hand; ``_sync`` is generated from them."""
