//! Any safetensors file (PyTorch key names, any float dtype), memory-mapped.
use super::tensors::{contiguous_strides, decode_strided, DType, TensorMap, CONVERTIBLE};
use super::ImportError;
use ::safetensors::tensor::{Dtype, SafeTensors};
use std::path::Path;

const FORMAT: &str = "safetensors";

fn dtype(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::I8 => DType::I8,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        _ => return None,
    })
}

/// Whether `bytes` start like a safetensors file: an 8-byte little-endian header length
/// that fits in the file, then `{`.
pub fn looks_like_safetensors(bytes: &[u8]) -> bool {
    match (crate::bytes::le_u64(bytes, 0), bytes.get(8)) {
        (Some(n), Some(b'{')) => n >= 2 && n <= (bytes.len() - 8) as u64,
        _ => false,
    }
}

/// Checks the JSON header's declared length against `max_text_bytes` before it is parsed.
fn check_header(bytes: &[u8], path: &str) -> Result<(), ImportError> {
    if let Some(n) = crate::bytes::le_u64(bytes, 0) {
        crate::limits::check(
            "the safetensors JSON header",
            n,
            "max_text_bytes",
            crate::limits::current().max_text_bytes,
        )
        .map_err(|source| ImportError::Limit {
            path: path.into(),
            source,
        })?;
    }
    Ok(())
}

/// Reads every tensor of safetensors `bytes`, in the order of their data in the file.
pub fn read_safetensors(bytes: &[u8], path: &str) -> Result<TensorMap, ImportError> {
    check_header(bytes, path)?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ImportError::corrupt(path, FORMAT, e.to_string()))?;
    let mut out = TensorMap::new();
    let mut views = st.tensors();
    // The file's order: by data offset (then name, for empty tensors sharing an offset).
    views.sort_by(|(a, va), (b, vb)| {
        (va.data().as_ptr() as usize, a).cmp(&(vb.data().as_ptr() as usize, b))
    });
    for (name, view) in views {
        let dt = dtype(view.dtype()).ok_or_else(|| ImportError::Dtype {
            path: path.into(),
            key: super::pickle::short(&name),
            dtype: format!("{:?}", view.dtype()),
            expected: CONVERTIBLE,
        })?;
        let shape = view.shape().to_vec();
        let t = decode_strided(
            view.data(),
            dt,
            &shape,
            &contiguous_strides(&shape),
            0,
            path,
            &super::pickle::short(&name),
            FORMAT,
        )?;
        out.insert_new(name, t, path, FORMAT)?;
    }
    Ok(out)
}

/// Memory-maps a regular file ([`crate::fsutil::map_regular`]: FIFOs, devices and
/// directories are refused); the map is read-only and dropped when the caller is done.
pub fn map_file(path: &Path) -> Result<memmap2::Mmap, ImportError> {
    crate::fsutil::map_regular(path).map_err(|e| ImportError::io(path, e))
}

/// Reads every tensor of a safetensors file (memory-mapped).
pub fn load_safetensors(path: &Path) -> Result<TensorMap, ImportError> {
    let map = map_file(path)?;
    read_safetensors(&map, &path.display().to_string())
}
