//! Numbers read from byte slices, bounds-checked: every reader returns `None` (or, for
//! [`varint`], an error) when the slice is too short at that offset, so a truncated file
//! becomes an error, not a panic. One implementation serves every reader: zip, IDX, the patch
//! database, DCI indexes, vertex files, checkpoints, and the imported formats (pickle, ONNX's
//! protobuf, `.npy`/`.npz`, safetensors). fcollide's own formats and the imported ones are
//! little-endian; IDX (MNIST) and pickle's `BINFLOAT` are big-endian.

/// The `N` bytes at `at`, if the slice holds them.
fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// A little-endian `u16` at byte `at`.
pub fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_le_bytes)
}

/// A little-endian `u32` at byte `at`.
pub fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_le_bytes)
}

/// A little-endian `u64` at byte `at`.
pub fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_le_bytes)
}

/// A little-endian `i16` at byte `at`.
pub fn le_i16(b: &[u8], at: usize) -> Option<i16> {
    array(b, at).map(i16::from_le_bytes)
}

/// A little-endian `i32` at byte `at`.
pub fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    array(b, at).map(i32::from_le_bytes)
}

/// A little-endian `i64` at byte `at`.
pub fn le_i64(b: &[u8], at: usize) -> Option<i64> {
    array(b, at).map(i64::from_le_bytes)
}

/// A little-endian `f32` at byte `at`.
pub fn le_f32(b: &[u8], at: usize) -> Option<f32> {
    array(b, at).map(f32::from_le_bytes)
}

/// A little-endian `f64` at byte `at`.
pub fn le_f64(b: &[u8], at: usize) -> Option<f64> {
    array(b, at).map(f64::from_le_bytes)
}

/// A big-endian `f64` at byte `at`.
pub fn be_f64(b: &[u8], at: usize) -> Option<f64> {
    array(b, at).map(f64::from_be_bytes)
}

/// A big-endian `u32` at byte `at`.
pub fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_be_bytes)
}

/// The little-endian `f32`s of `b`, 4 bytes each (a trailing partial value is left out:
/// callers check the length first).
pub fn le_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `v` as little-endian bytes, 4 per value: the inverse of [`le_f32s`] (tensor files).
pub fn f32s_to_le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The little-endian `f64`s of `b`, 8 bytes each (a trailing partial value is left out:
/// callers check the length first).
pub fn le_f64s(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8).filter_map(|c| le_f64(c, 0)).collect()
}

/// A protobuf base-128 varint at `*pos` (7 bits a byte, least significant group first, the
/// high bit set on every byte but the last); `*pos` moves past it. Refuses a varint that
/// runs past the slice, one longer than 10 bytes, and one whose value needs more than 64
/// bits.
pub fn varint(b: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *b.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err("varint overflows 64 bits");
        }
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_bounds_and_refuses_past_the_end() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(le_u16(&b, 0), Some(0x0201));
        assert_eq!(le_u32(&b, 1), Some(0x0504_0302));
        assert_eq!(be_u32(&b, 0), Some(0x0102_0304));
        assert_eq!(le_u64(&b, 1), Some(0x0908_0706_0504_0302));
        assert_eq!(le_u64(&b, 2), None);
        assert_eq!(le_u32(&b, usize::MAX), None);
        assert_eq!(le_u16(&[], 0), None);
        let f = [1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat();
        assert_eq!(le_f32s(&f), vec![1.5, -2.0]);
        assert_eq!(le_f32s(&f[..7]), vec![1.5]);
    }

    #[test]
    fn signed_and_float_readers_check_bounds() {
        let b = [0xfeu8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(le_i16(&b, 0), Some(-2));
        assert_eq!(le_i32(&b, 0), Some(-2));
        assert_eq!(le_i64(&b, 0), Some(-2));
        assert_eq!(le_i64(&b, 2), None);
        assert_eq!(le_i16(&b, 8), None);
        let x = 0.1f64;
        let le = [x.to_le_bytes().as_slice(), &[7]].concat();
        assert_eq!(le_f64(&le, 0), Some(x));
        assert_eq!(le_f64(&le, 2), None);
        assert_eq!(be_f64(&x.to_be_bytes(), 0), Some(x));
        assert_eq!(be_f64(&x.to_be_bytes()[..7], 0), None);
        assert_eq!(le_f32(&2.5f32.to_le_bytes(), 0), Some(2.5));
        assert_eq!(le_f32(&[0; 3], 0), None);
        assert_eq!(le_f64s(&le), vec![x]);
    }

    #[test]
    fn varints_decode_and_refuse_bad_encodings() {
        let mut pos = 0;
        // 1, 300 (0xac 0x02), then u64::MAX (nine 0xff and a final 0x01).
        let mut b = vec![0x01, 0xac, 0x02];
        b.extend([0xff; 9]);
        b.push(0x01);
        assert_eq!(varint(&b, &mut pos), Ok(1));
        assert_eq!(varint(&b, &mut pos), Ok(300));
        assert_eq!(pos, 3);
        assert_eq!(varint(&b, &mut pos), Ok(u64::MAX));
        assert_eq!(pos, b.len());
        assert_eq!(varint(&b, &mut pos), Err("truncated varint"));
        assert_eq!(varint(&[0x80, 0x80], &mut 0), Err("truncated varint"));
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert_eq!(varint(&over, &mut 0), Err("varint overflows 64 bits"));
        assert_eq!(varint(&[0x80; 11], &mut 0), Err("varint overflows 64 bits"));
    }
}
