//! Saving and loading a [`DciIndex`] (format in the parent module's docs).

use crate::bytes::{le_f32, le_u32, le_u64};
use crate::fsutil::AtomicFile;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::{
    Budget, DciIndex, DciParams, Directions, KnnError, Level, HEADER_LEN, INDEX_MAGIC, VERSION,
};

impl DciIndex {
    /// Saves the index (format in the module docs), atomically
    /// ([`crate::fsutil::AtomicFile`]: a synced temporary file in the same folder renamed
    /// over `path`; only a regular file is replaced, a symlink is written through).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), KnnError> {
        let path = path.as_ref();
        let io = |source| KnnError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut out = AtomicFile::create(path).map_err(io)?;
        let mut w = BufWriter::with_capacity(1 << 20, out.file());
        self.write_to(&mut w).map_err(io)?;
        w.into_inner().map_err(|e| io(e.into_error()))?;
        out.commit().map_err(io)
    }

    fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        let p = &self.params.params;
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&INDEX_MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(self.params.dim as u32).to_le_bytes());
        h[16..24].copy_from_slice(&(self.params.n as u64).to_le_bytes());
        h[24..28].copy_from_slice(&(p.num_composite as u32).to_le_bytes());
        h[28..32].copy_from_slice(&(p.num_simple as u32).to_le_bytes());
        h[32..40].copy_from_slice(&p.seed.to_le_bytes());
        let budget = |b: Budget| -> (u8, [u8; 8]) {
            match b {
                Budget::Count(c) => (0, (c as u64).to_le_bytes()),
                Budget::Fraction(f) => (1, f.to_le_bytes()),
            }
        };
        let (t, v) = budget(p.retrieve);
        h[40] = t;
        h[41..49].copy_from_slice(&v);
        let (t, v) = budget(p.visit);
        h[49] = t;
        h[50..58].copy_from_slice(&v);
        h[58] = match p.directions {
            Directions::Isotropic => 0,
            Directions::DataDifferences => 1,
        };
        h[64..72].copy_from_slice(&(self.nu as u64).to_le_bytes());
        h[72..80].copy_from_slice(&(self.dup_reps.len() as u64).to_le_bytes());
        h[80..88].copy_from_slice(&(self.dup_ids.len() as u64).to_le_bytes());
        h[88..92].copy_from_slice(&(self.levels.len() as u32).to_le_bytes());
        h[92..96].copy_from_slice(&(p.field_of_view as u32).to_le_bytes());
        h[96..100].copy_from_slice(&(p.construction_field_of_view as u32).to_le_bytes());
        h[100..116].copy_from_slice(&self.fingerprint);
        w.write_all(&h)?;
        let mut buf = Vec::with_capacity(1 << 16);
        let mut words =
            |w: &mut dyn Write, v: &mut dyn Iterator<Item = [u8; 4]>| -> std::io::Result<()> {
                loop {
                    buf.clear();
                    buf.extend(v.take(1 << 14).flatten());
                    if buf.is_empty() {
                        return Ok(());
                    }
                    w.write_all(&buf)?;
                }
            };
        words(
            w,
            &mut self.levels.iter().map(|l| (l.len() as u32).to_le_bytes()),
        )?;
        words(w, &mut self.directions.iter().map(|x| x.to_le_bytes()))?;
        for l in &self.levels {
            words(w, &mut l.members.iter().map(|x| x.to_le_bytes()))?;
            words(w, &mut l.offsets.iter().map(|x| x.to_le_bytes()))?;
            words(w, &mut l.keys.iter().map(|x| x.to_le_bytes()))?;
            words(w, &mut l.local.iter().map(|x| x.to_le_bytes()))?;
            words(w, &mut l.vectors.iter().map(|x| x.to_le_bytes()))?;
        }
        words(w, &mut self.dup_reps.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.dup_offsets.iter().map(|x| x.to_le_bytes()))?;
        words(w, &mut self.dup_ids.iter().map(|x| x.to_le_bytes()))?;
        w.flush()
    }

    /// Loads an index saved by [`DciIndex::save`], checking the header, the exact file
    /// length, the parameters and the consistency of every table (see the module docs);
    /// anything wrong is a [`KnnError::CorruptIndex`] naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KnnError> {
        let path = path.as_ref();
        let io = |source| KnnError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |reason: String| KnnError::CorruptIndex {
            path: path.to_path_buf(),
            reason,
        };
        let file = crate::fsutil::open_regular(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut h = [0u8; HEADER_LEN];
        if file_len < 12 {
            return Err(corrupt(format!(
                "{file_len} bytes, shorter than the {HEADER_LEN}-byte header"
            )));
        }
        r.read_exact(&mut h[..12]).map_err(io)?;
        if h[0..8] != INDEX_MAGIC {
            return Err(corrupt("bad magic (not an fcollide DCI index)".into()));
        }
        let version = le_u32(&h, 8).unwrap_or(0);
        if version == 1 || version == 2 {
            let what = if version == 1 {
                "a one-level index from before multi-level DCI"
            } else {
                "an index that does not record which data it was built over"
            };
            return Err(corrupt(format!(
                "version {version} ({what}); this version reads version {VERSION}: rebuild the index (`fcollide patches index`)"
            )));
        }
        if version != VERSION {
            return Err(corrupt(format!(
                "unsupported version {version} (expected {VERSION})"
            )));
        }
        if file_len < HEADER_LEN as u64 {
            return Err(corrupt(format!(
                "{file_len} bytes, shorter than the {HEADER_LEN}-byte header"
            )));
        }
        r.read_exact(&mut h[12..]).map_err(io)?;
        // Offsets inside the fixed-size header: always present.
        let u32_at = |o: usize| le_u32(&h, o).unwrap_or(0);
        let u64_at = |o: usize| le_u64(&h, o).unwrap_or(0);
        if h[59..64].iter().chain(&h[116..]).any(|&b| b != 0) {
            return Err(corrupt("reserved header bytes are not zero".into()));
        }
        let dim = u32_at(12) as u64;
        let n = u64_at(16);
        let lc = u32_at(24) as u64;
        let ms = u32_at(28) as u64;
        let seed = u64_at(32);
        let budget = |tag: u8, o: usize| -> Result<Budget, KnnError> {
            match tag {
                0 => Ok(Budget::Count(
                    usize::try_from(u64_at(o)).unwrap_or(usize::MAX),
                )),
                1 => Ok(Budget::Fraction(f64::from_bits(u64_at(o)))),
                t => Err(corrupt(format!("unknown budget kind {t}"))),
            }
        };
        let retrieve = budget(h[40], 41)?;
        let visit = budget(h[49], 50)?;
        let directions_kind = match h[58] {
            0 => Directions::Isotropic,
            1 => Directions::DataDifferences,
            t => return Err(corrupt(format!("unknown directions kind {t}"))),
        };
        let nu = u64_at(64);
        let ng = u64_at(72);
        let nd = u64_at(80);
        if nu == 0 || nu > n || nd != n - nu {
            return Err(corrupt(format!(
                "inconsistent counts: n = {n}, distinct = {nu}, duplicates = {nd}"
            )));
        }
        if ng > nd {
            return Err(corrupt(format!(
                "{ng} duplicate groups for {nd} duplicates"
            )));
        }
        let to_usize = |v: u64, what: &str| {
            usize::try_from(v).map_err(|_| corrupt(format!("{what} = {v} too large")))
        };
        let params = DciParams {
            num_composite: to_usize(lc, "num_composite")?,
            num_simple: to_usize(ms, "num_simple")?,
            num_levels: u32_at(88) as usize,
            field_of_view: u32_at(92) as usize,
            construction_field_of_view: u32_at(96) as usize,
            retrieve,
            visit,
            seed,
            directions: directions_kind,
        }
        .check(to_usize(dim, "dim")?, to_usize(n, "n")?)
        .map_err(|e| corrupt(format!("bad parameters: {e}")))?;
        let (n, dim) = (params.n, params.dim);
        let p = params.params;
        let (lm, nl) = (p.num_composite * p.num_simple, p.num_levels);
        // All counts are ≤ n < u32::MAX here.
        let (nu, ng, nd) = (nu as usize, ng as usize, nd as usize);

        // Level sizes (λ ≤ 16 words), then the exact expected length.
        if file_len < (HEADER_LEN + 4 * nl) as u64 {
            return Err(corrupt(format!(
                "length {file_len} bytes, too short for the level table"
            )));
        }
        let mut buf = vec![0u8; 1 << 16];
        let mut sizes = vec![0u32; nl];
        read_words(&mut r, &mut buf, &mut sizes, le_u32).map_err(io)?;
        let sizes: Vec<usize> = sizes.into_iter().map(|s| s as usize).collect();
        if sizes[0] != nu || sizes.contains(&0) || sizes.windows(2).any(|w| w[1] > w[0]) {
            return Err(corrupt(format!(
                "level sizes {sizes:?}: must start at the {nu} distinct points and not increase, each ≥ 1"
            )));
        }
        let groups = |l: usize| if l + 1 < nl { sizes[l + 1] } else { 1 };
        let expected = (|| -> Option<u64> {
            let lm = lm as u64;
            let mut w = (nl as u64).checked_add(lm.checked_mul(dim as u64)?)?;
            for (l, &s) in sizes.iter().enumerate() {
                let own = if l > 0 { dim as u64 } else { 0 };
                let per = (1 + 2 * lm).checked_add(own)?.checked_mul(s as u64)?;
                w = w.checked_add(per)?.checked_add(groups(l) as u64 + 1)?;
            }
            w = w.checked_add(2 * ng as u64 + 1 + nd as u64)?;
            w.checked_mul(4)?.checked_add(HEADER_LEN as u64)
        })();
        match expected {
            Some(e) if e == file_len => {}
            Some(e) => {
                return Err(corrupt(format!(
                    "length {file_len} bytes, header implies {e}"
                )))
            }
            None => return Err(corrupt("header sizes overflow".into())),
        }

        let mut directions = vec![0.0f32; lm * dim];
        read_words(&mut r, &mut buf, &mut directions, le_f32).map_err(io)?;
        if directions.iter().any(|x| !x.is_finite()) {
            return Err(corrupt("non-finite direction".into()));
        }
        let mut levels = Vec::with_capacity(nl);
        for (l, &size) in sizes.iter().enumerate() {
            let mut members = vec![0u32; size];
            let mut offsets = vec![0u32; groups(l) + 1];
            let mut keys = vec![0.0f32; lm * size];
            let mut local = vec![0u32; lm * size];
            let mut vectors = vec![0.0f32; if l > 0 { size * dim } else { 0 }];
            read_words(&mut r, &mut buf, &mut members, le_u32).map_err(io)?;
            read_words(&mut r, &mut buf, &mut offsets, le_u32).map_err(io)?;
            read_words(&mut r, &mut buf, &mut keys, le_f32).map_err(io)?;
            read_words(&mut r, &mut buf, &mut local, le_u32).map_err(io)?;
            read_words(&mut r, &mut buf, &mut vectors, le_f32).map_err(io)?;
            if vectors.iter().any(|x| !x.is_finite()) {
                return Err(corrupt(format!("level {l}: non-finite vector value")));
            }
            let level = Level {
                members,
                offsets,
                keys,
                local,
                vectors,
                weights: Vec::new(),
            };
            check_level(&level, lm, n).map_err(|e| corrupt(format!("level {l}: {e}")))?;
            levels.push(level);
        }
        let mut dup_reps = vec![0u32; ng];
        let mut dup_offsets = vec![0u32; ng + 1];
        let mut dup_ids = vec![0u32; nd];
        read_words(&mut r, &mut buf, &mut dup_reps, le_u32).map_err(io)?;
        read_words(&mut r, &mut buf, &mut dup_offsets, le_u32).map_err(io)?;
        read_words(&mut r, &mut buf, &mut dup_ids, le_u32).map_err(io)?;

        // Each node of level l+1 is a member of its own group at level l (hence the
        // levels are nested and each level's members are distinct given level 0's).
        for l in 0..nl - 1 {
            let (lo, up) = (&levels[l], &levels[l + 1]);
            for (g, &node) in up.members.iter().enumerate() {
                let (o, c) = lo.group(g);
                if lo.members[o..o + c].binary_search(&node).is_err() {
                    return Err(corrupt(format!(
                        "level {}: node {node} is not in its own group at level {l}",
                        l + 1
                    )));
                }
            }
        }
        // The duplicate table.
        if dup_reps.windows(2).any(|w| w[0] >= w[1])
            || dup_offsets.first() != Some(&0)
            || dup_offsets.last().map(|&o| o as usize) != Some(nd)
            || dup_offsets.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(corrupt("malformed duplicate table".into()));
        }
        for (g, &rep) in dup_reps.iter().enumerate() {
            let others = &dup_ids[dup_offsets[g] as usize..dup_offsets[g + 1] as usize];
            if others.first().is_some_and(|&o| o <= rep) || others.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(corrupt(format!(
                    "duplicates of {rep} not ascending above it"
                )));
            }
        }
        // Level 0's members and the duplicates are the ids 0..n, once each; every
        // representative of duplicates is a member of level 0.
        let mut seen = vec![false; n];
        for &id in &levels[0].members {
            if std::mem::replace(&mut seen[id as usize], true) {
                return Err(corrupt(format!("point id {id} listed twice")));
            }
        }
        if let Some(rep) = dup_reps
            .iter()
            .find(|&&r| r as usize >= n || !seen[r as usize])
        {
            return Err(corrupt(format!(
                "representative {rep} of duplicates is not an indexed point"
            )));
        }
        for &id in &dup_ids {
            if id as usize >= n {
                return Err(corrupt(format!("point id {id} out of range (n = {n})")));
            }
            if std::mem::replace(&mut seen[id as usize], true) {
                return Err(corrupt(format!("point id {id} listed twice")));
            }
        }
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&h[100..116]);
        let mut index = DciIndex {
            params,
            directions,
            nu,
            levels,
            dup_reps,
            dup_offsets,
            dup_ids,
            fingerprint,
        };
        index.compute_weights();
        Ok(index)
    }
}

/// Checks one level read from a file: group offsets, member ids `< n` ascending within a
/// group, every row sorted and a permutation of its group's positions.
fn check_level(level: &Level, lm: usize, n: usize) -> Result<(), String> {
    let (len, offsets) = (level.members.len(), &level.offsets);
    if offsets.first() != Some(&0)
        || offsets.last().map(|&o| o as usize) != Some(len)
        || offsets.windows(2).any(|w| w[0] >= w[1])
    {
        return Err("malformed group offsets".into());
    }
    if let Some(bad) = level.members.iter().find(|&&id| id as usize >= n) {
        return Err(format!("point id {bad} out of range (n = {n})"));
    }
    let largest = offsets.windows(2).map(|w| (w[1] - w[0]) as usize).max();
    let mut stamp = vec![0u64; largest.unwrap_or(0)];
    let mut row_no = 0u64;
    for g in 0..level.groups() {
        let (o, c) = level.group(g);
        if level.members[o..o + c].windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("members of group {g} not ascending"));
        }
        for s in 0..lm {
            let row = lm * o + s * c;
            if level.keys[row..row + c]
                .windows(2)
                .any(|w| w[0].total_cmp(&w[1]).is_gt())
            {
                return Err(format!(
                    "projections of simple index {s} in group {g} not sorted"
                ));
            }
            row_no += 1;
            for &j in &level.local[row..row + c] {
                let j = j as usize;
                if j >= c || stamp[j] == row_no {
                    return Err(format!(
                        "positions of simple index {s} in group {g} out of range or repeated"
                    ));
                }
                stamp[j] = row_no;
            }
        }
    }
    Ok(())
}

/// Fills `out` with 4-byte little-endian words read from `r`, each decoded by `read` (one of
/// [`crate::bytes`]' readers).
fn read_words<T>(
    r: &mut impl Read,
    buf: &mut [u8],
    out: &mut [T],
    read: fn(&[u8], usize) -> Option<T>,
) -> std::io::Result<()> {
    let per = buf.len() / 4;
    for chunk in out.chunks_mut(per) {
        let bytes = &mut buf[..chunk.len() * 4];
        r.read_exact(bytes)?;
        for (i, o) in chunk.iter_mut().enumerate() {
            *o = read(bytes, 4 * i).ok_or(std::io::ErrorKind::UnexpectedEof)?;
        }
    }
    Ok(())
}
