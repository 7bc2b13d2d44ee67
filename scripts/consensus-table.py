#!/usr/bin/env python3
"""Summarizes `zipcoord localnet` runs for the README's consensus table (issue #16).

Usage: consensus-table.py LABEL:STDOUT_LOG:DATA_DIR [LABEL:STDOUT_LOG:DATA_DIR ...]

For each run: which miners were which liars (from the localnet banner), every validator's published verdicts on
the whole epochs (the results files under DATA_DIR/s3/localnet/validators/), and the distinct listings the
honest miners delivered per epoch (their files under DATA_DIR/s3/localnet/data/). Prints one Markdown row per run:
for each liar kind the share of (validator, epoch) verdicts that zeroed it, the honest miners wrongly zeroed, and
the mean distinct listings collected per epoch. Standard library only.
"""

import glob
import json
import os
import re
import sys
from collections import defaultdict

KINDS = ["inventor", "shader", "copier", "sybil"]


def roles(stdout):
    """uid -> kind (None for honest), and the first whole epoch (the one after the network started)."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"\s+miner\s+uid (\d+)\s+\S+\s+\S+\s+\((.*)\)$", line)
        if match:
            kind = re.match(r"liar \((\w+)\)", match.group(2))
            found[int(match.group(1))] = kind.group(1) if kind else None
    return found


def run_figures(stdout_path, data_dir):
    stdout = open(stdout_path).read()
    kind_of = roles(stdout)
    root = os.path.join(data_dir, "s3", "localnet")
    epochs = sorted({os.path.basename(p) for p in glob.glob(os.path.join(root, "validators", "*", "*"))})
    # The first epoch anyone mined in was partial (the network started during it); count the ones after it.
    mined = sorted({p.split("epoch=")[1] for p in glob.glob(os.path.join(root, "data", "hotkey=*", "epoch=*"))})
    epochs = [epoch for epoch in epochs if mined and epoch > mined[0]]
    caught, judged = defaultdict(int), defaultdict(int)
    honest_zeroed, honest_judged = 0, 0
    checks, bounded, judgements = 0, False, 0
    for epoch in epochs:
        for path in glob.glob(os.path.join(root, "validators", "*", epoch, "results_*.json")):
            judgement = json.load(open(path))
            judgements += 1
            for miner in judgement["miners"]:
                if miner.get("consensus") is not None:
                    checks += miner["consensus"]["spotChecks"]["checked"]
                elif miner["listings"] > 0:
                    # Without a consensus report the validator sampled at most this many of the miner's listings.
                    checks += min(judgement["spotChecksPerMiner"], miner["listings"])
                    bounded = True
            for miner in judgement["miners"]:
                uid = miner["uid"]
                if uid not in kind_of:
                    continue
                kind = kind_of[uid]
                if kind is None:
                    # Zeroed as a liar; an honest miner that delivered nothing in time is absent, not wronged.
                    honest_judged += 1
                    honest_zeroed += miner["verdict"] == "liar"
                else:
                    judged[kind] += 1
                    caught[kind] += miner["verdict"] == "liar" and miner["weight"] == 0
    hotkey_uid = {}
    for line in stdout.splitlines():
        match = re.match(r"\s+miner\s+uid (\d+)\s+(\S+)", line)
        if match:
            hotkey_uid[match.group(2)] = int(match.group(1))
    distinct = []
    for epoch in epochs:
        ids = set()
        for path in glob.glob(os.path.join(root, "data", "hotkey=*", f"epoch={epoch}", "zipcode=*", "*.json")):
            hotkey = path.split("hotkey=")[1].split("/")[0]
            if kind_of.get(hotkey_uid.get(hotkey, -1), "?") is not None:
                continue
            for listing in json.load(open(path)).get("listings", []):
                ids.add(listing.get("listingId") or listing.get("listing_id"))
        distinct.append(len(ids))
    per_judgement = f"{'at most ' if bounded else ''}{checks / max(judgements, 1):.0f}"
    return epochs, caught, judged, honest_zeroed, honest_judged, distinct, per_judgement


def main():
    print(
        "| run | whole epochs | " + " | ".join(f"{k} zeroed" for k in KINDS)
        + " | honest wrongly zeroed | distinct listings per epoch (honest miners) | spot checks per validator and epoch |"
    )
    print("|---|---|" + "---|" * len(KINDS) + "---|---|---|")
    for argument in sys.argv[1:]:
        label, stdout_path, data_dir = argument.split(":", 2)
        epochs, caught, judged, zeroed, honest, distinct, checks = run_figures(stdout_path, data_dir)
        shares = [f"{caught[k]}/{judged[k]} ({100 * caught[k] / judged[k]:.0f} %)" if judged[k] else "-" for k in KINDS]
        mean = sum(distinct) / len(distinct) if distinct else 0
        print(f"| {label} | {len(epochs)} | " + " | ".join(shares) + f" | {zeroed} of {honest} | {mean:.0f} | {checks} |")


if __name__ == "__main__":
    main()
