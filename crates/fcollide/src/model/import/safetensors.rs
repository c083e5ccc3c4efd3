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
    if bytes.len() < 10 {
        return false;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(a);
    bytes[8] == b'{' && n >= 2 && n <= (bytes.len() - 8) as u64
}

/// Reads every tensor of safetensors `bytes`.
pub fn read_safetensors(bytes: &[u8], path: &str) -> Result<TensorMap, ImportError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ImportError::corrupt(path, FORMAT, e.to_string()))?;
    let mut out = TensorMap::new();
    for (name, view) in st.tensors() {
        let dt = dtype(view.dtype()).ok_or_else(|| ImportError::Dtype {
            path: path.into(),
            key: name.clone(),
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
            &name,
            FORMAT,
        )?;
        out.insert(name, t);
    }
    Ok(out)
}

/// Memory-maps a file; the map is read-only and dropped when the caller is done.
pub fn map_file(path: &Path) -> Result<memmap2::Mmap, ImportError> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    // SAFETY: read-only map; a file truncated by another process while mapped is outside
    // what we guard against (as in `model::io::load`).
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| ImportError::io(path, e))
}

/// Reads every tensor of a safetensors file (memory-mapped).
pub fn load_safetensors(path: &Path) -> Result<TensorMap, ImportError> {
    let map = map_file(path)?;
    read_safetensors(&map, &path.display().to_string())
}
