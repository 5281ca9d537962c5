//! `wifi-sensing convert DIR_OR_GLOB... -o DATASET_DIR/`: many captures converted in parallel
//! into one Hive-partitioned Parquet dataset.
//!
//! Layout (documented in `docs/parquet.md`):
//!
//! ```text
//! DATASET/frames/node_id=N/date=YYYY-MM-DD/part-<hash>-<k>.parquet
//! DATASET/aux/date=YYYY-MM-DD/part-<hash>-<k>.parquet
//! DATASET/_manifest.jsonl
//! ```
//!
//! `<hash>` is the first 16 hex digits of the source file's XXH3-128 content hash. A file is
//! written under a hidden temporary name and renamed when the whole capture converted, so a
//! reader of the dataset never sees half a file, and a capture that fails leaves nothing. The
//! manifest gets one line per converted capture; a re-run skips captures whose content hash is
//! in it.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use wifi_sensing_core::{Clock, Output, Pipeline, Registry, Sink, Summary};

use crate::columnar::{AuxRows, FileInfo, FrameRows, ParquetTable};
use crate::input::{on_malformed, ReaderFlags};
use crate::Log;

/// Name of the manifest inside the dataset folder.
pub(crate) const MANIFEST: &str = "_manifest.jsonl";
/// Partitions (node, date) one capture keeps open at once; more close the open ones and
/// start new part files.
const MAX_OPEN: usize = 8;
/// Row-group size of dataset files (smaller than single files: several are open per worker).
const ROW_GROUP_BYTES: usize = 8 << 20;

/// Options of batch conversion.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct DatasetArgs {
    /// Dataset conversion: captures converted in parallel (default: one per CPU core).
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Parquet compression: `zstd` (default, level 3), `zstd:LEVEL` (1-22), `lz4`, `snappy` or
    /// `none` (sizes and speeds in docs/parquet.md). Parquet outputs only.
    #[arg(long, value_name = "CODEC", value_parser = crate::values::codec)]
    pub compression: Option<crate::columnar::Codec>,
}

/// `true` when `convert` should build a dataset: several inputs, a folder or glob input, or an
/// output that is a folder (existing, or named with a trailing `/`).
pub(crate) fn wanted(inputs: &[String], output: &str) -> bool {
    output.ends_with('/')
        || output.ends_with(std::path::MAIN_SEPARATOR)
        || Path::new(output).is_dir()
        || inputs.len() > 1
        || inputs.iter().any(|i| Path::new(i).is_dir() || is_glob(i))
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Files a folder walk leaves out: documentation, sidecars and outputs, hidden files.
fn skip_in_walk(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.starts_with('.') || name.starts_with('_') {
        return true;
    }
    let ext = p
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "md" | "txt"
            | "tsv"
            | "json"
            | "parquet"
            | "arrow"
            | "py"
            | "sh"
            | "onnx"
            | "png"
            | "jpg"
            | "jpeg"
            | "svg"
            | "pdf"
            | "ipynb"
            | "html"
            | "toml"
            | "yaml"
            | "yml"
    )
}

/// The files of a folder walk, and what the walk passed over.
#[derive(Debug, Default)]
pub(crate) struct Expanded {
    /// Capture files to convert, each once.
    pub files: Vec<PathBuf>,
    /// Files left out because they lie inside the dataset folder.
    pub inside: Vec<PathBuf>,
    /// Folders not walked again: reached a second time through a symbolic link (a link to a
    /// folder already walked, or a loop such as `ln -s .. loop`).
    pub revisited_dirs: Vec<PathBuf>,
    /// Files named more than once (the same file through several links, paths or inputs).
    pub duplicates: usize,
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// The canonical form of a path, for telling the same file or folder reached two ways apart
/// (the path itself when it cannot be resolved: opening it reports why).
fn identity(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut HashSet<PathBuf>,
    again: &mut Vec<PathBuf>,
) -> Result<()> {
    // a folder is walked once, however many links lead to it: a link loop ends here
    if !seen.insert(identity(dir)) {
        again.push(dir.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                walk(&p, out, seen, again)?;
            }
        } else if !skip_in_walk(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The capture files the inputs name (files as given, folders walked recursively, following
/// symbolic links but never into a folder already walked, globs expanded; each file once), and
/// what was left out.
pub(crate) fn expand(inputs: &[String], dataset: &Path) -> Result<Expanded> {
    let mut files = Vec::new();
    let mut dirs_seen = HashSet::new();
    let mut revisited_dirs = Vec::new();
    for i in inputs {
        let p = Path::new(i);
        if p.is_dir() {
            walk(p, &mut files, &mut dirs_seen, &mut revisited_dirs)?;
        } else if is_glob(i) && !p.exists() {
            let mut n = 0;
            for m in glob::glob(i).with_context(|| format!("bad pattern {i:?}"))? {
                let m = m?;
                if m.is_file() {
                    files.push(m);
                    n += 1;
                }
            }
            if n == 0 {
                bail!("{i:?} matches no file");
            }
        } else {
            files.push(p.to_path_buf());
        }
    }
    // never read the dataset's own files; each file once (its canonical path resolved once),
    // under its own name rather than a link's when both were found
    let ds = std::path::absolute(dataset).unwrap_or_else(|_| dataset.to_path_buf());
    let ds_real = identity(dataset);
    let (mut inside, mut kept) = (Vec::new(), Vec::<PathBuf>::new());
    let mut slot: HashMap<PathBuf, usize> = HashMap::new();
    let mut duplicates = 0;
    for f in files {
        let id = identity(&f);
        if std::path::absolute(&f).is_ok_and(|a| a.starts_with(&ds)) || id.starts_with(&ds_real) {
            inside.push(f);
            continue;
        }
        match slot.get(&id) {
            None => {
                slot.insert(id, kept.len());
                kept.push(f);
            }
            Some(&j) => {
                duplicates += 1;
                if is_link(&kept[j]) && !is_link(&f) {
                    kept[j] = f;
                }
            }
        }
    }
    Ok(Expanded {
        files: kept,
        inside,
        revisited_dirs,
        duplicates,
    })
}

/// What a path is when it is no regular file (`None` for a regular file, or one whose type
/// cannot be read: opening it reports why). A named pipe, socket or device is never read into
/// a dataset: opening a pipe blocks until something writes to it.
fn not_regular(p: &Path) -> Option<&'static str> {
    let t = std::fs::metadata(p).ok()?.file_type();
    if t.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
    }
    Some(if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    })
}

/// XXH3-128 of the file's bytes, as 32 hex digits, and the file's length.
pub(crate) fn content_hash(path: &Path) -> Result<(String, u64)> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((format!("{:032x}", h.digest128()), n))
}

/// One line of the manifest: a capture converted into the dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ManifestEntry {
    /// XXH3-128 of the capture's bytes (32 hex digits).
    pub xxh3_128: String,
    /// The capture's path as given on the command line.
    pub source_file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Capture format detected.
    pub format: String,
    /// Frames written.
    pub frames: u64,
    /// Non-CSI records written.
    pub aux_records: u64,
    /// Malformed records skipped.
    pub malformed: u64,
    /// Where the capture ends inside a record (its complete records were converted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// Part files written, relative to the dataset folder.
    pub parts: Vec<String>,
    /// Writer (`wifi-sensing VERSION`).
    pub writer: String,
}

/// What the manifest knows: the content hashes converted, and the parts of each source path.
#[derive(Default)]
struct Known {
    hashes: HashSet<String>,
    parts_by_source: HashMap<String, Vec<String>>,
}

fn load_manifest(path: &Path, log: &Log) -> Result<Known> {
    let mut set = Known::default();
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(set),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ManifestEntry>(&line) {
            Ok(e) => {
                set.hashes.insert(e.xxh3_128);
                set.parts_by_source
                    .entry(e.source_file)
                    .or_default()
                    .extend(e.parts);
            }
            Err(e) => log.warn(format_args!(
                "{} line {}: not a manifest entry ({e}); ignored",
                path.display(),
                i + 1
            )),
        }
    }
    Ok(set)
}

/// Days since 1970-01-01 as a proleptic Gregorian `(year, month, day)` (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a time in nanoseconds since the Unix epoch.
pub(crate) fn utc_datetime(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000).rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        utc_date(ns),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a time in nanoseconds since the Unix epoch.
pub(crate) fn utc_date(ns: i64) -> String {
    let (y, m, d) = civil_from_days(ns.div_euclid(86_400_000_000_000));
    format!("{y:04}-{m:02}-{d:02}")
}

type PartTable<R> = ParquetTable<R, BufWriter<File>>;

/// A part file being written: the table, its temporary path and its final path.
struct Part<R: crate::columnar::Rows> {
    table: PartTable<R>,
    tmp: PathBuf,
    fin: PathBuf,
}

/// Writes one capture's records into the dataset's partitions.
struct DatasetSink {
    dir: PathBuf,
    hash16: String,
    info: FileInfo,
    /// Date of records whose clock is not the host's: the capture file's modification day.
    fallback_date: String,
    frames: HashMap<(u32, String), Part<FrameRows>>,
    aux: HashMap<String, Part<AuxRows>>,
    /// Next part number per partition folder.
    next_k: HashMap<PathBuf, u32>,
    /// Temporary files finished, with their final names.
    done: Vec<(PathBuf, PathBuf)>,
    frames_written: u64,
    aux_written: u64,
}

impl DatasetSink {
    fn date(&self, clock: Clock, ns: i64) -> String {
        if clock == Clock::Host {
            utc_date(ns)
        } else {
            self.fallback_date.clone()
        }
    }

    fn part<R: crate::columnar::Rows>(
        &mut self,
        folder: PathBuf,
        rows: R,
    ) -> wifi_sensing_core::Result<Part<R>> {
        let io = |e: std::io::Error| wifi_sensing_core::Error::io("cannot write the dataset", e);
        std::fs::create_dir_all(&folder).map_err(io)?;
        let k = self.next_k.entry(folder.clone()).or_insert(0);
        let name = format!("part-{}-{}.parquet", self.hash16, *k);
        *k += 1;
        let tmp = folder.join(format!(".{name}.tmp"));
        let fin = folder.join(name);
        let file = File::create(&tmp).map_err(io)?;
        let table = ParquetTable::new(
            rows,
            BufWriter::with_capacity(1 << 16, file),
            &self.info,
            ROW_GROUP_BYTES,
        )
        .map_err(|e| wifi_sensing_core::Error::Encode(e.to_string()))?;
        Ok(Part { table, tmp, fin })
    }

    fn close_all(&mut self) -> wifi_sensing_core::Result<()> {
        let frames: Vec<_> = self.frames.drain().map(|(_, p)| p).collect();
        for p in frames {
            self.close(p)?;
        }
        let aux: Vec<_> = self.aux.drain().map(|(_, p)| p).collect();
        for p in aux {
            self.close(p)?;
        }
        Ok(())
    }

    fn close<R: crate::columnar::Rows>(&mut self, p: Part<R>) -> wifi_sensing_core::Result<()> {
        // recorded first, so a failure below still removes the temporary file
        self.done.push((p.tmp.clone(), p.fin.clone()));
        let mut w = p.table.finish()?;
        w.flush()
            .map_err(|e| wifi_sensing_core::Error::io("cannot write the dataset", e))
    }

    /// Every temporary file, open or finished (to remove after a failure).
    fn temporaries(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.done.iter().map(|(t, _)| t.clone()).collect();
        v.extend(self.frames.values().map(|p| p.tmp.clone()));
        v.extend(self.aux.values().map(|p| p.tmp.clone()));
        v
    }
}

impl Sink<Output> for DatasetSink {
    fn item(&mut self, item: &Output) -> wifi_sensing_core::Result<bool> {
        match item {
            Output::Frame(f) => {
                let key = (f.node_id, self.date(f.clock, f.timestamp_ns));
                if !self.frames.contains_key(&key) {
                    if self.frames.len() + self.aux.len() >= MAX_OPEN {
                        self.close_all()?;
                    }
                    let folder = self
                        .dir
                        .join("frames")
                        .join(format!("node_id={}", key.0))
                        .join(format!("date={}", key.1));
                    let rows = FrameRows::new(&self.info.source, false);
                    let part = self.part(folder, rows)?;
                    self.frames.insert(key.clone(), part);
                }
                if let Some(p) = self.frames.get_mut(&key) {
                    p.table.rows().push(f);
                    p.table.pushed()?;
                }
                self.frames_written += 1;
            }
            Output::Aux(a) => {
                let key = self.date(a.clock, a.timestamp_ns);
                if !self.aux.contains_key(&key) {
                    if self.frames.len() + self.aux.len() >= MAX_OPEN {
                        self.close_all()?;
                    }
                    let folder = self.dir.join("aux").join(format!("date={key}"));
                    let rows = AuxRows::new(&self.info.source);
                    let part = self.part(folder, rows)?;
                    self.aux.insert(key.clone(), part);
                }
                if let Some(p) = self.aux.get_mut(&key) {
                    p.table.rows().push(a);
                    p.table.pushed()?;
                }
                self.aux_written += 1;
            }
            // `convert` runs no analysers
            Output::Analysis(_) => {}
        }
        Ok(true)
    }

    fn finish(&mut self, _s: &Summary) -> wifi_sensing_core::Result<()> {
        self.close_all()
    }
}

/// What converting one capture gave.
struct Converted {
    entry: ManifestEntry,
    /// The first malformed record's message, when there was one.
    first_issue: Option<String>,
}

/// Settings shared by every capture of a batch.
struct Batch<'a> {
    dir: &'a Path,
    flags: &'a ReaderFlags,
    format: Option<wifi_sensing_core::CaptureFormat>,
    strict: bool,
    codec: crate::columnar::Codec,
}

fn mtime_date(path: &Path) -> String {
    let ns = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    utc_date(ns)
}

fn convert_one(b: &Batch, path: &Path, hash: &str, bytes: u64) -> Result<Converted> {
    let source = path.display().to_string();
    let reg = Registry::builtin().with_options(b.flags.options());
    let mut cap = reg.open_path_as(path, b.format)?;
    let format = cap.format().to_string();
    let mut p = Pipeline::builder()
        .on_malformed(on_malformed(b.strict))
        .emit_frames(true)
        .build()?;
    let mut info = FileInfo::of_process(&source);
    info.config = serde_json::json!({
        "command_line": std::env::args().skip(1).collect::<Vec<_>>(),
        "xxh3_128": hash,
    })
    .to_string();
    info.codec = b.codec;
    info.source_xxh3_128 = Some(hash.to_string());
    let mut sink = DatasetSink {
        dir: b.dir.to_path_buf(),
        hash16: hash[..16].to_string(),
        info,
        fallback_date: mtime_date(path),
        frames: HashMap::new(),
        aux: HashMap::new(),
        next_k: HashMap::new(),
        done: Vec::new(),
        frames_written: 0,
        aux_written: 0,
    };
    // --strict: a capture cut inside a record fails as a whole, like one with a malformed record
    let run = p
        .run_recycling(cap.records(), &mut sink)
        .map_err(anyhow::Error::from)
        .and_then(|s| {
            crate::report::strict_cut(&s, b.strict, "the capture is skipped")?;
            Ok(s)
        });
    let summary = match run {
        Ok(s) => s,
        Err(e) => {
            for t in sink.temporaries() {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
    };
    let mut parts = Vec::new();
    for (tmp, fin) in &sink.done {
        std::fs::rename(tmp, fin).with_context(|| format!("cannot rename {}", tmp.display()))?;
        let rel = fin.strip_prefix(b.dir).unwrap_or(fin);
        parts.push(rel.to_string_lossy().replace('\\', "/"));
    }
    Ok(Converted {
        entry: ManifestEntry {
            xxh3_128: hash.to_string(),
            source_file: source,
            bytes,
            format,
            frames: sink.frames_written,
            aux_records: sink.aux_written,
            malformed: summary.malformed,
            truncated: summary.truncated.as_ref().map(|t| t.message.clone()),
            parts,
            writer: format!("wifi-sensing {}", env!("CARGO_PKG_VERSION")),
        },
        first_issue: summary.issues.first().map(|i| i.message.clone()),
    })
}

/// `wifi-sensing convert INPUTS... -o DATASET/`.
pub(crate) fn main(
    inputs: &[String],
    output: &str,
    flags: &ReaderFlags,
    format: Option<wifi_sensing_core::CaptureFormat>,
    strict: bool,
    args: &DatasetArgs,
    log: &Log,
) -> Result<()> {
    let dir = Path::new(output);
    let folder = output.ends_with('/') || output.ends_with(std::path::MAIN_SEPARATOR);
    if !folder && !dir.is_dir() {
        // `-o one.csirec` with several inputs: a file was meant, a dataset folder would be made
        crate::usage!(
            "several inputs, a folder or a glob pattern make a Parquet dataset, written to a folder: \
             -o {output} names {}; give a folder (-o DIR/), or convert one capture at a time",
            if output == "-" { "stdout".to_string() } else if dir.exists() { "an existing file".to_string() } else { "a file".to_string() }
        );
    }
    if let Some(live) = inputs.iter().find(|i| {
        !matches!(
            crate::input::InputSpec::parse(i),
            Ok(crate::input::InputSpec::File(_))
        )
    }) {
        // checked before the folder is made: nothing is left behind
        crate::usage!(
            "a dataset is made from capture files, not from {live:?}: convert it to one file first \
             (`wifi-sensing convert {live} -o capture.csirec`), then add that file to the dataset"
        );
    }
    let existed = dir.exists();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {output}"))?;
    let Expanded {
        files,
        inside,
        revisited_dirs,
        duplicates,
    } = expand(inputs, dir).inspect_err(|_| {
        // a pattern that matches nothing leaves no empty folder behind (remove_dir removes
        // only an empty one)
        if !existed {
            let _ = std::fs::remove_dir(dir);
        }
    })?;
    let inside_names = || {
        let mut v: Vec<String> = inside
            .iter()
            .take(3)
            .map(|f| f.display().to_string())
            .collect();
        if inside.len() > 3 {
            v.push(format!("... ({} files)", inside.len()));
        }
        v.join(", ")
    };
    if files.is_empty() && !inside.is_empty() {
        bail!(
            "no capture to convert: {} {} inside the output folder {output}, whose files are \
             left out as part of the dataset; write the dataset to a folder that holds no input \
             (e.g. -o dataset/)",
            inside_names(),
            if inside.len() == 1 { "lies" } else { "lie" }
        );
    }
    if files.is_empty() {
        bail!("no capture files found in {}", inputs.join(" "));
    }
    if let Some(first) = revisited_dirs.first() {
        log.warn(format_args!(
            "{} {} not walked again: reached a second time through a symbolic link (first: {})",
            revisited_dirs.len(),
            if revisited_dirs.len() == 1 {
                "folder"
            } else {
                "folders"
            },
            first.display()
        ));
    }
    if duplicates > 0 {
        log.info(format_args!(
            "{duplicates} {} named more than once (through links, paths or inputs): each converted once",
            if duplicates == 1 { "file" } else { "files" }
        ));
    }
    if !inside.is_empty() {
        log.warn(format_args!(
            "{} left out: inside the output folder {output}, whose files are part of the dataset",
            inside_names()
        ));
    }
    let manifest_path = dir.join(MANIFEST);
    // one writer at a time: a second `convert` into the same folder would convert the same
    // captures again and append them to the manifest twice
    let manifest_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&manifest_path)
        .with_context(|| format!("cannot open {}", manifest_path.display()))?;
    match manifest_file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `wifi-sensing convert` is writing to the dataset {output} (it holds a lock \
             on {MANIFEST}); wait for it to finish, then run this one: captures it converted are \
             skipped"
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            // a file system without locks: go on without one
            log.info(format_args!(
                "cannot lock {} ({e}); do not run two conversions into this folder at once",
                manifest_path.display()
            ));
        }
    }
    let known = load_manifest(&manifest_path, log)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.map_or(0, usize::from))
        .build()
        .context("cannot start the worker threads")?;
    let started = Instant::now();
    let mut failed = 0usize;
    // a named pipe would block the hashing below until something writes to it
    let (special, regular): (Vec<&PathBuf>, Vec<&PathBuf>) =
        files.iter().partition(|f| not_regular(f).is_some());
    for f in special {
        failed += 1;
        log.warn(format_args!(
            "{}: skipped: {}, not a capture file",
            f.display(),
            not_regular(f).unwrap_or("not a regular file")
        ));
    }
    let hashed: Vec<(PathBuf, Result<(String, u64)>)> = pool.install(|| {
        regular
            .par_iter()
            .map(|f| ((*f).clone(), content_hash(f)))
            .collect()
    });
    let mut skipped = 0usize;
    let mut todo = Vec::new();
    let mut this_run = HashSet::new();
    for (f, h) in hashed {
        match h {
            Err(e) => {
                failed += 1;
                log.warn(format_args!("{}: skipped: {e:#}", f.display()));
            }
            Ok((h, _)) if known.hashes.contains(&h) => skipped += 1,
            Ok((h, n)) => {
                if let Some(old) = known.parts_by_source.get(&f.display().to_string()) {
                    log.warn(format_args!(
                        "{}: converted before with other content; converted again, and the {} \
                         earlier part file(s) stay (delete them by the manifest's parts if the \
                         old version is not wanted: {})",
                        f.display(),
                        old.len(),
                        old.join(", ")
                    ));
                }
                if this_run.insert(h.clone()) {
                    todo.push((f, h, n));
                } else {
                    log.info(format_args!(
                        "{}: same content as another input; converted once",
                        f.display()
                    ));
                    skipped += 1;
                }
            }
        }
    }
    let manifest = Mutex::new(manifest_file);
    let batch = Batch {
        dir,
        flags,
        format,
        strict,
        codec: args.compression.unwrap_or_default(),
    };
    let results: Vec<Result<ManifestEntry>> = pool.install(|| {
        todo.par_iter()
            .map(|(f, h, n)| {
                let r = convert_one(&batch, f, h, *n).map(|c| {
                    // what a single-file conversion says about a damaged capture, said here too
                    if let Some(first) = &c.first_issue {
                        log.warn(format_args!(
                            "{}: {} malformed record(s) skipped; the first: {first}",
                            f.display(),
                            c.entry.malformed
                        ));
                    }
                    if let Some(t) = &c.entry.truncated {
                        log.warn(format_args!(
                            "{}: input ends inside a record: {t}",
                            f.display()
                        ));
                    }
                    c.entry
                });
                match &r {
                    Ok(e) => {
                        let mut line = serde_json::to_string(e)?;
                        line.push('\n');
                        let mut m = manifest
                            .lock()
                            .map_err(|_| anyhow::anyhow!("manifest lock poisoned"))?;
                        m.write_all(line.as_bytes())
                            .and_then(|()| m.flush())
                            .with_context(|| format!("cannot write {}", manifest_path.display()))?;
                        log.info(format_args!(
                            "{}: {} frames, {} non-CSI records -> {} part file(s)",
                            f.display(),
                            e.frames,
                            e.aux_records,
                            e.parts.len()
                        ));
                    }
                    Err(e) => log.warn(format_args!("{}: skipped: {e:#}", f.display())),
                }
                r
            })
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let ok: Vec<&ManifestEntry> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    failed += results.len() - ok.len();
    let bytes: u64 = ok.iter().map(|e| e.bytes).sum();
    let frames: u64 = ok.iter().map(|e| e.frames).sum();
    log.info(format_args!(
        "dataset {output}: {} {} converted ({frames} frames, {:.1} MB in {secs:.2} s, {:.1} MB/s, {} thread{}), {skipped} already converted, {failed} failed",
        ok.len(),
        if ok.len() == 1 { "capture" } else { "captures" },
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs.max(1e-9),
        pool.current_num_threads(),
        if pool.current_num_threads() == 1 { "" } else { "s" }
    ));
    if failed > 0 {
        let rest = if failed == files.len() {
            "none is in the dataset"
        } else {
            "the others are in the dataset"
        };
        bail!(
            "{failed} of {} input files could not be converted (see the warnings above); {rest}",
            files.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_590_158_472 * 1_000_000_000), "2020-05-22");
        assert_eq!(utc_date(951_782_400 * 1_000_000_000), "2000-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
        // the extremes of i64 do not panic
        let _ = utc_date(i64::MIN);
        let _ = utc_date(i64::MAX);
    }

    #[test]
    fn dataset_mode() {
        assert!(wanted(&["a.dat".into()], "out/"));
        assert!(wanted(&["a.dat".into(), "b.dat".into()], "out"));
        assert!(wanted(&["caps/*.dat".into()], "out"));
        assert!(!wanted(&["a.dat".into()], "out.parquet"));
    }
}
