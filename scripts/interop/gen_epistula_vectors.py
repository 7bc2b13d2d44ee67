#!/usr/bin/env python3
"""Known-answer vectors for Epistula v2 made with PyPI `bittensor-wallet`: headers as the macrocosm-os reference
(`shared/epistula.py`) builds them, over a GET's empty body and over JSON bodies, signed for the dev service key
`//Zipcoord`. The Rust tests check that zipcoord accepts each one for its own body only (raw and <Bytes>-wrapped
signatures) and derives the same service address.

Usage: python3 scripts/interop/gen_epistula_vectors.py > tests/vectors/epistula.json
(needs `pip install bittensor-wallet`; sr25519 signatures are randomised, so each run differs).
"""
import json
import sys
from uuid import uuid4

import bittensor_wallet
from bittensor_wallet import Keypair

from epistula import epistula_headers, signed_message

SERVICE_URI = "//Zipcoord"
SIGNERS = ["//Alice", "//Charlie", "legal winner thank year wave sausage worth useful legal winner thank yellow//hotkey//1"]
BODIES = [
    b"",
    json.dumps({"epochId": "2025-10-01T16-00-00", "nonce": "9f2c4b7a1e3d5f60", "status": "IN_PROGRESS",
                "listingsScraped": 12}).encode(),
    json.dumps({"coldkey": "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", "files": ["a.json", "b.parquet"],
                "note": "caf\u00e9 \u2713"}, ensure_ascii=False).encode(),
]
TIMESTAMP_MS = 1759334400123


def headers(keypair, body, signed_for, uuid, timestamp, wrap):
    signed = epistula_headers(keypair, body, signed_for, uuid, timestamp, wrap)
    # The reference verifier's own check.
    message = signed_message(body, uuid, timestamp, signed_for)
    assert Keypair(ss58_address=keypair.ss58_address).verify(message, signed["Epistula-Request-Signature"])
    return signed


def main():
    service = Keypair.create_from_uri(SERVICE_URI).ss58_address
    vectors = []
    for n, uri in enumerate(SIGNERS):
        keypair = Keypair.create_from_uri(uri)
        for m, body in enumerate(BODIES):
            for wrap in (False, True):
                uuid = str(uuid4())
                vectors.append({
                    "signer": uri,
                    "form": "wrapped" if wrap else "raw",
                    "body": body.decode(),
                    "message": signed_message(body, uuid, TIMESTAMP_MS + n * 10 + m, service),
                    "headers": headers(keypair, body, service, uuid, TIMESTAMP_MS + n * 10 + m, wrap),
                })
    json.dump({
        "generator": f"bittensor-wallet {getattr(bittensor_wallet, '__version__', 'unknown')}",
        "service_uri": SERVICE_URI,
        "service": service,
        "vectors": vectors,
    }, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
