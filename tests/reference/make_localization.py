#!/usr/bin/env python3
"""Reference values of the pixel-level metrics: pooled pixel AUROC and AU-PRO up to a false-positive rate
of 0.3 (normalised by 0.3), on small synthetic anomaly maps and ground-truth masks.

AU-PRO follows the MVTec AD definition (Bergmann et al., IJCV 2021):
  - regions are the 8-connected components of each ground-truth mask (scipy.ndimage.label with a 3x3
    structuring element of ones), counted over all images;
  - for a threshold t, FPR(t) is the share of all defect-free pixels (every image, good images included)
    scoring >= t, and PRO(t) the mean over all regions of the share of the region's pixels scoring >= t;
  - thresholds are the distinct scores, so tied pixels enter the curve together; the curve is closed with
    (0, 0) and (1, 1);
  - the area is the trapezoid rule up to FPR 0.3, the last piece cut at 0.3 by linear interpolation, and
    divided by 0.3.
Pixel AUROC is scikit-learn's roc_auc_score over all pixels of all images pooled.

Writes OUT/localization.json (default OUT: localization/ beside this script):
  { "cases": [ { "name", "height", "width", "maps": [[...] per image, row-major],
                 "masks": [[0/1 ...] per image], "expected": { "pixel_auroc", "au_pro_0_3" } } ], ... }

Usage: make_localization.py [--out DIR] [--seed N]
       make_localization.py --check FILE   (recompute a fixture with "maps", "masks" as [image][row][col] and
                                            "pixel_auroc", "au_pro_30"/"au_pro_05" keys, and print the
                                            differences)
"""

import argparse
import bisect
import json
import os

import numpy as np
import scipy
from scipy import ndimage
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
EIGHT_CONNECTED = np.ones((3, 3), dtype=int)
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


# ----------------------------------------------------------------------------------------------- metrics


def pixel_auroc(maps, masks):
    return float(roc_auc_score(np.concatenate([m.ravel() for m in masks]),
                               np.concatenate([a.ravel() for a in maps])))


def pro_curve(maps, masks, structure=EIGHT_CONNECTED):
    """FPR and PRO at every distinct score (descending), closed by (0, 0) and (1, 1)."""
    scores, fp_weight, pro_weight = [], [], []
    n_regions, n_ok = 0, 0
    for a, m in zip(maps, masks):
        labels, n = ndimage.label(m, structure=structure)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        # Each defect-free pixel adds 1 to the false positives; each region pixel adds 1/|region| to the sum
        # of per-region overlaps.
        w = np.where(labels > 0, 1.0 / np.maximum(sizes[labels], 1), 0.0)
        scores.append(a.ravel())
        fp_weight.append((labels == 0).ravel().astype(np.float64))
        pro_weight.append(w.ravel())
        n_regions += n
        n_ok += int((labels == 0).sum())
    s = np.concatenate(scores)
    order = np.argsort(-s, kind="stable")
    s = s[order]
    fp = np.cumsum(np.concatenate(fp_weight)[order])
    pro = np.cumsum(np.concatenate(pro_weight)[order])
    last_of_ties = np.append(s[1:] != s[:-1], True)
    fpr = np.clip(fp[last_of_ties] / n_ok, 0, 1)
    pros = np.clip(pro[last_of_ties] / n_regions, 0, 1)
    return np.concatenate([[0.0], fpr, [1.0]]), np.concatenate([[0.0], pros, [1.0]])


def area_to(x, y, limit):
    """Trapezoid area under y(x) for x <= limit, the piece crossing the limit cut by linear interpolation."""
    x, y = list(map(float, x)), list(map(float, y))
    area = 0.0
    for i in range(1, len(x)):
        if x[i] > limit:
            break
        area += 0.5 * (y[i] + y[i - 1]) * (x[i] - x[i - 1])
    if limit not in x:
        k = bisect.bisect(x, limit)
        y_cut = y[k - 1] + (y[k] - y[k - 1]) * (limit - x[k - 1]) / (x[k] - x[k - 1])
        area += 0.5 * (y_cut + y[k - 1]) * (limit - x[k - 1])
    return area


def au_pro(maps, masks, limit=0.3, structure=EIGHT_CONNECTED):
    fpr, pro = pro_curve(maps, masks, structure)
    return area_to(fpr, pro, limit) / limit


def au_pro_by_thresholds(maps, masks, limit=0.3):
    """The same quantity the slow way (one pass over the images per threshold), as a cross-check."""
    regions, ok_scores = [], []
    for a, m in zip(maps, masks):
        labels, n = ndimage.label(m, structure=EIGHT_CONNECTED)
        regions += [a[labels == k] for k in range(1, n + 1)]
        ok_scores.append(a[labels == 0])
    ok_scores = np.concatenate(ok_scores)
    xs, ys = [0.0], [0.0]
    for t in np.unique(np.concatenate([a.ravel() for a in maps]))[::-1]:
        xs.append(float(np.mean(ok_scores >= t)))
        ys.append(float(np.mean([np.mean(r >= t) for r in regions])))
    xs.append(1.0)
    ys.append(1.0)
    return area_to(xs, ys, limit) / limit


# ------------------------------------------------------------------------------------------------- cases


def blob_mask(rng, h, w, n_blobs, radius):
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), dtype=np.int64)
    for _ in range(n_blobs):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(*radius), rng.uniform(*radius)
        m |= (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).astype(np.int64)
    return m


def smooth(a, passes=2):
    for _ in range(passes):
        a = (a + np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1)) / 5
    return a


def score_map(rng, mask, strength, noise=1.0, decimals=5):
    """Smoothed noise plus a bump over the defect (partly missed, partly spilling over)."""
    a = smooth(rng.standard_normal(mask.shape)) * noise + strength * smooth(mask.astype(np.float64), 1)
    return np.round(a, decimals)


def make_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []

    # Non-square images, several blobs per defective image, two defect-free images.
    h, w = 20, 28
    masks = [blob_mask(rng, h, w, 3, (1.5, 4.0)) for _ in range(3)] + [np.zeros((h, w), np.int64)] * 2
    maps = [score_map(rng, m, 0.9) for m in masks]
    cases.append(("blobs", h, w, maps, masks))

    # Scores on a coarse grid (steps of 1/4): large tie groups, inside and outside the defects.
    h, w = 16, 16
    masks = [blob_mask(rng, h, w, 2, (2.0, 4.0)) for _ in range(3)] + [np.zeros((h, w), np.int64)]
    maps = [np.round(score_map(rng, m, 1.0) * 4) / 4 for m in masks]
    cases.append(("tied_scores", h, w, maps, masks))

    # Two squares touching only at a corner: one region with 8-connectivity, two with 4-connectivity; the
    # scores differ between the squares so that the two readings give different AU-PRO.
    h, w = 12, 12
    m = np.zeros((h, w), np.int64)
    m[2:5, 2:5] = 1
    m[5:9, 5:9] = 1
    a = np.round(smooth(rng.standard_normal((h, w))) * 0.5, 5)
    a[2:5, 2:5] += 2.0
    a[5:9, 5:9] += np.round(rng.uniform(-0.5, 0.8, size=(4, 4)), 5)
    masks, maps = [m, np.zeros((h, w), np.int64)], [np.round(a, 5), score_map(rng, np.zeros((h, w)), 0, 0.5)]
    cases.append(("diagonal_touch", h, w, maps, masks))

    # 20 defect-free pixels with distinct scores: FPR steps of 1/20, so 0.3 is a point of the curve and no
    # interpolation happens at the limit.
    h, w = 4, 6
    m = np.zeros((h, w), np.int64)
    m[1:3, 1:3] = 1
    a = np.zeros((h, w))
    ok = np.flatnonzero(m.ravel() == 0)
    a.ravel()[ok] = rng.permutation(len(ok)) / 10
    a.ravel()[np.flatnonzero(m.ravel())] = [0.45, 1.25, 0.05, 1.95]
    cases.append(("limit_on_a_point", h, w, [a], [m]))

    # One image, one region.
    h, w = 10, 14
    m = blob_mask(rng, h, w, 1, (2.5, 3.5))
    cases.append(("single_region", h, w, [score_map(rng, m, 0.4)], [m]))
    return cases


def case_json(name, h, w, maps, masks):
    pa, ap = pixel_auroc(maps, masks), au_pro(maps, masks)
    slow = au_pro_by_thresholds(maps, masks)
    assert abs(ap - slow) < 1e-12, f"{name}: AU-PRO {ap} vs {slow} threshold by threshold"
    for a, m in zip(maps, masks):
        assert a.shape == (h, w) and m.shape == (h, w)
    if name == "diagonal_touch":
        four = au_pro(maps, masks, structure=FOUR_CONNECTED)
        assert abs(four - ap) > 1e-3, f"{name}: 4- and 8-connectivity should differ ({four} vs {ap})"
    if name == "limit_on_a_point":
        assert 0.3 in list(pro_curve(maps, masks)[0]), f"{name}: 0.3 should be a curve point"
    if name == "tied_scores":
        flat = np.concatenate([a.ravel() for a in maps])
        assert len(np.unique(flat)) < len(flat) // 10, f"{name}: should have large tie groups"
        inside = set(np.concatenate([a[m > 0] for a, m in zip(maps, masks)]))
        outside = set(np.concatenate([a[m == 0] for a, m in zip(maps, masks)]))
        assert len(inside & outside) >= 3, f"{name}: tie groups should mix defect and defect-free pixels"
    return {
        "name": name, "height": h, "width": w,
        "maps": [[float(v) for v in a.ravel()] for a in maps],
        "masks": [[int(v) for v in m.ravel()] for m in masks],
        "expected": {"pixel_auroc": pa, "au_pro_0_3": ap},
    }


def check(path):
    doc = json.load(open(path))
    maps = [np.asarray(a, dtype=np.float64) for a in doc["maps"]]
    masks = [np.asarray(m, dtype=np.int64) for m in doc["masks"]]
    rows = [("pixel_auroc", pixel_auroc(maps, masks), doc.get("pixel_auroc"))]
    for key, limit in (("au_pro_30", 0.3), ("au_pro_05", 0.05)):
        if key in doc:
            rows.append((key, au_pro(maps, masks, limit), doc[key]))
    for key, ours, theirs in rows:
        print(f"{key:12s} ours {ours:.17g}  file {theirs:.17g}  difference {ours - theirs:.3g}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(HERE, "localization"))
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--check", metavar="FILE")
    a = p.parse_args()
    if a.check:
        check(a.check)
        return
    doc = {
        "produced_by": "scipy %s ndimage.label (3x3 ones), scikit-learn roc_auc_score; "
                       "tests/reference/make_localization.py" % scipy.__version__,
        "tolerance": {"abs": 1e-9, "rel": 1e-9},
        "cases": [case_json(*c) for c in make_cases(a.seed)],
    }
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "localization.json")
    with open(path, "w") as fh:
        json.dump(doc, fh)
        fh.write("\n")
    for c in doc["cases"]:
        print(f"{c['name']:20s} {len(c['maps'])} x {c['height']}x{c['width']}  pixel AUROC "
              f"{c['expected']['pixel_auroc']:.4f}  AU-PRO@0.3 {c['expected']['au_pro_0_3']:.4f}")
    print("localization reference written to", path)


if __name__ == "__main__":
    main()
