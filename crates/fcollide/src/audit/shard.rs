//! `--shard i/n`: a deterministic partition of a run's examples.
//!
//! The run's examples are the positions `0..N` of the split (after `--limit`); shard `i/n`
//! takes the positions `j` with `j mod n = i`. Every position is in exactly one shard, the
//! shards differ in size by at most one, and each holds a spread of the data (not one block
//! of it). The rows a shard writes carry their positions, so shard outputs merge back into
//! the single run's table by sorting on `index`.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::AuditError;

/// Shard `index` of `count` (`0 ≤ index < count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard (from 0).
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// The whole run (`0/1`).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Self, AuditError> {
        let text = format!("{index}/{count}");
        if count == 0 {
            return Err(AuditError::Shard {
                value: text,
                reason: "the number of shards must be at least 1".into(),
            });
        }
        if index >= count {
            return Err(AuditError::Shard {
                value: text,
                reason: format!(
                    "shard index {index} is out of range: shards are numbered 0 to {}",
                    count - 1
                ),
            });
        }
        Ok(Shard { index, count })
    }

    /// Whether position `j` belongs to this shard.
    pub fn contains(&self, j: usize) -> bool {
        j % self.count == self.index
    }

    /// The positions of `0..n` in this shard, ascending.
    pub fn positions(&self, n: usize) -> Vec<usize> {
        (self.index..n).step_by(self.count).collect()
    }

    /// Whether this is the whole run.
    pub fn is_all(&self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, AuditError> {
        let bad = |reason: &str| AuditError::Shard {
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let (i, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("no '/' between the shard index and the number of shards"))?;
        let i: usize = i
            .trim()
            .parse()
            .map_err(|_| bad(&format!("the shard index '{i}' is not a whole number")))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad(&format!("the number of shards '{n}' is not a whole number")))?;
        Shard::new(i, n).map_err(|e| match e {
            AuditError::Shard { reason, .. } => bad(&reason),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_positions() {
        let n = 103;
        let mut seen = vec![0usize; n];
        let sizes: Vec<usize> = (0..4)
            .map(|i| {
                let s = Shard::new(i, 4).unwrap();
                let p = s.positions(n);
                for &j in &p {
                    assert!(s.contains(j));
                    seen[j] += 1;
                }
                p.len()
            })
            .collect();
        assert!(seen.iter().all(|&c| c == 1));
        assert_eq!(sizes, vec![26, 26, 26, 25]);
        assert_eq!(Shard::ALL.positions(5), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn malformed_shards_are_refused_clearly() {
        let msg = |s: &str| s.parse::<Shard>().unwrap_err().to_string();
        assert!(
            msg("4/4").contains("out of range: shards are numbered 0 to 3"),
            "{}",
            msg("4/4")
        );
        assert!(msg("0/0").contains("at least 1"), "{}", msg("0/0"));
        assert!(
            msg("a/b").contains("'a' is not a whole number"),
            "{}",
            msg("a/b")
        );
        assert!(msg("3").contains("no '/'"), "{}", msg("3"));
        assert!(msg("1/x").contains("'x' is not a whole number"));
        assert!(msg("-1/2").contains("not a whole number"));
        for m in [msg("4/4"), msg("0/0"), msg("a/b")] {
            assert!(m.starts_with("shard '"), "{m}");
        }
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap(), Shard::ALL);
        assert_eq!(Shard::new(1, 3).unwrap().to_string(), "1/3");
    }
}
