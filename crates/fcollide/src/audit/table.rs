//! The table files: `audit.csv` and `audit.parquet`, written from and read back into
//! [`AuditRow`]s, with the same columns ([`COLUMNS`]) in the same order.
//!
//! - CSV (RFC 4180): a header of the column names, `\n` line ends, a null as an empty
//!   field, floats in Rust's shortest round-trip form (so a value reads back bit for bit;
//!   `NaN`, `inf`), text quoted when it holds `,`, `"` or a line break (or is empty).
//! - Parquet: one row group written by the `parquet` crate's `ArrowWriter` from arrow arrays
//!   (`Int64`, `Float64`, `Utf8`; the nullable columns nullable), uncompressed, so pandas,
//!   polars, pyarrow and DuckDB read it. The bytes depend only on the rows.
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::error::AuditError;
use super::row::{AuditRow, Kind, Value, COLUMNS};

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.is_empty() {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Int(x) => x.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Text(s) => quote(s),
        Value::Null => String::new(),
    }
}

/// The CSV text of `rows`.
pub fn to_csv(rows: &[AuditRow]) -> String {
    let mut out = COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r.values().iter().map(cell).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Splits CSV text into records of fields; a field is `None` when empty and unquoted.
fn records(text: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut out = Vec::new();
    let mut rec: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut at_start) = (false, false, true);
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let finish = |field: &mut String, quoted: &mut bool, rec: &mut Vec<Option<String>>| {
        let f = std::mem::take(field);
        rec.push(if f.is_empty() && !*quoted {
            None
        } else {
            Some(f)
        });
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                quoted = true;
                in_quotes = true;
            }
            '"' => return Err(format!("line {line}: a quote inside an unquoted field")),
            ',' => finish(&mut field, &mut quoted, &mut rec),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                finish(&mut field, &mut quoted, &mut rec);
                out.push(std::mem::take(&mut rec));
                line += 1;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if in_quotes {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !at_start && (!field.is_empty() || quoted || !rec.is_empty()) {
        finish(&mut field, &mut quoted, &mut rec);
        out.push(rec);
    }
    Ok(out)
}

fn parse_cell(s: Option<String>, kind: Kind) -> Result<Value, String> {
    let Some(s) = s else {
        return Ok(Value::Null);
    };
    Ok(match kind {
        Kind::Int => Value::Int(s.parse().map_err(|_| format!("'{s}' is not an integer"))?),
        Kind::Float => Value::Float(s.parse().map_err(|_| format!("'{s}' is not a number"))?),
        Kind::Text => Value::Text(s),
    })
}

/// Rows from CSV text (the header must name exactly the [`COLUMNS`], in order).
pub fn from_csv(text: &str) -> Result<Vec<AuditRow>, String> {
    let mut recs = records(text)?.into_iter();
    let header = recs.next().ok_or("empty file: no header")?;
    let names: Vec<String> = header.into_iter().map(Option::unwrap_or_default).collect();
    let want: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    if names != want {
        return Err(format!(
            "header is [{}], expected [{}]",
            names.join(","),
            want.join(",")
        ));
    }
    recs.enumerate()
        .map(|(i, rec)| {
            if rec.len() != COLUMNS.len() {
                return Err(format!(
                    "record {}: {} fields, expected {}",
                    i + 1,
                    rec.len(),
                    COLUMNS.len()
                ));
            }
            let values = rec
                .into_iter()
                .zip(COLUMNS.iter())
                .map(|(s, c)| {
                    parse_cell(s, c.kind).map_err(|e| format!("column `{}`: {e}", c.name))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("record {}: {e}", i + 1))?;
            AuditRow::from_values(&values).map_err(|e| format!("record {}: {e}", i + 1))
        })
        .collect()
}

/// Reads the rows of an audit CSV file.
pub fn read_csv(path: &Path) -> Result<Vec<AuditRow>, AuditError> {
    let text = crate::fsutil::read_text(path).map_err(|e| AuditError::file(path, e))?;
    from_csv(&text).map_err(|e| AuditError::file(path, e))
}

/// The arrow schema of [`COLUMNS`].
pub fn schema() -> Schema {
    Schema::new(
        COLUMNS
            .iter()
            .map(|c| {
                let ty = match c.kind {
                    Kind::Int => DataType::Int64,
                    Kind::Float => DataType::Float64,
                    Kind::Text => DataType::Utf8,
                };
                Field::new(c.name, ty, c.nullable)
            })
            .collect::<Vec<_>>(),
    )
}

/// The Parquet bytes of `rows`.
pub fn to_parquet(rows: &[AuditRow]) -> Result<Vec<u8>, String> {
    let cells: Vec<Vec<Value>> = rows.iter().map(AuditRow::values).collect();
    let columns: Vec<ArrayRef> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| -> ArrayRef {
            let cell = cells.iter().map(move |r| &r[i]);
            match c.kind {
                Kind::Int => Arc::new(
                    cell.map(|v| match v {
                        Value::Int(x) => Some(*x),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
                ),
                Kind::Float => Arc::new(
                    cell.map(|v| match v {
                        Value::Float(x) => Some(*x),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
                ),
                Kind::Text => Arc::new(
                    cell.map(|v| match v {
                        Value::Text(x) => Some(x.as_str()),
                        _ => None,
                    })
                    .collect::<StringArray>(),
                ),
            }
        })
        .collect();
    let schema = Arc::new(schema());
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let props = WriterProperties::builder()
        .set_created_by(format!("fcollide {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Reads the rows of an audit Parquet file (its columns must be exactly [`COLUMNS`]).
pub fn read_parquet(path: &Path) -> Result<Vec<AuditRow>, AuditError> {
    let err = |e: String| AuditError::file(path, e);
    let file = crate::fsutil::open_regular(path).map_err(|e| err(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| err(format!("not a readable Parquet file ({e})")))?;
    let want = schema();
    let got = reader.schema().clone();
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if names(&got) != names(&want) {
        return Err(err(format!(
            "columns are [{}], expected the audit columns [{}]",
            names(&got),
            names(&want)
        )));
    }
    let reader = reader.build().map_err(|e| err(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        for j in 0..batch.num_rows() {
            let cells: Vec<Value> = COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let a = batch.column(i);
                    if a.is_null(j) {
                        return Value::Null;
                    }
                    let any = a.as_any();
                    match c.kind {
                        Kind::Int => any
                            .downcast_ref::<Int64Array>()
                            .map_or(Value::Null, |a| Value::Int(a.value(j))),
                        Kind::Float => any
                            .downcast_ref::<Float64Array>()
                            .map_or(Value::Null, |a| Value::Float(a.value(j))),
                        Kind::Text => any
                            .downcast_ref::<StringArray>()
                            .map_or(Value::Null, |a| Value::Text(a.value(j).to_string())),
                    }
                })
                .collect();
            let row = AuditRow::from_values(&cells)
                .map_err(|e| err(format!("row {}: {e}", rows.len())))?;
            rows.push(row);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::row::tests::sample_row;

    fn rows() -> Vec<AuditRow> {
        let a = AuditRow {
            index: 0,
            label: 1,
            predicted: 1,
            confidence: 0.1 + 0.2,
            loss: 1e-300,
            margin: -0.0,
            n_plus: Some(3),
            error: Some("a, \"b\"\nc".into()),
            ..Default::default()
        };
        let b = AuditRow {
            index: 1,
            mean_extent: Some(f64::INFINITY),
            chebyshev_radius: Some(f64::NAN),
            error: Some(String::new()),
            ..a.clone()
        };
        vec![a, b, sample_row(2)]
    }

    #[test]
    fn csv_round_trips_bit_for_bit() {
        let r = rows();
        let text = to_csv(&r);
        assert!(text.starts_with("index,label,predicted,confidence,loss,margin,n_plus,"));
        let back = from_csv(&text).unwrap();
        assert_eq!(back[0], r[0]);
        assert_eq!(back[2], r[2]);
        assert_eq!(back[1].mean_extent, Some(f64::INFINITY));
        assert!(back[1].chebyshev_radius.unwrap().is_nan());
        assert_eq!(back[1].error.as_deref(), Some(""));
        assert_eq!(to_csv(&back), text);
        assert_eq!(back[0].confidence.to_bits(), (0.1f64 + 0.2).to_bits());
        assert_eq!(back[0].margin.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn malformed_csv_is_named() {
        assert!(from_csv("").unwrap_err().contains("no header"));
        assert!(from_csv("a,b\n").unwrap_err().contains("header is [a,b]"));
        let text = to_csv(&rows());
        let cut = &text[..text.len() - 30];
        assert!(from_csv(cut).is_err());
        let bad = text.replacen("\n0,1,1,", "\nx,1,1,", 1);
        let e = from_csv(&bad).unwrap_err();
        assert!(e.contains("column `index`"), "{e}");
    }

    #[test]
    fn parquet_round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let r = rows();
        let p = dir.path().join("a.parquet");
        let bytes = to_parquet(&r).unwrap();
        assert_eq!(bytes, to_parquet(&r).unwrap());
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        std::fs::write(&p, &bytes).unwrap();
        let back = read_parquet(&p).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], r[0]);
        assert_eq!(back[2], r[2]);
        assert!(back[1].chebyshev_radius.unwrap().is_nan());
        std::fs::write(&p, b"PAR1 not really").unwrap();
        let e = read_parquet(&p).unwrap_err().to_string();
        assert!(
            e.contains("a.parquet") && e.contains("not a readable Parquet file"),
            "{e}"
        );
        std::fs::write(&p, to_parquet(&[]).unwrap()).unwrap();
        assert!(read_parquet(&p).unwrap().is_empty());
    }
}
