//! The common form every reader produces: named f32 tensors, row-major (C order), in the
//! file's own order ([`TensorMap`]).
//!
//! [`decode_strided`] is where every reader turns stored elements into `f32`: before
//! allocating, it checks the declared size against `max_tensor_bytes`
//! ([`crate::limits`]) and against the storage actually present (a view may not claim more
//! elements than its storage holds, so zero strides cannot turn a few bytes into terabytes);
//! after decoding, every value must be finite.
use super::ImportError;
use std::collections::HashMap;

/// A dense row-major f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// Dimensions, outermost first (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in row-major order.
    pub data: Vec<f32>,
}

/// Tensors by name (PyTorch-style dotted keys, or whatever the file uses), in the order
/// they were inserted: the file's own order (safetensors: order of the data offsets;
/// PyTorch: the state dict's order; npz: the zip members' order; ONNX: the network's
/// order). Inserting an existing key replaces its tensor in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorMap {
    entries: Vec<(String, RawTensor)>,
    index: HashMap<String, usize>,
}

impl TensorMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `key` at the end (or replaces its tensor in place); returns the old tensor.
    pub fn insert(&mut self, key: String, tensor: RawTensor) -> Option<RawTensor> {
        match self.index.get(&key) {
            Some(&i) => Some(std::mem::replace(&mut self.entries[i].1, tensor)),
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, tensor));
                None
            }
        }
    }

    /// Inserts a key read from a file, refusing a name the file already used.
    pub fn insert_new(
        &mut self,
        key: String,
        tensor: RawTensor,
        path: &str,
        format: &'static str,
    ) -> Result<(), ImportError> {
        if self.index.contains_key(&key) {
            return Err(ImportError::corrupt(
                path,
                format,
                format!("two tensors are named '{}'", super::pickle::short(&key)),
            ));
        }
        self.insert(key, tensor);
        Ok(())
    }

    /// The tensor called `key`.
    pub fn get(&self, key: &str) -> Option<&RawTensor> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// Whether there is a tensor called `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The tensors in order.
    pub fn values(&self) -> impl Iterator<Item = &RawTensor> {
        self.entries.iter().map(|(_, t)| t)
    }

    /// `(name, tensor)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &RawTensor)> {
        self.entries.iter().map(|(k, t)| (k, t))
    }
}

impl std::ops::Index<&str> for TensorMap {
    type Output = RawTensor;
    fn index(&self, key: &str) -> &RawTensor {
        self.get(key)
            .unwrap_or_else(|| panic!("no tensor named '{key}'"))
    }
}

impl FromIterator<(String, RawTensor)> for TensorMap {
    fn from_iter<I: IntoIterator<Item = (String, RawTensor)>>(iter: I) -> Self {
        let mut m = TensorMap::new();
        for (k, t) in iter {
            m.insert(k, t);
        }
        m
    }
}

impl IntoIterator for TensorMap {
    type Item = (String, RawTensor);
    type IntoIter = std::vec::IntoIter<(String, RawTensor)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a TensorMap {
    type Item = (&'a String, &'a RawTensor);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, RawTensor)>,
        fn(&'a (String, RawTensor)) -> (&'a String, &'a RawTensor),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, t)| (k, t))
    }
}

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

    /// Decodes the little-endian element at byte `at` of `b`; `None` when `b` ends before it.
    fn decode(self, b: &[u8], at: usize) -> Option<f32> {
        use crate::bytes::{le_f32, le_f64, le_i16, le_i32, le_i64, le_u16};
        Some(match self {
            DType::F32 => le_f32(b, at)?,
            DType::I32 => le_i32(b, at)? as f32,
            DType::F64 => le_f64(b, at)? as f32,
            DType::I64 => le_i64(b, at)? as f32,
            DType::F16 => f16_to_f32(le_u16(b, at)?),
            DType::BF16 => f32::from_bits((le_u16(b, at)? as u32) << 16),
            DType::I16 => le_i16(b, at)? as f32,
            DType::I8 => *b.get(at)? as i8 as f32,
            DType::U8 | DType::Bool => *b.get(at)? as f32,
        })
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

/// Index and value of the first NaN or infinity in `v`.
pub fn first_non_finite(v: &[f32]) -> Option<(usize, f32)> {
    v.iter().position(|x| !x.is_finite()).map(|i| (i, v[i]))
}

/// Copies a strided view of little-endian `bytes` (element `offset`, element `strides`) into a
/// contiguous f32 tensor, checking every index stays inside `bytes`, the size limits (see
/// the module docs) and that every value is finite.
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
    crate::limits::check_alloc(
        &format!("tensor '{key}' of shape {shape:?} (decoded as f32)"),
        n as u64,
        4,
    )
    .map_err(|source| ImportError::Limit {
        path: path.into(),
        source,
    })?;
    let esz = dtype.size();
    let avail = bytes.len() / esz;
    if n > 0 {
        if n > avail {
            return Err(bad(format!(
                "shape {shape:?} (strides {strides:?}) has {n} elements, but its storage holds only {avail}: a view larger than its storage (zero or overlapping strides) is refused"
            )));
        }
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
    // Element `e` of the storage (in bounds: checked above).
    let element = |e: usize| {
        dtype
            .decode(bytes, e * esz)
            .ok_or_else(|| bad(format!("element {e} lies past the end of the storage")))
    };
    if n > 0 && strides == contiguous_strides(shape).as_slice() {
        for e in offset..offset + n {
            data.push(element(e)?);
        }
    } else if n > 0 {
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            let e: usize = offset + idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>();
            data.push(element(e)?);
            for k in (0..shape.len()).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
    }
    if let Some((index, value)) = first_non_finite(&data) {
        return Err(ImportError::NonFinite {
            path: path.into(),
            key: key.into(),
            index,
            value,
        });
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

    #[test]
    fn zero_strides_huge_shapes_and_nan_are_refused() {
        let bytes: Vec<u8> = (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect();
        // A broadcast view of 6 values claiming 2³⁰ × 2¹⁰ elements.
        let err = decode_strided(
            &bytes,
            DType::F32,
            &[1 << 30, 1 << 10],
            &[0, 0],
            0,
            "p.pth",
            "w",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("max_tensor_bytes") && err.contains("p.pth"),
            "{err}"
        );
        let err = decode_strided(&bytes, DType::F32, &[1000], &[0], 0, "p.pth", "w", "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("larger than its storage") && err.contains("'w'"),
            "{err}"
        );
        let mut nan = bytes.clone();
        nan[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
        let err = decode_strided(&nan, DType::F32, &[6], &[1], 0, "p.pth", "fc1.weight", "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fc1.weight") && err.contains("NaN") && err.contains("index 2"),
            "{err}"
        );
    }

    #[test]
    fn tensor_map_keeps_insertion_order() {
        let t = |v: f32| RawTensor {
            shape: vec![1],
            data: vec![v],
        };
        let mut m = TensorMap::new();
        for (i, k) in ["input", "hidden", "output"].iter().enumerate() {
            m.insert(k.to_string(), t(i as f32));
        }
        assert_eq!(m.keys().collect::<Vec<_>>(), ["input", "hidden", "output"]);
        assert_eq!(m.insert("hidden".into(), t(9.0)), Some(t(1.0)));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["input", "hidden", "output"]);
        assert_eq!(m["hidden"], t(9.0));
        assert!(m.insert_new("input".into(), t(0.0), "f", "x").is_err());
        let back: TensorMap = m.clone().into_iter().collect();
        assert_eq!(back, m);
    }
}
