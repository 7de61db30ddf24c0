"""The measuring tools that must reach PostgreSQL itself, apart from the HTTP tools.

pgbench runs the debit's very statement (`casino_debit`) and callgrind a single-user
backend: neither goes through the service, so these tools open the database, provision
their wallets in it with the back office's own functions (provision.py: session tokens
named by number, user ids in one block, which pgbench's scripts count on), build the
reference debit's schema beside ours, and start servers and embedded PostgreSQLs of their
own. They import the service's packages (casino, db, sql, service) and so cannot be
pointed at a deployment with only its URL: that is what the HTTP tools in loadtests/ are
for (retries.py, debit_rate.py), which the bench also uses for its HTTP rows.

Each keeps its command at the top (`python -m loadtests.bench`, `.instructions`,
`.ledger_cost`, `.replication_cost`, `.reports`, `.service_cost`).
"""
