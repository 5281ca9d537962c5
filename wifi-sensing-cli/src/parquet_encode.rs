//! A Parquet table encoder that spreads the columns of each record batch over two threads.
//!
//! [`Encoder`] writes exactly what arrow's [`ArrowWriter`] writes for the same batches (the same
//! row groups, pages and bytes): it starts from an `ArrowWriter` (which sets up the file, its
//! schema and metadata) and, in parallel mode, takes over its row-group logic, encoding each
//! batch's leaf columns with [`ArrowColumnWriter`]s split into two groups of about equal size,
//! one on a scoped helper thread. A test compares the bytes with `ArrowWriter`'s.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::errors::Result;
use parquet::file::writer::SerializedFileWriter;

/// Encodes record batches into one Parquet file, on one thread or two.
pub(crate) enum Encoder<W: Write + Send> {
    /// Arrow's writer, on the calling thread.
    Serial(ArrowWriter<W>),
    /// The columns of each batch on two threads.
    Parallel(ParallelWriter<W>),
}

impl<W: Write + Send> Encoder<W> {
    /// `writer` (made for `schema`) as it is (`parallel` false), or taken over by a
    /// [`ParallelWriter`]. Call before the first batch.
    pub(crate) fn new(writer: ArrowWriter<W>, schema: SchemaRef, parallel: bool) -> Result<Self> {
        if !parallel {
            return Ok(Encoder::Serial(writer));
        }
        let (file, factory) = writer.into_serialized_writer()?;
        let props = file.properties();
        let (max_rows, max_bytes) = (props.max_row_group_row_count(), props.max_row_group_bytes());
        Ok(Encoder::Parallel(ParallelWriter {
            file,
            factory,
            schema,
            max_rows,
            max_bytes,
            in_progress: None,
        }))
    }

    /// Encodes `batch` (row groups close as [`ArrowWriter::write`] closes them).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Encoder::Serial(w) => w.write(batch),
            Encoder::Parallel(w) => w.write(batch),
        }
    }

    /// Writes the last row group and the footer; returns the output.
    pub(crate) fn into_inner(self) -> Result<W> {
        match self {
            Encoder::Serial(w) => w.into_inner(),
            Encoder::Parallel(w) => w.into_inner(),
        }
    }
}

/// The row group being filled: one writer per leaf column, and its rows.
struct RowGroup {
    writers: Vec<ArrowColumnWriter>,
    rows: usize,
}

impl RowGroup {
    fn estimated_bytes(&self) -> usize {
        self.writers
            .iter()
            .map(ArrowColumnWriter::get_estimated_total_bytes)
            .sum()
    }
}

/// [`ArrowWriter`]'s row-group logic over column writers that encode on two threads.
pub(crate) struct ParallelWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_rows: Option<usize>,
    max_bytes: Option<usize>,
    in_progress: Option<RowGroup>,
}

impl<W: Write + Send> ParallelWriter<W> {
    /// [`ArrowWriter::write`], step for step: the same splits of `batch` and the same flushes.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let rg = match &mut self.in_progress {
            Some(rg) => rg,
            none => none.insert(RowGroup {
                writers: self
                    .factory
                    .create_column_writers(self.file.flushed_row_groups().len())?,
                rows: 0,
            }),
        };
        if let Some(max) = self.max_rows {
            if rg.rows + n > max {
                let head = max - rg.rows;
                self.write(&batch.slice(0, head))?;
                return self.write(&batch.slice(head, n - head));
            }
        }
        if let Some(max) = self.max_bytes {
            if rg.rows > 0 {
                let current = rg.estimated_bytes();
                if current >= max {
                    self.flush()?;
                    return self.write(batch);
                }
                if let Some(avg) = current.checked_div(rg.rows).filter(|a| *a > 0) {
                    let fit = (max - current).checked_div(avg).unwrap_or(0);
                    if n > fit {
                        if fit > 0 {
                            self.write(&batch.slice(0, fit))?;
                            return self.write(&batch.slice(fit, n - fit));
                        }
                        self.flush()?;
                        return self.write(batch);
                    }
                }
            }
        }
        rg.rows += n;
        let mut leaves = Vec::with_capacity(rg.writers.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            let weight = column.get_array_memory_size();
            let of_field = compute_leaves(field.as_ref(), column)?;
            let per_leaf = weight / of_field.len().max(1);
            leaves.extend(of_field.into_iter().map(|l| (per_leaf, l)));
        }
        encode_in_two(&mut rg.writers, leaves)?;
        let full = self.max_rows.is_some_and(|m| rg.rows >= m)
            || self.max_bytes.is_some_and(|m| rg.estimated_bytes() >= m);
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// [`ArrowWriter::flush`]: the row group being filled, written out.
    fn flush(&mut self) -> Result<()> {
        let Some(rg) = self.in_progress.take() else {
            return Ok(());
        };
        let chunks = rg
            .writers
            .into_iter()
            .map(ArrowColumnWriter::close)
            .collect::<Result<Vec<_>>>()?;
        let mut out = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut out)?;
        }
        out.close()?;
        Ok(())
    }

    fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.file.into_inner()
    }
}

/// Writes leaf `i` of `leaves` (with its weight, the memory of its column) into `writers[i]`:
/// the leaves split into two groups of about equal weight, the heavier leaves placed first,
/// one group on a scoped helper thread.
fn encode_in_two(
    writers: &mut [ArrowColumnWriter],
    leaves: Vec<(usize, ArrowLeafColumn)>,
) -> Result<()> {
    let mut jobs: Vec<(usize, &mut ArrowColumnWriter, ArrowLeafColumn)> = writers
        .iter_mut()
        .zip(leaves)
        .map(|(w, (weight, leaf))| (weight, w, leaf))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let (mut mine_weight, mut their_weight) = (0usize, 0usize);
    for job in jobs {
        if mine_weight <= their_weight {
            mine_weight += job.0;
            mine.push(job);
        } else {
            their_weight += job.0;
            theirs.push(job);
        }
    }
    let encode = |group: Vec<(usize, &mut ArrowColumnWriter, ArrowLeafColumn)>| {
        group
            .into_iter()
            .try_for_each(|(_, w, leaf)| w.write(&leaf))
    };
    std::thread::scope(|s| {
        // a main thread's stack: the column encoders and zstd take more than a spawned
        // thread's default 2 MiB in unoptimised builds
        let helper = std::thread::Builder::new()
            .name("parquet-encode".into())
            .stack_size(8 << 20)
            .spawn_scoped(s, || encode(theirs))
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
        let here = encode(mine);
        let there = match helper.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        here.and(there)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder};
    use arrow_array::{ArrayRef, Int64Array};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A batch of `n` rows (from row `start`): an integer, a text and a list of floats of
    /// varying length, so that rows differ in size.
    fn batch(schema: &SchemaRef, start: usize, n: usize) -> RecordBatch {
        let ints: Int64Array = (start..start + n).map(|i| i as i64 * 7).collect();
        let mut text = StringBuilder::new();
        let mut lists = ListBuilder::new(Float32Builder::new());
        for i in start..start + n {
            text.append_value(format!("row {i} {}", "x".repeat(i % 17)));
            for k in 0..(i * 13 % 97) {
                lists.values().append_value((i * k) as f32 * 0.25);
            }
            lists.append(i % 5 != 0);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(ints),
            Arc::new(text.finish()),
            Arc::new(lists.finish()),
        ];
        RecordBatch::try_new(schema.clone(), cols).unwrap()
    }

    /// The bytes of a file of `sizes` batches written serially or in parallel.
    fn file(parallel: bool, sizes: &[usize], rows: Option<usize>, bytes: Option<usize>) -> Vec<u8> {
        let item = Field::new("item", DataType::Float32, true);
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, false),
            Field::new("t", DataType::Utf8, false),
            Field::new("v", DataType::List(Arc::new(item)), true),
        ]));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
            .set_max_row_group_row_count(rows)
            .set_max_row_group_bytes(bytes)
            .set_data_page_row_count_limit(50)
            .build();
        let w = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).unwrap();
        let mut enc = Encoder::new(w, schema.clone(), parallel).unwrap();
        let mut start = 0;
        for &n in sizes {
            enc.write(&batch(&schema, start, n)).unwrap();
            start += n;
        }
        enc.into_inner().unwrap()
    }

    #[test]
    fn parallel_encoding_writes_arrows_bytes() {
        // on a thread with a main thread's stack, as the CLI encodes: a test thread's 2 MiB
        // overflow in the unoptimised encoders
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(parallel_encoding_writes_arrows_bytes_body)
            .unwrap()
            .join()
            .unwrap();
    }

    fn parallel_encoding_writes_arrows_bytes_body() {
        let sizes = [0, 1, 300, 7, 1000, 250, 0, 640, 3];
        for (rows, bytes) in [
            (None, None),
            (Some(256), None),
            (None, Some(20_000)),
            (Some(700), Some(60_000)),
            (Some(1), None),
        ] {
            let serial = file(false, &sizes, rows, bytes);
            let parallel = file(true, &sizes, rows, bytes);
            assert!(serial.len() > 1000);
            assert!(serial == parallel, "rows {rows:?}, bytes {bytes:?}");
        }
        // the limits above do split the file into row groups
        let path = std::env::temp_dir().join(format!("ws-encode-{}.parquet", std::process::id()));
        let meta = |b: Vec<u8>| {
            use parquet::file::reader::FileReader;
            std::fs::write(&path, b).unwrap();
            let f = std::fs::File::open(&path).unwrap();
            let groups = parquet::file::reader::SerializedFileReader::new(f)
                .unwrap()
                .metadata()
                .num_row_groups();
            std::fs::remove_file(&path).unwrap();
            groups
        };
        assert_eq!(meta(file(true, &sizes, None, None)), 1);
        assert!(meta(file(true, &sizes, None, Some(20_000))) > 3);
        assert_eq!(meta(file(true, &sizes, Some(256), None)), 9);
    }
}
