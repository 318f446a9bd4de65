"""A party flooding the line, run as its own process by test_service_flood.py.

Usage: `python flood_party.py URL KEY POSTERS CROWD`. Posts CROWD aircraft over POSTERS
connections as fast as it can until its standard input closes, then prints every answer
(status, Retry-After) as one JSON list. A process of its own, as a hostile party is: in
the test's process its threads took the interpreter lock from the clients whose alert
delay is measured (a post reached the server 170 ms late, an alert was read 130 ms late).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx

STAMP = b"1000000000.0"


def crowd_body(crowd: int) -> bytes:
    """CROWD aircraft, 0.01 deg of latitude apart in columns 0.1 deg apart, all at FL300,
    stamped STAMP (replaced by the time of each post: the flood costs this process little)."""
    return json.dumps({"reports": [
        {"timestamp": float(STAMP), "icao24": f"cc{i:04x}", "latitude": 30 + (i % 1000) * 0.01,
         "longitude": 30 + (i // 1000) * 0.1, "altitude": 30000, "groundspeed": 300, "track": 0}
        for i in range(crowd)]}).encode()


def post_until(url: str, key: str, body: bytes, stop: threading.Event,
               answers: list[tuple[int, str | None]]) -> None:
    """Posts `body` (freshly stamped) until `stop`; keeps every answer's status and Retry-After."""
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {key}",
                                           "Content-Type": "application/json"}) as c:
        while not stop.is_set():
            try:
                r = c.post(url + "/api/v1/reports", content=body.replace(STAMP, f"{time.time():.1f}".encode()))
            except httpx.HTTPError as exc:  # counted: the test asks for answers only
                answers.append((0, repr(exc)))
                continue
            answers.append((r.status_code, r.headers.get("retry-after")))


def main() -> None:
    url, key, posters, crowd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    body = crowd_body(crowd)
    stop = threading.Event()
    answers: list[tuple[int, str | None]] = []
    threads = [threading.Thread(target=post_until, args=(url, key, body, stop, answers), daemon=True)
               for _ in range(posters)]
    for t in threads:
        t.start()
    sys.stdin.read()  # until the test closes it
    stop.set()
    for t in threads:
        t.join(60)
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
