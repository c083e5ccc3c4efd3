//! One example's record ([`AuditRow`]) and the table's columns ([`COLUMNS`]): every
//! column's name, type and meaning in one place, shared by the CSV and Parquet files.
use serde::{Deserialize, Serialize};

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// UTF-8 text.
    Text,
}

/// One cell; `Null` where a measure was not asked for or failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Text.
    Text(String),
    /// Missing.
    Null,
}

/// A column of the audit table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Name (as pandas and polars show it).
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Whether it may be null.
    pub nullable: bool,
    /// What it holds.
    pub doc: &'static str,
}

const fn col(name: &'static str, kind: Kind, nullable: bool, doc: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable,
        doc,
    }
}

/// The columns, in file order.
pub const COLUMNS: [Column; 14] = [
    col("index", Kind::Int, false, "position of the example in its split"),
    col("label", Kind::Int, false, "the label the data set gives it"),
    col("predicted", Kind::Int, false, "the network's class (argmax of the f64 logits)"),
    col("confidence", Kind::Float, false, "top-class softmax probability"),
    col("loss", Kind::Float, false, "cross-entropy −log softmax(z)_label"),
    col("margin", Kind::Float, false, "logit margin z_label − max_{j≠label} z_j"),
    col("n_plus", Kind::Int, true, "|P|: units of the collision layer with pre-activation > 0"),
    col("n_zero", Kind::Int, true, "|Z|: units with pre-activation ≤ 0"),
    col("rank", Kind::Int, true, "numerical rank of W+ (pivoted QR)"),
    col("affine_dim", Kind::Int, true, "d − rank W+: dimension of the collision subspace"),
    col("region_rows", Kind::Int, true, "half-spaces of the target's linear region (layers before the collision layer; 0 when they are affine)"),
    col("chebyshev_radius", Kind::Float, true, "radius of the largest ball inside the exact polytope within its subspace (LP)"),
    col("mean_extent", Kind::Float, true, "mean width max v·u − min v·u of the polytope along r seeded random unit directions v of the subspace (LPs)"),
    col("error", Kind::Text, true, "why a requested measure is missing for this example"),
];

/// One example's audit record (the columns of [`COLUMNS`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Position in the split.
    pub index: i64,
    /// The data set's label.
    pub label: i64,
    /// The network's class.
    pub predicted: i64,
    /// Top-class probability.
    pub confidence: f64,
    /// `−log p(label)`.
    pub loss: f64,
    /// `z_label − max_{j≠label} z_j`.
    pub margin: f64,
    /// `|P|`.
    pub n_plus: Option<i64>,
    /// `|Z|`.
    pub n_zero: Option<i64>,
    /// `rank W+`.
    pub rank: Option<i64>,
    /// `d − rank W+`.
    pub affine_dim: Option<i64>,
    /// Half-spaces of the linear region.
    pub region_rows: Option<i64>,
    /// Chebyshev radius in the subspace.
    pub chebyshev_radius: Option<f64>,
    /// Mean width along the random directions.
    pub mean_extent: Option<f64>,
    /// Why a requested measure is missing.
    pub error: Option<String>,
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map_or(Value::Null, f)
}

impl AuditRow {
    /// The cells in [`COLUMNS`] order.
    pub fn values(&self) -> Vec<Value> {
        use Value::{Float, Int, Text};
        vec![
            Int(self.index),
            Int(self.label),
            Int(self.predicted),
            Float(self.confidence),
            Float(self.loss),
            Float(self.margin),
            opt(self.n_plus, Int),
            opt(self.n_zero, Int),
            opt(self.rank, Int),
            opt(self.affine_dim, Int),
            opt(self.region_rows, Int),
            opt(self.chebyshev_radius, Float),
            opt(self.mean_extent, Float),
            opt(self.error.clone(), Text),
        ]
    }

    /// A row from cells in [`COLUMNS`] order, checking each cell's type and nullability.
    pub fn from_values(v: &[Value]) -> Result<Self, String> {
        if v.len() != COLUMNS.len() {
            return Err(format!("{} cells, expected {}", v.len(), COLUMNS.len()));
        }
        let bad = |i: usize| {
            format!(
                "column `{}` holds {:?}, expected {:?}{}",
                COLUMNS[i].name,
                v[i],
                COLUMNS[i].kind,
                if COLUMNS[i].nullable { " or null" } else { "" }
            )
        };
        let int = |i: usize| match v[i] {
            Value::Int(x) => Ok(Some(x)),
            Value::Null if COLUMNS[i].nullable => Ok(None),
            _ => Err(bad(i)),
        };
        let float = |i: usize| match v[i] {
            Value::Float(x) => Ok(Some(x)),
            Value::Null if COLUMNS[i].nullable => Ok(None),
            _ => Err(bad(i)),
        };
        let req = |x: Option<i64>, i: usize| x.ok_or_else(|| bad(i));
        let reqf = |x: Option<f64>, i: usize| x.ok_or_else(|| bad(i));
        Ok(AuditRow {
            index: req(int(0)?, 0)?,
            label: req(int(1)?, 1)?,
            predicted: req(int(2)?, 2)?,
            confidence: reqf(float(3)?, 3)?,
            loss: reqf(float(4)?, 4)?,
            margin: reqf(float(5)?, 5)?,
            n_plus: int(6)?,
            n_zero: int(7)?,
            rank: int(8)?,
            affine_dim: int(9)?,
            region_rows: int(10)?,
            chebyshev_radius: float(11)?,
            mean_extent: float(12)?,
            error: match &v[13] {
                Value::Text(x) => Some(x.clone()),
                Value::Null => None,
                _ => return Err(bad(13)),
            },
        })
    }

    /// The value of a numeric column by name (`None` when null, text or unknown).
    pub fn measure(&self, name: &str) -> Option<f64> {
        let i = COLUMNS.iter().position(|c| c.name == name)?;
        match self.values().swap_remove(i) {
            Value::Int(x) => Some(x as f64),
            Value::Float(x) => Some(x),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_row(i: i64) -> AuditRow {
        AuditRow {
            index: i,
            label: 3,
            predicted: 5,
            confidence: 0.9,
            loss: 2.995732273553991,
            margin: -1.5,
            n_plus: Some(120),
            n_zero: Some(136),
            rank: Some(120),
            affine_dim: Some(664),
            region_rows: Some(0),
            chebyshev_radius: Some(0.0625),
            mean_extent: None,
            error: Some("extents: \"LP\", failed,\nsecond line".into()),
        }
    }

    #[test]
    fn values_round_trip_and_types_are_checked() {
        let r = sample_row(7);
        assert_eq!(AuditRow::from_values(&r.values()).unwrap(), r);
        let mut v = r.values();
        v[0] = Value::Null;
        assert!(AuditRow::from_values(&v).unwrap_err().contains("`index`"));
        let mut v = r.values();
        v[11] = Value::Text("x".into());
        assert!(AuditRow::from_values(&v)
            .unwrap_err()
            .contains("chebyshev_radius"));
        assert_eq!(r.measure("affine_dim"), Some(664.0));
        assert_eq!(r.measure("mean_extent"), None);
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(n), "duplicate column {n}");
        }
    }
}
