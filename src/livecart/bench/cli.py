"""Dispatch for `livecart bench`."""

from __future__ import annotations

import argparse
import json
import math


def run_bench(args: argparse.Namespace) -> str:
    if args.bench == "fanout":
        from livecart.bench.fanout import fanout

        clients = args.clients or max(2, math.ceil(args.viewers / 2500))
        result = fanout(args.viewers, args.processes, clients, args.redis_url, args.database_url)
    elif args.bench == "glass-to-glass":
        from livecart.bench.glass import glass_to_glass

        result = glass_to_glass(args.seconds, database_url=args.database_url)
    elif args.bench == "flash-sale":
        from livecart.bench.flashsale import FlashSaleOptions, flash_sale

        result = flash_sale(
            FlashSaleOptions(
                buyers=args.buyers,
                stock=args.stock,
                backend=args.backend,
                mode=args.mode,
                transport=args.transport,
                window_ms=args.window_ms,
                database_url=args.database_url,
                redis_url=args.redis_url or "redis://127.0.0.1:6379/10",
                processes=args.clients or 2,
                servers=args.servers,
                spread_ms=args.spread_ms,
                client=args.client,
                dump=args.dump,
            )
        )
    elif args.bench == "replay-encode":
        from livecart.bench.replay import replay_encode

        result = replay_encode(quick=args.quick)
    else:
        from livecart.bench.skew import drop_skew

        low, _, high = args.rtt_spread.partition(":")
        result = drop_skew(args.viewers, float(low), float(high or low), args.database_url)
    return json.dumps(result, ensure_ascii=False)
