"""An independent implementation of TarsCpp's AK/SK signature (hashlib + pycryptodome).

stdin: lines `sign xSECRET_HEX TIME` or `check xSECRET_HEX TIME SIGNATURE_HEX` (the `x` keeps an empty secret a word).
stdout: one line per input: the signature in hex, or `ok` / `bad`.
"""
import hashlib
import struct
import sys

from Crypto.Cipher import DES3


def key_for(secret: bytes, t: int) -> bytes:
    s1 = hashlib.sha1(secret).hexdigest().encode()
    s2 = bytearray(hashlib.sha1(s1).hexdigest().encode())
    for i, b in enumerate(struct.pack("<q", t)):
        s2[i] |= b
    return s1, hashlib.md5(bytes(s2)).hexdigest().encode()[:24]


def cipher(key: bytes):
    # pycryptodome refuses keys whose three parts degenerate to single DES; TarsCpp keys are
    # hex digits, which never do.
    return DES3.new(key, DES3.MODE_ECB)


for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    secret, t = bytes.fromhex(parts[1][1:]), int(parts[2])
    s1, key = key_for(secret, t)
    if parts[0] == "sign":
        pad = 8 - len(s1) % 8
        print(cipher(key).encrypt(s1 + bytes([pad]) * pad).hex())
    else:
        plain = cipher(key).decrypt(bytes.fromhex(parts[3]))
        pad = plain[-1]
        ok = 1 <= pad <= 8 and plain[-pad:] == bytes([pad]) * pad and plain[:-pad] == s1
        print("ok" if ok else "bad")
