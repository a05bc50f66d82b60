"""`python -m shop add-user NAME`: creates an account in the shop's SQLite
database (SHOP_DATABASE), or sets its password; the password is read from
standard input (prompted without echo on a terminal)."""

import argparse
import getpass
import os
import sys

from . import accounts


def main():
    parser = argparse.ArgumentParser(prog="python -m shop")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-user", help="create an account or set its password")
    add.add_argument("username")
    args = parser.parse_args()
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        accounts.add(os.environ.get("SHOP_DATABASE", "shop.db"), args.username, password)
    except accounts.AccountError as err:
        sys.exit(f"python -m shop: {err}")
    print(f"account {args.username} saved")


if __name__ == "__main__":
    main()
