//! Resource limits applied by every reader, so that a small hostile or broken file cannot
//! exhaust memory, the stack or the time of a run, and a parameter cannot ask for an absurd
//! allocation.
//!
//! Every limit is checked **before** the allocation it guards, against the size the input
//! declares (a tensor's shape, a zip member's uncompressed size, an image's dimensions) and,
//! where the input has one, against the real length of the file. Going over a limit is a
//! [`LimitError`] whose message names the input, the limit and its value.
//!
//! # The limits and their defaults
//!
//! | name | default | what |
//! |---|---|---|
//! | `max_read_bytes` | 4 GiB | largest file read whole into memory (vertex files, checkpoints, IDX files) |
//! | `max_text_bytes` | 16 MiB | largest text file read whole (class-name lists, TOML model specs) |
//! | `max_tensor_bytes` | 4 GiB | largest decoded tensor (as `f32`) in a weights file |
//! | `max_inflated_bytes` | 4 GiB | largest decompressed zip/npz member or gzip stream |
//! | `max_inflate_ratio` | 200 | largest uncompressed/compressed ratio of a member or stream larger than [`RATIO_FREE_BYTES`] (zip bombs) |
//! | `max_pickle_depth` | 1,000 | deepest nesting of containers (and of `MARK`s) in a pickle |
//! | `max_pickle_values` | 4,000,000 | most values a pickle may create (stack, memo and containers together) |
//! | `max_pickle_memo` | 1,000,000 | most memo entries of a pickle |
//! | `max_image_pixels` | 64 Mpx | largest image decoded, and largest intermediate image when resizing |
//! | `max_buffer_bytes` | 4 GiB | largest working buffer a parameter asks for (polytope samples × input size, batch × input size) |
//! | `max_layer_units` | 1,048,576 | most units or channels of one layer of a model spec (ONNX, TOML) |
//! | `max_input_values` | 67,108,864 | most values `C·H·W` of a model input (ONNX, TOML specs) |
//!
//! # Raising them
//!
//! The limits are process-wide ([`set`], [`current`]); [`with_limits`] overrides them for
//! the calling thread while a closure runs (tests, or one hostile file read with tighter
//! limits). A front end can parse `NAME=VALUE` settings with [`Limits::set_by_name`], e.g.
//! `max_tensor_bytes=16G`:
//!
//! ```
//! let mut l = fcollide::limits::current();
//! l.set_by_name("max_tensor_bytes", "16G").unwrap();
//! fcollide::limits::set(l);
//! assert_eq!(fcollide::limits::current().max_tensor_bytes, 16 << 30);
//! # fcollide::limits::set(fcollide::limits::Limits::DEFAULT);
//! ```
//!
//! # Applying them to a model description (ONNX, TOML specs)
//!
//! Shapes that come from a file are multiplied with [`checked_product`] (overflow is an
//! error, never a wrap-around), the units/channels of each layer are checked with
//! [`check_count`] against `max_layer_units`, an input's `C·H·W` against `max_input_values`,
//! and the number of bytes a layer's weights need with [`check_alloc`] against
//! `max_tensor_bytes` **and** against the length of the file they are read from, before the
//! weights are allocated.
use std::cell::Cell;
use std::sync::RwLock;

/// Members or streams inflating to at most this many bytes are never refused for their
/// compression ratio (a small array of zeros compresses very well and is harmless).
pub const RATIO_FREE_BYTES: u64 = 16 << 20;

/// Every limit (see the module docs for what each bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read whole into memory, in bytes.
    pub max_read_bytes: u64,
    /// Largest text file read whole, in bytes.
    pub max_text_bytes: u64,
    /// Largest decoded tensor, in bytes of `f32`.
    pub max_tensor_bytes: u64,
    /// Largest decompressed zip member or gzip stream, in bytes.
    pub max_inflated_bytes: u64,
    /// Largest compression ratio of a member or stream above [`RATIO_FREE_BYTES`].
    pub max_inflate_ratio: u64,
    /// Deepest container nesting in a pickle.
    pub max_pickle_depth: u64,
    /// Most values a pickle may create.
    pub max_pickle_values: u64,
    /// Most memo entries of a pickle.
    pub max_pickle_memo: u64,
    /// Largest image (width × height) decoded or produced while resizing.
    pub max_image_pixels: u64,
    /// Largest working buffer a run parameter asks for, in bytes.
    pub max_buffer_bytes: u64,
    /// Most units or channels of one layer of a model description.
    pub max_layer_units: u64,
    /// Most values of a model input (`C·H·W`).
    pub max_input_values: u64,
}

/// The names accepted by [`Limits::set_by_name`], in the order of the table above.
pub const NAMES: [&str; 12] = [
    "max_read_bytes",
    "max_text_bytes",
    "max_tensor_bytes",
    "max_inflated_bytes",
    "max_inflate_ratio",
    "max_pickle_depth",
    "max_pickle_values",
    "max_pickle_memo",
    "max_image_pixels",
    "max_buffer_bytes",
    "max_layer_units",
    "max_input_values",
];

impl Limits {
    /// The defaults (module docs).
    pub const DEFAULT: Limits = Limits {
        max_read_bytes: 4 << 30,
        max_text_bytes: 16 << 20,
        max_tensor_bytes: 4 << 30,
        max_inflated_bytes: 4 << 30,
        max_inflate_ratio: 200,
        max_pickle_depth: 1000,
        max_pickle_values: 4_000_000,
        max_pickle_memo: 1_000_000,
        max_image_pixels: 64 << 20,
        max_buffer_bytes: 4 << 30,
        max_layer_units: 1 << 20,
        max_input_values: 1 << 26,
    };

    fn slot(&mut self, name: &str) -> Option<&mut u64> {
        Some(match name {
            "max_read_bytes" => &mut self.max_read_bytes,
            "max_text_bytes" => &mut self.max_text_bytes,
            "max_tensor_bytes" => &mut self.max_tensor_bytes,
            "max_inflated_bytes" => &mut self.max_inflated_bytes,
            "max_inflate_ratio" => &mut self.max_inflate_ratio,
            "max_pickle_depth" => &mut self.max_pickle_depth,
            "max_pickle_values" => &mut self.max_pickle_values,
            "max_pickle_memo" => &mut self.max_pickle_memo,
            "max_image_pixels" => &mut self.max_image_pixels,
            "max_buffer_bytes" => &mut self.max_buffer_bytes,
            "max_layer_units" => &mut self.max_layer_units,
            "max_input_values" => &mut self.max_input_values,
            _ => return None,
        })
    }

    /// The value of the limit called `name` (one of [`NAMES`]).
    pub fn get(&self, name: &str) -> Option<u64> {
        let mut copy = *self;
        copy.slot(name).map(|v| *v)
    }

    /// Sets the limit called `name` from text: a whole number with an optional binary
    /// suffix `K`, `M`, `G`, `T` (×1024ⁿ; `KiB`, `MB`, … are read the same way), e.g. `16G`.
    pub fn set_by_name(&mut self, name: &str, value: &str) -> Result<(), String> {
        let parsed = parse_size(value).ok_or_else(|| {
            format!("limit {name}: '{value}' is not a whole number with an optional K/M/G/T suffix")
        })?;
        if parsed == 0 {
            return Err(format!("limit {name}: must be at least 1"));
        }
        let slot = self
            .slot(name)
            .ok_or_else(|| format!("unknown limit '{name}'; limits: {}", NAMES.join(", ")))?;
        *slot = parsed;
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (num, suffix) = t.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

static GLOBAL: RwLock<Limits> = RwLock::new(Limits::DEFAULT);

thread_local! {
    static LOCAL: Cell<Option<Limits>> = const { Cell::new(None) };
}

/// The limits in force on this thread: a [`with_limits`] override, else the process-wide
/// ones.
pub fn current() -> Limits {
    LOCAL
        .with(Cell::get)
        .unwrap_or_else(|| *GLOBAL.read().unwrap_or_else(|e| e.into_inner()))
}

/// Replaces the process-wide limits.
pub fn set(limits: Limits) {
    *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = limits;
}

/// Runs `f` with `limits` in force on the calling thread only (work `f` hands to other
/// threads sees the process-wide limits).
pub fn with_limits<R>(limits: Limits, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Limits>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCAL.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LOCAL.with(|l| l.replace(Some(limits))));
    f()
}

/// An input (or a parameter) above a limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {}, above the limit {name} = {} (if this input is genuine, raise the limit {name})", show(*.value, .name), show(*.limit, .name))]
pub struct LimitError {
    /// What was measured, in words (e.g. "tensor 'fc6.weight' (decoded as f32)").
    pub what: String,
    /// Its size (`u64::MAX` when it overflowed).
    pub value: u64,
    /// The limit's name (one of [`NAMES`]).
    pub name: &'static str,
    /// The limit's value.
    pub limit: u64,
}

fn show(v: u64, name: &str) -> String {
    if v == u64::MAX {
        return "more than 2⁶⁴".into();
    }
    if name.ends_with("_bytes") && v >= 1 << 20 {
        let units = [(40, "TiB"), (30, "GiB"), (20, "MiB")];
        let (shift, unit) = units
            .iter()
            .find(|(s, _)| v >= 1u64 << s)
            .copied()
            .unwrap_or((20, "MiB"));
        return format!(
            "{:.1} {unit} ({v} bytes)",
            v as f64 / (1u64 << shift) as f64
        );
    }
    if name.ends_with("_bytes") {
        return format!("{v} bytes");
    }
    v.to_string()
}

impl LimitError {
    /// The error for `value` above limit `name` (whose value is `limit`).
    pub fn new(what: impl Into<String>, value: u64, name: &'static str, limit: u64) -> Self {
        LimitError {
            what: what.into(),
            value,
            name,
            limit,
        }
    }
}

impl From<LimitError> for std::io::Error {
    fn from(e: LimitError) -> Self {
        std::io::Error::new(std::io::ErrorKind::FileTooLarge, e)
    }
}

/// `Ok(value)` if `value ≤ limit`, else the [`LimitError`] naming `what` and the limit.
pub fn check(what: &str, value: u64, name: &'static str, limit: u64) -> Result<u64, LimitError> {
    if value <= limit {
        Ok(value)
    } else {
        Err(LimitError::new(what, value, name, limit))
    }
}

/// The product of `dims` with overflow checking, checked against the limit `name` (one of
/// [`NAMES`]); `what` names the shape in the error.
pub fn checked_product(what: &str, dims: &[u64], name: &'static str) -> Result<u64, LimitError> {
    let limit = current()
        .get(name)
        .expect("checked_product: name is one of limits::NAMES");
    let product = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .unwrap_or(u64::MAX);
    check(&format!("{what} {dims:?}"), product, name, limit)
}

/// Checks a count of units, channels or input values against the limit `name`
/// (`max_layer_units` or `max_input_values`).
pub fn check_count(what: &str, count: u64, name: &'static str) -> Result<u64, LimitError> {
    let limit = current()
        .get(name)
        .expect("check_count: name is one of limits::NAMES");
    check(what, count, name, limit)
}

/// Checks that `count` elements of `elem_bytes` bytes (as decoded) fit `max_tensor_bytes`;
/// returns the byte count.
pub fn check_alloc(what: &str, count: u64, elem_bytes: u64) -> Result<usize, LimitError> {
    let limit = current().max_tensor_bytes;
    let bytes = count.saturating_mul(elem_bytes);
    check(what, bytes, "max_tensor_bytes", limit)?;
    usize::try_from(bytes).map_err(|_| LimitError::new(what, bytes, "max_tensor_bytes", limit))
}

/// `Err` with a message unless `needed` bytes (what an input declares it stores) fit in a
/// file of `file_len` bytes; call it before allocating for the declared data.
pub fn check_fits_file(what: &str, needed: u64, file_len: u64) -> Result<(), String> {
    if needed > file_len {
        Err(format!(
            "{what} declares {} of data, but the file holds only {}",
            show(needed, "_bytes"),
            show(file_len, "_bytes")
        ))
    } else {
        Ok(())
    }
}

/// Checks a working buffer of `count × per` values of `elem_bytes` each against
/// `max_buffer_bytes`; `param` names the parameter that asked for it.
pub fn check_buffer(
    param: &str,
    count: u64,
    per: u64,
    elem_bytes: u64,
) -> Result<usize, LimitError> {
    let bytes = count
        .checked_mul(per)
        .and_then(|v| v.checked_mul(elem_bytes))
        .unwrap_or(u64::MAX);
    let limit = current().max_buffer_bytes;
    check(
        &format!("the buffer {param} = {count} asks for ({count} × {per} values)"),
        bytes,
        "max_buffer_bytes",
        limit,
    )?;
    usize::try_from(bytes).map_err(|_| LimitError::new(param, bytes, "max_buffer_bytes", limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_thread_overrides() {
        let mut l = Limits::default();
        for name in NAMES {
            assert!(l.get(name).is_some(), "{name}");
        }
        l.set_by_name("max_tensor_bytes", "16G").unwrap();
        assert_eq!(l.max_tensor_bytes, 16 << 30);
        l.set_by_name("max_pickle_depth", "20").unwrap();
        assert_eq!(l.max_pickle_depth, 20);
        assert!(l
            .set_by_name("max_nothing", "1")
            .unwrap_err()
            .contains("max_read_bytes"));
        assert!(l.set_by_name("max_pickle_depth", "x").is_err());
        assert!(l.set_by_name("max_pickle_depth", "0").is_err());
        assert!(l.set_by_name("max_read_bytes", "99999999999T").is_err());
        let inner = with_limits(l, || current().max_pickle_depth);
        assert_eq!(inner, 20);
        assert_eq!(current().max_pickle_depth, Limits::DEFAULT.max_pickle_depth);
        let e = check("file x.bin", 5 << 30, "max_read_bytes", 4 << 30).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("x.bin") && m.contains("max_read_bytes") && m.contains("4.0 GiB"),
            "{m}"
        );
        let e = checked_product("input", &[1 << 40, 1 << 40], "max_input_values").unwrap_err();
        assert!(e.to_string().contains("more than 2⁶⁴"), "{e}");
        assert_eq!(
            checked_product("input", &[3, 224, 224], "max_input_values").unwrap(),
            150_528
        );
        assert!(check_alloc("t", 2 << 30, 4).is_err());
        assert_eq!(check_alloc("t", 100, 4).unwrap(), 400);
        assert!(check_fits_file("t", 401, 400)
            .unwrap_err()
            .contains("400 bytes"));
        assert!(check_buffer("samples", u64::MAX, 784, 4).is_err());
    }
}
