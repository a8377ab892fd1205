"""Writes a small image folder in torchvision's ImageFolder layout, for dcomp's
CLI test: ROOT/train/<class>/*.png with two classes told apart by colour,
images of varied sizes (so that resizing and cropping run), PNGs written with
zlib alone (no imaging library needed).

  image_folder.py ROOT IMAGES_PER_CLASS
"""
import os
import random
import struct
import sys
import zlib


def write_png(path, width, height, pixels):
    """pixels: width * height (r, g, b) tuples, row-major."""
    rows = b"".join(b"\x00" + bytes(v for p in pixels[y * width:(y + 1) * width] for v in p) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main(root, per_class):
    rng = random.Random(0)
    for split, count in (("train", per_class), ("val", max(2, per_class // 4))):
        for label, (name, base) in enumerate((("blue", (40, 60, 200)), ("red", (200, 50, 40)))):
            os.makedirs(f"{root}/{split}/{name}", exist_ok=True)
            for i in range(count):
                w, h = rng.randint(24, 48), rng.randint(24, 48)
                pixels = [tuple(min(255, max(0, c + rng.randint(-30, 30))) for c in base) for _ in range(w * h)]
                write_png(f"{root}/{split}/{name}/{i:03d}.png", w, h, pixels)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
