//! Property tests of the Intel 5300 and Atheros readers: arbitrary bytes never panic, and random
//! valid records written by an independent bit-by-bit encoder decode to the values put in.

mod common;

use std::io::Cursor;

use common::drain;

use num_complex::Complex32;
use proptest::prelude::*;
use wifi_sensing_core::formats::atheros::{self, AtherosReader, Endianness};
use wifi_sensing_core::formats::intel5300::{self, bfee_payload_len, Intel5300Reader};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Error, FormatMeta, ReaderOptions, Record, Registry,
};

// ---------- Intel encoder ----------

#[derive(Clone, Debug)]
struct Bfee {
    ts: u32,
    count: u16,
    nrx: u8,
    ntx: u8,
    rssi: [u8; 3],
    noise: i8,
    agc: u8,
    sel: u8,
    rate: u16,
    vals: Vec<(i8, i8)>, // [group][rx][tx] in file order
}

#[derive(Clone, Debug)]
enum IntelRec {
    Bfee(Bfee),
    C1([u8; 24], usize),
    Other(u8, Vec<u8>),
}

/// Writes bits LSB first, one at a time (deliberately unlike the decoder).
struct BitWriter {
    bytes: Vec<u8>,
    bit: usize,
}

impl BitWriter {
    fn put(&mut self, v: u32, n: usize) {
        for i in 0..n {
            if (v >> i) & 1 == 1 {
                self.bytes[self.bit / 8] |= 1 << (self.bit % 8);
            }
            self.bit += 1;
        }
    }
}

fn encode_intel(recs: &[IntelRec]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs {
        let (code, body) = match r {
            IntelRec::Bfee(b) => {
                let len = bfee_payload_len(b.nrx.into(), b.ntx.into());
                let mut h = Vec::with_capacity(20 + len);
                h.extend(b.ts.to_le_bytes());
                h.extend(b.count.to_le_bytes());
                h.extend([
                    0,
                    0,
                    b.nrx,
                    b.ntx,
                    b.rssi[0],
                    b.rssi[1],
                    b.rssi[2],
                    b.noise as u8,
                    b.agc,
                    b.sel,
                ]);
                h.extend((len as u16).to_le_bytes());
                h.extend(b.rate.to_le_bytes());
                let mut w = BitWriter {
                    bytes: vec![0; len],
                    bit: 0,
                };
                let n = usize::from(b.nrx * b.ntx);
                for g in 0..30 {
                    w.put(0b101, 3); // the skipped bits may hold anything
                    for m in 0..n {
                        let (re, im) = b.vals[g * n + m];
                        w.put(u32::from(re as u8), 8);
                        w.put(u32::from(im as u8), 8);
                    }
                }
                h.extend(w.bytes);
                (0xBB, h)
            }
            IntelRec::C1(h, extra) => {
                let mut v = h.to_vec();
                v.extend(vec![0x5A; *extra]);
                (0xC1, v)
            }
            IntelRec::Other(c, body) => (*c, body.clone()),
        };
        out.extend(((body.len() + 1) as u16).to_be_bytes());
        out.push(code);
        out.extend(body);
    }
    out
}

fn bfee_strategy() -> impl Strategy<Value = Bfee> {
    (1u8..=3, 1u8..=3).prop_flat_map(|(nrx, ntx)| {
        (
            (
                any::<u32>(),
                any::<u16>(),
                any::<[u8; 3]>(),
                any::<i8>(),
                any::<u8>(),
            ),
            (any::<u8>(), any::<u16>()),
            prop::collection::vec(any::<(i8, i8)>(), usize::from(nrx * ntx) * 30),
        )
            .prop_map(
                move |((ts, count, rssi, noise, agc), (sel, rate), vals)| Bfee {
                    ts,
                    count,
                    nrx,
                    ntx,
                    rssi,
                    noise,
                    agc,
                    sel: sel & 0x3F,
                    rate,
                    vals,
                },
            )
    })
}

fn intel_rec_strategy() -> impl Strategy<Value = IntelRec> {
    prop_oneof![
        6 => bfee_strategy().prop_map(IntelRec::Bfee),
        2 => (any::<[u8; 24]>(), 0usize..40).prop_map(|(h, e)| IntelRec::C1(h, e)),
        1 => (any::<u8>().prop_filter("not a known code", |c| *c != 0xBB && *c != 0xC1),
              prop::collection::vec(any::<u8>(), 0..50))
            .prop_map(|(c, b)| IntelRec::Other(c, b)),
    ]
}

/// Reference model of the documented timestamp rule.
fn unwrap_model(ts: &[u32]) -> Vec<u64> {
    let mut high = 0u64;
    let mut prev: Option<u32> = None;
    ts.iter()
        .map(|&t| {
            if let Some(p) = prev {
                if t < p && p - t > 1 << 31 {
                    high += 1 << 32;
                }
            }
            prev = Some(t);
            high + u64::from(t)
        })
        .collect()
}

fn total_rss_model(rssi: [u8; 3], agc: u8) -> f64 {
    let lin: f64 = rssi
        .iter()
        .filter(|&&x| x != 0)
        .map(|&x| 10f64.powf(f64::from(x) / 10.0))
        .sum();
    10.0 * lin.log10() - 44.0 - f64::from(agc)
}

// ---------- Atheros encoder ----------

#[derive(Clone, Debug)]
struct AthRec {
    ts: u64,
    tones: u8,
    nr: u8,
    nc: u8,
    bw: u8,
    status: [u8; 8], // err_info, noise, rate, rssi, rssi_1..3, (unused)
    channel: u16,
    vals: Vec<(i16, i16)>, // [nr][nc][tones], empty = no CSI
    payload: Vec<u8>,
}

fn encode_ath(recs: &[AthRec], order: Endianness, marker: bool) -> Vec<u8> {
    let w16 = |v: u16| match order {
        Endianness::Little => v.to_le_bytes(),
        Endianness::Big => v.to_be_bytes(),
    };
    let mut out = Vec::new();
    if marker {
        out.push(0xFF);
    }
    for r in recs {
        let (tones, nr, nc) = (usize::from(r.tones), usize::from(r.nr), usize::from(r.nc));
        let csi = if r.vals.is_empty() {
            Vec::new()
        } else {
            let mut w = BitWriter {
                bytes: vec![0; atheros::csi_bytes(tones, nr, nc)],
                bit: 0,
            };
            for k in 0..tones {
                for c in 0..nc {
                    for rx in 0..nr {
                        let (re, im) = r.vals[(rx * nc + c) * tones + k];
                        w.put((im as u16 & 0x3FF).into(), 10);
                        w.put((re as u16 & 0x3FF).into(), 10);
                    }
                }
            }
            w.bytes
        };
        out.extend(w16((25 + csi.len() + r.payload.len()) as u16));
        out.extend(match order {
            Endianness::Little => r.ts.to_le_bytes(),
            Endianness::Big => r.ts.to_be_bytes(),
        });
        out.extend(w16(csi.len() as u16));
        out.extend(w16(r.channel));
        let s = r.status;
        out.extend([
            s[0], s[1], s[2], r.bw, r.tones, r.nr, r.nc, s[3], s[4], s[5], s[6],
        ]);
        out.extend(w16(r.payload.len() as u16));
        out.extend(csi);
        out.extend(&r.payload);
    }
    out
}

fn ath_strategy() -> impl Strategy<Value = AthRec> {
    (
        prop_oneof![Just(56u8), Just(114u8), 1u8..=64],
        1u8..=3,
        1u8..=3,
        any::<bool>(),
    )
        .prop_flat_map(|(tones, nr, nc, with_csi)| {
            let n = if with_csi {
                usize::from(tones) * usize::from(nr) * usize::from(nc)
            } else {
                0
            };
            (
                any::<u64>(),
                any::<[u8; 8]>(),
                0u8..=1,
                prop_oneof![Just(2437u16), Just(5180u16), any::<u16>()],
                prop::collection::vec((-512i16..=511, -512i16..=511), n),
                prop::collection::vec(any::<u8>(), 0..40),
            )
                .prop_map(move |(ts, status, bw, channel, vals, payload)| AthRec {
                    ts,
                    tones,
                    nr,
                    nc,
                    bw,
                    status,
                    channel,
                    vals,
                    payload,
                })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let max = bytes.len() + 4;
        for fmt in [None, Some(CaptureFormat::Intel5300), Some(CaptureFormat::Atheros)] {
            if let Ok(mut cap) = Registry::builtin().open_read(Box::new(Cursor::new(bytes.clone())), None, Some("dat"), fmt) {
                let mut n = 0;
                while let Some(x) = cap.next_record() {
                    let _ = x;
                    n += 1;
                    prop_assert!(n <= max);
                }
            }
        }
        let mut r = Intel5300Reader::new(Box::new(Cursor::new(bytes.clone())), &ReaderOptions::default());
        for x in drain(&mut r, max) {
            if let Err(e) = x {
                prop_assert!(e.offset().is_some(), "{}", e);
            }
        }
        for order in [None, Some(Endianness::Little), Some(Endianness::Big)] {
            let mut o = ReaderOptions::default();
            o.atheros.endianness = order;
            if let Ok(mut r) = AtherosReader::new(Box::new(Cursor::new(bytes.clone())), &o) {
                for x in drain(&mut r, max) {
                    if let Err(e) = x {
                        prop_assert!(e.offset().is_some(), "{}", e);
                    }
                }
            }
        }
    }

    /// Random valid Intel records (bfee, 0xC1, unknown codes) round-trip through the reader.
    #[test]
    fn intel_records_round_trip(recs in prop::collection::vec(intel_rec_strategy(), 0..12), cut in any::<prop::sample::Index>()) {
        let bytes = encode_intel(&recs);
        let mut r = Intel5300Reader::new(Box::new(Cursor::new(bytes.clone())), &ReaderOptions::default());
        let items = drain(&mut r, recs.len() + 1);
        let bfees: Vec<(&Bfee, Option<&[u8; 24]>)> = recs
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x {
                IntelRec::Bfee(b) => {
                    let c1 = match i.checked_sub(1).map(|p| &recs[p]) {
                        Some(IntelRec::C1(h, _)) => Some(h),
                        _ => None,
                    };
                    Some((b, c1))
                }
                _ => None,
            })
            .collect();
        prop_assert_eq!(items.len(), bfees.len());
        let times = unwrap_model(&bfees.iter().map(|(b, _)| b.ts).collect::<Vec<_>>());
        for (n, (item, (b, c1))) in items.into_iter().zip(&bfees).enumerate() {
            let Ok(Record::Frame(f)) = item else { panic!("item {n}: {item:?}") };
            let FormatMeta::Intel5300(m) = &f.meta else { panic!() };
            let (nrx, ntx) = (usize::from(b.nrx), usize::from(b.ntx));
            prop_assert_eq!(f.shape(), (nrx, ntx, 30));
            let perm = [b.sel & 3, (b.sel >> 2) & 3, (b.sel >> 4) & 3];
            let mut sorted = perm;
            sorted.sort();
            let permute = nrx == 3 && sorted == [0, 1, 2];
            prop_assert_eq!(m.perm, perm);
            prop_assert_eq!(m.permuted, permute);
            let mut power = 0u32;
            for g in 0..30 {
                for (j, &pj) in perm.iter().enumerate().take(nrx) {
                    let slot = if permute { usize::from(pj) } else { j };
                    for k in 0..ntx {
                        let (re, im) = b.vals[g * nrx * ntx + j * ntx + k];
                        power += (i32::from(re).pow(2) + i32::from(im).pow(2)) as u32;
                        prop_assert_eq!(f.csi[[slot, k, g]], Complex32::new(re.into(), im.into()));
                    }
                }
            }
            prop_assert_eq!(m.csi_power, power);
            prop_assert_eq!((m.timestamp_low, m.bfee_count, m.rate, m.agc, m.noise), (b.ts, b.count, b.rate, b.agc, b.noise));
            prop_assert_eq!([m.rssi_a, m.rssi_b, m.rssi_c], b.rssi);
            prop_assert_eq!(f.timestamp_ns, (times[n] * 1000) as i64);
            let want_rss = total_rss_model(b.rssi, b.agc);
            prop_assert!(m.total_rss == want_rss || (m.total_rss - want_rss).abs() <= 1e-12 * want_rss.abs());
            prop_assert_eq!(f.bandwidth_mhz, Some(if b.rate & 0x800 != 0 { 40 } else { 20 }));
            match c1 {
                Some(h) => {
                    let got = m.c1.unwrap();
                    prop_assert_eq!(got.addr_src, [h[10], h[11], h[12], h[13], h[14], h[15]]);
                    prop_assert_eq!(got.seq, u16::from_le_bytes([h[22], h[23]]));
                    prop_assert_eq!(f.mac, Some(got.addr_src));
                }
                None => prop_assert!(m.c1.is_none()),
            }
        }
        let counts = r.counts();
        prop_assert_eq!(counts.bfee as usize, bfees.len());
        prop_assert_eq!(counts.mac_header as usize, recs.iter().filter(|x| matches!(x, IntelRec::C1(..))).count());
        prop_assert_eq!(counts.other as usize, recs.iter().filter(|x| matches!(x, IntelRec::Other(..))).count());

        // cutting the file anywhere keeps every complete record and reports the rest
        if !bytes.is_empty() {
            let at = cut.index(bytes.len());
            let mut r = Intel5300Reader::new(Box::new(Cursor::new(bytes[..at].to_vec())), &ReaderOptions::default());
            let items = drain(&mut r, recs.len() + 1);
            let mut off = 0usize;
            let mut complete_bfee = 0;
            for rec in encode_records_lengths(&recs) {
                if off + rec.1 > at { break; }
                if rec.0 { complete_bfee += 1; }
                off += rec.1;
            }
            let frames = items.iter().filter(|x| matches!(x, Ok(Record::Frame(_)))).count();
            prop_assert_eq!(frames, complete_bfee);
            if off < at {
                match items.last() {
                    Some(Err(Error::Truncated { offset, available, .. })) => {
                        prop_assert_eq!(*offset as usize, off);
                        prop_assert_eq!(*available as usize, at - off);
                    }
                    other => prop_assert!(false, "expected Truncated, got {:?}", other),
                }
            }
        }
    }

    /// Random Atheros records in either byte order, with or without the 0xFF marker, round-trip.
    #[test]
    fn atheros_records_round_trip(recs in prop::collection::vec(ath_strategy(), 1..6), big in any::<bool>(), marker in any::<bool>(), forced in any::<bool>()) {
        let order = if big { Endianness::Big } else { Endianness::Little };
        let marker = marker && big;
        let bytes = encode_ath(&recs, order, marker);
        let mut o = ReaderOptions::default();
        if forced {
            o.atheros.endianness = Some(order);
        }
        // With payloads under 40 bytes no record reads consistently in the other byte order, so
        // auto-detection must find the right one.
        let mut r = AtherosReader::new(Box::new(Cursor::new(bytes.clone())), &o).unwrap();
        prop_assert_eq!(r.endianness(), order);
        let items = drain(&mut r, recs.len());
        let with_csi: Vec<&AthRec> = recs.iter().filter(|x| !x.vals.is_empty()).collect();
        prop_assert_eq!(items.len(), with_csi.len());
        prop_assert_eq!(r.counts().without_csi as usize, recs.len() - with_csi.len());
        for (item, rec) in items.into_iter().zip(with_csi) {
            let Ok(Record::Frame(f)) = item else { panic!("{item:?}") };
            let (tones, nr, nc) = (usize::from(rec.tones), usize::from(rec.nr), usize::from(rec.nc));
            prop_assert_eq!(f.shape(), (nr, nc, tones));
            for (i, c) in f.csi.iter().enumerate() {
                prop_assert_eq!(*c, Complex32::new(rec.vals[i].0.into(), rec.vals[i].1.into()));
            }
            let FormatMeta::Atheros(m) = &f.meta else { panic!() };
            prop_assert_eq!((m.timestamp, m.tx_channel, m.nr, m.nc, m.num_tones, m.bandwidth), (rec.ts, rec.channel, rec.nr, rec.nc, rec.tones, rec.bw));
            prop_assert_eq!((m.err_info, m.noise_floor, m.rate, m.rssi, m.rssi_1, m.rssi_2, m.rssi_3),
                (rec.status[0], rec.status[1], rec.status[2], rec.status[3], rec.status[4], rec.status[5], rec.status[6]));
            prop_assert_eq!(m.payload_len as usize, rec.payload.len());
            prop_assert_eq!(f.bandwidth_mhz, Some(if rec.bw == 1 { 40 } else { 20 }));
            let want_sc = match tones { 56 => Some(atheros::subcarriers_ht20()), 114 => Some(atheros::subcarriers_ht40()), _ => None };
            prop_assert_eq!(&f.subcarriers, &want_sc);
            if rec.payload.len() >= 24 {
                prop_assert_eq!(f.mac, Some(<[u8; 6]>::try_from(&rec.payload[10..16]).unwrap()));
            } else {
                prop_assert_eq!(f.mac, None);
            }
        }
    }
}

/// (is_bfee, encoded length) of each record of `encode_intel`.
fn encode_records_lengths(recs: &[IntelRec]) -> Vec<(bool, usize)> {
    recs.iter()
        .map(|r| {
            (
                matches!(r, IntelRec::Bfee(_)),
                encode_intel(std::slice::from_ref(r)).len(),
            )
        })
        .collect()
}

#[test]
fn intel_scaled_factor_is_finite_for_ordinary_frames() {
    let b = Bfee {
        ts: 1,
        count: 2,
        nrx: 3,
        ntx: 3,
        rssi: [40, 41, 42],
        noise: -127,
        agc: 30,
        sel: 0b10_01_00,
        rate: 0x100,
        vals: (0..270)
            .map(|i| ((i % 50) as i8 - 25, (i % 30) as i8 - 15))
            .collect(),
    };
    let bytes = encode_intel(&[IntelRec::Bfee(b)]);
    let mut r = Intel5300Reader::new(Box::new(Cursor::new(bytes)), &ReaderOptions::default());
    let f = r.next_record().unwrap().unwrap().into_frame().unwrap();
    let fac = intel5300::frame_scaled_csi_factor(&f).unwrap();
    assert!(fac.is_finite() && fac > 0.0);
}
