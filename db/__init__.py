"""The only place that knows about PostgreSQL servers, pools, threads and transactions."""
