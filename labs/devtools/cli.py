"""python -m labs doctor | sandbox serve [--port N] | sandbox reset"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check this machine is ready for the workbook")
    box = sub.add_parser("sandbox", help="the shared sandbox server")
    box_sub = box.add_subparsers(dest="action", required=True)
    serve = box_sub.add_parser("serve", help="start a moto server on 127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    box_sub.add_parser("reset", help="empty the sandbox named by LABS_ENDPOINT_URL")
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from labs.devtools.doctor import main as doctor

        return doctor()
    from labs import sandbox

    if args.action == "serve":
        sandbox.serve(args.port)
        return 0
    box = sandbox.start()
    if box.mode != "server":
        print("LABS_ENDPOINT_URL が設定されていません。ノートブックでは sandbox.reset() を使ってください。")
        return 1
    sandbox.reset(force=True)  # the instructor's reset: every notebook's resources
    print(f"リセットしました: {box.endpoint_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
