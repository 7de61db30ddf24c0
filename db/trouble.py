"""Whether a psycopg2 error means the connection failed, rather than the statement: what
decides between trying again on a new connection and passing the error on."""
import psycopg2
import psycopg2.extensions

Connection = psycopg2.extensions.connection


def connection_trouble(exc: psycopg2.Error, conn: Connection) -> bool:
    """The connection failed, rather than the statement: OperationalError, InterfaceError,
    or the bare DatabaseError without SQLSTATE that psycopg2 raises when the server closed
    the connection before answering (a PostgreSQL stopped with pg_ctl -m immediate) --
    while still reporting the connection open and idle. Such a connection is closed here,
    so that it counts as broken and never goes back to the pool."""
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return True
    if type(exc) is psycopg2.DatabaseError and exc.pgcode is None:
        conn.close()
        return True
    return False
