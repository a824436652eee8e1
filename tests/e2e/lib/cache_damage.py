#!/usr/bin/env python3
"""Damages cache files the way the integrity tests need, knowing their format.

Both formats (trainer/train/feature_cache.c TLFEAT02, boundary_cache.c TLBOUND2) start with
a 64-byte header: magic (8), four uint32 (rows, dim|side, chunk|channels, dtype|reserved),
the key (32 hex digits), the CRC-32 (zlib) of the header with crc = 0 and then the values
(offset 56), and 4 reserved bytes. Values: float32 or float16, little-endian.

  cache_damage.py flip FILE OFFSET          xor 0xff into the byte at OFFSET (the CRC stays)
  cache_damage.py nan FILE INDEX            value INDEX becomes NaN and the CRC is made right
                                            again, so only the finiteness check can catch it
  cache_damage.py v1 FILE                   a feature chunk rewritten in the older format
                                            TLFEAT01 (32-byte header, key prefix, no CRC)
  cache_damage.py scale H5 DATASET FACTOR   multiplies a dataset of a Keras weight file
                                            (needs h5py: /usr/bin/python3)
"""
import struct
import sys
import zlib

HEADER = 64
CRC_AT = 56


def read(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def fix_crc(data):
    zeroed = data[:CRC_AT] + b"\0\0\0\0" + data[CRC_AT + 4:HEADER]
    crc = zlib.crc32(bytes(zeroed))
    crc = zlib.crc32(bytes(data[HEADER:]), crc)
    struct.pack_into("<I", data, CRC_AT, crc)


def value_size(data):
    if data[:8] == b"TLBOUND2":
        return 2
    dtype = struct.unpack_from("<I", data, 20)[0]
    return 2 if dtype == 1 else 4


def nan(path, index):
    data = read(path)
    size = value_size(data)
    at = HEADER + index * size
    if size == 2:
        struct.pack_into("<H", data, at, 0x7E00)
    else:
        struct.pack_into("<f", data, at, float("nan"))
    fix_crc(data)
    write(path, data)


def v1(path):
    data = read(path)
    rows, dim, chunk = struct.unpack_from("<III", data, 8)
    key = bytes(data[24:40]).decode()
    header = b"TLFEAT01" + struct.pack("<IIIIQ", rows, dim, chunk, 0, int(key, 16))
    write(path, header + bytes(data[HEADER:]))


def scale(path, name, factor):
    import h5py
    with h5py.File(path, "r+") as f:
        f[name][...] = f[name][...] * factor


def main(argv):
    cmd = argv[1]
    if cmd == "flip":
        data = read(argv[2])
        data[int(argv[3])] ^= 0xFF
        write(argv[2], data)
    elif cmd == "nan":
        nan(argv[2], int(argv[3]))
    elif cmd == "v1":
        v1(argv[2])
    elif cmd == "scale":
        scale(argv[2], argv[3], float(argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
