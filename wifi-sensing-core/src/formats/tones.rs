//! Standard 802.11 OFDM tone lists: which subcarrier indices a CSI report of a given PHY format
//! and bandwidth covers, and which of them are pilots.
//!
//! Subcarrier indices are relative to the channel centre, in units of the format's subcarrier
//! spacing (312.5 kHz for non-HT/HT/VHT, 78.125 kHz for HE). The lists are the occupied tones
//! (data + pilots) of the respective 802.11 clauses, DC and guard tones excluded:
//!
//! | format | bandwidth | tones | occupied ranges | pilots |
//! |---|---|---|---|---|
//! | non-HT | 20 | 52 | ±1..±26 | ±7, ±21 |
//! | HT / VHT | 20 | 56 | ±1..±28 | ±7, ±21 |
//! | HT / VHT | 40 | 114 | ±2..±58 | ±11, ±25, ±53 |
//! | VHT | 80 | 242 | ±2..±122 | ±11, ±39, ±75, ±103 |
//! | VHT | 160 | 484 | ±6..±126, ±130..±250 | the 80 MHz pilots around ±128 |
//! | HE | 20 | 242 | ±2..±122 | ±22, ±48, ±90, ±116 |
//! | HE | 40 | 484 | ±3..±244 | ±10, ±36, ±78, ±104, ±144, ±170, ±212, ±238 |
//! | HE | 80 | 996 | ±3..±500 | ±24, ±92, ±158, ±226, ±266, ±334, ±400, ±468 |
//! | HE | 160 | 1992 | ±12..±509, ±515..±1012 | the 80 MHz pilots around ±512 |
//!
//! The PicoScenes and FeitCSI readers use these lists for [`CsiFrame::subcarriers`] of Intel
//! AX200/AX210 and QCA9300 reports (whose buffers hold exactly these tones, lowest first), and
//! the FeitCSI tests check them against the zero-valued pilot positions of real captures.
//!
//! ```
//! use wifi_sensing_core::formats::tones::{tone_indices, PhyFormat};
//! let t = tone_indices(PhyFormat::Ht, 20).unwrap();
//! assert_eq!(t.len(), 56);
//! assert_eq!((t[0], t[27], t[28], t[55]), (-28, -1, 1, 28));
//! ```
//!
//! [`CsiFrame::subcarriers`]: crate::CsiFrame

use serde::{Deserialize, Serialize};

/// PHY format of a received PPDU, as far as the tone plan is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhyFormat {
    /// Legacy OFDM (802.11a/g), also used for CCK-rate reports.
    NonHt,
    /// 802.11n.
    Ht,
    /// 802.11ac.
    Vht,
    /// 802.11ax single user (the HE-MU tone plan of a full-band allocation is the same).
    He,
}

type Ranges = &'static [(i16, i16)];

const NONHT20: Ranges = &[(-26, -1), (1, 26)];
const HT20: Ranges = &[(-28, -1), (1, 28)];
const HT40: Ranges = &[(-58, -2), (2, 58)];
const VHT80: Ranges = &[(-122, -2), (2, 122)];
const VHT160: Ranges = &[(-250, -130), (-126, -6), (6, 126), (130, 250)];
const HE20: Ranges = &[(-122, -2), (2, 122)];
const HE40: Ranges = &[(-244, -3), (3, 244)];
const HE80: Ranges = &[(-500, -3), (3, 500)];
const HE160: Ranges = &[(-1012, -515), (-509, -12), (12, 509), (515, 1012)];

const P_20: &[i16] = &[-21, -7, 7, 21];
const P_40: &[i16] = &[-53, -25, -11, 11, 25, 53];
const P_VHT80: &[i16] = &[-103, -75, -39, -11, 11, 39, 75, 103];
const P_VHT160: &[i16] = &[
    -231, -203, -167, -139, -117, -89, -53, -25, 25, 53, 89, 117, 139, 167, 203, 231,
];
const P_HE20: &[i16] = &[-116, -90, -48, -22, 22, 48, 90, 116];
const P_HE40: &[i16] = &[
    -238, -212, -170, -144, -104, -78, -36, -10, 10, 36, 78, 104, 144, 170, 212, 238,
];
const P_HE80: &[i16] = &[
    -468, -400, -334, -266, -226, -158, -92, -24, 24, 92, 158, 226, 266, 334, 400, 468,
];
const P_HE160: &[i16] = &[
    -980, -912, -846, -778, -738, -670, -604, -536, -488, -420, -354, -286, -246, -178, -112, -44,
    44, 112, 178, 246, 286, 354, 420, 488, 536, 604, 670, 738, 778, 846, 912, 980,
];

/// The plans, in a fixed order (the index keys the cached tables).
const PLANS: [(Ranges, &[i16]); 9] = [
    (NONHT20, P_20),
    (HT20, P_20),
    (HT40, P_40),
    (VHT80, P_VHT80),
    (VHT160, P_VHT160),
    (HE20, P_HE20),
    (HE40, P_HE40),
    (HE80, P_HE80),
    (HE160, P_HE160),
];

fn plan_index(format: PhyFormat, bandwidth_mhz: u16) -> Option<usize> {
    use PhyFormat::*;
    Some(match (format, bandwidth_mhz) {
        (NonHt, 20) => 0,
        (Ht | Vht, 20) => 1,
        (Ht | Vht, 40) => 2,
        (Vht, 80) => 3,
        (Vht, 160) => 4,
        (He, 20) => 5,
        (He, 40) => 6,
        (He, 80) => 7,
        (He, 160) => 8,
        _ => return None,
    })
}

fn plan(format: PhyFormat, bandwidth_mhz: u16) -> Option<(Ranges, &'static [i16])> {
    plan_index(format, bandwidth_mhz).map(|i| PLANS[i])
}

/// Number of occupied tones (data + pilots) of `format` at `bandwidth_mhz`, or `None` when this
/// combination has no standard tone plan here.
pub fn tone_count(format: PhyFormat, bandwidth_mhz: u16) -> Option<usize> {
    plan(format, bandwidth_mhz).map(|(r, _)| r.iter().map(|(a, b)| (b - a + 1) as usize).sum())
}

/// The occupied tone indices of `format` at `bandwidth_mhz`, lowest first.
pub fn tone_indices(format: PhyFormat, bandwidth_mhz: u16) -> Option<Vec<i16>> {
    tone_indices_offset(format, bandwidth_mhz, 0)
}

/// [`tone_indices`] with `offset` added to every index (PicoScenes' `subcarrierOffset`).
pub fn tone_indices_offset(format: PhyFormat, bandwidth_mhz: u16, offset: i16) -> Option<Vec<i16>> {
    let table = table(format, bandwidth_mhz)?;
    if offset == 0 {
        return Some(table.to_vec());
    }
    Some(table.iter().map(|k| k.wrapping_add(offset)).collect())
}

/// The tone list of a plan, built once.
fn table(format: PhyFormat, bandwidth_mhz: u16) -> Option<&'static [i16]> {
    use std::sync::OnceLock;
    static TABLES: [OnceLock<Vec<i16>>; 9] = [const { OnceLock::new() }; 9];
    let i = plan_index(format, bandwidth_mhz)?;
    Some(TABLES[i].get_or_init(|| PLANS[i].0.iter().flat_map(|&(a, b)| a..=b).collect()))
}

/// The pilot tone indices of `format` at `bandwidth_mhz`, lowest first.
///
/// ```
/// use wifi_sensing_core::formats::tones::{pilot_indices, PhyFormat};
/// assert_eq!(pilot_indices(PhyFormat::Vht, 20), Some(&[-21i16, -7, 7, 21][..]));
/// ```
pub fn pilot_indices(format: PhyFormat, bandwidth_mhz: u16) -> Option<&'static [i16]> {
    plan(format, bandwidth_mhz).map(|(_, p)| p)
}

/// The 30 subcarrier groups reported by the Intel 5300 (also inside PicoScenes), lowest first,
/// with `offset` added; `None` for bandwidths other than 20 and 40 MHz.
///
/// 20 MHz: −28, −26, …, −2, −1, 1, 3, …, 27, 28. 40 MHz: −58, −54, …, −6, −2, 2, 6, …, 54, 58.
pub fn iwl5300_groups(bandwidth_mhz: u16, offset: i16) -> Option<Vec<i16>> {
    fill_iwl5300_groups(bandwidth_mhz, offset, Vec::new())
}

/// [`iwl5300_groups`] written into `v` (cleared first; its allocation is reused).
pub(crate) fn fill_iwl5300_groups(
    bandwidth_mhz: u16,
    offset: i16,
    mut v: Vec<i16>,
) -> Option<Vec<i16>> {
    // the Intel 5300 tool's tables (the same grouping)
    use crate::formats::intel5300::{SUBCARRIERS_HT20, SUBCARRIERS_HT40};
    let table = match bandwidth_mhz {
        20 => &SUBCARRIERS_HT20,
        40 => &SUBCARRIERS_HT40,
        _ => return None,
    };
    v.clear();
    v.extend(table.iter().map(|x| x.wrapping_add(offset)));
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(PhyFormat, u16, usize); 11] = [
        (PhyFormat::NonHt, 20, 52),
        (PhyFormat::Ht, 20, 56),
        (PhyFormat::Ht, 40, 114),
        (PhyFormat::Vht, 20, 56),
        (PhyFormat::Vht, 40, 114),
        (PhyFormat::Vht, 80, 242),
        (PhyFormat::Vht, 160, 484),
        (PhyFormat::He, 20, 242),
        (PhyFormat::He, 40, 484),
        (PhyFormat::He, 80, 996),
        (PhyFormat::He, 160, 1992),
    ];

    #[test]
    fn counts_match_the_standard_sizes() {
        for (f, bw, n) in ALL {
            assert_eq!(tone_count(f, bw), Some(n), "{f:?} {bw}");
            let t = tone_indices(f, bw).unwrap();
            assert_eq!(t.len(), n);
            assert!(
                t.windows(2).all(|w| w[0] < w[1]),
                "{f:?} {bw} not increasing"
            );
            assert!(!t.contains(&0), "{f:?} {bw} contains DC");
            // symmetric around DC
            assert!(t.iter().zip(t.iter().rev()).all(|(a, b)| *a == -*b));
        }
        assert_eq!(tone_count(PhyFormat::NonHt, 40), None);
        assert_eq!(tone_count(PhyFormat::Ht, 80), None);
    }

    #[test]
    fn pilots_are_occupied_tones_and_symmetric() {
        for (f, bw, _) in ALL {
            let t = tone_indices(f, bw).unwrap();
            let p = pilot_indices(f, bw).unwrap();
            assert!(p.iter().all(|x| t.contains(x)), "{f:?} {bw}");
            assert!(p.windows(2).all(|w| w[0] < w[1]));
            assert!(p.iter().zip(p.iter().rev()).all(|(a, b)| *a == -*b));
        }
    }

    /// Positions of the pilots inside the buffer, as the peers list them (csiread's pilot table,
    /// CSIKit's FeitCSI interpolation indices).
    #[test]
    fn pilot_positions_match_peer_tables() {
        let pos = |f, bw| -> Vec<usize> {
            let t = tone_indices(f, bw).unwrap();
            pilot_indices(f, bw)
                .unwrap()
                .iter()
                .map(|p| t.iter().position(|x| x == p).unwrap())
                .collect()
        };
        assert_eq!(pos(PhyFormat::NonHt, 20), [5, 19, 32, 46]);
        assert_eq!(pos(PhyFormat::Ht, 20), [7, 21, 34, 48]);
        assert_eq!(pos(PhyFormat::Vht, 40), [5, 33, 47, 66, 80, 108]);
        assert_eq!(
            pos(PhyFormat::Vht, 80),
            [19, 47, 83, 111, 130, 158, 194, 222]
        );
        assert_eq!(
            pos(PhyFormat::Vht, 160),
            [19, 47, 83, 111, 130, 158, 194, 222, 261, 289, 325, 353, 372, 400, 436, 464]
        );
        assert_eq!(pos(PhyFormat::He, 20), [6, 32, 74, 100, 141, 167, 209, 235]);
        assert_eq!(
            pos(PhyFormat::He, 40),
            [6, 32, 74, 100, 140, 166, 208, 234, 249, 275, 317, 343, 383, 409, 451, 477]
        );
        assert_eq!(
            pos(PhyFormat::He, 80),
            [32, 100, 166, 234, 274, 342, 408, 476, 519, 587, 653, 721, 761, 829, 895, 963]
        );
        assert_eq!(
            pos(PhyFormat::He, 160),
            [
                32, 100, 166, 234, 274, 342, 408, 476, 519, 587, 653, 721, 761, 829, 895, 963,
                1028, 1096, 1162, 1230, 1270, 1338, 1404, 1472, 1515, 1583, 1649, 1717, 1757, 1825,
                1891, 1959
            ]
        );
    }

    #[test]
    fn iwl5300_groups_lists() {
        let g = iwl5300_groups(20, 0).unwrap();
        assert_eq!(g.len(), 30);
        assert_eq!(&g[..3], &[-28, -26, -24]);
        assert_eq!(&g[13..17], &[-2, -1, 1, 3]);
        assert_eq!(g[29], 28);
        let g = iwl5300_groups(40, 0).unwrap();
        assert_eq!(&g[..2], &[-58, -54]);
        assert_eq!(&g[13..16], &[-6, -2, 2]);
        assert_eq!(&g[28..], &[54, 58]);
        assert_eq!(iwl5300_groups(40, 3).unwrap()[0], -55);
        assert_eq!(iwl5300_groups(80, 0), None);
    }

    #[test]
    fn offset_is_added() {
        let t = tone_indices_offset(PhyFormat::Ht, 20, -32).unwrap();
        assert_eq!((t[0], t[55]), (-60, -4));
    }
}
