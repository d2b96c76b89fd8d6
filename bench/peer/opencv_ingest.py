#!/usr/bin/env python3
"""The OpenCV peer of the kit's ingest, for bench/ingest.java (not part of the kit).

The same three models (models/fr_detect.onnx, fr_landmark.onnx, fr_feature.onnx) through
cv2.dnn, with the scheme of ../shared/spec/face-models.md: the photo fitted into 320x240, then
finer levels up to native pixels (<= 2.5x apart) cut into 320x240 tiles overlapping by 96 px,
boxes cut by an inner tile edge or larger than the overlap on the finer levels dropped, one NMS;
score 0.9; 68 landmarks on the 64x64 grey square of side = box height; 5 points mapped onto the
ArcFace template by the least-squares similarity; BGR planes (x-127.5)/128 into the recognizer.
Two photos at a time (2 threads, cv2.dnn single-threaded in each), one crop (JPEG) per face and
the embeddings (embeddings.npy) written to --out, so it does the work an ingest does.

Usage: /usr/bin/python3 bench/peer/opencv_ingest.py --models models --out DIR PHOTO_DIR
Needs Debian's python3-opencv (cv2 and numpy).
"""
import argparse
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

UF_W, UF_H, OVERLAP, LEVEL_STEP, SCORE, NMS_IOU = 320, 240, 96, 2.5, 0.9, 0.4
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])


def levels(w, h):
    s0 = min(UF_W / w, UF_H / h)
    if s0 >= 1:
        return [s0]
    steps = math.ceil(math.log(1 / s0) / math.log(LEVEL_STEP) - 1e-9)
    ratio = (1 / s0) ** (1 / steps)
    return [s0] + [min(1.0, s0 * ratio ** i) for i in range(1, steps + 1)]


def starts(size, win):
    if size <= win:
        return [0]
    stride = win - OVERLAP
    n = math.ceil((size - win) / stride) + 1
    return [min(i * stride, size - win) for i in range(n)]


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0 if union <= 0 else inter / union


def inside(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return 0 if smaller <= 0 else ix * iy / smaller


class Models:
    def __init__(self, folder):
        self.det = cv2.dnn.readNetFromONNX(os.path.join(folder, "fr_detect.onnx"))
        self.lm = cv2.dnn.readNetFromONNX(os.path.join(folder, "fr_landmark.onnx"))
        self.rec = cv2.dnn.readNetFromONNX(os.path.join(folder, "fr_feature.onnx"))

    def detect(self, img):
        h, w = img.shape[:2]
        found = []
        for li, s in enumerate(levels(w, h)):
            lw, lh = max(1, round(w * s)), max(1, round(h * s))
            level = cv2.resize(img, (lw, lh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            for y0 in starts(lh, UF_H):
                for x0 in starts(lw, UF_W):
                    tile = np.full((UF_H, UF_W, 3), 127, np.uint8)
                    part = level[y0:y0 + UF_H, x0:x0 + UF_W]
                    tile[:part.shape[0], :part.shape[1]] = part
                    self.det.setInput(cv2.dnn.blobFromImage(tile, 1 / 128, (UF_W, UF_H), (127, 127, 127), swapRB=True))
                    scores, boxes = self.det.forward(["scores", "boxes"])
                    for i in np.nonzero(scores[0, :, 1] >= SCORE)[0]:
                        bx1, by1, bx2, by2 = boxes[0, i] * [UF_W, UF_H, UF_W, UF_H]
                        if li > 0:
                            if (x0 > 0 and bx1 < 2) or (y0 > 0 and by1 < 2) or (x0 + UF_W < lw and bx2 > UF_W - 2) or (y0 + UF_H < lh and by2 > UF_H - 2):
                                continue
                            if bx2 - bx1 > OVERLAP or by2 - by1 > OVERLAP:
                                continue
                        box = [min(max((bx1 + x0) / s, 0), w), min(max((by1 + y0) / s, 0), h),
                               min(max((bx2 + x0) / s, 0), w), min(max((by2 + y0) / s, 0), h)]
                        found.append((float(scores[0, i, 1]), box))
        found.sort(key=lambda f: -f[0])
        keep = []
        for f in found:
            if all(iou(f[1], k[1]) <= NMS_IOU and inside(f[1], k[1]) <= 0.6 for k in keep):
                keep.append(f)
        return keep

    def five_points(self, img, box):
        side = box[3] - box[1]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, y0 = cx - side / 2, cy - side / 2
        k = 64 / side
        square = cv2.warpAffine(img, np.float64([[k, 0, -x0 * k], [0, k, -y0 * k]]), (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        grey = cv2.cvtColor(square, cv2.COLOR_BGR2GRAY).astype(np.float32) / 256
        self.lm.setInput(grey.reshape(1, 1, 64, 64))
        p = self.lm.forward().reshape(68, 2) * side + [x0, y0]
        return np.array([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])

    def embed(self, img, five):
        m = similarity(five, TEMPLATE)
        aligned = cv2.warpAffine(img, m, (112, 112))
        self.rec.setInput(cv2.dnn.blobFromImage(aligned, 1 / 128, (112, 112), (127.5, 127.5, 127.5), swapRB=False))
        v = self.rec.forward().reshape(-1)
        return v / max(np.linalg.norm(v), 1e-12)


def similarity(src, dst):
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    sxx = (s ** 2).sum()
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum() / sxx
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / sxx
    tx, ty = md[0] - (a * ms[0] - b * ms[1]), md[1] - (b * ms[0] + a * ms[1])
    return np.float64([[a, -b, tx], [b, a, ty]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("photos")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    files = sorted(os.path.join(args.photos, f) for f in os.listdir(args.photos) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    local = threading.local()

    def one(path):
        if not hasattr(local, "models"):
            local.models = Models(args.models)
        m = local.models
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        out = []
        for n, (score, box) in enumerate(m.detect(img)):
            out.append(m.embed(img, m.five_points(img, box)))
            x1, y1, x2, y2 = box
            mx, my = (x2 - x1) * 0.25, (y2 - y1) * 0.25
            crop = img[int(max(0, y1 - my)):int(min(img.shape[0], y2 + my)), int(max(0, x1 - mx)):int(min(img.shape[1], x2 + mx))]
            cv2.imwrite(os.path.join(args.out, "%s_%d.jpg" % (os.path.basename(path), n)), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        return out

    with ThreadPoolExecutor(2) as pool:
        vectors = [v for vs in pool.map(one, files) for v in vs]
    np.save(os.path.join(args.out, "embeddings.npy"), np.array(vectors, np.float32))
    print("%d photos, %d faces" % (len(files), len(vectors)))


if __name__ == "__main__":
    main()
