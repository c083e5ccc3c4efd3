//! A minimal, bounds-checked zip reader (stored and deflated members, zip64 sizes) and a
//! stored-only writer; enough for PyTorch checkpoints and `.npz` files.
//!
//! A deflated member is inflated as a stream capped at its declared size, and only after
//! that size passed `max_inflated_bytes` and `max_inflate_ratio` ([`crate::limits`]): a zip
//! bomb is refused before anything is allocated for it.
use super::pickle::short;
use super::ImportError;
use crate::bytes::{le_u16 as u16_at, le_u32 as u32_at, le_u64 as u64_at};
use crate::fsutil::InflateLimit;
use std::borrow::Cow;
use std::io::Read;

/// One member of an archive.
#[derive(Clone, Debug)]
pub struct ZipEntry {
    /// Name inside the archive.
    pub name: String,
    method: u16,
    crc: u32,
    compressed: usize,
    size: usize,
    data_start: usize,
}

/// A zip archive held in memory (or memory-mapped).
pub struct ZipArchive<'a> {
    bytes: &'a [u8],
    path: String,
    format: &'static str,
    /// The members in central-directory order.
    pub entries: Vec<ZipEntry>,
}

impl<'a> ZipArchive<'a> {
    /// Parses the central directory of `bytes`; `format` names the file kind in errors.
    pub fn new(bytes: &'a [u8], path: &str, format: &'static str) -> Result<Self, ImportError> {
        let bad = |m: &str| ImportError::corrupt(path, format, m.to_string());
        let trunc = || bad("zip structure truncated");
        if bytes.len() < 22 {
            return Err(bad("too short for a zip archive"));
        }
        // End of central directory: the last signature within 64 KiB + 22 bytes of the end.
        let lo = bytes.len().saturating_sub(22 + 65_535);
        let eocd = (lo..=bytes.len() - 22)
            .rev()
            .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
            .ok_or_else(|| bad("no end-of-central-directory record (truncated?)"))?;
        let mut count = u16_at(bytes, eocd + 10).ok_or_else(trunc)? as u64;
        let mut cd_off = u32_at(bytes, eocd + 16).ok_or_else(trunc)? as u64;
        if count == 0xffff || cd_off == 0xffff_ffff {
            // Zip64: the locator sits right before the EOCD.
            let loc = eocd.checked_sub(20).ok_or_else(trunc)?;
            if u32_at(bytes, loc) != Some(0x0706_4b50) {
                return Err(bad("zip64 locator missing"));
            }
            let rec = u64_at(bytes, loc + 8).ok_or_else(trunc)? as usize;
            if u32_at(bytes, rec) != Some(0x0606_4b50) {
                return Err(bad("zip64 end-of-central-directory record missing"));
            }
            count = u64_at(bytes, rec + 32).ok_or_else(trunc)?;
            cd_off = u64_at(bytes, rec + 48).ok_or_else(trunc)?;
        }
        let mut entries = Vec::new();
        let mut p = usize::try_from(cd_off).map_err(|_| trunc())?;
        for _ in 0..count {
            if u32_at(bytes, p) != Some(0x0201_4b50) {
                return Err(bad("bad central directory entry"));
            }
            let method = u16_at(bytes, p + 10).ok_or_else(trunc)?;
            let crc = u32_at(bytes, p + 16).ok_or_else(trunc)?;
            let mut csize = u32_at(bytes, p + 20).ok_or_else(trunc)? as u64;
            let mut usize_ = u32_at(bytes, p + 24).ok_or_else(trunc)? as u64;
            let nlen = u16_at(bytes, p + 28).ok_or_else(trunc)? as usize;
            let xlen = u16_at(bytes, p + 30).ok_or_else(trunc)? as usize;
            let clen = u16_at(bytes, p + 32).ok_or_else(trunc)? as usize;
            let mut local = u32_at(bytes, p + 42).ok_or_else(trunc)? as u64;
            let name_bytes = bytes.get(p + 46..p + 46 + nlen).ok_or_else(trunc)?;
            let name = String::from_utf8_lossy(name_bytes).into_owned();
            let extra = bytes
                .get(p + 46 + nlen..p + 46 + nlen + xlen)
                .ok_or_else(trunc)?;
            // Zip64 extended information: present fields replace the 0xffffffff ones, in order.
            let mut x = 0;
            while x + 4 <= extra.len() {
                let id = u16_at(extra, x).unwrap_or(0);
                let len = u16_at(extra, x + 2).unwrap_or(0) as usize;
                if id == 1 {
                    let mut q = x + 4;
                    let mut next = || {
                        let v = u64_at(extra, q);
                        q += 8;
                        v
                    };
                    if usize_ == 0xffff_ffff {
                        usize_ = next().ok_or_else(trunc)?;
                    }
                    if csize == 0xffff_ffff {
                        csize = next().ok_or_else(trunc)?;
                    }
                    if local == 0xffff_ffff {
                        local = next().ok_or_else(trunc)?;
                    }
                }
                x += 4 + len;
            }
            let local = usize::try_from(local).map_err(|_| trunc())?;
            if u32_at(bytes, local) != Some(0x0403_4b50) {
                return Err(bad(&format!(
                    "bad local header for member '{}'",
                    short(&name)
                )));
            }
            let ln = u16_at(bytes, local + 26).ok_or_else(trunc)? as usize;
            let lx = u16_at(bytes, local + 28).ok_or_else(trunc)? as usize;
            let data_start = local + 30 + ln + lx;
            let compressed = usize::try_from(csize).map_err(|_| trunc())?;
            let size = usize::try_from(usize_).map_err(|_| trunc())?;
            if data_start
                .checked_add(compressed)
                .is_none_or(|end| end > bytes.len())
            {
                return Err(bad(&format!(
                    "member '{}' runs past the end of the file",
                    short(&name)
                )));
            }
            entries.push(ZipEntry {
                name,
                method,
                crc,
                compressed,
                size,
                data_start,
            });
            p += 46 + nlen + xlen + clen;
        }
        Ok(ZipArchive {
            bytes,
            path: path.to_string(),
            format,
            entries,
        })
    }

    /// The member called `name`, if any.
    pub fn find(&self, name: &str) -> Option<&ZipEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The (decompressed, CRC-checked) contents of a member.
    pub fn read(&self, e: &ZipEntry) -> Result<Cow<'a, [u8]>, ImportError> {
        let bad = |m: String| ImportError::corrupt(&self.path, self.format, m);
        let name = short(&e.name);
        let raw = &self.bytes[e.data_start..e.data_start + e.compressed];
        let data: Cow<'a, [u8]> = match e.method {
            0 => {
                if e.size != e.compressed {
                    return Err(bad(format!("stored member '{name}' has inconsistent sizes")));
                }
                Cow::Borrowed(raw)
            }
            8 => {
                InflateLimit::<&[u8]>::check_declared(
                    &format!("member '{name}' (uncompressed size)"),
                    e.size as u64,
                    e.compressed as u64,
                )
                .map_err(|source| ImportError::Limit {
                    path: self.path.clone(),
                    source,
                })?;
                // Deflate expands at most ~1032:1; do not trust a damaged size field for the allocation.
                let mut out = Vec::with_capacity(e.size.min(e.compressed.saturating_mul(1032) + 64));
                InflateLimit::new(flate2::read::DeflateDecoder::new(raw), e.compressed as u64)
                    .take(e.size as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|err| bad(format!("member '{name}': deflate error: {err}")))?;
                if out.len() != e.size {
                    return Err(bad(format!(
                        "member '{name}' inflates to {} bytes, expected {}",
                        out.len(),
                        e.size
                    )));
                }
                Cow::Owned(out)
            }
            m => {
                return Err(bad(format!(
                    "member '{name}' uses compression method {m}; only stored (0) and deflate (8) are supported"
                )))
            }
        };
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        if crc.sum() != e.crc {
            return Err(bad(format!("member '{name}' fails its CRC check")));
        }
        Ok(data)
    }
}

/// Writes a zip archive of stored (uncompressed) members, each aligned to 64 bytes like
/// PyTorch's writer does.
pub fn write_stored(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    write_zip(members, false)
}

/// Writes a zip archive of members, stored or (`deflate`) deflated, each aligned to 64 bytes.
pub fn write_zip(members: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, plain) in members {
        let mut crc = flate2::Crc::new();
        crc.update(plain);
        let packed;
        let data: &Vec<u8> = if deflate {
            use std::io::Write;
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(plain).expect("deflate to memory");
            packed = enc.finish().expect("deflate to memory");
            &packed
        } else {
            plain
        };
        let offset = out.len() as u32;
        let header_len = 30 + name.len() + 4;
        let pad = (64 - (out.len() + header_len) % 64) % 64;
        let extra_len = 4 + pad;
        let mut common = Vec::new();
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed
        common.extend_from_slice(&0u16.to_le_bytes()); // flags
        common.extend_from_slice(&(if deflate { 8u16 } else { 0 }).to_le_bytes());
        common.extend_from_slice(&0u32.to_le_bytes()); // time, date
        common.extend_from_slice(&crc.sum().to_le_bytes());
        common.extend_from_slice(&(data.len() as u32).to_le_bytes());
        common.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(&(extra_len as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&0xfeedu16.to_le_bytes());
        out.extend_from_slice(&(pad as u16).to_le_bytes());
        out.extend(std::iter::repeat_n(b'Z', pad));
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bombs_are_refused_before_inflating() {
        let members = vec![
            ("a.npy".to_string(), vec![7u8; 100]),
            ("z".to_string(), vec![0u8; 40 << 20]),
        ];
        let z = write_zip(&members, true);
        let zip = ZipArchive::new(&z, "bomb.npz", "npz").unwrap();
        assert_eq!(&*zip.read(&zip.entries[0]).unwrap(), &[7u8; 100][..]);
        let err = zip.read(&zip.entries[1]).unwrap_err().to_string();
        assert!(
            err.contains("bomb.npz") && err.contains("max_inflate_ratio") && err.contains("'z'"),
            "{err}"
        );
        // Under a lower max_inflated_bytes the declared size alone is refused.
        let small = crate::limits::Limits {
            max_inflated_bytes: 1 << 20,
            ..crate::limits::Limits::DEFAULT
        };
        let err = crate::limits::with_limits(small, || zip.read(&zip.entries[1]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_inflated_bytes"), "{err}");
        // A member whose declared size lies low inflates only to that size.
        let mut lying = z.clone();
        let cd = lying
            .windows(4)
            .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
            .unwrap();
        lying[cd + 24..cd + 28].copy_from_slice(&1000u32.to_le_bytes());
        let zip = ZipArchive::new(&lying, "lie.npz", "npz").unwrap();
        let err = zip.read(&zip.entries[1]).unwrap_err().to_string();
        assert!(err.contains("expected 1000"), "{err}");
    }
}
