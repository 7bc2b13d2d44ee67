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
     src/domain/epoch/groups.rs and src/domain/epoch/batches.rs describe, give the served groups and zipcodes;
  7. with --results DIR (saved answers of GET .../epoch/{id}/results, as DIR/{epochId}.results.json: any
     registered hotkey reads them), inputs that carry "calibration" recompute from the verdicts it names: the
     files and their SHA-256 match, and every move follows from its value before, as
     src/domain/epoch/calibration describes (rule version 1, integer arithmetic throughout).

Usage:
  verify_epoch.py --skip-pulse-verification --url http://127.0.0.1:8080 EPOCH_ID [EPOCH_ID ...]
  verify_epoch.py --skip-pulse-verification --proof proof.json --inputs inputs.json
  verify_epoch.py --skip-pulse-verification --dir DIR   (every DIR/*.proof.json with its DIR/*.inputs.json)
  ... --results DIR   (also recompute the calibration from DIR/{epochId}.results.json)
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


CALIBRATION_RULE_VERSION = 1
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SS58_PREFIX = 42


def is_hotkey(text):
    """An SS58 address of the generic substrate prefix with a valid checksum, as src/domain/hotkey.rs parses it."""
    if len(text) > 64 or not text or any(c not in BASE58 for c in text):
        return False
    number = 0
    for c in text:
        number = number * 58 + BASE58.index(c)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    raw = b"\0" * (len(text) - len(text.lstrip("1"))) + raw
    if len(raw) != 35 or raw[0] != SS58_PREFIX:
        return False
    return hashlib.blake2b(b"SS58PRE" + raw[:33], digest_size=64).digest()[:2] == raw[33:]


def plain(text):
    return isinstance(text, str) and all(0x20 <= ord(c) < 0x7F and c not in '"\\' for c in text)


def evidence_of(epoch_id, verdicts):
    """A validator's verdicts as evidence, as ValidatorVerdicts::evidence keeps them; None when nothing is left."""
    sha = verdicts.get("sha256", "")
    if not (plain(verdicts["file"]) and plain(verdicts["hotkey"]) and len(sha) == 64 and plain(sha)):
        return None
    zipcodes = {}
    for zipcode, listings in verdicts.get("zipcodeListings", {}).items():
        if len(zipcode) != 5 or not all(c in "0123456789" for c in zipcode):
            continue
        by_miner = {h: n for h, n in listings["byMiner"].items() if n > 0 and is_hotkey(h)}
        if by_miner:
            zipcodes[zipcode] = by_miner
    if not zipcodes:
        return None
    return {"file": [epoch_id, verdicts["hotkey"], verdicts["file"], sha], "zipcodes": zipcodes}


def estimate(rule, reports, coldkeys):
    """The target one zipcode's reports [(validator, {miner: count})] give, or None (no quorum)."""
    estimates = []
    for validator, by_miner in reports:
        counts = sorted(n for n in by_miner.values() if n > 0)
        if counts:
            rank = min(max(-(-min(rule["quantilePermille"], 1000) * len(counts) // 1000), 1), len(counts))
            estimates.append((counts[rank - 1], validator, by_miner))
    estimates.sort(key=lambda e: (e[0], e[1]))
    if not estimates:
        return None
    middle = estimates[(len(estimates) - 1) // 2][0]
    agreeing = [e for e in estimates if abs(e[0] - middle) * 1000 <= rule["agreementPermille"] * max(middle, 1)]
    if len(agreeing) < rule["minValidators"] or len(agreeing) * 2 <= len(estimates):
        return None
    operators = {coldkeys.get(h, h) for _, _, by_miner in agreeing for h, n in by_miner.items() if n > 0}
    if len(operators) < rule["minColdkeys"]:
        return None
    return agreeing[(len(agreeing) - 1) // 2][0]


def step_towards(rule, current, target, min_listings, max_listings):
    current, step = max(current, 1), min(rule["maxStepPermille"], 1000)
    lower = -(-current * (1000 - step) // 1000)
    upper = max(current * (1000 + step) // 1000, lower)
    low, high = max(min_listings, 1), max(max_listings, 1)
    return min(max(min(max(target, lower), upper), low), max(high, low))


def calibration_moves(calibration, candidates, evidence, policy):
    """The moves the evidence makes on candidates [[zipcode, expected, ...]] (the values before calibration)."""
    rule, holds = calibration["rule"], dict(calibration["holds"])
    reported = {}  # zipcode -> epoch -> [(validator, {miner: count})]
    for e in evidence:
        for zipcode, by_miner in e["zipcodes"].items():
            reported.setdefault(zipcode, {}).setdefault(e["file"][0], []).append((e["file"][1], by_miner))
    moves = []
    for zipcode, expected, *_ in candidates:
        by_epoch = reported.get(zipcode, {})
        newest_first = sorted(by_epoch, key=epoch_start_unix, reverse=True)
        for epoch in (e for e in newest_first if epoch_start_unix(e) >= holds.get(zipcode, -(1 << 63))):
            target = estimate(rule, by_epoch[epoch], calibration["coldkeys"])
            if target is not None:
                to = step_towards(rule, expected, target, policy["minListings"], policy["maxListings"])
                if to != expected:
                    moves.append([zipcode, expected, to, epoch])
                break
    return moves


def verify_calibration(inputs, results_of):
    """Recomputes the inputs' calibration from the verdicts results_of(epochId) serves; a one-line description."""
    calibration = inputs["calibration"]
    if calibration["rule"]["version"] != CALIBRATION_RULE_VERSION:
        raise Differs(f"calibration: unknown rule version {calibration['rule']['version']}")
    named = calibration["evidence"]
    evidence = []
    for epoch in sorted({f[0] for f in named}, key=epoch_start_unix):
        validators = {f[1] for f in named if f[0] == epoch}
        for verdicts in results_of(epoch)["validators"]:
            found = evidence_of(epoch, verdicts)
            if found is not None and found["file"][1] in validators:
                evidence.append(found)
    read = sorted((e["file"] for e in evidence), key=lambda f: (epoch_start_unix(f[0]), f[1], f[2], f[3]))
    if read != named:
        raise Differs(f"calibration: it names the results files {named}, the verdicts read give {read}")
    before = {c[0]: list(c) for c in inputs["candidates"]}
    for zipcode, old, new, _ in calibration["moves"]:
        if zipcode not in before or before[zipcode][1] != new:
            raise Differs(f"calibration: zipcode {zipcode} moved to {new} but the inputs do not give it that value")
        before[zipcode][1] = old
    rows = [before[c[0]] for c in inputs["candidates"]]
    moves = calibration_moves(calibration, rows, evidence, inputs["policy"])
    if moves != calibration["moves"]:
        raise Differs(f"calibration: the evidence moves {moves}, the calibration says {calibration['moves']}")
    epochs = len({f[0] for f in named})
    return f"calibration verified: {len(moves)} expected listings moved, recomputed from {len(named)} results files of {epochs} judged epochs"


def verify(answer, document, skip_pulse_verification, previous=None, results_of=None):
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
    line = (
        f"verified: epoch {epoch_id}: {len(picks)} zipcodes{grouped}, {listings} expected listings, "
        f"from round {proof['round']} of {chain} and inputs {when}"
    )
    if "calibration" in inputs:
        if results_of is None:
            line += "\ncalibration: not rechecked (give --results DIR with the epochs' saved results answers)"
        else:
            line += "\n" + verify_calibration(inputs, results_of)
    return line


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
    parser.add_argument("--results", help="a directory of saved results answers, EPOCH_ID.results.json")
    args = parser.parse_args()
    results_of = None
    if args.results:

        def results_of(epoch):
            path = pathlib.Path(args.results) / f"{epoch}.results.json"
            if not path.exists():
                raise Differs(f"calibration: no saved results of epoch {epoch} in {args.results}")
            return json.loads(path.read_bytes())

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
            print(verify(answer, document, args.skip_pulse_verification, previous, results_of))
        except Differs as difference:
            failed += 1
            print(f"not verified: {name}: {difference}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
