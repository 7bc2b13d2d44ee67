"""bittensor-drand 2.x as an oracle for zipcoord's tests (tests/api/sdk_oracle.rs), in a venv of its own
(scripts/interop/sdk-venv.sh): reads one JSON request on stdin, prints one JSON answer.

reveal_round_v2: the round get_encrypted_commit_v2 picks for an epoch schedule state (runtimes with
SubnetEpochIndex), from the wall clock, with the clock read just before and after.
"""

import json
import sys
import time

import bittensor_drand


def reveal_round_v2(request):
    before = time.time()
    _, round_ = bittensor_drand.get_encrypted_commit_v2(
        uids=[0],
        weights=[65535],
        version_key=0,
        last_epoch_block=request["last_epoch_block"],
        pending_epoch_at=request["pending_epoch_at"],
        subnet_epoch_index=request["subnet_epoch_index"],
        tempo=request["tempo"],
        blocks_since_last_step=request["blocks_since_last_step"],
        current_block=request["current_block"],
        subnet_reveal_period_epochs=request["reveal_period_epochs"],
        block_time=request["block_time"],
        hotkey=bytes(32),
    )
    after = time.time()
    return {"before": before, "round": round_, "after": after}


def main():
    request = json.load(sys.stdin)
    commands = {"reveal_round_v2": reveal_round_v2}
    json.dump(commands[request["command"]](request), sys.stdout)


if __name__ == "__main__":
    main()
