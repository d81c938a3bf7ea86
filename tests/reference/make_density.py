#!/usr/bin/env python3
"""scikit-learn reference values of the evaluation maths: Ledoit-Wolf, Mahalanobis scores, ROC curve, AUROC
(also on tie-heavy scores), Youden threshold and Gaussian KDE scores.

Writes OUT/density.json (default OUT: density/ beside this script). Its embeddings are synthetic: training rows
from one Gaussian, test rows half from it and half from a shifted, differently shaped one; values are rounded
to 4 decimals before anything is computed, so the JSON holds them exactly. Rows are raw: the pipeline
L2-normalises them before fitting and scoring, and so does this script.

Usage: make_density.py [--out DIR] [--seed N] [--dim D] [--n-train N] [--n-test N]
"""

import argparse
import json
import os

import numpy as np
import sklearn
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import KernelDensity

HERE = os.path.dirname(os.path.abspath(__file__))


def embeddings(rng, dim, n_train, n_test):
    """Correlated non-negative-ish rows (like pooled ReLU features) for good and defective images."""
    mix = rng.uniform(-1.0, 1.0, size=(dim, dim)) / np.sqrt(dim)
    mean = rng.uniform(0.2, 1.0, size=dim)
    good = lambda n: rng.standard_normal((n, dim)) @ mix + mean
    n_bad = n_test // 2
    shift = rng.uniform(-0.4, 0.4, size=dim)
    stretch = np.eye(dim) + rng.uniform(-0.5, 0.5, size=(dim, dim)) / np.sqrt(dim)
    bad = (rng.standard_normal((n_bad, dim)) @ mix) @ stretch + mean + shift
    train = np.round(good(n_train), 4)
    test = np.round(np.vstack([good(n_test - n_bad), bad]), 4)
    labels = np.array([0] * (n_test - n_bad) + [1] * n_bad)
    return train, test, labels


def l2_rows(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def curve_json(fpr, tpr, thresholds):
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
            "thresholds": [float(t) if np.isfinite(t) else None for t in thresholds]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(HERE, "density"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dim", type=int, default=24)
    p.add_argument("--n-train", type=int, default=60)
    p.add_argument("--n-test", type=int, default=36)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    train, test, labels = embeddings(rng, a.dim, a.n_train, a.n_test)
    tr, te = l2_rows(train), l2_rows(test)

    lw = LedoitWolf().fit(tr)
    centred = te - lw.location_
    maha = np.sqrt(np.einsum("ij,jk,ik->i", centred, lw.precision_, centred))
    fpr, tpr, thr = roc_curve(labels, maha)
    youden = int(np.argmax(tpr - fpr))

    kde = -KernelDensity(kernel="gaussian", bandwidth=1.0).fit(tr).score_samples(te)

    # Scores on a coarse grid: many ties, also across the two classes.
    tied = np.round(maha * 3) / 3
    t_fpr, t_tpr, t_thr = roc_curve(labels, tied)
    assert len(np.unique(tied)) < len(tied) // 2, "the tied scores should have many ties"
    assert set(tied[labels == 0]) & set(tied[labels == 1]), "some ties should be across the classes"

    doc = {
        "produced_by": "scikit-learn %s (LedoitWolf, roc_curve, roc_auc_score, KernelDensity); "
                       "tests/reference/make_density.py" % sklearn.__version__,
        "note": "train/test rows are raw embeddings; the pipeline L2-normalises rows before fitting and scoring",
        "seed": a.seed,
        "train": train.tolist(),
        "test": test.tolist(),
        "labels": labels.tolist(),
        "ledoit_wolf": {"location": lw.location_.tolist(), "shrinkage": float(lw.shrinkage_),
                        "precision": lw.precision_.tolist()},
        "mahalanobis": maha.tolist(),
        "roc_auc": float(roc_auc_score(labels, maha)),
        "roc_curve": curve_json(fpr, tpr, thr),
        "youden_threshold": float(thr[youden]),
        "kde_bandwidth_1_negative_log_density": kde.tolist(),
        "kde_roc_auc": float(roc_auc_score(labels, kde)),
        "tied_scores": tied.tolist(),
        "tied_roc_auc": float(roc_auc_score(labels, tied)),
        "tied_roc_curve": curve_json(t_fpr, t_tpr, t_thr),
        "tolerance": {"abs": 1e-6, "rel": 1e-5},
    }
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "density.json")
    with open(path, "w") as fh:
        json.dump(doc, fh)
        fh.write("\n")
    print("density reference written to", path, "| shrinkage %.4f, AUROC %.4f, KDE AUROC %.4f, tied AUROC %.4f"
          % (lw.shrinkage_, doc["roc_auc"], doc["kde_roc_auc"], doc["tied_roc_auc"]))


if __name__ == "__main__":
    main()
