"""The casino's reconciliation with its providers, from the command line.

    python -m casino.reconcile [--provider CODE ...] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                               [--provider-url http://127.0.0.1:8000]

Compares each provider's round feed with the ledger over the days --from..--to (default:
yesterday, in REPORT_TIME_ZONE, default UTC), as POST /casino/admin/reconciliations does
(casino/reconciliation.py), and stores each result (requested by "command-line"). Without
--provider: every active provider of an operator's. --provider-url: where the providers
this server hosts answer (PROVIDER_URL, else a server on 127.0.0.1:8000); a provider with
an api_endpoint is called there. It signs with the casino's keys, as the server does:
the same database, KEYS_ENCRYPTION_KEY and PROVIDER_SECRET.

Exit status: 0 when no reconciliation found a difference, 1 when one did (each is
printed), 2 when one could not run (no database; a provider that refused or could not be
read, stored as failed) or the arguments are wrong. (Not provider.reconcile, which
settles the provider's own uncertain calls.)
"""
import argparse
import math
import os
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from wire.refusals import Refused
from wire.validation import DATE, parse_date

from . import reconciliation


def _date(text):
    """A day as POST /casino/admin/reconciliations takes it."""
    if not DATE.check(text):
        raise argparse.ArgumentTypeError(f"{text}: not {DATE.expected}")
    return parse_date(text)


def report(answer):
    """The lines a run prints for one provider's answer."""
    if isinstance(answer, Refused):     # the provider could not be read, or a refusal
        return [f"{answer.code}: {answer.message}"]
    body = answer.body
    lines = [(f"reconciliation {body['reconciliationId']} with {body['providerCode']} of {body['from']}..{body['to']} "
              f"({body['timeZone']}): {body['roundsCompared']} round(s) compared, "
              f"{body['differenceCount']} difference(s)")]
    for side in ("casino", "provider"):
        for total in body["totals"][side]:
            lines.append(f"  {side:8s} {total['currency']} rounds {total['rounds']} stakes {total['stakes']} "
                         f"refunds {total['refunds']} wins {total['wins']}")
    for d in body["differences"]:
        lines.append(f"  {d['kind']} round {d['roundId']} ({d['currency']}): casino {_figures(d['casino'])}, "
                     f"provider {_figures(d['provider'])}")
    if body["nextCursor"]:
        lines.append(f"  ... GET /casino/admin/reconciliations/{body['reconciliationId']} lists the rest")
    return lines


def _figures(side):
    if side is None:
        return "none"
    return f"{side['state']} stakes {side['stakes']} refunds {side['refunds']} wins {side['wins']}"


def main(argv=None):
    from casino import credentials
    from casino.provider_link import ProviderLink
    from db.config import run_on_database
    from db.pool import Database
    from wire.secretbox import SecretBoxError
    from wire.secrets_env import read_secrets

    from .reports import DEFAULT_TIME_ZONE, time_zone

    parser = argparse.ArgumentParser(prog="python -m casino.reconcile", description=__doc__.split("\n")[0])
    parser.add_argument("--provider", action="append", help="a provider's code (repeatable; default: every "
                                                            "active provider of an operator's)")
    parser.add_argument("--from", dest="start", type=_date, help="first day (default: yesterday)")
    parser.add_argument("--to", dest="end", type=_date, help="last day, included (default: --from)")
    parser.add_argument("--provider-url", default=os.environ.get("PROVIDER_URL") or "http://127.0.0.1:8000",
                        help="where the providers this server hosts answer")
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    args = parser.parse_args(argv)
    # What it shares with the server's settings (the reporting time zone, the secrets), read alike.
    zone = os.environ.get("REPORT_TIME_ZONE") or DEFAULT_TIME_ZONE
    try:
        tz = time_zone(zone)
    except ValueError as exc:
        print(f"reconcile: not run: REPORT_TIME_ZONE={zone}: {exc}", file=sys.stderr)
        return 2
    try:
        defaults = reconciliation.FeedBounds()
        bounds = reconciliation.FeedBounds(int(os.environ.get("FEED_MAX_ROUNDS") or defaults.max_rounds),
                                           float(os.environ.get("FEED_DEADLINE") or defaults.deadline))
        if bounds.max_rounds < 1 or not 0 < bounds.deadline < math.inf:
            raise ValueError("must be above zero")
    except ValueError as exc:
        print(f"reconcile: not run: FEED_MAX_ROUNDS or FEED_DEADLINE: {exc}", file=sys.stderr)
        return 2
    try:
        secrets = read_secrets(os.environ)
    except SecretBoxError as exc:
        print(f"reconcile: not run: {exc}", file=sys.stderr)
        return 2
    start = args.start or datetime.now(ZoneInfo(tz)).date() - timedelta(days=1)
    end = args.end or start

    async def run(dsn):
        db = Database(dsn, size=2, application_name="casino-reconcile")
        keys = credentials.keyring(db, secrets)
        link = ProviderLink(args.provider_url, keys)
        try:
            await keys.keys.load_now()
            codes = args.provider or await db.transaction(reconciliation.active_providers)
            return [await reconciliation.reconcile(db, link, secrets.casino_code, tz, code, start, end,
                                                   reconciliation.COMMAND_LINE, bounds=bounds) for code in codes]
        finally:
            link.close()
            db.close()

    answers = run_on_database("reconcile", args.data_dir, run)
    if answers is None:
        return 2
    for answer in answers:
        for line in report(answer):
            print(line)
    if any(answer.status != 201 for answer in answers):
        return 2
    return 1 if any(answer.body["differenceCount"] for answer in answers) else 0


if __name__ == "__main__":
    sys.exit(main())
