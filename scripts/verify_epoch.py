#!/usr/bin/env python3
"""Recompute a zipcoord epoch from its published inputs and the beacon's pulse, independently of the Rust code.

Standard library only. Checks, in order (the first difference is printed and the exit status is 1):
  1. the proof is of kind "beacon" (a "fallback" epoch was seeded from the server secret: not verifiable);
  2. sha256(inputs document) == proof.inputsHash, and the document is in canonical form;
  3. the inputs name the epoch, the algorithm, the beacon chain and the round of the proof, and the round is the
     first at or after the epoch's start;
  4. randomness == sha256(signature) (the BLS signature itself is checked only by `zipcoord verify-epoch`: it
     needs a pairing library, so this script refuses to run without --skip-pulse-verification);
  5. seed = sha256("zipcoord/selection/v2" || randomness || epochId) and the nonce = the first 8 bytes of
     sha256("zipcoord/nonce/v1" || randomness || epochId), hex;
  6. selection "zipcoord-integer-window-v2" over the inputs gives the served zipcodes, in order; for inputs with
     "groups" (the `groups` assignment mode), the groups formed from the roster and each group's batch, as
     src/domain/epoch/groups.rs and src/domain/epoch/batches.rs describe, give the served groups and zipcodes.

Usage:
  verify_epoch.py --skip-pulse-verification --url http://127.0.0.1:8080 EPOCH_ID [EPOCH_ID ...]
  verify_epoch.py --skip-pulse-verification --proof proof.json --inputs inputs.json
  verify_epoch.py --skip-pulse-verification --dir DIR   (every DIR/*.proof.json with its DIR/*.inputs.json)
"""

import argparse
import gzip
import hashlib
import json
import pathlib
import sys
import urllib.request

ALGORITHM = "zipcoord-integer-window-v2"
INPUTS_FORMAT = "zipcoord-epoch-inputs-v1"
# drand quicknet; the dev beacon uses the same genesis and period.
QUICKNET_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
GENESIS_UNIX = 1692803367
PERIOD_SECONDS = 3
TIER_PERMILLE = {"PREMIUM": 2000, "MAJOR": 1500, "STANDARD": 1000, "RURAL": 750}
MAX_WEIGHT_MILLIS = 1_000_000
MAX_EXACT_SEARCH_SUM = 2_000_000
U64 = 1 << 64


class Differs(Exception):
    pass


def epoch_start_unix(epoch_id):
    import datetime

    moment = datetime.datetime.strptime(epoch_id, "%Y-%m-%dT%H-%M-%S").replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def round_at(unix):
    since = unix - GENESIS_UNIX
    if since <= 0:
        return 1
    return since // PERIOD_SECONDS + (1 if since % PERIOD_SECONDS else 0) + 1


class DrawStream:
    """Block i is sha256(seed || i as u64 big-endian), read as four big-endian u64s."""

    def __init__(self, seed):
        self.seed, self.counter, self.words = seed, 0, []

    def next_u64(self):
        if not self.words:
            block = hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
            self.words = [int.from_bytes(block[i : i + 8], "big") for i in (24, 16, 8, 0)]
        return self.words.pop()

    def below(self, bound):
        accepted = U64 - U64 % bound
        while True:
            x = self.next_u64()
            if x < accepted:
                return x % bound


class WeightedPool:
    """Draws without replacement: r below the remaining total, then the first item whose running sum exceeds r."""

    def __init__(self, weights):
        self.n = len(weights)
        self.weights = list(weights)
        self.tree = [0] * (self.n + 1)
        for i, w in enumerate(weights):
            j = i + 1
            while j <= self.n:
                self.tree[j] += w
                j += j & -j
        self.total = sum(weights)

    def draw(self, stream):
        if self.total == 0:
            return None
        r = stream.below(self.total)
        position, step = 0, 1 << (self.n.bit_length() - 1) if self.n else 0
        while step:
            nxt = position + step
            if nxt <= self.n and self.tree[nxt] <= r:
                position = nxt
                r -= self.tree[nxt]
            step //= 2
        weight = self.weights[position]
        self.weights[position] = 0
        self.total -= weight
        j = position + 1
        while j <= self.n:
            self.tree[j] -= weight
            j += j & -j
        return position


def window(policy):
    target, tolerance = policy["targetListings"], min(policy["tolerancePercent"], 100)
    return -(-(target * (100 - tolerance)) // 100), target * (100 + tolerance) // 100


def exact_subset(expected, order, lower, upper, max_count):
    if upper > MAX_EXACT_SEARCH_SUM:
        return None
    unreached = -1
    parent = [unreached] * (upper + 1)
    parent[0] = -2
    used = {}
    for pos, i in enumerate(order):
        e = expected[i]
        if used.get(e, 0) >= upper // e:
            continue
        used[e] = used.get(e, 0) + 1
        for s in range(upper, e - 1, -1):
            if parent[s] == unreached and parent[s - e] != unreached:
                parent[s] = pos
                if s >= lower:
                    picks = []
                    while s > 0:
                        item = order[parent[s]]
                        picks.append(item)
                        s -= expected[item]
                    picks.reverse()
                    return picks if len(picks) <= max_count else None
    return None


def select(candidates, policy, start_unix, seed):
    """Selection version 2; returns the picked candidates' indices in pick order, or None."""
    lower, upper = window(policy)
    expected = [c[1] for c in candidates]
    eligible = [
        i
        for i, (_, listings, _, weight, _) in enumerate(candidates)
        if weight > 0 and policy["minListings"] <= listings <= policy["maxListings"] and 0 < listings <= upper
    ]
    if not eligible or sum(expected[i] for i in eligible) < lower:
        return None
    cooldown = policy["cooldownSeconds"]
    target = min(max(policy["targetListings"], lower), upper)
    max_count = max(policy["maxCount"] if policy["maxCount"] is not None else 1 << 62, 1)

    def recovery(last):
        if last is None or cooldown <= 0:
            return 1000
        elapsed = max(start_unix - last, 0)
        return min(max(elapsed * 1000 // (2 * cooldown), 50), 1000)

    for stage, stage_cooldown in enumerate((cooldown, cooldown // 2, 0)):
        if stage > 0 and cooldown == 0:
            break
        pool = [
            i
            for i in eligible
            if candidates[i][4] is None or stage_cooldown <= 0 or start_unix - candidates[i][4] >= stage_cooldown
        ]
        if sum(expected[i] for i in pool) < lower:
            continue
        weights = [
            TIER_PERMILLE[candidates[i][2]] * min(candidates[i][3], MAX_WEIGHT_MILLIS) * recovery(candidates[i][4])
            for i in pool
        ]
        draws, stream = WeightedPool(weights), DrawStream(seed)
        order, picks, total = [], [], 0
        while True:
            drawn = draws.draw(stream)
            if drawn is None:
                break
            i = pool[drawn]
            order.append(i)
            if total + expected[i] <= upper:
                picks.append(i)
                total += expected[i]
            if total >= target or len(picks) >= max_count:
                break
        if lower <= total <= upper:
            return picks
        while True:
            drawn = draws.draw(stream)
            if drawn is None:
                break
            order.append(pool[drawn])
        found = exact_subset(expected, order, lower, upper, max_count)
        if found is not None:
            return found
    return None


def form_groups(seed, roster, size, overlap):
    """Shuffle the roster (sorted by hotkey), order it by coldkey size, deal each miner `overlap` times round."""
    miners = [tuple(m) for m in roster]
    count = -(-len(miners) * overlap // size)
    overlap = min(overlap, max(count, 1))
    if not miners:
        return [], overlap
    stream = DrawStream(seed)
    for place in range(len(miners) - 1, 0, -1):
        other = stream.below(place + 1)
        miners[place], miners[other] = miners[other], miners[place]
    per_coldkey = {}
    for position, (_, coldkey) in enumerate(miners):
        per_coldkey.setdefault(coldkey, [0, position])[0] += 1
    miners.sort(key=lambda m: (-per_coldkey[m[1]][0], per_coldkey[m[1]][1]))
    groups = [[] for _ in range(count)]
    place = 0
    for hotkey, _ in miners:
        for _ in range(overlap):
            groups[place % count].append(hotkey)
            place += 1
    return groups, overlap


def plan_batches(candidates, policy, grouped, start_unix, seed):
    """Batch b from the candidates no earlier batch picked (all of them when those cannot fill it)."""
    group_seed = hashlib.sha256(b"zipcoord-groups-v1" + seed).digest()
    groups, overlap = form_groups(group_seed, grouped["roster"], grouped["size"], grouped["overlap"])
    batch_policy = dict(policy, targetListings=max(policy["targetListings"] // overlap, 1))
    taken, remaining, picks, lengths = set(), list(range(len(candidates))), [], []
    for batch in range(max(len(groups), 1)):
        batch_seed = seed if batch == 0 else hashlib.sha256(b"zipcoord-batch-v1" + seed + batch.to_bytes(4, "big")).digest()
        remaining = [i for i in remaining if i not in taken]
        found = select([candidates[i] for i in remaining], batch_policy, start_unix, batch_seed)
        if found is not None:
            found = [remaining[p] for p in found]
        elif batch > 0:
            found = select(candidates, batch_policy, start_unix, batch_seed)
        if found is None:
            return None
        taken.update(found)
        lengths.append(len(found))
        picks += found
    served_groups = [{"zipcodeCount": lengths[i], "members": groups[i] if i < len(groups) else []} for i in range(len(lengths))]
    return picks, served_groups


def roll_forward(previous, picked, epoch_id):
    """The inputs of epoch_id as they follow from the previous epoch's inputs and the zipcodes it picked."""
    start, previous_start = epoch_start_unix(epoch_id), previous["epochStartUnix"]
    window_start = start - 2 * previous["policy"]["cooldownSeconds"]
    candidates = []
    for zipcode, expected, tier, weight, last in previous["candidates"]:
        if zipcode in picked:
            last = previous_start
        if last is not None and not window_start <= last < start:
            last = None
        candidates.append([zipcode, expected, tier, weight, last])
    rolled = dict(previous, candidates=candidates, epochId=epoch_id, epochStartUnix=start)
    rolled["beaconRound"] = round_at(start)
    return json.dumps(rolled, sort_keys=True, separators=(",", ":")).encode()


def verify(answer, document, skip_pulse_verification, previous=None):
    """Returns a one-line description of a verified epoch; raises Differs with the first difference. `previous`,
    when given, fetches the previous epoch's (proof, inputs), to check late inputs as a roll-forward of them."""
    proof, epoch_id = answer["proof"], answer["epochId"]
    if proof["kind"] != "beacon":
        raise Differs(f"not verifiable: the epoch was seeded from the server secret ({proof.get('reason')})")
    if proof["algorithmVersion"] != ALGORITHM:
        raise Differs(f"unknown algorithm {proof['algorithmVersion']!r}")
    digest = hashlib.sha256(document).hexdigest()
    if digest != proof["inputsHash"]:
        raise Differs(f"the inputs hash to {digest}, the proof names {proof['inputsHash']}")
    inputs = json.loads(document)
    if json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode() != document:
        raise Differs("the inputs are not in canonical form")
    if inputs["format"] != INPUTS_FORMAT:
        raise Differs(f"unknown inputs format {inputs['format']!r}")
    start = epoch_start_unix(epoch_id)
    for field, want in (
        ("epochId", epoch_id),
        ("epochStartUnix", start),
        ("algorithmVersion", proof["algorithmVersion"]),
        ("beaconChainHash", proof["chainHash"]),
        ("beaconRound", proof["round"]),
    ):
        if inputs[field] != want:
            raise Differs(f"the inputs' {field} is {inputs[field]!r}, expected {want!r}")
    if proof["round"] != round_at(start):
        raise Differs(f"round {proof['round']} is not the first at or after the epoch's start ({round_at(start)})")
    if not skip_pulse_verification:
        raise Differs("the pulse's BLS signature needs a pairing library: use zipcoord verify-epoch")
    signature = bytes.fromhex(proof["signature"])
    randomness = hashlib.sha256(signature).digest()
    if proof.get("randomness") not in (None, randomness.hex()):
        raise Differs("the proof's randomness is not sha256 of its signature")
    label = epoch_id.encode()
    nonce = hashlib.sha256(b"zipcoord/nonce/v1" + randomness + label).digest()[:8].hex()
    if nonce != answer["nonce"]:
        raise Differs(f"the nonce recomputes to {nonce}, the server says {answer['nonce']}")
    seed = hashlib.sha256(b"zipcoord/selection/v2" + randomness + label).digest()
    candidates = inputs["candidates"]
    groups = None
    if "groups" in inputs:
        planned = plan_batches(candidates, inputs["policy"], inputs["groups"], start, seed)
        picks, groups = planned if planned is not None else (None, None)
    else:
        picks = select(candidates, inputs["policy"], start, seed)
    if picks is None:
        raise Differs("the selection recomputes to no set")
    if groups != answer.get("groups"):
        served_groups = answer.get("groups") or []
        at = next((i for i, (a, b) in enumerate(zip(groups or [], served_groups)) if a != b), None)
        raise Differs(
            f"the groups recompute differently: {len(groups or [])} recomputed, {len(served_groups)} served"
            + (f"; group {at} is the first that differs" if at is not None else "")
        )
    recomputed, served = [candidates[i][0] for i in picks], answer["zipcodes"]
    if recomputed != served:
        padded = zip(recomputed + [None] * len(served), served + [None] * len(recomputed))
        at, (mine, theirs) = next((i, pair) for i, pair in enumerate(padded) if pair[0] != pair[1])
        raise Differs(f"zipcode {at + 1} of the selection recomputes to {mine}, the server says {theirs}")
    chain = "quicknet" if proof["chainHash"] == QUICKNET_HASH else f"chain {proof['chainHash'][:12]}"
    listings = sum(candidates[i][1] for i in picks)
    ahead = GENESIS_UNIX + (proof["round"] - 1) * PERIOD_SECONDS - iso_unix(proof["inputsPublishedAt"])
    when = f"published {ahead} s before the round" if ahead > 0 else f"published {-ahead} s AFTER the round"
    if ahead <= 0 and previous is not None:
        earlier = previous()
        if earlier is not None:
            earlier_answer, earlier_document = earlier
            if hashlib.sha256(earlier_document).hexdigest() != earlier_answer["proof"]["inputsHash"]:
                raise Differs("the previous epoch's inputs do not match its proof's hash")
            picked = set(earlier_answer["zipcodes"])
            if roll_forward(json.loads(earlier_document), picked, epoch_id) == document:
                when = (
                    f"published {-ahead} s after the round (the server was down) but rolled forward from epoch "
                    f"{earlier_answer['epochId']}'s published inputs and selection, so fixed before it"
                )
    grouped = f" in {len(groups)} groups" if groups is not None else ""
    return (
        f"verified: epoch {epoch_id}: {len(picks)} zipcodes{grouped}, {listings} expected listings, "
        f"from round {proof['round']} of {chain} and inputs {when}"
    )


def iso_unix(text):
    import datetime

    moment = datetime.datetime.strptime(text.replace("Z", "+00:00"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(moment.timestamp())


def fetch(url):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        return gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("epochs", nargs="*", help="epoch ids (with --url)")
    parser.add_argument("--url", help="the server or a validator's relay")
    parser.add_argument("--proof", help="a saved /epoch/{id}/proof answer")
    parser.add_argument("--inputs", help="a saved /epoch/{id}/inputs document")
    parser.add_argument("--dir", help="a directory of NAME.proof.json and NAME.inputs.json pairs")
    parser.add_argument("--skip-pulse-verification", action="store_true", help="trust the pulse's BLS signature")
    args = parser.parse_args()
    cases = []
    if args.url:
        base = args.url.rstrip("/") + "/api/v1/zipcode-assignments/epoch/"
        stats = json.loads(fetch(args.url.rstrip("/") + "/api/v1/zipcode-assignments/stats"))
        length = round(stats["epochStatus"]["timing"]["epochDurationHours"] * 3600)

        def previous_of(epoch):
            import datetime
            import urllib.error

            moment = datetime.datetime.fromtimestamp(epoch_start_unix(epoch) - length, datetime.timezone.utc)
            earlier = moment.strftime("%Y-%m-%dT%H-%M-%S")
            try:
                return json.loads(fetch(f"{base}{earlier}/proof")), fetch(f"{base}{earlier}/inputs")
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                raise

        for epoch in args.epochs:
            cases.append(
                (
                    epoch,
                    lambda e=epoch: (json.loads(fetch(f"{base}{e}/proof")), fetch(f"{base}{e}/inputs")),
                    lambda e=epoch: previous_of(e),
                )
            )
    elif args.proof and args.inputs:
        proof, inputs = pathlib.Path(args.proof), pathlib.Path(args.inputs)
        cases = [(args.proof, lambda: (json.loads(proof.read_bytes()), inputs.read_bytes()), None)]
    elif args.dir:
        for proof in sorted(pathlib.Path(args.dir).glob("*.proof.json")):
            inputs = proof.with_name(proof.name.replace(".proof.json", ".inputs.json"))
            cases.append((proof.name, lambda p=proof, i=inputs: (json.loads(p.read_bytes()), i.read_bytes()), None))
    if not cases:
        parser.error("name epochs with --url, or give --proof and --inputs, or --dir")
    failed = 0
    for name, load, previous in cases:
        try:
            answer, document = load()
            print(verify(answer, document, args.skip_pulse_verification, previous))
        except Differs as difference:
            failed += 1
            print(f"not verified: {name}: {difference}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
