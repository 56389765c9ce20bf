"""moto's server as up.sh starts it: `moto_server` with TCP_NODELAY on its connections.

werkzeug's request handler (http.server underneath) writes a response's headers and body separately;
under Nagle's algorithm the body then waits for the router's delayed ACK, up to 40 ms a call on
loopback. AWS endpoints have no such stall, and every sandbox call through moto paid it.
"""

import sys

import werkzeug.serving
from moto.server import main

werkzeug.serving.WSGIRequestHandler.disable_nagle_algorithm = True

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
