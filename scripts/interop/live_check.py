#!/usr/bin/env python3
"""Live interop check: the key and signature code real miners and validators use (PyPI `bittensor-wallet`)
against a running `zipcoord serve --dev`, over HTTP, with fresh signatures: the legacy commitments and Epistula v2.

Usage: live_check.py PATH_TO_ZIPCOORD_BINARY [DATABASE_URL]
Starts the binary on a free loopback port with the given database (default: a throw-away SQLite file), runs the checks, stops it with
SIGTERM, and prints `interop: N passed, N failed`. Exits non-zero on any failure.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from bittensor_wallet import Keypair

from checks import Checks
from epistula import epistula_headers
from dev_server import DevServer

HEADERS = {"Content-Type": "application/json"}


def request(base, method, path, query=None, body=None, headers=None, raw=None):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={**HEADERS, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def signed_query(keypair, message, timestamp, wrap=False, prefix=""):
    payload = f"<Bytes>{message}</Bytes>" if wrap else message
    return {
        "hotkey": keypair.ss58_address,
        "signature": prefix + keypair.sign(payload).hex(),
        "timestamp": str(timestamp),
    }


def epistula_checks(base, check, stats, miner, nonce, epoch_id):
    advert = stats.get("epistula") or {}
    check("stats advertises Epistula v2 and the service address", advert.get("version") == "2", stats)
    service = advert.get("signedFor", "")
    headers = epistula_headers(miner, b"", service)
    status, current = request(base, "GET", "/api/v1/zipcode-assignments/current", headers=headers)
    check("/current with Epistula headers from bittensor-wallet", status == 200 and current["nonce"] == nonce, current)
    status, body = request(base, "GET", "/api/v1/zipcode-assignments/current", headers=headers)
    check("the same Epistula headers again get 401", status == 401 and "already used" in body["message"], body)

    report = json.dumps({"epochId": epoch_id, "nonce": nonce, "status": "IN_PROGRESS", "listingsScraped": 3}).encode()
    headers = epistula_headers(miner, report, service)
    forged = report.replace(b"IN_PROGRESS", b"FAILED")
    status, body = request(base, "POST", "/api/v1/zipcode-assignments/status", headers=headers, raw=forged)
    check("an Epistula signature does not carry another body", status == 401, body)
    status, body = request(base, "POST", "/api/v1/zipcode-assignments/status", headers=headers, raw=report)
    check("an Epistula-signed status report without legacy fields", status == 200 and body["success"], body)

    headers = epistula_headers(miner, b"", miner.ss58_address)
    status, body = request(base, "GET", "/api/v1/zipcode-assignments/current", headers=headers)
    check("Epistula headers signed for another service get 401", status == 401, body)


def main():
    binary = sys.argv[1]
    check = Checks()

    server = DevServer(binary, sys.argv[2] if len(sys.argv) > 2 else None)
    base = server.base
    try:
        miner = Keypair.create_from_uri("//Charlie")
        validator = Keypair.create_from_uri("//Alice")
        stranger = Keypair.create_from_uri("//NotRegistered")

        status, stats = request(base, "GET", "/api/v1/zipcode-assignments/stats")
        check("stats answers 200", status == 200, stats)
        epoch_id = stats["epochStatus"]["currentEpoch"]["id"]

        now = int(time.time())
        for label, kwargs in [("raw", {}), ("<Bytes>-wrapped", {"wrap": True}), ("0x-prefixed", {"prefix": "0x"})]:
            query = signed_query(miner, f"zipcode:assignment:current:{now}", now, **kwargs)
            status, current = request(base, "GET", "/api/v1/zipcode-assignments/current", query)
            check(f"/current with a {label} bittensor-wallet signature", status == 200, current)
        check("stats and /current agree on the epoch id", current.get("epochId") == epoch_id, current)
        total = sum(z["expectedListings"] for z in current["zipcodes"])
        target, tolerance = current["targetListings"], current["tolerancePercent"]
        check("expected listings add up to the target within the tolerance",
              target * (100 - tolerance) <= total * 100 <= target * (100 + tolerance), total)
        check("zipcodes are 5-digit strings",
              all(isinstance(z["zipcode"], str) and re.fullmatch(r"\d{5}", z["zipcode"]) for z in current["zipcodes"]))

        query = signed_query(validator, f"zipcode:validation:{epoch_id}:{now}", now)
        status, epoch = request(base, "GET", f"/api/v1/zipcode-assignments/epoch/{epoch_id}", query)
        check("validator reads the epoch", status == 200 and epoch["nonce"] == current["nonce"], epoch)

        query = signed_query(miner, f"zipcode:validation:{epoch_id}:{now}", now)
        status, body = request(base, "GET", f"/api/v1/zipcode-assignments/epoch/{epoch_id}", query)
        check("a miner on the validator endpoint gets 403", status == 403 and body["statusCode"] == 403, body)

        query = signed_query(stranger, f"zipcode:assignment:current:{now}", now)
        status, body = request(base, "GET", "/api/v1/zipcode-assignments/current", query)
        check("an unregistered hotkey gets 401", status == 401 and "message" in body, body)

        for message in [f"zipcode:status:{epoch_id}:{now}", f"miner:status:{miner.ss58_address}:{epoch_id}:{now}"]:
            body = {
                "hotkey": miner.ss58_address, "signature": miner.sign(message).hex(), "timestamp": now,
                "epochId": epoch_id, "nonce": current["nonce"], "status": "IN_PROGRESS",
                "s3UploadComplete": False, "listingsScraped": 0, "zipcodesCompleted": [],
            }
            status, answer = request(base, "POST", "/api/v1/zipcode-assignments/status", body=body)
            check(f"status report signed as {message.split(':')[0]}:status:...", status == 200 and answer["success"], answer)
        body["nonce"] = "0" * 16
        status, answer = request(base, "POST", "/api/v1/zipcode-assignments/status", body=body)
        check("a wrong nonce gets 400", status == 400 and answer["message"] == "Invalid nonce for epoch", answer)

        epistula_checks(base, check, stats, miner, current["nonce"], epoch_id)
    finally:
        code = server.stop()
        check("zipcoord stops cleanly on SIGTERM", code == 0, code)

    check.finish("interop")


if __name__ == "__main__":
    main()
