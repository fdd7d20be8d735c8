//! `results.parquet` (cargo feature `parquet`): the same table as `results.csv`, with the manifest's
//! column types (Int64, Float64, Utf8; empty cells are nulls), Snappy-compressed, one row group.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::table::{Column, ColumnType};
use crate::error::WankaError;

fn err(e: impl std::fmt::Display) -> WankaError {
    WankaError::Io { path: "results.parquet".into(), reason: e.to_string() }
}

/// The Parquet bytes of a table.
pub fn render(cols: &[Column], rows: &[&Vec<String>]) -> Result<Vec<u8>, WankaError> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|c| {
            let ty = match c.ty {
                ColumnType::Int => DataType::Int64,
                ColumnType::Float => DataType::Float64,
                ColumnType::Str => DataType::Utf8,
            };
            Field::new(&c.name, ty, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| -> ArrayRef {
            match c.ty {
                ColumnType::Int => Arc::new(Int64Array::from(rows.iter().map(|r| r[i].parse::<i64>().ok()).collect::<Vec<_>>())),
                ColumnType::Float => Arc::new(Float64Array::from(rows.iter().map(|r| r[i].parse::<f64>().ok()).collect::<Vec<_>>())),
                ColumnType::Str => {
                    Arc::new(StringArray::from(rows.iter().map(|r| (!r[i].is_empty()).then_some(r[i].as_str())).collect::<Vec<_>>()))
                }
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(err)?;
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).map_err(err)?;
    w.write(&batch).map_err(err)?;
    w.close().map_err(err)?;
    Ok(buf)
}
