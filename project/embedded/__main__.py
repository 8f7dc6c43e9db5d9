"""``python -m project.embedded start|stop|url``: control the demo's server by hand."""

from __future__ import annotations

import sys

from project import embedded


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "url"
    if command == "start" or command == "url":
        server = embedded.ensure_server()
        print(f"postgresql://{server.user}@/postgres?host={server.socket_dir}&port={server.port}")
        return 0
    if command == "stop":
        stopped = embedded.stop_server()
        print("stopped" if stopped else f"no server running in {embedded.data_dir()}")
        return 0
    print(f"usage: python -m project.embedded [start|stop|url] (got {command!r})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
