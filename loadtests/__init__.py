"""Load and benchmark tools: figures, not tests. Two kinds, kept apart:

  HTTP tools       retries.py (Locust), debit_rate.py, and what they share: client.py (the
                   back office and lobby over HTTP, the run's key, provisioning, retiring),
                   http_load.py (the debit generator), local_server.py (a server of their
                   own when given no URL). They speak HTTP only -- nothing of casino,
                   provider, db, sql or service is imported (tests/test_load_tool_layers.py)
                   -- so each runs against any deployment with its URL, an operator key and
                   the signing key of the provider whose game it plays.
  postgres/        the tools that must reach PostgreSQL itself (pgbench, callgrind, the
                   reference debit): the bench, instructions, ledger_cost, replication_cost,
                   service_cost; their commands stay here (`python -m loadtests.bench`, ...).
"""
