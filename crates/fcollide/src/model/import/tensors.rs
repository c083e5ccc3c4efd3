//! The common form every reader produces: named f32 tensors, row-major (C order).
use super::ImportError;
use std::collections::BTreeMap;

/// A dense row-major f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// Dimensions, outermost first (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in row-major order.
    pub data: Vec<f32>,
}

/// Tensors by name (PyTorch-style dotted keys, or whatever the file uses).
pub type TensorMap = BTreeMap<String, RawTensor>;

/// Element types found in weight files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

/// The dtypes that convert to f32, for messages.
pub const CONVERTIBLE: &str =
    "float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool";

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// Decodes one little-endian element (`b.len() == self.size()`).
    fn decode(self, b: &[u8]) -> f32 {
        match self {
            DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            DType::F64 => {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            DType::I64 => {
                i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            DType::F16 => f16_to_f32(u16::from_le_bytes([b[0], b[1]])),
            DType::BF16 => f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16),
            DType::I16 => i16::from_le_bytes([b[0], b[1]]) as f32,
            DType::I8 => b[0] as i8 as f32,
            DType::U8 | DType::Bool => b[0] as f32,
        }
    }
}

/// IEEE half precision to f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) & 1) as u32;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if man == 0 {
            sign << 31
        } else {
            // Subnormal: value = man · 2^-24.
            let v = man as f32 * (1.0 / 16_777_216.0);
            return if sign == 1 { -v } else { v };
        }
    } else if exp == 0x1f {
        (sign << 31) | 0x7f80_0000 | (man << 13)
    } else {
        (sign << 31) | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// Number of elements of `shape`, or `None` on overflow.
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Row-major (C-order) strides of `shape`, in elements.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// Copies a strided view of little-endian `bytes` (element `offset`, element `strides`) into a
/// contiguous f32 tensor, checking every index stays inside `bytes`.
#[allow(clippy::too_many_arguments)]
pub fn decode_strided(
    bytes: &[u8],
    dtype: DType,
    shape: &[usize],
    strides: &[usize],
    offset: usize,
    path: &str,
    key: &str,
    format: &'static str,
) -> Result<RawTensor, ImportError> {
    let bad = |msg: String| ImportError::corrupt(path, format, format!("tensor '{key}': {msg}"));
    if strides.len() != shape.len() {
        return Err(bad(format!(
            "shape {shape:?} and strides {strides:?} differ in rank"
        )));
    }
    let n = numel(shape).ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let esz = dtype.size();
    let avail = bytes.len() / esz;
    if n > 0 {
        // Largest element index touched.
        let mut last = offset;
        for (d, s) in shape.iter().zip(strides) {
            last = (d - 1)
                .checked_mul(*s)
                .and_then(|v| v.checked_add(last))
                .ok_or_else(|| bad("strides overflow".into()))?;
        }
        if last >= avail {
            return Err(bad(format!(
                "shape {shape:?} (strides {strides:?}, offset {offset}) needs {} elements, storage has {avail}",
                last + 1
            )));
        }
    }
    let mut data = Vec::with_capacity(n);
    if n > 0 && strides == contiguous_strides(shape).as_slice() {
        let start = offset * esz;
        data.extend(
            bytes[start..start + n * esz]
                .chunks_exact(esz)
                .map(|b| dtype.decode(b)),
        );
    } else if n > 0 {
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            let e: usize = offset + idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>();
            data.push(dtype.decode(&bytes[e * esz..(e + 1) * esz]));
            for k in (0..shape.len()).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
    }
    Ok(RawTensor {
        shape: shape.to_vec(),
        data,
    })
}

impl RawTensor {
    /// Transposes a 2-D tensor.
    pub fn transpose2(&self) -> RawTensor {
        let (r, c) = (self.shape[0], self.shape[1]);
        let mut data = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                data[j * r + i] = self.data[i * c + j];
            }
        }
        RawTensor {
            shape: vec![c, r],
            data,
        }
    }

    /// Permutes axes: output axis `k` is input axis `perm[k]`.
    pub fn permute(&self, perm: &[usize]) -> RawTensor {
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let in_strides = contiguous_strides(&self.shape);
        let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
        let n = self.data.len();
        let mut data = Vec::with_capacity(n);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            let e: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            data.push(self.data[e]);
            for k in (0..shape.len()).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        RawTensor { shape, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_and_strides() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
        let bytes: Vec<u8> = (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect();
        // A transposed [3, 2] view of a [2, 3] storage.
        let t = decode_strided(&bytes, DType::F32, &[3, 2], &[1, 3], 0, "p", "k", "x").unwrap();
        assert_eq!(t.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert!(decode_strided(&bytes, DType::F32, &[3, 3], &[3, 1], 0, "p", "k", "x").is_err());
        let m = RawTensor {
            shape: vec![2, 3],
            data: (0..6).map(|v| v as f32).collect(),
        };
        assert_eq!(m.transpose2(), m.permute(&[1, 0]));
    }
}
