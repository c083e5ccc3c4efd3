//! NumPy `.npz` archives (stored or deflated zip of `.npy` members) and `.npy` arrays
//! (format versions 1–3; little-endian `f4`, `f8`, `f2`, `i8`, `i4`, `i2`, `i1`, `u1`, `b1`;
//! C or Fortran order). Member `name.npy` becomes tensor `name`.
use super::pickle::short;
use super::tensors::{contiguous_strides, decode_strided, numel, DType, TensorMap, CONVERTIBLE};
use super::zip::ZipArchive;
use super::ImportError;

const FORMAT: &str = "npz";

fn header_field<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    let colon = rest.find(':')?;
    Some(rest[colon + 1..].trim_start())
}

/// Parses one `.npy` array.
pub fn read_npy(bytes: &[u8], path: &str, key: &str) -> Result<super::RawTensor, ImportError> {
    let bad = |m: String| ImportError::corrupt(path, FORMAT, format!("array '{key}': {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (crate::bytes::le_u16(bytes, 8).map(usize::from), 10usize),
        2 | 3 => (crate::bytes::le_u32(bytes, 8).map(|n| n as usize), 12),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let hlen = hlen.ok_or_else(|| bad("header truncated".into()))?;
    let header = bytes
        .get(start..start.saturating_add(hlen))
        .ok_or_else(|| bad("header truncated".into()))?;
    let header = String::from_utf8_lossy(header);
    let descr = header_field(&header, "descr").ok_or_else(|| bad("no 'descr' in header".into()))?;
    let descr = descr
        .trim_start_matches(['\'', '"'])
        .split(['\'', '"'])
        .next()
        .unwrap_or("");
    let dtype = match descr {
        "<f4" | "=f4" => DType::F32,
        "<f8" | "=f8" => DType::F64,
        "<f2" | "=f2" => DType::F16,
        "<i8" | "=i8" => DType::I64,
        "<i4" | "=i4" => DType::I32,
        "<i2" | "=i2" => DType::I16,
        "|i1" => DType::I8,
        "|u1" => DType::U8,
        "|b1" => DType::Bool,
        other => {
            return Err(ImportError::Dtype {
                path: path.into(),
                key: key.into(),
                dtype: format!("numpy '{}'", short(other)),
                expected: CONVERTIBLE,
            })
        }
    };
    let fortran = header_field(&header, "fortran_order")
        .ok_or_else(|| bad("no 'fortran_order' in header".into()))?
        .starts_with("True");
    let shape_txt =
        header_field(&header, "shape").ok_or_else(|| bad("no 'shape' in header".into()))?;
    let inner = shape_txt
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(format!("bad shape {}", short(shape_txt))))?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("bad shape ({})", short(inner))))?;
    let n = numel(&shape).ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let data = &bytes[start + hlen..];
    let need = n
        .checked_mul(dtype.size())
        .ok_or_else(|| bad("size overflows".into()))?;
    if data.len() < need {
        return Err(bad(format!(
            "shape {shape:?} needs {need} bytes of data, the file has {}",
            data.len()
        )));
    }
    let strides = if fortran {
        let mut rev: Vec<usize> = shape.iter().rev().copied().collect();
        rev = contiguous_strides(&rev);
        rev.reverse();
        rev
    } else {
        contiguous_strides(&shape)
    };
    decode_strided(data, dtype, &shape, &strides, 0, path, key, FORMAT)
}

/// Reads every array of `.npz` bytes.
pub fn read_npz(bytes: &[u8], path: &str) -> Result<TensorMap, ImportError> {
    let zip = ZipArchive::new(bytes, path, FORMAT)?;
    read_npz_zip(&zip, path)
}

/// Reads every array of an opened `.npz`.
pub fn read_npz_zip(zip: &ZipArchive<'_>, path: &str) -> Result<TensorMap, ImportError> {
    let mut out = TensorMap::new();
    for e in &zip.entries {
        let Some(key) = e.name.strip_suffix(".npy") else {
            continue;
        };
        let data = zip.read(e)?;
        let shown = short(key);
        out.insert_new(
            key.to_string(),
            read_npy(&data, path, &shown)?,
            path,
            FORMAT,
        )?;
    }
    if out.is_empty() {
        return Err(ImportError::corrupt(path, FORMAT, "no .npy members"));
    }
    Ok(out)
}

/// Encodes a little-endian f32 C-order `.npy` (version 1).
pub fn write_npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}\n",
            if fortran { "True" } else { "False" }
        );
        let mut out = b"\x93NUMPY".to_vec();
        out.extend([version, 0]);
        if version == 1 {
            out.extend((header.len() as u16).to_le_bytes());
        } else {
            out.extend((header.len() as u32).to_le_bytes());
        }
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn versions_dtypes_and_orders() {
        // [[1, 2, 3], [4, 5, 6]] stored column-major as f16, version 3 header.
        let halves: Vec<u8> = [0x3c00u16, 0x4400, 0x4000, 0x4500, 0x4200, 0x4600]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        let t = read_npy(&npy(3, "<f2", true, "(2, 3)", &halves), "a.npz", "x").unwrap();
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let f8: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = read_npy(&npy(2, "<f8", false, "(2,)", &f8), "a.npz", "y").unwrap();
        assert_eq!(t.data, vec![1.5, -2.0]);
        let t = read_npy(&npy(1, "<f4", false, "()", &2.5f32.to_le_bytes()), "a", "s").unwrap();
        assert_eq!((t.shape.len(), t.data[0]), (0, 2.5));
        // Big-endian and short data are errors naming the array.
        let err = read_npy(&npy(1, ">f4", false, "(1,)", &[0; 4]), "a.npz", "z").unwrap_err();
        assert!(
            err.to_string().contains("'z'") && err.to_string().contains(">f4"),
            "{err}"
        );
        let err = read_npy(&npy(1, "<f4", false, "(3,)", &[0; 8]), "a.npz", "w").unwrap_err();
        assert!(err.to_string().contains("'w'"), "{err}");
        // Round trip through the writer and a stored zip.
        let data = [1.0f32, 2.0, 3.0, 4.0];
        let z = super::super::zip::write_stored(&[("k.npy".into(), write_npy_f32(&[2, 2], &data))]);
        let m = read_npz(&z, "k.npz").unwrap();
        assert_eq!(m["k"].data, data);
    }
}
