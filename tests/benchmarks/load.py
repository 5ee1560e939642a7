"""A bounded load on a running server, on loopback: mixed GraphQL traffic and revocation checks.

    python -m tests.benchmarks.load URL --seconds 30 --threads 8     (URL: http://127.0.0.1:PORT)

Each worker thread loops: log in (GraphQL), a few authenticated ``me`` queries,
a refresh, then a logout, after which the revoked token must be refused at
once, by whichever server process answers. Reports throughput and latency
percentiles; counts 5xx answers and revoked tokens that were accepted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse


@dataclass
class LoadReport:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    server_errors: int = 0
    revoked_accepted: int = 0
    revocations_checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        return (f"{self.requests} requests in {self.seconds:.1f} s = {self.requests / self.seconds:.0f} req/s; "
                f"latency p50 {self.percentile(0.5) * 1000:.1f} ms, p95 {self.percentile(0.95) * 1000:.1f} ms, "
                f"p99 {self.percentile(0.99) * 1000:.1f} ms, mean {statistics.mean(self.latencies) * 1000:.1f} ms; "
                f"5xx: {self.server_errors}; revoked tokens accepted: {self.revoked_accepted} "
                f"of {self.revocations_checked} checked")


def run_load(url: str, *, seconds: float, threads: int, username: str, password: str) -> LoadReport:
    target = urlparse(url)
    report = LoadReport(seconds=seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)

        def graphql(query: str, token: str | None = None) -> dict:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Token {token}"
            start = time.perf_counter()
            connection.request("POST", "/graphql/sync/", json.dumps({"query": query}), headers)
            response = connection.getresponse()
            body = response.read()
            with lock:
                report.latencies.append(time.perf_counter() - start)
                if response.status >= 500:
                    report.server_errors += 1
                    report.failures.append(body.decode(errors="replace")[:300])
            return json.loads(body) if response.status < 500 else {}

        login = 'mutation { login(username: "%s", password: "%s") { ... on LoginResult { token } } }' % (
            username, password)
        while time.monotonic() < deadline:
            token = (graphql(login).get("data") or {}).get("login", {}).get("token")
            if not token:
                with lock:
                    report.failures.append("login failed")
                continue
            for _ in range(3):
                graphql("{ me { username } }", token)
            graphql("mutation { refresh { __typename } }", token)
            graphql("mutation { logout { __typename } }", token)
            # The logout has returned: this token must be refused now, by any process.
            me = (graphql("{ me { username } }", token).get("data") or {}).get("me")
            with lock:
                report.revocations_checked += 1
                if me is not None:
                    report.revoked_accepted += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    args = parser.parse_args()
    print(run_load(args.url, seconds=args.seconds, threads=args.threads, username=args.username,
                   password=args.password).summary())


if __name__ == "__main__":
    main()
