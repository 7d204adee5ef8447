#!/usr/bin/env python3
"""A small Fashion-MNIST look-alike for the tests: valid IDX files (train- and t10k-, images
28 x 28 and labels) of TRAIN and TEST examples, in DIR.  Image i of class c = i mod 10 has the
pixel rows 10 k + c bright over a fixed pseudo-random background, so a small network can learn
it; the same bytes on every run.  Loads in milliseconds, where the real data set takes seconds.

    make_fake_fmnist.py DIR [TRAIN TEST] [--gzip]      (default 400 100, plain files)"""
import gzip
import os
import struct
import sys


def main(argv):
    args = [a for a in argv[1:] if a != "--gzip"]
    zipped = "--gzip" in argv[1:]
    if len(args) not in (1, 3):
        sys.exit(__doc__)
    d = args[0]
    sizes = (int(args[1]), int(args[2])) if len(args) == 3 else (400, 100)
    os.makedirs(d, exist_ok=True)
    x = 12345

    def rnd():
        nonlocal x
        x = (1103515245 * x + 12345) % 2**31
        return x >> 16

    for prefix, n in zip(("train", "t10k"), sizes):
        labels = bytes(i % 10 for i in range(n))
        img = bytearray()
        for i in range(n):
            c = labels[i]
            img += bytes(min(255, (rnd() % 64) + (160 if (p // 28) % 10 == c else 0))
                         for p in range(784))
        files = ((prefix + "-images-idx3-ubyte", struct.pack(">IIII", 0x803, n, 28, 28) + bytes(img)),
                 (prefix + "-labels-idx1-ubyte", struct.pack(">II", 0x801, n) + labels))
        for name, data in files:
            if zipped:
                with gzip.GzipFile(os.path.join(d, name + ".gz"), "wb", mtime=0) as f:
                    f.write(data)
            else:
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)


if __name__ == "__main__":
    main(sys.argv)
