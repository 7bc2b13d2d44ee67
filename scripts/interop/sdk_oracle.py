"""The bittensor SDK (9.9.0, as the subnet pins it) as an oracle for zipcoord's weight setting.

Reads one JSON request on stdin and writes one JSON answer on stdout. The Rust tests (tests/api/sdk_oracle.rs)
send what zipcoord computed and compare it with what the SDK computes from the same inputs; nothing here
decides pass or fail except where the SDK itself checks (a signature).

Requests, by "command":
  weights         {"cases": [{"scores", "min_allowed_weights", "max_weights_limit"}]}
                  -> {"results": [{"uids", "values"}]}: process_weights then convert_weights_and_uids_for_emit
  compose_call    {"metadata": path, "spec", "call", "args"} -> {"hex"}: the SDK's compose_call
  extrinsic       {"metadata": path, "spec", "hex", "genesis", "birth_hash", "period"}
                  -> the extrinsic decoded by the SDK's codec, and whether its signature verifies over the
                     payload the SDK's generate_signature_payload builds for the same call, era, nonce and tip
  drand_decrypt   {"ciphertext", "round", "signature"} -> {"plaintext"}: bittensor_drand.decrypt_with_signature
                  (on the bare ciphertext a commit carries, in the UserData container that function reads)
  drand_encrypt   {"plaintext", "round"} -> {"ciphertext"}: bittensor_drand.encrypt_at_round, out of its container
  storage_key     {"metadata": path, "spec", "items": [{"item", "params"}]} -> {"keys"}: the SDK's storage keys
  reveal_round    {"block", "netuid", "tempo", "reveal_period_epochs", "block_time"}
                  -> {"before", "round", "after"}: the round get_encrypted_commit picks, and the clock around it
"""

import gzip
import json
import os
import sys

# The SDK logs warnings to standard output: everything printed goes to standard error, the answer alone to the
# real standard output.
ANSWER = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

import time

import bittensor_drand
import numpy as np
from async_substrate_interface.sync_substrate import SubstrateInterface
from async_substrate_interface.types import Runtime
from async_substrate_interface.utils.storage import StorageKey
from bittensor.utils.weight_utils import convert_weights_and_uids_for_emit, process_weights
from bittensor_wallet import Keypair
from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset
from scalecodec.utils.ss58 import ss58_decode


def weights(request):
    results = []
    for case in request["cases"]:
        scores = np.array(case["scores"], dtype=np.float64)
        uids, normalized = process_weights(
            uids=np.arange(len(scores)),
            weights=scores,
            num_neurons=len(scores),
            min_allowed_weights=case["min_allowed_weights"],
            max_weight_limit=case["max_weights_limit"] / 65535,
        )
        emitted_uids, values = convert_weights_and_uids_for_emit(uids, normalized)
        results.append({"uids": [int(u) for u in emitted_uids], "values": [int(v) for v in values]})
    return {"results": results}


def runtime(request):
    """The SDK's runtime object over recorded metadata (the v14 form, as state_getMetadata answers)."""
    with gzip.open(request["metadata"], "rb") as f:
        metadata_bytes = f.read()
    config = RuntimeConfigurationObject(ss58_format=42)
    config.update_type_registry(load_type_registry_preset("core"))
    metadata = config.create_scale_object("MetadataVersioned", data=ScaleBytes(metadata_bytes))
    metadata.decode()
    return Runtime(
        chain="Bittensor",
        metadata=metadata,
        type_registry=None,
        runtime_config=config,
        runtime_info={"specVersion": request["spec"], "transactionVersion": request.get("transaction_version", 1)},
    )


def compose(rt, module, function, args):
    call = rt.runtime_config.create_scale_object(type_string="Call", metadata=rt.metadata)
    call.encode({"call_module": module, "call_function": function, "call_args": args})
    return call


def compose_call(request):
    rt = runtime(request)
    args = dict(request["args"])
    if "commit" in args:
        args["commit"] = bytes.fromhex(args["commit"])
    return {"hex": str(compose(rt, "SubtensorModule", request["call"], args).data)}


class OfflineChain:
    """What SubstrateInterface.generate_signature_payload reads from a node, answered from the request."""

    def __init__(self, rt, genesis, birth_hash):
        self.runtime = rt
        self.runtime_config = rt.runtime_config
        self.genesis = genesis
        self.birth_hash = birth_hash

    def get_block_hash(self, block_id):
        return self.genesis if block_id == 0 else self.birth_hash


def extrinsic(request):
    rt = runtime(request)
    decoded = rt.runtime_config.create_scale_object(
        "Extrinsic", data=ScaleBytes(request["hex"]), metadata=rt.metadata
    )
    value = decoded.decode()
    call = value["call"]
    args = {arg["name"]: arg["value"] for arg in call["call_args"]}
    era = value["era"]
    period, phase = era
    if "blocks" in request:
        # A recorded chain (block hashes by number) and the block the transaction was included in: its era was
        # born at the last block up to then with the era's phase.
        birth_block = max(b for b in range(request["block"] + 1) if b % period == phase)
        genesis, birth_hash = request["blocks"][0], request["blocks"][birth_block]
    else:
        # Any block number with this phase gives the same; the hash is the test's.
        birth_block, genesis, birth_hash = request["birth_block"], request["genesis"], request["birth_hash"]
    chain = OfflineChain(rt, genesis, birth_hash)
    composed = compose(rt, call["call_module"], call["call_function"], args)
    payload = SubstrateInterface.generate_signature_payload(
        chain, composed, era={"period": period, "current": birth_block}, nonce=value["nonce"], tip=value["tip"]
    )
    public = bytes.fromhex(ss58_decode(value["address"]))
    signature = value["signature"]["Sr25519"] if isinstance(value["signature"], dict) else value["signature"]
    verified = Keypair(public_key=public.hex(), ss58_format=42).verify(payload.data, bytes.fromhex(signature[2:]))
    return {
        "module": call["call_module"],
        "function": call["call_function"],
        "args": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in args.items()},
        "era": [period, phase],
        "nonce": value["nonce"],
        "tip": value["tip"],
        "mode": value.get("mode"),
        "signer": "0x" + public.hex(),
        "payload": "0x" + bytes(payload.data).hex(),
        "call_hex": str(composed.data),
        "signature_verifies": bool(verified),
    }


def user_data(ciphertext, round_):
    """bittensor-drand's container for timelocked data, `UserData {encrypted_data: Vec<u8>, reveal_round: u64}`,
    around a bare ciphertext (what a weight commit carries on chain)."""
    length = len(ciphertext)
    if length < 1 << 6:
        prefix = bytes([length << 2])
    elif length < 1 << 14:
        prefix = ((length << 2) | 1).to_bytes(2, "little")
    else:
        prefix = ((length << 2) | 2).to_bytes(4, "little")
    return prefix + ciphertext + round_.to_bytes(8, "little")


def bare_ciphertext(container):
    """The ciphertext inside a `UserData` container."""
    mode = container[0] & 3
    if mode == 0:
        length, start = container[0] >> 2, 1
    elif mode == 1:
        length, start = int.from_bytes(container[:2], "little") >> 2, 2
    else:
        length, start = int.from_bytes(container[:4], "little") >> 2, 4
    assert len(container) == start + length + 8, "UserData is a ciphertext and a u64 round"
    return container[start : start + length]


def drand_decrypt(request):
    container = user_data(bytes.fromhex(request["ciphertext"]), request["round"])
    plaintext = bittensor_drand.decrypt_with_signature(container, request["signature"])
    return {"plaintext": plaintext.hex()}


def drand_encrypt(request):
    container, round_ = bittensor_drand.encrypt_at_round(bytes.fromhex(request["plaintext"]), request["round"])
    return {"ciphertext": bare_ciphertext(container).hex(), "round": round_}


def reveal_round(request):
    """The round get_encrypted_commit picks (from the wall clock), with the clock read just before and after."""
    before = time.time()
    _, round_ = bittensor_drand.get_encrypted_commit(
        uids=[0],
        weights=[65535],
        version_key=0,
        tempo=request["tempo"],
        current_block=request["block"],
        netuid=request["netuid"],
        subnet_reveal_period_epochs=request["reveal_period_epochs"],
        block_time=request["block_time"],
        hotkey=bytes(32),
    )
    after = time.time()
    return {"before": before, "round": round_, "after": after}


def storage_key(request):
    """The SDK's storage keys for the given items and parameters under recorded metadata."""
    rt = runtime(request)
    keys = []
    for item in request["items"]:
        params = [bytes.fromhex(p[2:]) if isinstance(p, str) and p.startswith("0x") else p for p in item["params"]]
        key = StorageKey.create_from_storage_function(
            "SubtensorModule", item["item"], params, runtime_config=rt.runtime_config, metadata=rt.metadata
        )
        keys.append("0x" + key.data.hex())
    return {"keys": keys}


COMMANDS = {
    "storage_key": storage_key,
    "weights": weights,
    "compose_call": compose_call,
    "extrinsic": extrinsic,
    "drand_decrypt": drand_decrypt,
    "drand_encrypt": drand_encrypt,
    "reveal_round": reveal_round,
}


def main():
    request = json.load(sys.stdin)
    json.dump(COMMANDS[request["command"]](request), ANSWER)
    ANSWER.flush()


if __name__ == "__main__":
    main()
