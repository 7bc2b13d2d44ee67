"""Epistula v2 request headers the way the macrocosm-os reference (`shared/epistula.py`) builds them, signed with
a PyPI `bittensor-wallet` keypair; shared by the live check and the known-answer vector generator."""
import time
from hashlib import sha256
from uuid import uuid4


def signed_message(body, uuid, timestamp, signed_for):
    return f"{sha256(body).hexdigest()}.{uuid}.{timestamp}.{signed_for}"


def epistula_headers(keypair, body, signed_for, uuid=None, timestamp=None, wrap=False):
    """The six headers for `body`; a fresh uuid and the current time unless given, the signature over the
    `<Bytes>`-wrapped message when `wrap`."""
    uuid = uuid or str(uuid4())
    timestamp = timestamp if timestamp is not None else round(time.time() * 1000)
    message = signed_message(body, uuid, timestamp, signed_for)
    payload = f"<Bytes>{message}</Bytes>" if wrap else message
    return {
        "Epistula-Version": "2",
        "Epistula-Timestamp": str(timestamp),
        "Epistula-Uuid": uuid,
        "Epistula-Signed-By": keypair.ss58_address,
        "Epistula-Signed-For": signed_for,
        "Epistula-Request-Signature": "0x" + keypair.sign(payload).hex(),
    }
