"""What the poses of `wifi-sensing run --pose` look like: body width and heading.

A pose whose record says `heading_from_track: false` is the model's own root-relative pose; for
the reference model that is the activities' mean training poses weighted by their
probabilities, means over people facing every direction, so its left and right joints nearly
meet. This measures it on pose records and their ground truth (windows with the person
present): the share of poses with a heading, and the horizontal distance between the left and
right shoulders and hips of the poses with and without one, against the truth's.

    python3 training/pose/shape.py TRUTH.jsonl POSES.jsonl [TRUTH.jsonl POSES.jsonl ...]

prints the summary as JSON; `train.py` stores it as `pose_shape` of each held-out set and
`card.py` states it. Standard library only (no numpy), so it runs outside the training
environment too.
"""

import bisect
import json
import math
import statistics
import sys
from pathlib import Path

# COCO indices
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 5, 6, 11, 12


def _truth(path):
    """Truth lines sorted by time: (t_ns, activity, keypoints in metres or None), and the
    largest distance `model score` accepts between a window end and its line (1.5 periods)."""
    lines = Path(path).read_text().splitlines()
    head = json.loads(lines[0])
    room = head["room_size_m"]
    out = []
    for line in lines[1:]:
        r = json.loads(line)
        k = r.get("keypoints")
        kp = [[p[i] * room[i] for i in range(3)] for p in k] if k else None
        out.append((r["timestamp_ns"], r.get("activity", "unknown"), kp))
    out.sort(key=lambda x: x[0])
    return out, 1.5e9 / head["rate_hz"]


def _nearest(lines, times, t, tol):
    i = bisect.bisect_left(times, t)
    best = min((k for k in (i - 1, i) if 0 <= k < len(lines)), key=lambda k: abs(times[k] - t),
               default=None)
    return lines[best] if best is not None and abs(times[best] - t) <= tol else None


def _width(kp, a, b):
    """Horizontal distance between joints a and b, m."""
    return math.hypot(kp[a][0] - kp[b][0], kp[a][1] - kp[b][1])


def _percentile(v, q):
    s = sorted(v)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def _stats(rows):
    if not rows:
        return {"windows": 0}
    return {"windows": len(rows),
            "shoulder_width_m_median": statistics.median(r[0] for r in rows),
            "shoulder_width_m_p95": _percentile([r[0] for r in rows], 0.95),
            "hip_width_m_median": statistics.median(r[1] for r in rows),
            "hip_width_m_p95": _percentile([r[1] for r in rows], 0.95)}


def pose_shape(truths, poses):
    """Summary over the pose records of `poses` scored against `truths` (same order), windows
    with the person present in the truth. Records without `heading_from_track` (older builds)
    are an error: the figure would be meaningless."""
    rows = {True: [], False: []}
    truth_rows = []
    by_activity = {}
    for tp, pp in zip(truths, poses):
        lines, tol = _truth(tp)
        times = [x[0] for x in lines]
        for text in Path(pp).read_text().splitlines():
            if not text.strip():
                continue
            r = json.loads(text)
            if r.get("type") != "pose":
                continue
            d = r["data"]
            if "heading_from_track" not in d:
                raise ValueError(f"{pp}: pose records without heading_from_track (an older build)")
            t = _nearest(lines, times, r["timestamp_ns"], tol)
            if t is None or t[2] is None:
                continue
            kp = [[k["x"], k["y"], k["z"]] for k in d["keypoints"]]
            heading = bool(d["heading_from_track"])
            rows[heading].append((_width(kp, L_SHOULDER, R_SHOULDER), _width(kp, L_HIP, R_HIP)))
            truth_rows.append((_width(t[2], L_SHOULDER, R_SHOULDER), _width(t[2], L_HIP, R_HIP)))
            a = by_activity.setdefault(t[1], [0, 0])
            a[0] += 1
            a[1] += heading
    n = len(truth_rows)
    return {"windows": n,
            "with_heading_share": len(rows[True]) / n if n else None,
            "with_heading": _stats(rows[True]),
            "without_heading": _stats(rows[False]),
            "truth": _stats(truth_rows),
            "with_heading_share_by_activity": {k: v[1] / v[0] for k, v in sorted(by_activity.items())}}


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    print(json.dumps(pose_shape(args[0::2], args[1::2]), indent=1))
