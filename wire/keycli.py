"""What `python -m casino.keys` and `python -m provider.keys` share: the counterpart-key
subcommands (add, rotate, list, revoke, v1 on/off), which read the same on both sides, and
the errors a command reports in one line. Each runs in one transaction on the service's
database (db.config.in_transaction)."""
import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import psycopg2
import psycopg2.extensions

from .secretbox import SecretBoxError
from .secrets_env import read_secrets

# A command refused (unknown key, bad value, a key that cannot be opened, a duplicate):
# one line and exit 1, nothing written.
REFUSED = (LookupError, ValueError, SecretBoxError, psycopg2.IntegrityError)


def add_counterpart_commands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]", noun: str,
                             signers: Sequence[str]) -> None:
    """`<noun> add|rotate|list|revoke|v1` under subparsers; signers[0] is the counterpart's own."""
    keys = subparsers.add_parser(noun, help=f"HMAC keys shared with a {noun}").add_subparsers(dest="verb", required=True)
    for verb, text in (("add", "add an active key (the old ones stay active)"),
                       ("rotate", "add a new key; revoke the old one once every caller moved to it")):
        command = keys.add_parser(verb, help=text)
        command.add_argument("code", help=f"the {noun}'s code")
        command.add_argument("--signer", choices=signers, default=signers[0],
                             help=f"who signs with it (default {signers[0]}: the {noun}'s calls to us)")
        command.add_argument("--kid", help="the key id (default: <code>-<random>)")
        command.add_argument("--secret-stdin", action="store_true",
                             help="read the secret from standard input (a key the other side made)")
    listing = keys.add_parser("list", help="keys, active and revoked")
    listing.add_argument("code", nargs="?")
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("kid")
    revoke.add_argument("--signer", choices=signers, default=signers[0])
    v1 = keys.add_parser("v1", help="accept body-only (v1) signatures from it, or not")
    v1.add_argument("code")
    v1.add_argument("state", choices=["on", "off"])


def run_counterpart_command(cur: psycopg2.extensions.cursor, args: argparse.Namespace, store: ModuleType,
                            reserved_kids: Callable[[], set[str]],
                            audit: Callable[..., None] | None = None) -> None:
    """One counterpart-key command against `store` (casino.credentials or provider.credentials).
    audit(cur, action, request, status): records each write in the same transaction (the
    casino's admin audit; never a secret), when given."""
    audit = audit or (lambda *_: None)
    if args.verb in ("add", "rotate"):
        secret = sys.stdin.readline().strip() if args.secret_stdin else None
        box = read_secrets().box
        active = [row[2] for row in store.list_keys(cur, args.code) if row[1] == args.signer and row[4] is None]
        kid, secret = store.add_key(cur, box, reserved_kids(), args.code, args.signer, args.kid, secret)
        audit(cur, f"{args.verb}ProviderKey", {"providerCode": args.code, "signer": args.signer, "keyId": kid,
                                               "secretGiven": args.secret_stdin}, 201)
        print(f"added key {kid} ({args.signer} signs) for {args.code}")
        if not args.secret_stdin:
            print(f"secret (shown once, give it to the other side): {secret}")
        if active:
            print(f"still active: {', '.join(active)} -- revoke once every caller uses {kid}")
    elif args.verb == "list":
        for code, signer, kid, created_at, revoked_at, allows_v1 in store.list_keys(cur, args.code):
            state = f"revoked {revoked_at:%Y-%m-%d %H:%M:%S}" if revoked_at else "active"
            print(f"{code:<16} {kid:<32} {signer:<9} {state:<28} created {created_at:%Y-%m-%d %H:%M:%S}"
                  f"  v1 {'on' if allows_v1 else 'off'}")
    elif args.verb == "revoke":
        if not store.revoke_key(cur, args.kid, args.signer):
            raise LookupError(f"no active {args.signer} key {args.kid}")
        audit(cur, "revokeProviderKey", {"keyId": args.kid, "signer": args.signer}, 200)
        print(f"revoked {args.kid}")
    elif args.verb == "v1":
        store.set_v1(cur, args.code, args.state == "on")
        audit(cur, "setProviderV1", {"providerCode": args.code, "allowed": args.state == "on"}, 200)
        print(f"v1 signatures {args.state} for {args.code}")

