"""``python -m xsandbox --port 8765 [--db FILE | --memory]``"""

from __future__ import annotations

import argparse
import logging
import os

from werkzeug.serving import make_server

from .app import Sandbox
from .config import SandboxConfig


def _env_seed() -> int | None:
    raw = os.environ.get("XSANDBOX_FAULT_SEED", "")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"XSANDBOX_FAULT_SEED must be a whole number, got {raw!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m xsandbox", description="A local emulator of the X API.")
    parser.add_argument("--host", default=os.environ.get("XSANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("XSANDBOX_PORT", "8765")))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", default=os.environ.get("XSANDBOX_DB", "var/xsandbox.sqlite3"),
                       help="SQLite file that keeps the state across restarts")
    where.add_argument("--memory", action="store_true", help="keep the state in memory only")
    defaults = SandboxConfig()
    parser.add_argument("--consumer-key", default=defaults.consumer_key)
    parser.add_argument("--consumer-secret", default=defaults.consumer_secret)
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument("--callback", action="append", dest="callbacks",
                        help="a registered callback URL (repeatable; replaces the defaults)")
    parser.add_argument("--access-token-ttl", type=int, default=defaults.access_token_ttl,
                        help="OAuth 2.0 access token lifetime in seconds (default 7200)")
    parser.add_argument("--code-ttl", type=int, default=defaults.code_ttl,
                        help="OAuth 2.0 authorization code lifetime in seconds (default 30)")
    parser.add_argument("--duplicate-window", type=int, default=defaults.duplicate_window,
                        help="seconds in which the same text by the same user is a duplicate")
    parser.add_argument("--video-processing-secs", type=int, default=defaults.video_processing_secs)
    parser.add_argument("--summoned-replies-only", action="store_true", default=defaults.summoned_replies_only,
                        help="a reply needs the parent's author to have mentioned the replier")
    parser.add_argument("--no-self-replies", action="store_true", default=not defaults.allow_self_replies,
                        help="with --summoned-replies-only, replies to one's own posts (threads) need it too")
    parser.add_argument("--fast", action="store_true", default=defaults.fast,
                        help="throughput mode for benchmarks: still verifies OAuth")
    parser.add_argument("--fault-seed", type=int, default=_env_seed(),
                        help="seed of the random generator behind fault probabilities (reproducible runs)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SandboxConfig:
    config = SandboxConfig(
        consumer_key=args.consumer_key,
        consumer_secret=args.consumer_secret,
        client_id=args.client_id,
        client_secret=args.client_secret,
        access_token_ttl=args.access_token_ttl,
        code_ttl=args.code_ttl,
        duplicate_window=args.duplicate_window,
        video_processing_secs=args.video_processing_secs,
        summoned_replies_only=args.summoned_replies_only,
        allow_self_replies=not args.no_self_replies,
        fast=args.fast,
    )
    if args.callbacks:
        config.callbacks = args.callbacks
    if not config.public_url:
        config.public_url = f"http://{args.host}:{args.port}"
    return config


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s xsandbox %(levelname)s %(message)s")
    db_path = ":memory:" if args.memory else args.db
    if db_path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    sandbox = Sandbox(build_config(args), db_path, fault_seed=args.fault_seed)
    server = make_server(args.host, args.port, sandbox, threaded=True)
    logging.getLogger("xsandbox").info("X API sandbox on http://%s:%s (state: %s)", args.host, args.port, db_path)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sandbox.db.close()


if __name__ == "__main__":
    main()
