"""A minimal WSGI server process for the multi-process tests: ``python -m tests.serve PORT``."""

import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


if __name__ == "__main__":
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    make_server("127.0.0.1", int(sys.argv[1]), application, handler_class=QuietHandler).serve_forever()
