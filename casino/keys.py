"""Operator keys and per-provider signing keys, from the command line.

    python -m casino.keys operator create --scopes lobby,backoffice [--label "support desk"] [--origin locust]
    python -m casino.keys operator list
    python -m casino.keys operator revoke op_1a2b3c4d5e6f
    python -m casino.keys operator rotate op_1a2b3c4d5e6f [--revoke-old] [--label TEXT]
    python -m casino.keys operator scopes op_1a2b3c4d5e6f --scopes lobby
    python -m casino.keys provider add JAQPOT [--signer provider|casino] [--kid ID] [--secret-stdin]
    python -m casino.keys provider rotate JAQPOT
    python -m casino.keys provider list [JAQPOT]
    python -m casino.keys provider revoke ID [--signer provider|casino]
    python -m casino.keys provider v1 JAQPOT off

Works on the service's database (DATABASE_URL, or the embedded one under --data-dir /
CASINO_DATA_DIR); provider keys need KEYS_ENCRYPTION_KEY, as the service does. A new key
is printed once and never again; changes reach every running process within
KEY_REFRESH_SECONDS. Every write is audited (CASINO_ADMIN_AUDIT, under `tool:casino.keys`,
never a secret): operator-key writes go through the back office's own verbs; whoever holds
the database holds every scope.
"""
import argparse
import json
import sys

from db.config import in_transaction
from wire.keycli import REFUSED, add_counterpart_commands, run_counterpart_command
from wire.refusals import Refused
from wire.secrets_env import read_secrets

from . import backoffice, credentials, operators

OPERATOR = "tool:casino.keys"   # the name the audit records this command's writes under


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m casino.keys", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    sub = parser.add_subparsers(dest="kind", required=True)
    operator = sub.add_parser("operator", help="operator keys (Authorization: Bearer)").add_subparsers(
        dest="verb", required=True)
    create = operator.add_parser("create", help="a new key, printed once")
    create.add_argument("--scopes", required=True, help=f"comma-separated, among {', '.join(operators.SCOPES)}")
    create.add_argument("--label", default="", help="who or what holds it")
    create.add_argument("--origin", default="operator", choices=operators.KEY_ORIGINS,
                        help="a tool's name makes it that tool's key: what it creates is marked as the tool's")
    operator.add_parser("list", help="every key, active and revoked")
    revoke = operator.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    rotate = operator.add_parser("rotate", help="a new key with the same scopes, printed once; the old one "
                                                "stays active until revoked")
    rotate.add_argument("key_id")
    rotate.add_argument("--revoke-old", action="store_true", help="revoke the old key at once (a leaked key)")
    rotate.add_argument("--label", help="the new key's label (default: the old one's)")
    scopes = operator.add_parser("scopes", help="replace a key's scopes")
    scopes.add_argument("key_id")
    scopes.add_argument("--scopes", required=True, help=f"comma-separated, among {', '.join(operators.SCOPES)}")
    add_counterpart_commands(sub, "provider", credentials.SIGNERS)
    return parser.parse_args(argv)


def _scopes(text):
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    if not scopes or set(scopes) - set(operators.SCOPES):
        raise ValueError(f"scopes must be among {', '.join(operators.SCOPES)}")
    return scopes


def _done(answer):
    """The verb's answer body, or LookupError with its refusal's message."""
    if isinstance(answer, Refused):
        raise LookupError(answer.message)
    return answer.body


def operator_command(cur, args):
    every = operators.SCOPES
    if args.verb == "create":
        created = _done(backoffice.create_operator_key(cur, OPERATOR, every, "operator",
                                                       {"scopes": _scopes(args.scopes), "label": args.label,
                                                        "origin": args.origin}))
        print(f"created {created['keyId']}; the key (shown once): {created['key']}")
    elif args.verb == "list":
        for key_id, scopes, label, _created_at, revoked_at, origin in operators.list_keys(cur):
            state = f"revoked {revoked_at:%Y-%m-%d %H:%M:%S}" if revoked_at else "active"
            print(f"{key_id:<16} {','.join(scopes):<40} {origin:<9} {state:<28} {label}")
    elif args.verb == "rotate":
        rotated = _done(backoffice.rotate_operator_key(cur, OPERATOR, every, "operator", args.key_id,
                                                       {"label": args.label, "revokeOld": args.revoke_old}))
        old = "revoked" if args.revoke_old else "still active: revoke it once its holders use the new one"
        print(f"{args.key_id} {old}")
        print(f"created {rotated['keyId']}; the key (shown once): {rotated['key']}")
    elif args.verb == "scopes":
        changed = _done(backoffice.set_operator_key_scopes(cur, OPERATOR, every, "operator", args.key_id,
                                                           {"scopes": _scopes(args.scopes)}))
        print(f"{args.key_id} now holds {','.join(changed['scopes'])}")
    else:
        _done(backoffice.revoke_operator_key(cur, OPERATOR, every, "operator", args.key_id))
        print(f"revoked {args.key_id}")


def audit(cur, action, request, status):
    """A provider-key write of this command, in the admin audit as the back office's are."""
    cur.execute(backoffice.AUDIT, (OPERATOR, action, json.dumps(request), status))


def main(argv=None):
    args = parse_args(argv)
    if args.kind == "operator":
        command = lambda cur: operator_command(cur, args)
    else:
        reserved = lambda: credentials.EnvironmentKeys(None, None, read_secrets().casino_code).reserved_kids
        command = lambda cur: run_counterpart_command(cur, args, credentials, reserved, audit)
    return in_transaction("casino.keys", args.data_dir, command, REFUSED)


if __name__ == "__main__":
    sys.exit(main())
