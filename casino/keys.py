"""Operator keys and per-provider signing keys, from the command line.

    python -m casino.keys operator create --scopes lobby,backoffice [--label "support desk"] [--origin locust]
    python -m casino.keys operator list
    python -m casino.keys operator revoke op_1a2b3c4d5e6f
    python -m casino.keys provider add JAQPOT [--signer provider|casino] [--kid ID] [--secret-stdin]
    python -m casino.keys provider rotate JAQPOT
    python -m casino.keys provider list [JAQPOT]
    python -m casino.keys provider revoke ID [--signer provider|casino]
    python -m casino.keys provider v1 JAQPOT off

Works on the service's database (DATABASE_URL, or the embedded one under --data-dir /
CASINO_DATA_DIR); provider keys need KEYS_ENCRYPTION_KEY, as the service does. A new key
is printed once and never again; changes reach every running process within
KEY_REFRESH_SECONDS.
"""
import argparse
import sys

from wire.keycli import add_counterpart_commands, in_transaction, run_counterpart_command
from wire.secrets_env import read_secrets

from . import credentials, operators


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
    add_counterpart_commands(sub, "provider", credentials.SIGNERS)
    return parser.parse_args(argv)


def operator_command(cur, args):
    if args.verb == "create":
        key, key_id, _ = operators.create_key(cur, [s.strip() for s in args.scopes.split(",") if s.strip()],
                                              args.label, args.origin)
        print(f"created {key_id}; the key (shown once): {key}")
    elif args.verb == "list":
        for key_id, scopes, label, _created_at, revoked_at, origin in operators.list_keys(cur):
            state = f"revoked {revoked_at:%Y-%m-%d %H:%M:%S}" if revoked_at else "active"
            print(f"{key_id:<16} {','.join(scopes):<40} {origin:<9} {state:<28} {label}")
    elif not operators.revoke_key(cur, args.key_id):
        raise LookupError(f"no active operator key {args.key_id}")
    else:
        print(f"revoked {args.key_id}")


def main(argv=None):
    args = parse_args(argv)
    if args.kind == "operator":
        command = lambda cur: operator_command(cur, args)   # noqa: E731
    else:
        reserved = lambda: credentials.EnvironmentKeys(None, None, read_secrets().casino_code).reserved_kids  # noqa: E731
        command = lambda cur: run_counterpart_command(cur, args, credentials, reserved)   # noqa: E731
    return in_transaction("casino.keys", args.data_dir, command)


if __name__ == "__main__":
    sys.exit(main())
