//! A minimal, safe pickle reader: it rebuilds the values PyTorch state dicts are made of
//! (dicts, lists, tuples, strings, numbers, tensors over persistent storages) and never calls
//! anything. Known globals (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
//! `torch._utils._rebuild_parameter`, `torch.*Storage`) are interpreted; any other class
//! becomes an inert [`Value::Object`] carrying its name, so callers can report it.
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A tensor described by the pickle: a view of a storage.
#[derive(Clone, Debug)]
pub struct TensorRef {
    /// Storage key (member `data/{key}` of the archive).
    pub storage: String,
    /// Storage class name (`FloatStorage`, `HalfStorage`, …).
    pub storage_type: String,
    /// Element offset into the storage.
    pub offset: usize,
    /// Dimensions.
    pub size: Vec<usize>,
    /// Element strides.
    pub stride: Vec<usize>,
}

/// A reconstructed pickle value.
#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A global reference `module.name`, not resolved.
    Global(String),
    /// A storage from a persistent id: (class name, key).
    Storage(String, String),
    /// A tensor.
    Tensor(Rc<TensorRef>),
    /// An instance of a class the reader does not interpret (never constructed).
    Object(String),
}

impl Value {
    fn dict() -> Value {
        Value::Dict(Rc::new(RefCell::new(Vec::new())))
    }

    /// Short description for messages.
    pub fn kind(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::List(_) => "list".into(),
            Value::Dict(_) => "dict".into(),
            Value::Global(g) => format!("global {g}"),
            Value::Storage(..) => "storage".into(),
            Value::Tensor(_) => "tensor".into(),
            Value::Object(c) => format!("object of class {c}"),
        }
    }

    fn as_usize(&self) -> Option<usize> {
        match self {
            Value::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        }
    }

    fn as_usizes(&self) -> Option<Vec<usize>> {
        match self {
            Value::Tuple(t) => t.iter().map(Value::as_usize).collect(),
            Value::List(l) => l.borrow().iter().map(Value::as_usize).collect(),
            _ => None,
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("pickle truncated at byte {}", self.pos))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn line(&mut self) -> Result<&'a str, String> {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or("pickle truncated in a text field")?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| "non-UTF-8 text field")?;
        self.pos += n + 1;
        Ok(s)
    }
    fn len_u64(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "length overflows")?;
        self.take(n)
    }
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string".to_string())
}

fn long_le(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() <= 8 {
        let neg = b[b.len() - 1] & 0x80 != 0;
        let mut a = if neg { [0xffu8; 8] } else { [0u8; 8] };
        a[..b.len()].copy_from_slice(b);
        Value::Int(i64::from_le_bytes(a))
    } else {
        // Too large for i64: keep it as an opaque number (never used for shapes).
        Value::Float(f64::NAN)
    }
}

/// Applies a callable to arguments without executing anything.
fn call(func: &Value, args: Value) -> Result<Value, String> {
    let name = match func {
        Value::Global(g) => g.as_str(),
        Value::Object(c) => return Ok(Value::Object(c.clone())),
        other => return Err(format!("cannot call a {}", other.kind())),
    };
    let items: Vec<Value> = match &args {
        Value::Tuple(t) => t.as_ref().clone(),
        _ => return Err(format!("arguments to {name} are not a tuple")),
    };
    match name {
        "collections.OrderedDict" | "builtins.dict" | "__builtin__.dict" => {
            let d = Value::dict();
            if let (Some(Value::List(pairs)), Value::Dict(dd)) = (items.first(), &d) {
                for p in pairs.borrow().iter() {
                    if let Value::Tuple(kv) = p {
                        if kv.len() == 2 {
                            dd.borrow_mut().push((kv[0].clone(), kv[1].clone()));
                        }
                    }
                }
            }
            Ok(d)
        }
        "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {
            let bad = || format!("malformed arguments to {name}");
            let (st_type, key) = match items.first() {
                Some(Value::Storage(t, k)) => (t.clone(), k.clone()),
                _ => return Err(bad()),
            };
            let offset = items.get(1).and_then(Value::as_usize).ok_or_else(bad)?;
            let size = items.get(2).and_then(Value::as_usizes).ok_or_else(bad)?;
            let stride = items.get(3).and_then(Value::as_usizes).ok_or_else(bad)?;
            Ok(Value::Tensor(Rc::new(TensorRef {
                storage: key,
                storage_type: st_type,
                offset,
                size,
                stride,
            })))
        }
        "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => items
            .into_iter()
            .next()
            .ok_or_else(|| format!("no arguments to {name}")),
        other => Ok(Value::Object(other.to_string())),
    }
}

fn storage_of(pid: &Value) -> Result<Value, String> {
    // ('storage', torch.FloatStorage, key, location, numel)
    let Value::Tuple(t) = pid else {
        return Err(format!(
            "persistent id is a {}, expected a tuple",
            pid.kind()
        ));
    };
    match (t.first(), t.get(1), t.get(2)) {
        (Some(Value::Str(tag)), Some(Value::Global(cls)), Some(key)) if tag == "storage" => {
            let key = match key {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                other => return Err(format!("storage key is a {}", other.kind())),
            };
            let cls = cls.rsplit('.').next().unwrap_or(cls).to_string();
            Ok(Value::Storage(cls, key))
        }
        _ => Err("persistent id is not ('storage', class, key, …)".into()),
    }
}

/// Runs the pickle in `bytes` and returns the value it builds.
pub fn load(bytes: &[u8]) -> Result<Value, String> {
    let mut r = Reader { b: bytes, pos: 0 };
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u64, Value> = HashMap::new();
    macro_rules! pop {
        () => {
            stack.pop().ok_or("pickle stack underflow")?
        };
    }
    fn pop_mark(stack: &mut Vec<Value>, marks: &mut Vec<usize>) -> Result<Vec<Value>, String> {
        let m = marks.pop().ok_or("MARK missing")?;
        if m > stack.len() {
            return Err("MARK beyond the stack".into());
        }
        Ok(stack.split_off(m))
    }
    loop {
        let at = r.pos;
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?;
            }
            0x95 => {
                r.u64()?;
            }
            b'.' => return stack.pop().ok_or_else(|| "empty stack at STOP".into()),
            b'}' => stack.push(Value::dict()),
            b']' => stack.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
            b')' => stack.push(Value::Tuple(Rc::new(Vec::new()))),
            b'(' => marks.push(stack.len()),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'X' => {
                let n = r.u32()? as u64;
                stack.push(Value::Str(utf8(r.len_u64(n)?)?));
            }
            0x8c => {
                let n = r.u8()? as u64;
                stack.push(Value::Str(utf8(r.len_u64(n)?)?));
            }
            0x8d => {
                let n = r.u64()?;
                stack.push(Value::Str(utf8(r.len_u64(n)?)?));
            }
            b'T' => {
                let n = r.u32()? as u64;
                stack.push(Value::Str(
                    String::from_utf8_lossy(r.len_u64(n)?).into_owned(),
                ));
            }
            b'U' => {
                let n = r.u8()? as u64;
                stack.push(Value::Str(
                    String::from_utf8_lossy(r.len_u64(n)?).into_owned(),
                ));
            }
            b'B' => {
                let n = r.u32()? as u64;
                stack.push(Value::Bytes(r.len_u64(n)?.to_vec()));
            }
            b'C' => {
                let n = r.u8()? as u64;
                stack.push(Value::Bytes(r.len_u64(n)?.to_vec()));
            }
            0x8e => {
                let n = r.u64()?;
                stack.push(Value::Bytes(r.len_u64(n)?.to_vec()));
            }
            b'J' => stack.push(Value::Int(r.u32()? as i32 as i64)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(r.u16()? as i64)),
            0x8a => {
                let n = r.u8()? as u64;
                stack.push(long_le(r.len_u64(n)?));
            }
            0x8b => {
                let n = r.u32()? as u64;
                stack.push(long_le(r.len_u64(n)?));
            }
            b'I' | b'L' => {
                let s = r.line()?.trim_end_matches('L');
                stack.push(match s {
                    "01" => Value::Bool(true),
                    "00" => Value::Bool(false),
                    _ => Value::Int(s.parse().map_err(|_| format!("bad integer '{s}'"))?),
                });
            }
            b'G' => {
                let s = r.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                stack.push(Value::Float(f64::from_be_bytes(a)));
            }
            b'F' => {
                let s = r.line()?;
                stack.push(Value::Float(
                    s.parse().map_err(|_| format!("bad float '{s}'"))?,
                ));
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(Rc::new(items)));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(Rc::new(items)));
            }
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(Rc::new(RefCell::new(items))));
            }
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let d = Value::dict();
                if let Value::Dict(dd) = &d {
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        dd.borrow_mut().push((k, v));
                    }
                }
                stack.push(d);
            }
            b'c' => {
                let module = r.line()?.to_string();
                let name = r.line()?;
                stack.push(Value::Global(format!("{module}.{name}")));
            }
            0x93 => {
                let name = pop!();
                let module = pop!();
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => stack.push(Value::Global(format!("{m}.{n}"))),
                    _ => return Err("STACK_GLOBAL needs two strings".into()),
                }
            }
            b'Q' => {
                let pid = pop!();
                stack.push(storage_of(&pid)?);
            }
            b'P' => return Err("text persistent ids (PERSID) are not supported".into()),
            b'R' => {
                let args = pop!();
                let func = pop!();
                stack.push(call(&func, args)?);
            }
            0x81 => {
                let args = pop!();
                let cls = pop!();
                stack.push(call(&cls, args)?);
            }
            0x92 => {
                let _kwargs = pop!();
                let args = pop!();
                let cls = pop!();
                stack.push(call(&cls, args)?);
            }
            b'b' => {
                // BUILD sets instance state; for dicts (`_metadata`) and opaque objects it is
                // irrelevant, so the state is dropped.
                let _state = pop!();
                if stack.is_empty() {
                    return Err("BUILD on an empty stack".into());
                }
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = pop!();
                    let k = pop!();
                    vec![k, v]
                } else {
                    pop_mark(&mut stack, &mut marks)?
                };
                match stack.last() {
                    Some(Value::Dict(d)) => {
                        let mut d = d.borrow_mut();
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    Some(Value::Object(_)) => {}
                    Some(other) => return Err(format!("SETITEMS on a {}", other.kind())),
                    None => return Err("SETITEMS on an empty stack".into()),
                }
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop!()]
                } else {
                    pop_mark(&mut stack, &mut marks)?
                };
                match stack.last() {
                    Some(Value::List(l)) => l.borrow_mut().extend(items),
                    Some(Value::Object(_)) => {}
                    Some(other) => return Err(format!("APPENDS on a {}", other.kind())),
                    None => return Err("APPENDS on an empty stack".into()),
                }
            }
            0x94 => {
                let v = stack.last().ok_or("MEMOIZE on an empty stack")?.clone();
                memo.insert(memo.len() as u64, v);
            }
            b'q' | b'r' | b'p' => {
                let idx = match op {
                    b'q' => r.u8()? as u64,
                    b'r' => r.u32()? as u64,
                    _ => r.line()?.parse().map_err(|_| "bad PUT index")?,
                };
                let v = stack.last().ok_or("PUT on an empty stack")?.clone();
                memo.insert(idx, v);
            }
            b'h' | b'j' | b'g' => {
                let idx = match op {
                    b'h' => r.u8()? as u64,
                    b'j' => r.u32()? as u64,
                    _ => r.line()?.parse().map_err(|_| "bad GET index")?,
                };
                let v = memo.get(&idx).ok_or(format!("memo entry {idx} missing"))?;
                stack.push(v.clone());
            }
            b'0' => {
                pop!();
            }
            b'1' => {
                pop_mark(&mut stack, &mut marks)?;
            }
            b'2' => {
                let v = stack.last().ok_or("DUP on an empty stack")?.clone();
                stack.push(v);
            }
            other => {
                return Err(format!(
                    "pickle opcode 0x{other:02x} at byte {at} is not supported by the safe reader"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_shares_and_unknown_classes_stay_inert() {
        // {'a': [1, 2.5, 'x'], 'b': <same list via memo>} with the list filled after BINPUT.
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'('];
        p.extend(b"X\x01\x00\x00\x00a");
        p.extend(b"]q\x01(K\x01G");
        p.extend(2.5f64.to_be_bytes());
        p.extend(b"X\x01\x00\x00\x00xe");
        p.extend(b"X\x01\x00\x00\x00bh\x01u.");
        let v = load(&p).unwrap();
        let Value::Dict(d) = v else { panic!("{v:?}") };
        let d = d.borrow();
        assert_eq!(d.len(), 2);
        let (Value::List(a), Value::List(b)) = (&d[0].1, &d[1].1) else {
            panic!()
        };
        assert!(Rc::ptr_eq(a, b) && a.borrow().len() == 3);
        // os.system('…') is never called: it becomes an inert object.
        let v = load(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsK\x01\x86R.").unwrap();
        assert!(matches!(v, Value::Object(c) if c == "os.system"));
        // Unknown opcodes and truncation are errors.
        assert!(load(b"\x80\x02\xff").is_err());
        assert!(load(b"\x80\x02X\xff\xff\xff\x7fab").is_err());
        assert!(load(b"").is_err());
    }
}
