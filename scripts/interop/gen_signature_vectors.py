#!/usr/bin/env python3
"""Known-answer vectors made with PyPI `bittensor-wallet`, the key and signature code real miners and
validators run. The Rust tests check that zipcoord derives the same keys from the same secret URIs and accepts
these signatures over the contract's commitment strings (raw and <Bytes>-wrapped).

Usage: python3 scripts/interop/gen_signature_vectors.py > tests/vectors/bittensor_wallet.json
(needs `pip install bittensor-wallet`; sr25519 signatures are randomised, so each run differs).
"""
import json
import sys

from bittensor_wallet import Keypair
import bittensor_wallet

MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"

URIS = [
    "//Alice",
    "//Bob",
    "//Charlie",
    "//Alice//stash",
    "//Alice/soft",
    "//0",
    "//" + "x" * 40,
    MNEMONIC,
    MNEMONIC + "//hotkey//1",
    MNEMONIC + "//hot/soft",
    MNEMONIC + "///password",
    "0x" + "11" * 32,
]

EPOCH = "2025-10-01T16-00-00"
TIMESTAMP = 1759334400


def commitments(hotkey: str):
    return [
        f"zipcode:assignment:current:{TIMESTAMP}",
        f"zipcode:validation:{EPOCH}:{TIMESTAMP}",
        f"zipcode:status:{EPOCH}:{TIMESTAMP}",
        f"miner:status:{hotkey}:{EPOCH}:{TIMESTAMP}",
        f"s3:validator:upload:{TIMESTAMP}",
        f"s3:data:access:5coldkey:{hotkey}:{TIMESTAMP}",
        f"s3:validator:access:{TIMESTAMP}",
        f"s3:validator:miner:{hotkey}:{TIMESTAMP}",
    ]


def main() -> None:
    keys = []
    for uri in URIS:
        kp = Keypair.create_from_uri(uri)
        keys.append({"uri": uri, "ss58": kp.ss58_address, "public": kp.public_key.hex()})

    signatures = []
    for uri in ["//Alice", "//Charlie", MNEMONIC + "//hotkey//1"]:
        kp = Keypair.create_from_uri(uri)
        for message in commitments(kp.ss58_address):
            raw = kp.sign(message)
            wrapped = kp.sign("<Bytes>" + message + "</Bytes>")
            # The reference verifier accepts both forms for the raw message.
            assert kp.verify(message, raw) and kp.verify(message, wrapped)
            signatures.append({"ss58": kp.ss58_address, "message": message, "form": "raw", "signature": raw.hex()})
            signatures.append(
                {"ss58": kp.ss58_address, "message": message, "form": "wrapped", "signature": wrapped.hex()}
            )

    json.dump(
        {
            "generator": f"bittensor-wallet {getattr(bittensor_wallet, '__version__', 'unknown')}",
            "keys": keys,
            "signatures": signatures,
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
