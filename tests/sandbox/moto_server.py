"""moto's server as up.sh starts it: `moto_server` with TCP_NODELAY on its connections, and
moto's Step Functions patched where it deviates from AWS (sim/stepfunctions.py, row SFN-STOP).

werkzeug's request handler (http.server underneath) writes a response's headers and body separately;
under Nagle's algorithm the body then waits for the router's delayed ACK, up to 40 ms a call on
loopback. AWS endpoints have no such stall, and every sandbox call through moto paid it.
"""

import os
import sys

import werkzeug.serving
from moto.server import main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim import stepfunctions  # noqa: E402

werkzeug.serving.WSGIRequestHandler.disable_nagle_algorithm = True
stepfunctions.install()

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
