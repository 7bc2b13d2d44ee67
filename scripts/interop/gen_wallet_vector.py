#!/usr/bin/env python3
"""Writes tests/vectors/btcli_hotkey.json: an unencrypted hotkey file exactly as bittensor-wallet (what btcli
uses) writes it, for a throw-away key, so the Rust wallet loader is checked against the real format.

Usage: python gen_wallet_vector.py   (with PyPI bittensor-wallet installed)
"""
import os
import shutil
import tempfile

from bittensor_wallet import Wallet

with tempfile.TemporaryDirectory() as path:
    wallet = Wallet(name="vector", hotkey="default", path=path)
    wallet.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    target = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "vectors", "btcli_hotkey.json")
    shutil.copyfile(os.path.join(path, "vector", "hotkeys", "default"), target)
    print(wallet.hotkey.ss58_address)
