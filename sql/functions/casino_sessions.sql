-- A game session's rules that more than one reader needs.
--
-- A repeatable file: edited in place, re-applied by `python -m sql.migrate` whenever its
-- checksum changes.

-- Whether a session is live at p_at: open (p_open: CASINO_GAME_SESSIONS.is_active, set when
-- the provider accepted the launch, cleared when it is closed) and not idle for
-- SESSION_IDLE_TIMEOUT (p_idle) or longer since its last activity. The one definition of
-- it: casino_debit refuses a bet on a session that is not live (SESSION_INACTIVE), and the
-- back office's sessions say `active` for a live one, `expired` for an open one that is not
-- (casino/catalogue.py).
--
-- A single expression in LANGUAGE sql, so the planner inlines it where it is called (no
-- function call on the bet path: docs/performance.md, issue 19). STABLE, not IMMUTABLE:
-- a timestamptz minus an interval depends on the TimeZone setting (a day is not always
-- 24 hours), and an IMMUTABLE function whose body is not immutable is never inlined.
CREATE OR REPLACE FUNCTION casino_session_live(p_open BOOLEAN, p_last_activity TIMESTAMPTZ, p_idle INTERVAL,
                                               p_at TIMESTAMPTZ)
RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT p_open AND p_last_activity > p_at - p_idle
$$;
