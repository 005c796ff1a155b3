"""The lab: Monte Carlo data, training, evaluation, tasks and fitting (the ``lab`` extra).

Everything that makes or measures a scorer lives here; the guard that runs in an agent process
(runtime, policy, scorers, review, audit, integrations) never imports it
(``tests/test_import_layers.py``).
"""
