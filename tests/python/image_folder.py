"""Writes a small image folder in torchvision's ImageFolder layout, for dcomp's
CLI tests: ROOT/train/<class>/*.png with classes told apart by colour,
images of varied sizes (so that resizing and cropping run), PNGs written with
zlib alone (no imaging library needed).

  image_folder.py ROOT IMAGES_PER_CLASS [CLASSES]   (CLASSES: 2, the default, or 10)
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


COLOURS = (("blue", (40, 60, 200)), ("red", (200, 50, 40)), ("green", (40, 180, 60)), ("yellow", (210, 200, 40)),
           ("cyan", (40, 190, 200)), ("magenta", (190, 40, 190)), ("black", (20, 20, 20)), ("white", (235, 235, 235)),
           ("grey", (128, 128, 128)), ("orange", (230, 130, 30)))


def main(root, per_class, classes):
    rng = random.Random(0)
    for split, count in (("train", per_class), ("val", max(2, per_class // 4))):
        for label, (name, base) in enumerate(COLOURS[:classes]):
            os.makedirs(f"{root}/{split}/{name}", exist_ok=True)
            for i in range(count):
                w, h = rng.randint(24, 48), rng.randint(24, 48)
                pixels = [tuple(min(255, max(0, c + rng.randint(-30, 30))) for c in base) for _ in range(w * h)]
                write_png(f"{root}/{split}/{name}/{i:03d}.png", w, h, pixels)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] not in ("2", "10")):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) == 4 else 2)
