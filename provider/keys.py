"""The provider's signing keys per casino, from the command line.

    python -m provider.keys casino add DEMO-CASINO [--signer casino|provider] [--kid ID] [--secret-stdin]
    python -m provider.keys casino rotate DEMO-CASINO
    python -m provider.keys casino list [DEMO-CASINO]
    python -m provider.keys casino revoke ID [--signer casino|provider]
    python -m provider.keys casino v1 DEMO-CASINO off

Works on the service's database (DATABASE_URL, or the embedded one under --data-dir /
CASINO_DATA_DIR) and needs KEYS_ENCRYPTION_KEY, as the service does. A new key is
printed once and never again; changes reach every running process within
KEY_REFRESH_SECONDS.
"""
import argparse
import sys

from db.config import in_transaction
from wire.keycli import REFUSED, add_counterpart_commands, run_counterpart_command
from wire.secrets_env import read_secrets

from . import credentials


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m provider.keys", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="embedded server data directory (without DATABASE_URL)")
    add_counterpart_commands(parser.add_subparsers(dest="kind", required=True), "casino", credentials.SIGNERS)
    args = parser.parse_args(argv)
    reserved = lambda: credentials.reserved_kids(read_secrets())
    return in_transaction("provider.keys", args.data_dir,
                          lambda cur: run_counterpart_command(cur, args, credentials, reserved), REFUSED)


if __name__ == "__main__":
    sys.exit(main())
