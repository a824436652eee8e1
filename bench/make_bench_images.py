#!/usr/bin/python3
"""Benchmark JPEGs with real photo content, made once and reused.

Usage: make_bench_images.py OUT_DIR COUNT WIDTHxHEIGHT [SOURCE_DIR]

Writes OUT_DIR/img_0000.jpg ... (COUNT files, WIDTH x HEIGHT, RGB, quality 90) made from
the darknet photos (dog, eagle, giraffe, ...) by a different crop, mirror and resize each,
so every file decodes to different pixels (no decoder cache can help) but all are real
photos (JPEG entropy, and therefore decode time, like a real data set).
Does nothing if OUT_DIR already holds COUNT files of that size (stamp file OUT_DIR/.done).
Prints OUT_DIR's image paths, one a line, on stdout.
"""
import glob
import os
import random
import sys

from PIL import Image, ImageOps

SOURCE_DIRS = ["/usr/share/darknet/data",
               os.path.join(os.environ.get("SWEEP_TESTDATA", "/var/cache/sweep-testdata"),
                            "darknet/usr/share/darknet/data")]


def find_photos(extra):
    for d in ([extra] if extra else []) + SOURCE_DIRS:
        photos = sorted(glob.glob(os.path.join(d, "*.jpg")))
        if photos:
            return photos
    sys.exit("make_bench_images: no *.jpg in %s (run scripts/install-deps)" % " or ".join(SOURCE_DIRS))


def variant(photo, k, width, height, rng):
    """Crop 60-100% of the photo at a random place, mirror every other one, resize to WxH."""
    w, h = photo.size
    frac = rng.uniform(0.6, 1.0)
    cw, ch = max(16, int(w * frac)), max(16, int(h * frac))
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = photo.crop((x0, y0, x0 + cw, y0 + ch))
    if k % 2:
        img = ImageOps.mirror(img)
    return img.resize((width, height), Image.BILINEAR)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    out_dir, count = sys.argv[1], int(sys.argv[2])
    width, height = (int(v) for v in sys.argv[3].lower().split("x"))
    stamp = os.path.join(out_dir, ".done")
    names = [os.path.join(out_dir, "img_%04d.jpg" % k) for k in range(count)]
    want = "%d %dx%d\n" % (count, width, height)
    if not (os.path.exists(stamp) and open(stamp).read() == want and all(map(os.path.exists, names))):
        os.makedirs(out_dir, exist_ok=True)
        photos = [Image.open(p).convert("RGB") for p in find_photos(sys.argv[4] if len(sys.argv) == 5 else None)]
        rng = random.Random(1234)
        for k, name in enumerate(names):
            img = variant(photos[k % len(photos)], k // len(photos), width, height, rng)
            tmp = name + ".tmp"
            img.save(tmp, "JPEG", quality=90)
            os.replace(tmp, name)
        with open(stamp, "w") as f:
            f.write(want)
    print("\n".join(names))


if __name__ == "__main__":
    main()
