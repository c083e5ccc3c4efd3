//! PyTorch `.pth` / `.pt` files in the zip format torch ≥ 1.6 writes: `{dir}/data.pkl` (the
//! pickled state dict; `{dir}` is usually `archive` but any name is accepted) and one member
//! `{dir}/data/{key}` per storage (raw little-endian elements).
//!
//! Accepted top-level values: a state dict (`OrderedDict` name → tensor), or a checkpoint dict
//! holding one under `state_dict`, `model_state_dict`, `model`, `net`, `state` or `module`.
//! A pickled whole module (any class instance) is refused with a message saying what to do.
use super::pickle::{self, short, Pickle, Value};
use super::tensors::{decode_strided, DType, TensorMap};
use super::zip::ZipArchive;
use super::ImportError;
use std::borrow::Cow;
use std::collections::HashMap;

const FORMAT: &str = "PyTorch zip";

fn has_tensors(p: &Pickle, d: &Value) -> bool {
    p.entries(d)
        .is_some_and(|e| e.iter().any(|(_, v)| matches!(v, Value::Tensor(_))))
}

fn key_str(k: &Value) -> String {
    match k {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        other => format!("<{}>", other.kind()),
    }
}

/// Finds the state dict inside the unpickled top-level value.
fn state_dict<'p>(v: &'p Value, p: &'p Pickle, path: &str) -> Result<&'p Value, ImportError> {
    let whole = |class: &str| ImportError::WholeModule {
        path: path.to_string(),
        class: short(class),
    };
    match v {
        Value::Object(class) => Err(whole(class)),
        Value::Dict(_) => {
            if has_tensors(p, v) {
                return Ok(v);
            }
            let entries = p.entries(v).unwrap_or_default();
            for name in [
                "state_dict",
                "model_state_dict",
                "model",
                "net",
                "state",
                "module",
            ] {
                let found = entries
                    .iter()
                    .find(|(k, _)| matches!(k, Value::Str(s) if &**s == name));
                match found {
                    Some((_, inner @ Value::Dict(_))) if has_tensors(p, inner) => return Ok(inner),
                    Some((_, Value::Object(class))) => return Err(whole(class)),
                    _ => {}
                }
            }
            let nested: Vec<&Value> = entries
                .iter()
                .filter_map(|(_, inner)| {
                    (matches!(inner, Value::Dict(_)) && has_tensors(p, inner)).then_some(inner)
                })
                .collect();
            if nested.len() == 1 {
                return Ok(nested[0]);
            }
            let mut keys: Vec<String> = entries
                .iter()
                .take(20)
                .map(|(k, _)| short(&key_str(k)))
                .collect();
            if entries.len() > 20 {
                keys.push(format!("… ({} more)", entries.len() - 20));
            }
            Err(ImportError::Pickle {
                path: path.into(),
                msg: format!(
                    "no state dict found: the top-level dict has keys [{}] and none holds tensors",
                    keys.join(", ")
                ),
            })
        }
        other => Err(ImportError::Pickle {
            path: path.into(),
            msg: format!("the file holds a {}, expected a state dict", other.kind()),
        }),
    }
}

fn storage_dtype(class: &str) -> Option<DType> {
    Some(match class {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// Whether `bytes` look like a PyTorch zip checkpoint (a zip with a `*/data.pkl` member).
pub fn is_pth_zip(zip: &ZipArchive<'_>) -> bool {
    zip.entries.iter().any(|e| e.name.ends_with("data.pkl"))
}

/// Reads every tensor of a PyTorch zip checkpoint.
pub fn read_pth(bytes: &[u8], path: &str) -> Result<TensorMap, ImportError> {
    if bytes.starts_with(&[0x80]) || bytes.starts_with(&[0x8a, 0x0a]) {
        return Err(ImportError::UnknownFormat {
            path: path.into(),
            msg: "this is the legacy (torch < 1.6) pickle format; re-save it with torch ≥ 1.6 or convert it to safetensors".into(),
        });
    }
    let zip = ZipArchive::new(bytes, path, FORMAT)?;
    read_pth_zip(&zip, path)
}

/// Reads every tensor of an opened PyTorch zip checkpoint.
pub fn read_pth_zip(zip: &ZipArchive<'_>, path: &str) -> Result<TensorMap, ImportError> {
    let pkl = zip
        .entries
        .iter()
        .filter(|e| e.name.ends_with("data.pkl"))
        .min_by_key(|e| e.name.len())
        .ok_or_else(|| ImportError::corrupt(path, FORMAT, "no data.pkl member"))?;
    let prefix = pkl.name[..pkl.name.len() - "data.pkl".len()].to_string();
    let pickled = zip.read(pkl)?;
    let (value, arena) = pickle::load(&pickled).map_err(|msg| ImportError::Pickle {
        path: path.into(),
        msg: format!("{}: {msg}", short(&pkl.name)),
    })?;
    let dict = state_dict(&value, &arena, path)?;
    let mut storages: HashMap<String, Cow<'_, [u8]>> = HashMap::new();
    let mut out = TensorMap::new();
    for (k, v) in arena.entries(dict).unwrap_or_default() {
        let Value::Tensor(t) = v else { continue };
        let key = key_str(k);
        let shown = short(&key);
        let dtype = storage_dtype(&t.storage_type).ok_or_else(|| ImportError::Dtype {
            path: path.into(),
            key: shown.clone(),
            dtype: short(&t.storage_type),
            expected: super::tensors::CONVERTIBLE,
        })?;
        if !storages.contains_key(&t.storage) {
            let name = format!("{prefix}data/{}", t.storage);
            let e = zip.find(&name).ok_or_else(|| {
                ImportError::corrupt(
                    path,
                    FORMAT,
                    format!(
                        "storage member '{}' of tensor '{shown}' is missing",
                        short(&name)
                    ),
                )
            })?;
            storages.insert(t.storage.clone(), zip.read(e)?);
        }
        let bytes = &storages[&t.storage];
        let tensor = decode_strided(
            bytes, dtype, &t.size, &t.stride, t.offset, path, &shown, FORMAT,
        )?;
        out.insert_new(key, tensor, path, FORMAT)?;
    }
    Ok(out)
}
