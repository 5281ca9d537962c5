"""Reference pose model: data generation, training, ONNX export, evaluation and model card.

Run through `training/pose/train.sh` (it makes the pinned virtual environment). Everything the
model sees comes from the `wifi-sensing` binary: `simulate` makes the sessions, `model dataset`
cuts them into windows with the pose crate's own windowing (so training inputs are the
inference inputs), `run --pose` runs the exported model through the CLI and `model score`
computes every figure. Python only fits the weights and writes the ONNX graph.

Seeds: validation (early stopping, model choice) 1001.., held-out test sessions of the default
room 2001.., sessions of rooms never used in training 3001.., all 60 s; training sessions (20 s
by default) the first N seeds from 1 that none of those uses. Test seeds are only ever scored,
never used to choose anything.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from shape import pose_shape  # this folder (train.py runs as a script)

ROOT = Path(__file__).resolve().parents[2]
EPS = 1e-3
# Seeds never trained on besides the held-out splits: the fresh session of the CLI test that
# checks the shipped model against its card.
RESERVED_SEEDS = [4242]
# The simulator's activities with a person present (the classes of the activity head).
ACTIVITIES = ["stand", "sit", "walk", "wave", "push", "pull"]
CLIP = 5.0
TX = [0.5, 2.0, 1.0]
REFERENCE_RX = [[4.5, 2.0, 1.0], [2.5, 3.8, 1.2], [2.5, 0.2, 1.2]]
ROOM = [5.0, 4.0, 2.8]
DEVICES = {
    # device name in the manifest, simulator device, subcarriers, rx, tx
    "esp32": ("esp32", "esp32", [k for k in range(-26, 27) if k != 0], 1, 1),
    "iwl5300": ("iwl5300", "intel5300", None, 3, 2),
}


def log(*a):
    print("train:", *a, file=sys.stderr, flush=True)


def run(cmd, stdout=None):
    r = subprocess.run([str(c) for c in cmd], stdout=stdout, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr}")
    return r


# ---------------------------------------------------------------- sessions


def session(args, seed, kind, out_dir, name):
    """Simulates the random session `seed` (`simulate --random`, with `--random-room` for the
    unseen rooms) with the reference receivers; returns (capture, truth) paths.
    kind: train|val|test|room."""
    cap = out_dir / f"{name}.csirec"
    truth = out_dir / f"{name}.truth.jsonl"
    if cap.exists() and truth.exists():
        return cap, truth
    tmp_cap, tmp_truth = cap.with_suffix(".tmp.csirec"), truth.with_suffix(".tmp")
    run([args.bin, "-q", "simulate", "--random", seed] + (["--random-room"] if kind == "room" else [])
        + ["--nodes", "reference3" if args.nodes == 3 else "one", "--device", DEVICES[args.device][1],
           "--duration", f"{duration(args, kind)}s", "--rate", "50", "-o", tmp_cap, "--truth", tmp_truth])
    tmp_truth.rename(truth)
    tmp_cap.rename(cap)
    return cap, truth


def duration(args, kind):
    """Session length, s: `--train-duration` for the training sessions, `--duration` otherwise."""
    return args.train_duration if kind == "train" and args.train_duration else args.duration


def channels(args, export=False):
    """Input channels: amplitude, and with several receive antennas (and `--ratio 1` or
    `--dyn 1`) the CSI ratio to antenna 0. Windows are exported with the ratio channels when a
    model needs them or with `--export-ratio 1` (so one cache serves both; a model without them
    takes channel 0 of the exported windows); amplitude alone takes a third of the disk."""
    rx = DEVICES[args.device][3]
    ratio = rx > 1 and (args.ratio or args.dyn or (export and args.export_ratio))
    return ["amplitude", "ratio_amplitude", "ratio_phase"] if ratio else ["amplitude"]


def spec_manifest(args, card=None, export=False):
    name, _, sc, rx, tx = DEVICES[args.device]
    node_ids = list(range(args.nodes)) if args.nodes > 1 else [0]
    ch = channels(args, export)
    m = {
        "manifest_version": 1,
        "model": {"id": args.model_id, "version": args.version},
        "input": {
            "tensor": "csi",
            "layout": ["batch", "frames", "nodes", "rx", "tx", "subcarriers", "channels"],
            "window_frames": args.window,
            "nodes": args.nodes,
            "rx": rx,
            "tx": tx,
            "subcarriers": len(sc) if sc else 30,
            "channels": ch,
            "frame_rate_hz": 50.0,
            "device": name,
            "subcarrier_indices": sc,
            "node_ids": node_ids if args.nodes > 1 else None,
            "normalisation": {"mean": [0.0] * len(ch), "std": [1.0] * len(ch)},
        },
        "sensing_layout": {
            "room_size_m": ROOM,
            "transmitters": [{"id": "tx", "position_m": TX}],
            "receivers": [{"node_id": i, "position_m": p}
                          for i, p in zip(node_ids, REFERENCE_RX[: args.nodes])],
        },
        "output": {"kind": "keypoints", "tensor": "keypoints", "coordinate_frame": "room_m",
                   "dims": 3, "confidence_activation": "none"},
        "data_card": card or {"description": "dataset export", "training_data": "-",
                              "evaluation": "not evaluated", "limitations": "-",
                              "license": "MIT OR Apache-2.0"},
    }
    return m


def export(args, seeds, kind, work):
    """Windows of the sessions: list of (seed, x, y, info, capture, truth) per session, and the
    seeds whose stream the windower rejected (with its message). Captures are kept only for the
    held-out sessions (they are run through `run --pose`)."""
    sess_dir = work / "sessions"
    sess_dir.mkdir(parents=True, exist_ok=True)
    mpath = work / "export.json"
    # Written whole and renamed, so a second run on the same cache never reads half a file.
    tmp = work / f"export.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(spec_manifest(args, export=True), indent=1))
    tmp.replace(mpath)
    out, rejected = [], {}
    dur = duration(args, kind)
    for seed in seeds:
        # Sessions of another length than the default 60 s are cached under their own name.
        name = f"s{seed}" if dur == 60.0 else f"s{seed}-{dur:g}s"
        d = work / "windows" / name
        cap, truth = sess_dir / f"{name}.csirec", sess_dir / f"{name}.truth.jsonl"
        if (d / "rejected").exists():
            rejected[seed] = (d / "rejected").read_text()
            continue
        if not (d / "done").exists():
            cap, truth = session(args, seed, kind, sess_dir, name)
            d.mkdir(parents=True, exist_ok=True)
            r = subprocess.run([str(c) for c in [
                args.bin, "-q", "model", "dataset", cap, "--truth", truth, "--manifest", mpath,
                "--hop", args.hop if kind in ("train", "val") else "0.1s", "-o", d]],
                stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                (d / "rejected").write_text(r.stderr.strip())
                rejected[seed] = r.stderr.strip()
                log(f"session {seed} rejected by the windower: {r.stderr.strip()}")
                continue
            (d / "done").write_text("")
            if kind == "train":
                # Only the windows are needed again (keeps the cache small); validation
                # captures are kept: they are run through `run --pose` to choose the
                # post-processing.
                cap.unlink()
                truth.unlink()
        x = np.load(d / "x.npy", mmap_mode="r")
        if x.shape[-1] < len(channels(args)):
            raise SystemExit(f"{d}: windows cached without the ratio channels; give --work another "
                             "folder (or export with --export-ratio 1)")
        x = x[..., :len(channels(args))]
        y = np.load(d / "y.npy")
        info = [json.loads(l) for l in (d / "windows.jsonl").read_text().splitlines()]
        out.append((seed, x, y, info, cap, truth))
    return out, rejected


# ---------------------------------------------------------------- features (mirrored in ONNX)


def band_count(s, want):
    """The number of subcarrier bands: `want` if it divides `s`, else the largest divisor below."""
    return next(b for b in range(min(want, s), 0, -1) if s % b == 0)


def log_amp(x):
    """x: [B, F, N, R, T, S, C] -> [B, F, N, R*T, S]: log amplitude (channel 0) minus its mean
    over the node's antennas and subcarriers in each frame (removes the AGC gain)."""
    b, f, n, r, t, s, _ = x.shape
    l = np.log(np.maximum(x[..., 0], 0.0) + EPS).reshape(b, f, n, r * t, s)
    return l - l.mean(axis=(3, 4), keepdims=True)


def band_mean(v, bands):
    """[..., S] -> [..., bands]: mean over equal bands of subcarriers."""
    return v.reshape(*v.shape[:-1], bands, v.shape[-1] // bands).mean(-1)


def features(x, empty, bands, temporal=False):
    """Features of windows x [B, F, N, R, T, S, C] (channels: amplitude, and with several
    receive antennas ratio_amplitude and ratio_phase), all free of the AGC gain, the per-packet
    common phase, the timing offset and the per-session chain phase offsets:

    * `dev`: per node, antenna pair and band: the window's mean log-amplitude profile minus the
      empty-room profile `empty` [N, R*T, S] (how the body changes that link's spectrum);
    * `sd`: log of the standard deviation over the window's frames (how much it moves there);
    * with rx > 1, of the CSI ratio H_r / H_0 (r >= 1, same tx; cancels the common phase and the
      timing offset): `rdev`, the window-mean log ratio amplitude per band; `rph`, the mean ratio
      phasor per band, rotated by the phase of its mean over the subcarriers (the chain offset
      is the same on every subcarrier, so it cancels: what is left is how the angle of arrival
      varies along the band); `rsd`, the log RMS deviation over the frames of the complex ratio
      (its motion, whatever the offset).
    * with `temporal`, the features of `temporal_features`.
    Returns [B, features] float32."""
    l = log_amp(x)
    b, f, n, rt, s = l.shape
    r, t = x.shape[3], x.shape[4]
    m = l.mean(axis=1)
    dev = band_mean(m - empty[None], bands)
    sd = np.log(band_mean(np.sqrt(((l - m[:, None]) ** 2).mean(axis=1)), bands) + EPS)
    out = [dev.reshape(b, -1), sd.reshape(b, -1)]
    if temporal:
        out += [f.reshape(b, -1) for f in temporal_features(l, bands)]
    if r > 1 and x.shape[6] >= 3:
        ra = np.maximum(x[:, :, :, 1:, :, :, 1], 0.0).reshape(b, f, n, (r - 1) * t, s)
        ph = x[:, :, :, 1:, :, :, 2].reshape(b, f, n, (r - 1) * t, s)
        rdev = band_mean(np.log(ra + EPS).mean(axis=1), bands)
        c, si = np.cos(ph), np.sin(ph)
        mc, ms = c.mean(axis=1), si.mean(axis=1)
        gc, gs = mc.mean(axis=-1, keepdims=True), ms.mean(axis=-1, keepdims=True)
        g = np.sqrt(gc * gc + gs * gs) + EPS
        re = band_mean((mc * gc + ms * gs) / g, bands)
        im = band_mean((ms * gc - mc * gs) / g, bands)
        zr, zi = ra * c, ra * si
        dr, di = zr - zr.mean(axis=1, keepdims=True), zi - zi.mean(axis=1, keepdims=True)
        rsd = np.log(np.sqrt(band_mean((dr * dr + di * di).mean(axis=1), bands)) + EPS)
        out += [rdev.reshape(b, -1), re.reshape(b, -1), im.reshape(b, -1), rsd.reshape(b, -1)]
    return np.concatenate(out, axis=1).astype(np.float32)


def temporal_features(l, bands):
    """How the normalised log amplitude l [B, F, N, R*T, S] changes within the window, per node,
    antenna pair and band: `dsd`, the log RMS of its frame-to-frame difference (fast motion, the
    high-frequency part of `sd`); `trend`, the mean of the window's second half minus the mean
    of its first half (which way the profile drifts: the direction of a walk or of an arm's
    stroke). Returns the two blocks [B, N, R*T, bands]."""
    f = l.shape[1]
    d = l[:, 1:] - l[:, :-1]
    dsd = np.log(band_mean(np.sqrt((d * d).mean(axis=1)), bands) + EPS)
    h = f // 2
    trend = band_mean(l[:, f - h:].mean(axis=1) - l[:, :h].mean(axis=1), bands)
    return dsd, trend


def dyn_features(x, bands):
    """Features of the moving person's path from the CSI ratio Z_r = H_r / H_0 (channels
    ratio_amplitude, ratio_phase; r >= 1, same tx), free of the per-packet common phase, the
    timing offset and the per-session chain phase offsets: per window, M_r is the window mean
    of Z_r (the static paths, carrying the chain offset) and U_r = (Z_r - M_r) / M_r the change
    relative to it, in which the chain offset cancels (it multiplies both). Per node, tx and band:
    `dp`, log of the mean |U_r|^2 (how strongly the moving paths change that antenna's ratio);
    `coh`, the coherence of U between each pair of antennas (mean U_a conj(U_b) over the window
    and the band, divided by the RMS of both: its phase follows the moving path's angle of
    arrival relative to the static paths'), real and imaginary part; `ps`, mean U_r^2 over the
    mean |U_r|^2 (the direction of the change in the complex plane: phase-like or
    amplitude-like), real and imaginary part. Returns [B, features] float32."""
    b, f, n, r, t, s, _ = x.shape
    ra = np.maximum(x[:, :, :, 1:, :, :, 1], 0.0)
    ph = x[:, :, :, 1:, :, :, 2]
    zr, zi = ra * np.cos(ph), ra * np.sin(ph)
    mr, mi = zr.mean(axis=1, keepdims=True), zi.mean(axis=1, keepdims=True)
    dr, di = zr - mr, zi - mi
    den = mr * mr + mi * mi + EPS
    ur, ui = (dr * mr + di * mi) / den, (di * mr - dr * mi) / den
    p = band_mean((ur * ur + ui * ui).mean(axis=1), bands)  # [B, N, R1, T, bands]
    out = [np.log(p + EPS).reshape(b, -1)]
    for a in range(r - 1):
        for c in range(a + 1, r - 1):
            cr = band_mean((ur[:, :, :, a] * ur[:, :, :, c] + ui[:, :, :, a] * ui[:, :, :, c]).mean(axis=1), bands)
            ci = band_mean((ui[:, :, :, a] * ur[:, :, :, c] - ur[:, :, :, a] * ui[:, :, :, c]).mean(axis=1), bands)
            g = np.sqrt(p[:, :, a] * p[:, :, c]) + EPS
            out += [(cr / g).reshape(b, -1), (ci / g).reshape(b, -1)]
    qr = band_mean((ur * ur - ui * ui).mean(axis=1), bands) / (p + EPS)
    qi = band_mean((2 * ur * ui).mean(axis=1), bands) / (p + EPS)
    out += [qr.reshape(b, -1), qi.reshape(b, -1)]
    return np.concatenate(out, axis=1).astype(np.float32)


def model_features(x, empty, bands, args):
    """The model's features: `features` (with the CSI-ratio block when `--ratio 1`), then
    `dyn_features` when `--dyn 1`."""
    f = features(x if args.ratio else x[..., :1], empty, bands, bool(args.temporal))
    return np.concatenate([f, dyn_features(x, bands)], axis=1) if args.dyn else f


def heading_angle(y):
    """The body's heading [B] (radians, 0 where nobody is present): the direction of the left
    shoulder seen from the right one, in the horizontal plane."""
    d = np.nan_to_num(y[:, 5] - y[:, 6])
    return np.arctan2(d[:, 1], d[:, 0])


def rotate_z(v, ang):
    """Turns points v [B, J, 3] by ang [B] (radians) about the vertical."""
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1], v[..., 2]], axis=2)


def targets(y):
    """y: [B, 17, 3] metres (NaN when absent) -> root [B,3], root-relative [B,51], present [B]."""
    present = ~np.isnan(y[:, 0, 0])
    yy = np.nan_to_num(y)
    root = 0.5 * (yy[:, 11] + yy[:, 12])
    rel = (yy - root[:, None]).reshape(len(y), -1)
    return root, rel, present


# ---------------------------------------------------------------- MLP (numpy, Adam)


class MLP:
    def __init__(self, sizes, rng):
        self.w = [rng.normal(0, np.sqrt(2.0 / a), (a, b)).astype(np.float32)
                  for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]

    def forward(self, z, drop=0.0, rng=None):
        """Activations of every layer; with `drop` (training only), inverted dropout of that
        share of each hidden unit."""
        hs = [z]
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = z @ w + b
            if i < len(self.w) - 1:
                z = np.maximum(z, 0)
                if drop:
                    z = z * (rng.random(z.shape, dtype=np.float32) >= drop) / np.float32(1 - drop)
            hs.append(z)
        return hs

    def params(self):
        return self.w + self.b


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit(feat, out_t, mask_rel, present, vfeat, vout, vmask, vpresent, args, rng, act=None, n_act=0,
        heading=None):
    """out_t: standardised [root(3), rel(51)] targets; column 54 = presence logit. Extra
    columns (`extra_columns`): with `heading` [N, 2] (cos, sin of the body's heading), two
    columns trained by squared error (weight `--heading-weight`, windows with a person); with
    `n_act`, activity logits trained with cross-entropy on `act` (class index, -1 where nobody
    is present), weight `--act-weight`. Neither is part of the validation loss."""
    d = feat.shape[1]
    nh = 2 if heading is not None else 0
    net = MLP([d] + [args.hidden] * args.layers + [55 + nh + n_act], rng)
    params = net.params()
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    step = 0
    best = (np.inf, None)
    n = len(feat)

    def loss_grad(z, t, mk, pr, grad=True, a=None, h=None):
        drop = args.dropout if grad else 0.0
        hs = net.forward(z, drop, rng)
        o = hs[-1]
        g = np.zeros_like(o)
        w = pr[:, None].astype(np.float32)
        diff = (o[:, :54] - t) * w
        diff[:, 3:] *= mk
        loss = (diff[:, :3] ** 2).sum() * args.root_weight + (diff[:, 3:] ** 2).sum() / 17.0
        g[:, :3] = 2 * diff[:, :3] * args.root_weight
        g[:, 3:54] = 2 * diff[:, 3:] / 17.0
        p = 1 / (1 + np.exp(-o[:, 54]))
        loss += -(pr * np.log(p + 1e-7) + (1 - pr) * np.log(1 - p + 1e-7)).sum()
        g[:, 54] = p - pr
        if nh and h is not None:
            g[:, 55:57] = 2 * args.heading_weight * (o[:, 55:57] - h) * w
        if n_act and a is not None:
            q = softmax(o[:, 55 + nh:])
            known = a >= 0
            q[known, a[known]] -= 1.0
            g[:, 55 + nh:] = args.act_weight * q * known[:, None]
        loss /= len(z)
        if not grad:
            return loss, None
        g /= len(z)
        gw, gb = [], []
        for i in range(len(net.w) - 1, -1, -1):
            gw.insert(0, hs[i].T @ g)
            gb.insert(0, g.sum(0))
            if i:
                g = (g @ net.w[i].T) * ((hs[i] > 0) / np.float32(1 - drop))
        return loss, gw + gb

    patience = 0
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        for k in range(0, n, args.batch):
            idx = order[k:k + args.batch]
            z = feat[idx] + rng.normal(0, args.noise, (len(idx), d)).astype(np.float32)
            _, grads = loss_grad(z, out_t[idx], mask_rel[idx], present[idx],
                                 a=None if act is None else act[idx],
                                 h=None if heading is None else heading[idx])
            step += 1
            lr = args.lr
            for i, (p, gr) in enumerate(zip(params, grads)):
                if i < len(net.w):
                    gr = gr + args.l2 * p
                m1[i] = 0.9 * m1[i] + 0.1 * gr
                m2[i] = 0.999 * m2[i] + 0.001 * gr * gr
                p -= lr * (m1[i] / (1 - 0.9 ** step)) / (np.sqrt(m2[i] / (1 - 0.999 ** step)) + 1e-8)
        vl, _ = loss_grad(vfeat, vout, vmask, vpresent, grad=False)
        if vl < best[0]:
            best = (vl, [p.copy() for p in params], epoch)
            patience = 0
        else:
            patience += 1
        if epoch % 5 == 0 or patience == 0:
            log(f"epoch {epoch}: validation loss {vl:.4f}")
        if patience >= args.patience:
            break
    for p, b in zip(params, best[1]):
        p[...] = b
    log(f"best epoch {best[2]}, validation loss {best[0]:.4f}")
    return net, best[2], float(best[0])


# ---------------------------------------------------------------- ONNX


def dyn_onnx(node, const, ints, x_in, shape, bands):
    """The nodes of `dyn_features` on the input `x_in`; returns the flattened feature blocks."""
    _, f, n, r, t, s, c = shape
    r1, sb = r - 1, s // bands

    def sl(k, name):
        return node("Slice", [x_in, ints(f"{name}_s", [1, k]), ints(f"{name}_e", [r, k + 1]),
                              ints(f"{name}_ax", [3, 6])], f"{name}_sl")

    def sq(v, name):
        # [B, F, N, R1, T, S, 1] -> [B, F, N, R1, T, S]
        return node("Reshape", [v, ints(f"{name}_shape", [0, f, n, r1, t, s])], name)

    def mul(a, b, name):
        return node("Mul", [a, b], name)

    def fmean(v, name):
        # mean over the frames, then over the bands of subcarriers: [B, N, R1', T, bands]
        v = node("ReduceMean", [v], f"{name}_fm", axes=[1], keepdims=0)
        rr = -1
        v = node("Reshape", [v, ints(f"{name}_bs", [0, n, rr, t, bands, sb])], f"{name}_b")
        return node("ReduceMean", [v], name, axes=[5], keepdims=0)

    def flat(v, name):
        return node("Reshape", [v, ints(f"{name}_flat", [0, -1])], f"{name}_f")

    ra = node("Relu", [sq(sl(1, "dra0"), "dra1")], "dra")
    ph = sq(sl(2, "dph0"), "dph")
    zr = mul(ra, node("Cos", [ph], "dcos"), "dzr")
    zi = mul(ra, node("Sin", [ph], "dsin"), "dzi")
    mr = node("ReduceMean", [zr], "dmr", axes=[1], keepdims=1)
    mi = node("ReduceMean", [zi], "dmi", axes=[1], keepdims=1)
    dr = node("Sub", [zr, mr], "ddr")
    di = node("Sub", [zi, mi], "ddi")
    den = node("Add", [node("Add", [mul(mr, mr, "dmr2"), mul(mi, mi, "dmi2")], "dden0"), "eps"], "dden")
    ur = node("Div", [node("Add", [mul(dr, mr, "ddrmr"), mul(di, mi, "ddimi")], "dur0"), den], "dur")
    ui = node("Div", [node("Sub", [mul(di, mr, "ddimr"), mul(dr, mi, "ddrmi")], "dui0"), den], "dui")
    p = fmean(node("Add", [mul(ur, ur, "dur2"), mul(ui, ui, "dui2")], "dp0"), "dp")
    pe = node("Add", [p, "eps"], "dpe")
    out = [flat(node("Log", [pe], "dlp"), "dlp")]
    for a in range(r1):
        for b in range(a + 1, r1):
            def pick(v, k, name, axis=3):
                return node("Slice", [v, ints(f"{name}_s", [k]), ints(f"{name}_e", [k + 1]),
                                      ints(f"{name}_ax", [axis])], name)
            ar, ai = pick(ur, a, f"dua{a}{b}r"), pick(ui, a, f"dua{a}{b}i")
            br, bi = pick(ur, b, f"dub{a}{b}r"), pick(ui, b, f"dub{a}{b}i")
            cr = fmean(node("Add", [mul(ar, br, f"dc{a}{b}1"), mul(ai, bi, f"dc{a}{b}2")], f"dc{a}{b}r0"),
                       f"dc{a}{b}r")
            ci = fmean(node("Sub", [mul(ai, br, f"dc{a}{b}3"), mul(ar, bi, f"dc{a}{b}4")], f"dc{a}{b}i0"),
                       f"dc{a}{b}i")
            pa, pb = pick(p, a, f"dpa{a}{b}", 2), pick(p, b, f"dpb{a}{b}", 2)
            g = node("Add", [node("Sqrt", [mul(pa, pb, f"dg{a}{b}0")], f"dg{a}{b}1"), "eps"], f"dg{a}{b}")
            out += [flat(node("Div", [cr, g], f"dcr{a}{b}"), f"dcr{a}{b}"),
                    flat(node("Div", [ci, g], f"dci{a}{b}"), f"dci{a}{b}")]
    qr = fmean(node("Sub", [mul(ur, ur, "dq1"), mul(ui, ui, "dq2")], "dqr0"), "dqr")
    qi = fmean(mul(const("two", 2.0), mul(ur, ui, "dq3"), "dqi0"), "dqi")
    out += [flat(node("Div", [qr, pe], "dqrn"), "dqrn"), flat(node("Div", [qi, pe], "dqin"), "dqin")]
    return out


def to_onnx(nets, fmu, fsd, tmu, tsd, empty, bands, shape, path, ratio=True, dyn=False,
            temporal=False, head=None):
    """The whole model as one ONNX graph: the features of `features`, standardisation, the MLPs
    (their outputs averaged), outputs."""
    _, f, n, r, t, s, c = shape
    z_cols = nets[0].w[-1].shape[1]
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    def ints(name, vals):
        inits.append(numpy_helper.from_array(np.asarray(vals, dtype=np.int64), name))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], **kw))
        return out

    const("eps", EPS)
    rt, sb = r * t, s // bands

    def bands_flat(v, name, rows):
        """[B, N, rows, S] -> band means, flattened: [B, N * rows * bands]."""
        v = node("Reshape", [v, ints(f"{name}_shape", [0, n, rows, bands, sb])], f"{name}_b")
        v = node("ReduceMean", [v], f"{name}_bm", axes=[4], keepdims=0)
        return v

    def flat(v, name):
        return node("Reshape", [v, ints(f"{name}_flat", [0, -1])], f"{name}_f")

    x = node("Slice", [x_in := "csi", ints("c0", [0]), ints("c1", [1]), ints("cax", [6])], "a")
    x = node("Relu", [x], "pos")
    x = node("Add", [x, "eps"], "amp")
    x = node("Log", [x], "logamp")
    x = node("Reshape", [x, ints("shape_l", [0, f, n, rt, s])], "l0")
    mu = node("ReduceMean", [x], "lmean", axes=[3, 4], keepdims=1)
    x = node("Sub", [x, mu], "l")
    m = node("ReduceMean", [x], "m", axes=[1], keepdims=1)
    d = node("Sub", [m, const("empty", empty[None, None])], "d")
    d = node("Reshape", [d, ints("shape_d", [0, n, rt, s])], "d3")
    dev = flat(bands_flat(d, "dev", rt), "dev")
    v = node("Sub", [x, m], "v")
    v = node("Mul", [v, v], "v2")
    v = node("ReduceMean", [v], "v2m", axes=[1], keepdims=0)
    v = node("Sqrt", [v], "sd")
    v = bands_flat(v, "sd", rt)
    v = node("Add", [v, "eps"], "sde")
    v = node("Log", [v], "lsd")
    feats = [dev, flat(v, "lsd")]
    if temporal:
        # temporal_features: frame-to-frame difference and second-half minus first-half mean.
        a = node("Slice", [x, ints("t1s", [1]), ints("t1e", [f]), ints("tax", [1])], "la")
        b = node("Slice", [x, ints("t0s", [0]), ints("t0e", [f - 1]), ints("tbx", [1])], "lb")
        dd = node("Sub", [a, b], "dd")
        dd = node("ReduceMean", [node("Mul", [dd, dd], "dd2")], "dd2m", axes=[1], keepdims=0)
        dd = bands_flat(node("Sqrt", [dd], "dsd0"), "dsd", rt)
        dd = node("Log", [node("Add", [dd, "eps"], "dsde")], "ldsd")
        h = f // 2
        hi = node("Slice", [x, ints("th1s", [f - h]), ints("th1e", [f]), ints("thax", [1])], "lhi")
        lo = node("Slice", [x, ints("th0s", [0]), ints("th0e", [h]), ints("thbx", [1])], "llo")
        tr = node("Sub", [node("ReduceMean", [hi], "lhim", axes=[1], keepdims=0),
                          node("ReduceMean", [lo], "llom", axes=[1], keepdims=0)], "tr0")
        feats += [flat(dd, "ldsd"), flat(bands_flat(tr, "trend", rt), "trend")]
    if ratio and r > 1 and c >= 3:
        r1 = (r - 1) * t
        shp = ints("shape_r", [0, f, n, r1, s])

        def chan(k, name):
            y = node("Slice", [x_in, ints(f"{name}_s", [1, k]), ints(f"{name}_e", [r, k + 1]),
                               ints(f"{name}_ax", [3, 6])], f"{name}_sl")
            return node("Reshape", [y, shp], name)

        ra = node("Relu", [chan(1, "ra0")], "ra")
        ph = chan(2, "ph")
        lr = node("Log", [node("Add", [ra, "eps"], "rae")], "lra")
        lr = node("ReduceMean", [lr], "lram", axes=[1], keepdims=0)
        feats.append(flat(bands_flat(lr, "rdev", r1), "rdev"))
        co = node("Cos", [ph], "cos")
        si = node("Sin", [ph], "sin")
        mc = node("ReduceMean", [co], "mc", axes=[1], keepdims=0)
        ms = node("ReduceMean", [si], "ms", axes=[1], keepdims=0)
        gc = node("ReduceMean", [mc], "gc", axes=[3], keepdims=1)
        gs = node("ReduceMean", [ms], "gs", axes=[3], keepdims=1)
        g = node("Add", [node("Mul", [gc, gc], "gc2"), node("Mul", [gs, gs], "gs2")], "g2")
        g = node("Add", [node("Sqrt", [g], "g1"), "eps"], "g")
        re = node("Add", [node("Mul", [mc, gc], "mcgc"), node("Mul", [ms, gs], "msgs")], "re0")
        re = node("Div", [re, g], "re1")
        im = node("Sub", [node("Mul", [ms, gc], "msgc"), node("Mul", [mc, gs], "mcgs")], "im0")
        im = node("Div", [im, g], "im1")
        feats.append(flat(bands_flat(re, "re", r1), "re"))
        feats.append(flat(bands_flat(im, "im", r1), "im"))
        zr = node("Mul", [ra, co], "zr")
        zi = node("Mul", [ra, si], "zi")
        dr = node("Sub", [zr, node("ReduceMean", [zr], "zrm", axes=[1], keepdims=1)], "dr")
        di = node("Sub", [zi, node("ReduceMean", [zi], "zim", axes=[1], keepdims=1)], "di")
        q = node("Add", [node("Mul", [dr, dr], "dr2"), node("Mul", [di, di], "di2")], "q")
        q = node("ReduceMean", [q], "qm", axes=[1], keepdims=0)
        q = node("Sqrt", [bands_flat(q, "rsd", r1)], "qs")
        q = node("Log", [node("Add", [q, "eps"], "qe")], "rsd")
        feats.append(flat(q, "rsd"))
    if dyn:
        feats += dyn_onnx(node, const, ints, x_in, shape, bands)
    z = node("Concat", feats, "feat", axis=1)
    z = node("Sub", [z, const("fmu", fmu)], "fz0")
    z = node("Div", [z, const("fsd", fsd)], "fz1")
    fz = node("Clip", [z, const("lo", -CLIP), const("hi", CLIP)], "fz")
    outs = []
    for k, net in enumerate(nets):
        z = fz
        for i, (w, b) in enumerate(zip(net.w, net.b)):
            z = node("MatMul", [z, const(f"n{k}w{i}", w)], f"n{k}mm{i}")
            z = node("Add", [z, const(f"n{k}b{i}", b)], f"n{k}h{i}")
            if i < len(net.w) - 1:
                z = node("Relu", [z], f"n{k}r{i}")
        outs.append(z)
    z = outs[0]
    for k, o in enumerate(outs[1:]):
        z = node("Add", [z, o], f"sum{k}")
    # The mean of the networks' outputs, then the target scale (the root's and the pose's
    # shrinkage toward the mean are in tsd); extra columns (heading, activity logits) unscaled.
    extra = z_cols - 55
    scale = np.concatenate([tsd, [1.0], np.ones(extra)]) / len(nets)
    y = node("Mul", [z, const("tsd", scale)], "o1")
    y = node("Add", [y, const("tmu", np.concatenate([tmu, [0.0], np.zeros(extra)]))], "o")
    root = node("Slice", [y, ints("s0", [0]), ints("s3", [3]), ints("ax1", [1])], "root")
    logit = node("Slice", [y, ints("s54b", [54]), ints("s55", [55]), ints("ax1c", [1])], "logit")
    if head is None:
        rel = node("Slice", [y, ints("s3b", [3]), ints("s54", [54]), ints("ax1b", [1])], "rel")
        rel = node("Reshape", [rel, ints("r173", [-1, 17, 3])], "rel3")
    else:
        rel = head_onnx(node, const, ints, y, head)
    # The mid-hip stays inside the (training) room's box.
    root = node("Max", [root, const("room_lo", np.zeros((1, 3)))], "root_lo")
    root = node("Min", [root, const("room_hi", np.asarray(ROOM)[None])], "root_hi")
    root = node("Reshape", [root, ints("r13", [-1, 1, 3])], "root3")
    kp = node("Add", [rel, root], "kp")
    p = node("Sigmoid", [logit], "p")
    p = node("Reshape", [p, ints("r11", [-1, 1, 1])], "p3")
    p = node("Expand", [p, ints("e171", [1, 17, 1])], "p17")
    # Expand of [-1,1,1] to [1,17,1] gives [batch,17,1].
    node("Concat", [kp, p], "keypoints", axis=2)
    graph = helper.make_graph(
        nodes, "wifi_pose_ref",
        [helper.make_tensor_value_info("csi", TensorProto.FLOAT, ["batch", f, n, r, t, s, c])],
        [helper.make_tensor_value_info("keypoints", TensorProto.FLOAT, ["batch", 17, 4])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="wifi-sensing training/pose")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model


def standardise(feat, fmu, fsd):
    return np.clip((feat - fmu) / fsd, -CLIP, CLIP).astype(np.float32)


def forward_mean(nets, z):
    """Mean raw output of the networks on standardised features z."""
    return sum(n.forward(z)[-1] for n in nets) / len(nets)


def head_rel(extra, head):
    """The root-relative pose [B, 17, 3] (metres) of a structured pose head from the extra
    output columns (mean over the networks): with `head["heading"]`, columns 0-1 are (c, s), an
    estimate of the body's heading (cos, sin; shorter than 1 when unsure); then the activity
    logits when `head["body"]` holds several activities. The pose is the activities' mean
    body-frame poses `body` [K, 17, 3] weighted by the activity probabilities, turned by (c, s)
    about the vertical (without heading the poses are room-frame means), then shrunk toward
    the mean training pose `mean` [17, 3] by `alpha`."""
    nh = 2 if head["heading"] else 0
    body = head["body"]
    q = softmax(extra[:, nh:nh + len(body)]) if len(body) > 1 else np.ones((len(extra), 1), np.float32)
    bx, by, bz = q @ body[:, :, 0], q @ body[:, :, 1], q @ body[:, :, 2]
    if nh:
        c, s_ = extra[:, 0:1], extra[:, 1:2]
        bx, by = c * bx - s_ * by, s_ * bx + c * by
    rel = np.stack([bx, by, bz], axis=2)
    return head["mean"] + head["alpha"] * (rel - head["mean"])


def head_onnx(node, const, ints, y, head):
    """The nodes of `head_rel` on the scaled outputs `y` (extra columns from 55); returns the
    pose [B, 17, 3]."""
    nh = 2 if head["heading"] else 0
    body = np.asarray(head["body"], np.float32)
    k = len(body)
    if k > 1:
        lg = node("Slice", [y, ints("hl0", [55 + nh]), ints("hl1", [55 + nh + k]), ints("hlax", [1])], "hlg")
        q = node("Softmax", [lg], "hq", axis=1)
    else:
        # One pose: a column of ones of the batch's length.
        q = node("Slice", [y, ints("hq0", [54]), ints("hq1", [55]), ints("hqax", [1])], "hq0c")
        q = node("Add", [node("Mul", [q, const("zero", 0.0)], "hq0z"), const("one", 1.0)], "hq")
    bx = node("MatMul", [q, const("bodyx", body[:, :, 0])], "hbx")
    by = node("MatMul", [q, const("bodyy", body[:, :, 1])], "hby")
    bz = node("MatMul", [q, const("bodyz", body[:, :, 2])], "hbz")
    if nh:
        c = node("Slice", [y, ints("hc0", [55]), ints("hc1", [56]), ints("hcax", [1])], "hc")
        s_ = node("Slice", [y, ints("hs0", [56]), ints("hs1", [57]), ints("hsax", [1])], "hs")
        rx = node("Sub", [node("Mul", [c, bx], "hcbx"), node("Mul", [s_, by], "hsby")], "hrx")
        ry = node("Add", [node("Mul", [s_, bx], "hsbx"), node("Mul", [c, by], "hcby")], "hry")
        bx, by = rx, ry
    u = [node("Unsqueeze", [v, ints(f"hu{i}", [2])], f"hu{i}v") for i, v in enumerate([bx, by, bz])]
    rel = node("Concat", u, "hrel0", axis=2)
    mean = np.asarray(head["mean"], np.float32)
    rel = node("Sub", [rel, const("hmean", mean)], "hrel1")
    rel = node("Mul", [rel, const("halpha", head["alpha"])], "hrel2")
    return node("Add", [rel, const("hmean2", mean)], "rel3")


def predict_np(nets, feat, fmu, fsd, tmu, tsd, head=None):
    """Keypoints [B, 17, 3] (metres) and presence probability [B]; tsd includes the shrinkage."""
    o = forward_mean(nets, standardise(feat, fmu, fsd))
    o54 = o[:, :54] * tsd + tmu
    root = np.clip(o54[:, :3], 0.0, np.asarray(ROOM, np.float32))
    rel = o54[:, 3:].reshape(-1, 17, 3) if head is None else head_rel(o[:, 55:], head)
    kp = rel + root[:, None]
    return kp, 1 / (1 + np.exp(-o[:, 54]))


# ---------------------------------------------------------------- heading from the track
# (mirrors wifi_sensing_pose::track, which `run --pose` applies when the manifest asks for it)


def facing_angle(y):
    """The body's facing [B] (radians; direction from +x toward +y): the left shoulder seen
    from the right one, turned by -90 degrees (the simulator's body frame faces +x, left +y)."""
    return heading_angle(y) - np.pi / 2


def track_lines(t_ns, root, present, span_s):
    """Per window (in time order), the least-squares line through the mid-hip estimates of the
    last `span_s` seconds (windows with a person; an absent window clears the track), as
    wifi_sensing_pose::track fits it: valid [W] (at least 3 points over at least half the
    span), velocity [W, 2] (m/s) and the line's position at the window's end [W, 2]."""
    w = len(t_ns)
    valid = np.zeros(w, bool)
    vel = np.zeros((w, 2))
    pos = np.zeros((w, 2))
    span_ns = int(span_s * 1e9)
    start = 0
    for i in range(w):
        if not present[i]:
            start = i + 1
            continue
        if i > start and t_ns[i - 1] >= t_ns[i]:
            start = i
        while t_ns[i] - t_ns[start] > span_ns:
            start += 1
        k = slice(start, i + 1)
        n = i + 1 - start
        if n < 3 or (t_ns[i] - t_ns[start]) < 0.5e9 * span_s:
            continue
        ts = (t_ns[k] - t_ns[start]) * 1e-9
        tm = ts.mean()
        xy = root[k, :2]
        m = xy.mean(0)
        dt = ts - tm
        stt = (dt * dt).sum()
        if stt <= 0:
            continue
        v = (dt[:, None] * (xy - m)).sum(0) / stt
        valid[i] = True
        vel[i] = v
        pos[i] = m + v * (ts[-1] - tm)
    return valid, vel, pos


def apply_track(kp, line, body, min_speed, full_speed, smooth_root):
    """kp [W, 17, 3] with the lines of `track_lines`: the pose turned to the direction of
    travel (body [17, 3], facing +x), blended by speed, as wifi_sensing_pose::track does."""
    valid, vel, pos = line
    root = 0.5 * (kp[:, 11] + kp[:, 12])
    rel = kp - root[:, None]
    sp = np.hypot(vel[:, 0], vel[:, 1])
    if full_speed > min_speed:
        wgt = np.clip((sp - min_speed) / (full_speed - min_speed), 0.0, 1.0)
    else:
        wgt = (sp >= min_speed).astype(float)
    wgt = np.where(valid & (sp >= min_speed), wgt, 0.0)
    h = np.arctan2(vel[:, 1], vel[:, 0])
    c, s_ = np.where(wgt > 0, np.cos(h), 1.0)[:, None], np.where(wgt > 0, np.sin(h), 0.0)[:, None]
    turned = np.stack([c * body[None, :, 0] - s_ * body[None, :, 1],
                       s_ * body[None, :, 0] + c * body[None, :, 1],
                       np.broadcast_to(body[None, :, 2], rel[..., 2].shape)], axis=2)
    new_root = root.copy()
    if smooth_root:
        new_root[:, :2] = np.where(valid[:, None], pos, root[:, :2])
    return new_root[:, None] + (1 - wgt[:, None, None]) * rel + wgt[:, None, None] * turned


def read_poses(path):
    """Pose records of `run --pose`: end times [W] (ns), keypoints [W, 17, 3], confidence [W]."""
    t, kp, c = [], [], []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("type") != "pose":
            continue
        d = r["data"]
        t.append(d["window"]["end_ns"])
        kp.append([[k["x"], k["y"], k["z"]] for k in d["keypoints"]])
        c.append(d["confidence"])
    return np.asarray(t, np.int64), np.asarray(kp, np.float64), np.asarray(c, np.float64)


def truth_at(truth_path, t_ns):
    """Truth keypoints [W, 17, 3] (metres, NaN when absent) and activity at each window end
    `t_ns`: the truth line nearest in time, as `model score` takes it."""
    lines = Path(truth_path).read_text().splitlines()
    head = json.loads(lines[0])
    room = np.asarray(head["room_size_m"], np.float64)
    ts, kps, acts = [], [], []
    for l in lines[1:]:
        r = json.loads(l)
        ts.append(r["timestamp_ns"])
        k = r.get("keypoints")
        kps.append(np.asarray(k, np.float64) * room if k else np.full((17, 3), np.nan))
        acts.append(r.get("activity", "?"))
    ts = np.asarray(ts, np.int64)
    i = np.clip(np.searchsorted(ts, t_ns), 1, len(ts) - 1)
    i = np.where(np.abs(ts[i - 1] - t_ns) <= np.abs(ts[i] - t_ns), i - 1, i)
    return np.stack([kps[k] for k in i]), [acts[k] for k in i]


# ---------------------------------------------------------------- pose records and scoring


def write_records(path, info, kp, conf):
    with open(path, "w") as f:
        for i, k, c in zip(info, kp, conf):
            rec = {"type": "pose", "timestamp_ns": i["end_ns"],
                   "data": {"keypoints": [{"x": float(a), "y": float(b), "z": float(cc),
                                           "confidence": float(c)} for a, b, cc in k],
                            "confidence": float(c)}}
            f.write(json.dumps(rec) + "\n")


def score(args, truths, poses, mean_pose=None):
    cmd = [args.bin, "-q", "model", "score"]
    for t, p in zip(truths, poses):
        cmd += ["--truth", t, "--poses", p]
    if mean_pose:
        cmd += ["--mean-pose", mean_pose]
    return json.loads(run(cmd, stdout=subprocess.PIPE).stdout)


def numpy_scores(kp, conf, y):
    """PCK@0.2, MPJPE (mm) and mid-hip error (m) over the windows with the person present, and
    presence accuracy over all, computed as `model score` does (for validation figures)."""
    p = ~np.isnan(y[:, 0, 0])
    yy, k = y[p], kp[p]
    e = np.linalg.norm(k - yy, axis=2)
    thr = np.linalg.norm(yy[:, 5] - yy[:, 12], axis=1)
    rt, rk = 0.5 * (yy[:, 11] + yy[:, 12]), 0.5 * (k[:, 11] + k[:, 12])
    er = np.linalg.norm((k - rk[:, None]) - (yy - rt[:, None]), axis=2)
    return {"windows": int(len(y)), "pck_0_2": float((e <= 0.2 * thr[:, None]).mean()),
            "root_relative_pck_0_2": float((er <= 0.2 * thr[:, None]).mean()),
            "mpjpe_mm": float(e.mean() * 1000), "root_error_m": float(np.linalg.norm(rt - rk, axis=1).mean()),
            "presence_accuracy": float(((conf >= 0.5) == p).mean())}


def knn_predict(train_fp, train_y, train_present, fp, k):
    """k nearest training windows (Euclidean on the window-mean inputs): mean of their poses
    (present ones), share present as confidence."""
    out_kp = np.zeros((len(fp), 17, 3), np.float32)
    out_c = np.zeros(len(fp), np.float32)
    tn = (train_fp ** 2).sum(1)
    for s in range(0, len(fp), 512):
        q = fp[s:s + 512]
        d = (q ** 2).sum(1)[:, None] - 2 * q @ train_fp.T + tn[None]
        nn = np.argpartition(d, k, axis=1)[:, :k]
        for i, row in enumerate(nn):
            pr = train_present[row]
            out_c[s + i] = pr.mean()
            rows = row[pr] if pr.any() else row
            out_kp[s + i] = np.nan_to_num(train_y[rows]).mean(0)
    return out_kp, out_c


def by_activity(kp, conf, y, acts):
    """numpy_scores overall and per true activity (windows with the person present)."""
    out = {"overall": numpy_scores(kp, conf, y)}
    acts = np.asarray(acts)
    for a in ACTIVITIES:
        k = acts == a
        if (k & ~np.isnan(y[:, 0, 0])).any():
            out[a] = numpy_scores(kp[k], conf[k], y[k])
    return out


def choose_track(args, out, onnx_path, manifest, val, body):
    """Heading from the track (wifi_sensing_pose::track): runs the model through `run --pose`
    on the validation sessions without post-processing, then chooses the step's settings on
    them (lowest MPJPE over a grid, numpy mirror of the Rust step); keeps the step only if it
    lowers the validation MPJPE by at least `--track-min-gain` mm. Checks the Rust step against the mirror on one session.
    Returns (post_processing block or None, figures for the card)."""
    raw_manifest = out / f"{args.model_id}.raw.json"
    raw_manifest.write_text(json.dumps(manifest, indent=2))
    sess = []
    for seed, x, y, info, cap, truth in val:
        p = out / "eval" / "val" / f"s{seed}.raw.poses.jsonl"
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "w") as f:
            run([args.bin, "-q", "run", cap, "--no-frames", "--pose", onnx_path, "--pose-manifest",
                 raw_manifest, "--pose-batch", "64"], stdout=f)
        t, kp, c = read_poses(p)
        yy, acts = truth_at(truth, t)
        sess.append((seed, cap, t, kp, c, yy, acts))
    kp = np.concatenate([s[3] for s in sess])
    conf = np.concatenate([s[4] for s in sess])
    yy = np.concatenate([s[5] for s in sess])
    acts = sum([s[6] for s in sess], [])
    raw = by_activity(kp, conf, yy, acts)
    grid = []
    spans = [float(v) for v in args.track_spans.split(",")]
    # Kept only if it lowers the validation MPJPE by at least --track-min-gain mm.
    best = (raw["overall"]["mpjpe_mm"] - args.track_min_gain, None)
    for span in spans:
        lines = [track_lines(s[2], 0.5 * (s[3][:, 11] + s[3][:, 12]), s[4] >= 0.5, span) for s in sess]
        line = tuple(np.concatenate([l_[i] for l_ in lines]) for i in range(3))
        for vmin in [0.1, 0.2, 0.3, 0.4, 0.6]:
            for dv in [0.0, 0.2, 0.4]:
                for smooth in [False, True]:
                    k2 = apply_track(kp, line, body, vmin, vmin + dv, smooth)
                    f = numpy_scores(k2, conf, yy)
                    spec = {"span_s": span, "min_speed_m_s": vmin, "full_speed_m_s": round(vmin + dv, 3),
                            "smooth_root": smooth}
                    grid.append({**spec, "mpjpe_mm": round(f["mpjpe_mm"], 1),
                                 "root_relative_pck_0_2": round(f["root_relative_pck_0_2"], 4),
                                 "pck_0_2": round(f["pck_0_2"], 4)})
                    if f["mpjpe_mm"] < best[0] - 1e-9:
                        best = (f["mpjpe_mm"], spec)
    res = {"validation_windows": int(len(kp)), "without": raw, "grid": grid, "chosen": best[1]}
    if best[1] is None:
        log("heading from the track: no setting beats the model without it on validation")
        return None, res
    spec = {**best[1], "body_pose_m": body.astype(np.float64).round(5).tolist()}
    lines = [track_lines(s[2], 0.5 * (s[3][:, 11] + s[3][:, 12]), s[4] >= 0.5, spec["span_s"]) for s in sess]
    line = tuple(np.concatenate([l_[i] for l_ in lines]) for i in range(3))
    body_r = np.asarray(spec["body_pose_m"])
    k2 = apply_track(kp, line, body_r, spec["min_speed_m_s"], spec["full_speed_m_s"], spec["smooth_root"])
    res["with"] = by_activity(k2, conf, yy, acts)
    # Share of windows the pose was turned in, and how far off the heading was there.
    sp = np.hypot(line[1][:, 0], line[1][:, 1])
    turned = line[0] & (sp >= spec["min_speed_m_s"])
    pres_t = turned & ~np.isnan(yy[:, 0, 0])
    err = np.angle(np.exp(1j * (np.arctan2(line[1][:, 1], line[1][:, 0]) - facing_angle(np.nan_to_num(yy)))))
    res["turned_share"] = float(turned.mean())
    res["turned_walk_share"] = float(np.mean([a == "walk" for a, t_ in zip(acts, turned) if t_])) if turned.any() else 0.0
    res["walk_turned_share"] = float(np.mean([t_ for a, t_ in zip(acts, turned) if a == "walk"]))
    # An oracle for the step: the true walking windows get the same pose turned to the true facing.
    ko = kp.copy()
    mw = np.asarray([a == "walk" for a in acts]) & ~np.isnan(yy[:, 0, 0])
    r0 = 0.5 * (kp[mw, 11] + kp[mw, 12])
    ko[mw] = r0[:, None] + rotate_z(np.repeat(body_r[None], mw.sum(), 0), facing_angle(yy[mw]))
    res["oracle_true_heading_walk"] = by_activity(ko, conf, yy, acts).get("walk")
    res["heading_error_deg_median"] = float(np.degrees(np.median(np.abs(err[pres_t])))) if pres_t.any() else None
    log(f"heading from the track: {best[1]}: validation MPJPE {raw['overall']['mpjpe_mm']:.0f} -> "
        f"{res['with']['overall']['mpjpe_mm']:.0f} mm, root-rel. PCK@0.2 "
        f"{raw['overall']['root_relative_pck_0_2']:.3f} -> {res['with']['overall']['root_relative_pck_0_2']:.3f}, "
        f"turned in {res['turned_share']:.2f} of the windows, median heading error "
        f"{res['heading_error_deg_median']}")
    # The Rust step (`run --pose` with the manifest's post-processing) equals the mirror.
    post = {"track_heading": spec}
    chk_manifest = out / f"{args.model_id}.check.json"
    chk_manifest.write_text(json.dumps({**manifest, "post_processing": post}, indent=2))
    seed, cap, t, kp0, c0, _, _ = sess[0]
    p = out / "eval" / "val" / f"s{seed}.poses.jsonl"
    with open(p, "w") as f:
        run([args.bin, "-q", "run", cap, "--no-frames", "--pose", onnx_path, "--pose-manifest",
             chk_manifest, "--pose-batch", "64"], stdout=f)
    t1, kp1, _ = read_poses(p)
    l0 = track_lines(t, 0.5 * (kp0[:, 11] + kp0[:, 12]), c0 >= 0.5, spec["span_s"])
    want = apply_track(kp0, l0, body_r, spec["min_speed_m_s"], spec["full_speed_m_s"], spec["smooth_root"])
    diff = float(np.abs(kp1 - want).max()) if np.array_equal(t1, t) else np.inf
    log(f"Rust track step vs numpy mirror (validation session {seed}): max difference {diff:.2e}")
    assert diff < 1e-3, diff
    chk_manifest.unlink()
    return post, res


def reuse_model(args, data, seeds, rejected, out, t0, t_data):
    """`--model-from`: no training. Takes the networks of an earlier run (its ONNX file, mean
    pose and results, named by the results file of a card), chooses the heading-from-track
    step on the validation sessions and evaluates the held-out sets through `run --pose`. The
    k-NN baseline is the earlier run's (it depends only on the training and test windows, which
    are the same); the room-centre and oracle baselines are scored again."""
    import shutil
    src = Path(args.model_from)
    prev = json.loads(src.read_text())
    pv = prev["variants"][f"{args.device}x{args.nodes}"]
    onnx_from = src.parent / f"{args.model_id}.onnx"
    onnx_path = out / f"{args.model_id}.onnx"
    shutil.copy(onnx_from, onnx_path)
    shutil.copy(src.parent / f"{args.model_id}.mean_pose.json", out / "mean_pose.json")
    manifest = spec_manifest(args)
    manifest_path = out / f"{args.model_id}.json"
    manifest_path.write_text(json.dumps(manifest, indent=2))
    ytr = np.concatenate([d[2] for d in data["train"]])
    act = np.array([i["activity"] == "walk" and i["present"] for d in data["train"] for i in d[3]])
    _, rel, pres = targets(ytr)
    walk = act & pres
    body = rotate_z(rel.reshape(-1, 17, 3)[walk], -facing_angle(ytr[walk])).mean(0)
    t1 = time.time()
    post, track = choose_track(args, out, onnx_path, manifest, data["val"], body)
    if post:
        manifest["post_processing"] = post
        manifest_path.write_text(json.dumps(manifest, indent=2))
    track["body_pose_from_train_sessions"] = len(data["train"])
    keep = {k: v for k, v in pv.items() if k not in ("sets", "args", "version", "earlier")}
    results = {**keep, "version": args.version, "networks_from": pv.get("version"),
               "args": {**pv["args"], **{k: v for k, v in vars(args).items() if k not in ("bin", "work", "out")},
                        "train": pv["args"]["train"]},
               "track_heading": track, "track_s": round(time.time() - t1), "sets": {}}
    for k in ["test", "room"]:
        truths, poses = [], []
        for seed, x, y, info, cap, truth in data[k]:
            p = out / "eval" / f"s{seed}.poses.jsonl"
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "w") as f:
                run([args.bin, "-q", "run", cap, "--no-frames", "--pose", onnx_path, "--pose-batch", "64"], stdout=f)
            truths.append(truth)
            poses.append(p)
        s = score(args, truths, poses, out / "mean_pose.json")
        s["knn_baseline"] = pv["sets"][k]["knn_baseline"]
        s["model_per_session"] = [score(args, [t], [p])["model"]["overall"] for t, p in zip(truths, poses)]
        s["pose_shape"] = pose_shape(truths, poses)
        results["sets"][k] = s
        o = s["model"]["overall"]
        log(f"{k}: PCK@0.2 {o['pck_0_2']:.3f} MPJPE {o['mpjpe_mm']:.0f} mm root {o['root_error_m']:.2f} m "
            f"root-rel. PCK@0.2 {o['root_relative_pck_0_2']:.3f}")
    results["total_s"] = round(time.time() - t0)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    log(f"done in {results['total_s']} s: {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target/release/wifi-sensing"))
    ap.add_argument("--device", choices=list(DEVICES), default="iwl5300")
    ap.add_argument("--nodes", type=int, choices=[1, 3], default=3)
    ap.add_argument("--train", type=int, default=2500,
                    help="training sessions (seeds from --train-first, skipping the held-out ones)")
    ap.add_argument("--val", type=int, default=12, help="validation sessions (seeds 1001..)")
    ap.add_argument("--test", type=int, default=8, help="held-out default-room sessions (2001..)")
    ap.add_argument("--test-room", type=int, default=4, help="unseen-room sessions (3001..)")
    ap.add_argument("--duration", type=float, default=60.0,
                    help="length of the validation and held-out sessions, s")
    ap.add_argument("--train-duration", type=float, default=20.0,
                    help="length of the training sessions, s (0: --duration)")
    ap.add_argument("--train-first", type=int, default=1,
                    help="seed of the first training session (held-out seeds are skipped)")
    ap.add_argument("--dev", type=int, default=0,
                    help="1: stop after the validation figures (no held-out session is simulated or scored)")
    ap.add_argument("--data-only", type=int, default=0,
                    help="1: only simulate and window the sessions (fills the cache), then stop")
    ap.add_argument("--model-from", default=None,
                    help="results file of a card (its ONNX and mean pose beside it): take that run's networks "
                         "instead of training; only the post-processing is chosen and the held-out sets scored")
    ap.add_argument("--window", type=int, default=25, help="frames per window (50 Hz)")
    ap.add_argument("--hop", default="0.4s", help="hop of the training and validation windows")
    ap.add_argument("--bands", type=int, default=10,
                    help="subcarrier bands (this many if it divides the subcarriers, else fewer)")
    ap.add_argument("--ratio", type=int, default=0,
                    help="1: also the CSI-ratio features (antenna arrays); 0: amplitude features only")
    ap.add_argument("--dyn", type=int, default=0,
                    help="1: also the moving-path features of the CSI ratio (antenna arrays; dyn_features)")
    ap.add_argument("--export-ratio", type=int, default=0,
                    help="1: cache the windows with the ratio channels even if this model does not use them")
    ap.add_argument("--temporal", type=int, default=0,
                    help="1: also the within-window change features (temporal_features)")
    ap.add_argument("--act", type=int, default=1,
                    help="1: an activity classifier head (auxiliary cross-entropy loss)")
    ap.add_argument("--act-weight", type=float, default=1.0, help="weight of the activity loss")
    ap.add_argument("--pose-head", choices=["reg", "mix", "heading"], default="mix",
                    help="root-relative pose: reg, regressed (51 outputs); mix, the mean pose (of each "
                         "activity with --act 1, weighted by their probabilities); heading, the same "
                         "in the body frame turned by the estimated heading (head_rel)")
    ap.add_argument("--heading-weight", type=float, default=1.0, help="weight of the heading loss")
    ap.add_argument("--track", type=int, default=1,
                    help="1: choose the heading-from-track post-processing on validation (kept only if it helps)")
    ap.add_argument("--track-min-gain", type=float, default=1.0,
                    help="validation MPJPE gain (mm) the track step must reach to be kept")
    ap.add_argument("--track-spans", default="0.5,1,1.5,2,3", help="track spans tried, s")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--noise", type=float, default=0.2, help="input-feature noise (std units)")
    ap.add_argument("--dropout", type=float, default=0.3, help="dropout share of the hidden units (training)")
    ap.add_argument("--root-weight", type=float, default=3.0)
    ap.add_argument("--knn", type=int, default=5)
    ap.add_argument("--model-id", default="wifi-pose-ref")
    ap.add_argument("--version", default="3.1.0", help="model version written to the manifest")
    ap.add_argument("--work", default=None, help="scratch folder (default target/pose-train/<variant>)")
    ap.add_argument("--out", default=None, help="write model, manifest and results here")
    ap.add_argument("--seed", type=int, default=0, help="weight initialisation seed (of the first network)")
    ap.add_argument("--ensemble", type=int, default=3, help="networks trained (seeds seed..) and averaged")
    args = ap.parse_args()
    variant = f"{args.device}x{args.nodes}"
    work = Path(args.work or ROOT / "target/pose-train" / variant)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or work / "model")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    seeds = {"val": list(range(1001, 1001 + args.val)),
             "test": list(range(2001, 2001 + args.test)),
             "room": list(range(3001, 3001 + args.test_room))}
    # Training seeds: the first N from --train-first that no held-out session uses (a shorter
    # session of a held-out seed would be the start of that very session).
    held = set(seeds["val"] + seeds["test"] + seeds["room"] + RESERVED_SEEDS)
    seeds = {"train": list(itertools.islice((k for k in itertools.count(args.train_first) if k not in held),
                                            args.train)), **seeds}
    data, rejected = {}, {}
    for k, v in seeds.items():
        if args.dev and k in ("test", "room"):
            continue
        data[k], rejected[k] = export(args, v, k, work)
        log(f"{k}: {len(data[k])} sessions, {len(rejected[k])} rejected by the windower")
    t_data = time.time() - t0
    log(f"data: {t_data:.0f} s")
    if args.data_only:
        return
    if args.model_from:
        return reuse_model(args, data, seeds, rejected, out, t0, t_data)

    xs = [d[1] for d in data["train"]]
    ytr = np.concatenate([d[2] for d in data["train"]])
    yva = np.concatenate([d[2] for d in data["val"]])
    pres_tr = targets(ytr)[2]
    # Empty-room profile: mean log-amplitude profile of the training windows with nobody in.
    # One pass over the training windows: features against a zero profile, and the profiles of
    # the absent windows; the dev features are linear in the profile, so they are corrected after.
    bands = band_count(xs[0].shape[5], args.bands)
    _, _, n_, r_, t_, s_, _ = xs[0].shape
    zero = np.zeros((n_, r_ * t_, s_), np.float32)
    ftr, absent, k0 = [], [], 0
    for x in xs:
        x = np.asarray(x)
        ftr.append(model_features(x, zero, bands, args))
        a = ~pres_tr[k0:k0 + len(x)]
        k0 += len(x)
        if a.any():
            absent.append(log_amp(x[a]).mean(axis=1))
    empty = np.concatenate(absent).mean(0).astype(np.float32)
    ftr = np.concatenate(ftr)
    ftr[:, :empty.size // (s_ // bands)] -= band_mean(empty, bands).reshape(-1)
    assert np.abs(ftr[:8] - model_features(np.asarray(xs[0][:8]), empty, bands, args)).max() < 1e-3
    fva = np.concatenate([model_features(np.asarray(d[1]), empty, bands, args) for d in data["val"]])
    log(f"features: {time.time() - t0 - t_data:.0f} s, {ftr.shape[1]} per window")
    fmu, fsd = ftr.mean(0), ftr.std(0) + 1e-3
    root, rel, pres = targets(ytr)
    vroot, vrel, vpres = targets(yva)
    t_all = np.concatenate([root, rel], 1)
    tmu = t_all[pres].mean(0)
    tsd = np.concatenate([np.full(3, t_all[pres][:, :3].std(0).mean()),
                          np.full(51, t_all[pres][:, 3:].std(0).mean())]) + 1e-6
    tt = ((t_all - tmu) / tsd).astype(np.float32)
    vt = ((np.concatenate([vroot, vrel], 1) - tmu) / tsd).astype(np.float32)
    # Activity labels (the activity head of --act 1) and the body's heading (--pose-head heading):
    # the direction of the left shoulder seen from the right one, as (cos, sin).
    act_tr = np.array([ACTIVITIES.index(i["activity"]) if i["present"] and i["activity"] in ACTIVITIES
                       else -1 for d in data["train"] for i in d[3]])
    n_act = len(ACTIVITIES) if args.act else 0
    ang = heading_angle(ytr)
    hd_tr = np.where(pres[:, None], np.stack([np.cos(ang), np.sin(ang)], 1), 0.0).astype(np.float32)
    rel3 = rel.reshape(-1, 17, 3)
    head = None
    if args.pose_head != "reg":
        # Mean pose of each activity (or of all), in the body frame (turned by minus the heading)
        # for the heading head, in the room frame otherwise.
        turn = args.pose_head == "heading"
        b_ = rotate_z(rel3, -ang) if turn else rel3
        groups = [act_tr == k for k in range(n_act)] if n_act else [pres]
        body = np.stack([b_[g].mean(0) if g.any() else b_[pres].mean(0) for g in groups]).astype(np.float32)
        head = {"heading": turn, "body": body, "mean": rel3[pres].mean(0).astype(np.float32), "alpha": 1.0}
    t1 = time.time()
    nets, best_epoch, val_loss = [], [], []
    for k in range(args.ensemble):
        rng = np.random.default_rng(args.seed + k)
        net, be, vl = fit(standardise(ftr, fmu, fsd), tt, np.ones((len(tt), 51), np.float32),
                          pres.astype(np.float32), standardise(fva, fmu, fsd), vt,
                          np.ones((len(vt), 51), np.float32), vpres.astype(np.float32), args, rng,
                          act=act_tr if n_act else None, n_act=n_act,
                          heading=hd_tr if args.pose_head == "heading" else None)
        nets.append(net)
        best_epoch.append(be)
        val_loss.append(vl)
    # Shrinkage toward the mean training pose, chosen on the validation sessions, separately for
    # the mid-hip and the root-relative pose: each becomes mean + alpha x (network - mean).
    vraw = forward_mean(nets, standardise(fva, fmu, fsd))
    vo = vraw[:, :54]
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    root_loss = [float((((a_ * vo[:, :3] - vt[:, :3]) ** 2)[vpres]).sum(1).mean()) * args.root_weight
                 for a_ in alphas]

    def rel_std(a_):
        if head is None:
            return a_ * vo[:, 3:54]
        r_ = head_rel(vraw[:, 55:], {**head, "alpha": a_}).reshape(-1, 51)
        return (r_ - tmu[3:]) / tsd[3:]
    rel_loss = [float((((rel_std(a_) - vt[:, 3:]) ** 2)[vpres]).sum(1).mean()) / 17 for a_ in alphas]
    alpha = alphas[int(np.argmin(root_loss))]
    alpha_pose = alphas[int(np.argmin(rel_loss))]
    vloss = [r_ + q_ for r_, q_ in zip(root_loss, rel_loss)]
    log(f"shrinkage alpha {alpha} (mid-hip), {alpha_pose} (pose); validation losses: mid-hip "
        f"{dict(zip(alphas, [round(v, 3) for v in root_loss]))}, pose {dict(zip(alphas, [round(v, 3) for v in rel_loss]))}")
    tsd = tsd.astype(np.float32)
    tsd[:3] *= alpha
    if head is None:
        tsd[3:] *= alpha_pose
    else:
        head["alpha"] = alpha_pose
    t_train = time.time() - t1
    log(f"training: {t_train:.0f} s on {len(ftr)} windows, {ftr.shape[1]} features")

    onnx_path = out / f"{args.model_id}.onnx"
    to_onnx(nets, fmu, fsd, tmu.astype(np.float32), tsd.astype(np.float32), empty, bands,
            xs[0].shape, onnx_path, ratio=bool(args.ratio), dyn=bool(args.dyn),
            temporal=bool(args.temporal), head=head)
    # Mean pose (root-relative) and centre for the baselines.
    rel_mean = rel[pres].mean(0).reshape(17, 3)
    mean_pose = {"root_relative_m": rel_mean.tolist(),
                 "centre_root_m": [ROOM[0] / 2, ROOM[1] / 2, float(root[pres][:, 2].mean())]}
    (out / "mean_pose.json").write_text(json.dumps(mean_pose))
    manifest = spec_manifest(args)
    manifest_path = out / f"{args.model_id}.json"
    manifest_path.write_text(json.dumps(manifest, indent=2))

    # The exported graph must equal the numpy model on the exported windows.
    from onnx.reference import ReferenceEvaluator
    ref = ReferenceEvaluator(str(onnx_path))
    xv = np.asarray(data["val"][0][1][:8])
    got = ref.run(None, {"csi": xv})[0]
    kp, c = predict_np(nets, model_features(xv, empty, bands, args), fmu, fsd, tmu, tsd, head)
    err = max(np.abs(got[..., :3] - kp).max(), np.abs(got[:, 0, 3] - c).max())
    log(f"ONNX graph vs numpy: max difference {err:.2e}")
    assert err < 1e-3, err

    # Validation figures of the shipped (shrunk) model, for the card: numpy on the validation
    # windows (the same graph as the ONNX file).
    vkp, vc = predict_np(nets, fva, fmu, fsd, tmu, tsd, head)
    val_fig = numpy_scores(vkp, vc, yva)
    log(f"validation: PCK@0.2 {val_fig['pck_0_2']:.3f} MPJPE {val_fig['mpjpe_mm']:.0f} mm "
        f"root {val_fig['root_error_m']:.3f} m root-rel. PCK@0.2 {val_fig['root_relative_pck_0_2']:.3f} "
        f"presence {val_fig['presence_accuracy']:.3f}")
    if n_act:
        act_va = np.array([ACTIVITIES.index(i["activity"]) if i["present"] and i["activity"] in ACTIVITIES
                           else -1 for d in data["val"] for i in d[3]])
        o = vraw[:, 55 + (2 if args.pose_head == "heading" else 0):]
        k_ = act_va >= 0
        val_fig["activity_accuracy"] = float((o[k_].argmax(1) == act_va[k_]).mean())
        log(f"validation activity accuracy {val_fig['activity_accuracy']:.3f}")

    # Heading from the track (a post-processing step of the pose crate), chosen on validation.
    track = None
    if args.track:
        walk = pres & (act_tr == ACTIVITIES.index("walk"))
        body_walk = rotate_z(rel3[walk], -facing_angle(ytr[walk])).mean(0)
        post, track = choose_track(args, out, onnx_path, manifest, data["val"], body_walk)
        if post:
            manifest["post_processing"] = post
            manifest_path.write_text(json.dumps(manifest, indent=2))

    # k-NN fingerprinting baseline on the same (standardised) features.
    tr_fp = standardise(ftr, fmu, fsd)

    results = {"variant": variant, "version": args.version, "seeds": seeds,
               "rejected": {k: {str(s): m for s, m in v.items()} for k, v in rejected.items()},
               "sessions_used": {k: [d[0] for d in v] for k, v in data.items()},
               "train_windows": int(len(ftr)), "features": int(ftr.shape[1]), "best_epoch": best_epoch,
               "validation_loss": min(vloss), "validation_loss_before_shrinkage": val_loss, "alpha": alpha,
               "validation_pose_loss": dict(zip(map(str, alphas), vloss)), "validation": val_fig,
               "alpha_pose": alpha_pose,
               "bands": bands, "channels": channels(args),
               "onnx_bytes": onnx_path.stat().st_size,
               "args": {k: v for k, v in vars(args).items() if k not in ("bin", "work", "out")},
               "data_s": round(t_data), "train_s": round(t_train), "track_heading": track, "sets": {}}
    if args.dev:
        results["total_s"] = round(time.time() - t0)
        (out / "results.json").write_text(json.dumps(results, indent=1))
        log(f"development run (validation only) done in {results['total_s']} s: {out}")
        return
    for k in ["test", "room"]:
        truths, poses, knns = [], [], []
        for seed, x, y, info, cap, truth in data[k]:
            p = out / "eval" / f"s{seed}.poses.jsonl"
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "w") as f:
                run([args.bin, "-q", "run", cap, "--no-frames", "--pose", onnx_path,
                     "--pose-batch", "64"], stdout=f)
            fp = standardise(model_features(np.asarray(x), empty, bands, args), fmu, fsd)
            kk, kc = knn_predict(tr_fp, ytr, pres, fp, args.knn)
            q = out / "eval" / f"s{seed}.knn.jsonl"
            write_records(q, info, kk, kc)
            truths.append(truth)
            poses.append(p)
            knns.append(q)
        s = score(args, truths, poses, out / "mean_pose.json")
        s["knn_baseline"] = score(args, truths, knns)["model"]
        s["model_per_session"] = [score(args, [t], [p])["model"]["overall"] for t, p in zip(truths, poses)]
        s["pose_shape"] = pose_shape(truths, poses)
        results["sets"][k] = s
        o = s["model"]["overall"]
        log(f"{k}: PCK@0.2 {o['pck_0_2']:.3f} MPJPE {o['mpjpe_mm']:.0f} mm root {o['root_error_m']:.2f} m "
            f"(centre {s['room_centre_baseline']['overall']['mpjpe_mm']:.0f} mm, "
            f"kNN {s['knn_baseline']['overall']['mpjpe_mm']:.0f} mm)")
    results["total_s"] = round(time.time() - t0)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    log(f"done in {results['total_s']} s: {out}")


if __name__ == "__main__":
    main()
