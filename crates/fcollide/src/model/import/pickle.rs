//! A minimal, safe pickle reader: it rebuilds the values PyTorch state dicts are made of
//! (dicts, lists, tuples, strings, numbers, tensors over persistent storages) and never calls
//! anything. Known globals (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
//! `torch._utils._rebuild_parameter`, `torch.*Storage`) are interpreted; any other class
//! becomes an inert [`Value::Object`] carrying its name, so callers can report it.
//!
//! # Bounded by design
//! Containers live in an arena ([`Pickle`]) and values refer to them by index, so `DUP`,
//! `BINGET`/`LONG_BINGET` and `BINPUT` share a value instead of copying it (a 16 MB string
//! pushed a million times costs a million indices), a container that holds itself is
//! harmless, and dropping the result never recurses. Strings and bytes are reference-counted.
//! The VM refuses, with an error naming the limit ([`crate::limits`]), a nesting of `MARK`s
//! or containers deeper than `max_pickle_depth` (a container's depth is fixed when it is
//! built from the stack), more than `max_pickle_values` values created in all, and more than
//! `max_pickle_memo` memo entries.
use crate::bytes;
use crate::limits;
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

/// Index of a container in a [`Pickle`] arena.
pub type NodeId = usize;

/// A reconstructed pickle value (containers by index into the [`Pickle`] arena).
#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(NodeId),
    List(NodeId),
    Dict(NodeId),
    /// A global reference `module.name`, not resolved.
    Global(Rc<str>),
    /// A storage from a persistent id: (class name, key).
    Storage(Rc<str>, Rc<str>),
    /// A tensor.
    Tensor(Rc<TensorRef>),
    /// An instance of a class the reader does not interpret (never constructed).
    Object(Rc<str>),
}

impl Value {
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
            Value::Global(g) => format!("global {}", short(g)),
            Value::Storage(..) => "storage".into(),
            Value::Tensor(_) => "tensor".into(),
            Value::Object(c) => format!("object of class {}", short(c)),
        }
    }

    fn as_usize(&self) -> Option<usize> {
        match self {
            Value::Int(i) => usize::try_from(*i).ok(),
            _ => None,
        }
    }
}

/// At most 200 characters of a name from the file, for messages.
pub fn short(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// One container of the arena.
#[derive(Clone, Debug)]
enum Node {
    Seq {
        items: Vec<Value>,
        depth: u64,
    },
    Dict {
        items: Vec<(Value, Value)>,
        depth: u64,
    },
}

/// The containers a pickle built; [`load`] returns it with the top-level value.
#[derive(Debug, Default)]
pub struct Pickle {
    nodes: Vec<Node>,
}

impl Pickle {
    /// The items of a tuple or list value (`None` for anything else).
    pub fn items(&self, v: &Value) -> Option<&[Value]> {
        match v {
            Value::Tuple(id) | Value::List(id) => match self.nodes.get(*id) {
                Some(Node::Seq { items, .. }) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    /// The `(key, value)` entries of a dict value in insertion order (`None` for anything
    /// else).
    pub fn entries(&self, v: &Value) -> Option<&[(Value, Value)]> {
        match v {
            Value::Dict(id) => match self.nodes.get(*id) {
                Some(Node::Dict { items, .. }) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    fn as_usizes(&self, v: &Value) -> Option<Vec<usize>> {
        self.items(v)?.iter().map(Value::as_usize).collect()
    }

    fn depth_of(&self, v: &Value) -> u64 {
        match v {
            Value::Tuple(id) | Value::List(id) | Value::Dict(id) => match &self.nodes[*id] {
                Node::Seq { depth, .. } | Node::Dict { depth, .. } => *depth,
            },
            _ => 0,
        }
    }
}

/// The budgets of one run of the VM.
struct Budget {
    values: u64,
    max_values: u64,
    max_depth: u64,
    max_memo: u64,
}

impl Budget {
    fn value(&mut self) -> Result<(), String> {
        self.values += 1;
        if self.values > self.max_values {
            return Err(limits::LimitError::new(
                "the number of values the pickle creates",
                self.values,
                "max_pickle_values",
                self.max_values,
            )
            .to_string());
        }
        Ok(())
    }
}

/// Everything the VM works on.
struct Vm {
    arena: Pickle,
    budget: Budget,
}

impl Vm {
    fn new_seq(&mut self, items: Vec<Value>, tuple: bool) -> Result<Value, String> {
        let depth = 1 + items
            .iter()
            .map(|v| self.arena.depth_of(v))
            .max()
            .unwrap_or(0);
        self.check_depth(depth)?;
        self.budget.value()?;
        let id = self.arena.nodes.len();
        self.arena.nodes.push(Node::Seq { items, depth });
        Ok(if tuple {
            Value::Tuple(id)
        } else {
            Value::List(id)
        })
    }

    fn new_dict(&mut self, items: Vec<(Value, Value)>) -> Result<Value, String> {
        let depth = 1 + items
            .iter()
            .map(|(k, v)| self.arena.depth_of(k).max(self.arena.depth_of(v)))
            .max()
            .unwrap_or(0);
        self.check_depth(depth)?;
        self.budget.value()?;
        let id = self.arena.nodes.len();
        self.arena.nodes.push(Node::Dict { items, depth });
        Ok(Value::Dict(id))
    }

    fn check_depth(&self, depth: u64) -> Result<(), String> {
        if depth > self.budget.max_depth {
            return Err(limits::LimitError::new(
                "the nesting depth of the pickle's containers",
                depth,
                "max_pickle_depth",
                self.budget.max_depth,
            )
            .to_string());
        }
        Ok(())
    }

    /// Appends to the list `target` (or ignores an inert object); errors for anything else.
    fn extend_list(&mut self, target: Option<&Value>, items: Vec<Value>) -> Result<(), String> {
        match target {
            Some(Value::List(id)) => {
                let add = 1 + items
                    .iter()
                    .map(|v| self.arena.depth_of(v))
                    .max()
                    .unwrap_or(0);
                self.check_depth(add)?;
                if let Node::Seq { items: l, depth } = &mut self.arena.nodes[*id] {
                    l.extend(items);
                    *depth = (*depth).max(add);
                }
                Ok(())
            }
            Some(Value::Object(_)) => Ok(()),
            Some(other) => Err(format!("APPENDS on a {}", other.kind())),
            None => Err("APPENDS on an empty stack".into()),
        }
    }

    fn extend_dict(&mut self, target: Option<&Value>, items: Vec<Value>) -> Result<(), String> {
        match target {
            Some(Value::Dict(id)) => {
                let add = 1 + items
                    .iter()
                    .map(|v| self.arena.depth_of(v))
                    .max()
                    .unwrap_or(0);
                self.check_depth(add)?;
                if let Node::Dict { items: d, depth } = &mut self.arena.nodes[*id] {
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        d.push((k, v));
                    }
                    *depth = (*depth).max(add);
                }
                Ok(())
            }
            Some(Value::Object(_)) => Ok(()),
            Some(other) => Err(format!("SETITEMS on a {}", other.kind())),
            None => Err("SETITEMS on an empty stack".into()),
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
    /// A fixed-width number of `n` bytes read by `read` (one of [`crate::bytes`]' readers).
    fn num<T>(&mut self, n: usize, read: fn(&[u8], usize) -> Option<T>) -> Result<T, String> {
        let v = read(self.b, self.pos)
            .ok_or_else(|| format!("pickle truncated at byte {}", self.pos))?;
        self.pos += n;
        Ok(v)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        self.num(2, bytes::le_u16)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.num(4, bytes::le_u32)
    }
    fn u64(&mut self) -> Result<u64, String> {
        self.num(8, bytes::le_u64)
    }
    fn be_f64(&mut self) -> Result<f64, String> {
        self.num(8, bytes::be_f64)
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

fn utf8(b: &[u8]) -> Result<Rc<str>, String> {
    std::str::from_utf8(b)
        .map(Rc::from)
        .map_err(|_| "invalid UTF-8 in a string".to_string())
}

fn long_le(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() <= 8 {
        let neg = b[b.len() - 1] & 0x80 != 0;
        let mut a = if neg { [0xffu8; 8] } else { [0u8; 8] };
        a[..b.len()].copy_from_slice(b);
        Value::Int(bytes::le_i64(&a, 0).unwrap_or_default())
    } else {
        // Too large for i64: keep it as an opaque number (never used for shapes).
        Value::Float(f64::NAN)
    }
}

/// Applies a callable to arguments without executing anything.
fn call(vm: &mut Vm, func: &Value, args: &Value) -> Result<Value, String> {
    let name = match func {
        Value::Global(g) => g.clone(),
        Value::Object(c) => return Ok(Value::Object(c.clone())),
        other => return Err(format!("cannot call a {}", other.kind())),
    };
    let items: Vec<Value> = match args {
        Value::Tuple(_) => vm.arena.items(args).unwrap_or_default().to_vec(),
        _ => return Err(format!("arguments to {} are not a tuple", short(&name))),
    };
    match &*name {
        "collections.OrderedDict" | "builtins.dict" | "__builtin__.dict" => {
            let mut entries = Vec::new();
            if let Some(pairs) = items.first().and_then(|l| vm.arena.items(l)) {
                for p in pairs {
                    if let (Value::Tuple(_), Some(kv)) = (p, vm.arena.items(p)) {
                        if kv.len() == 2 {
                            entries.push((kv[0].clone(), kv[1].clone()));
                        }
                    }
                }
            }
            vm.new_dict(entries)
        }
        "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {
            let bad = || format!("malformed arguments to {name}");
            let (st_type, key) = match items.first() {
                Some(Value::Storage(t, k)) => (t.to_string(), k.to_string()),
                _ => return Err(bad()),
            };
            let offset = items.get(1).and_then(Value::as_usize).ok_or_else(bad)?;
            let size = items
                .get(2)
                .and_then(|v| vm.arena.as_usizes(v))
                .ok_or_else(bad)?;
            let stride = items
                .get(3)
                .and_then(|v| vm.arena.as_usizes(v))
                .ok_or_else(bad)?;
            vm.budget.value()?;
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
        _ => Ok(Value::Object(name)),
    }
}

fn storage_of(vm: &Vm, pid: &Value) -> Result<Value, String> {
    // ('storage', torch.FloatStorage, key, location, numel)
    let Some(t) = (match pid {
        Value::Tuple(_) => vm.arena.items(pid),
        _ => None,
    }) else {
        return Err(format!(
            "persistent id is a {}, expected a tuple",
            pid.kind()
        ));
    };
    match (t.first(), t.get(1), t.get(2)) {
        (Some(Value::Str(tag)), Some(Value::Global(cls)), Some(key)) if &**tag == "storage" => {
            let key: Rc<str> = match key {
                Value::Str(s) => s.clone(),
                Value::Int(i) => Rc::from(i.to_string()),
                other => return Err(format!("storage key is a {}", other.kind())),
            };
            let cls = cls.rsplit('.').next().unwrap_or(cls);
            Ok(Value::Storage(Rc::from(cls), key))
        }
        _ => Err("persistent id is not ('storage', class, key, …)".into()),
    }
}

/// Runs the pickle in `bytes` with the current [`limits`]; returns the top-level value and
/// the arena of containers it refers to.
pub fn load(bytes: &[u8]) -> Result<(Value, Pickle), String> {
    let l = limits::current();
    let mut vm = Vm {
        arena: Pickle::default(),
        budget: Budget {
            values: 0,
            max_values: l.max_pickle_values,
            max_depth: l.max_pickle_depth,
            max_memo: l.max_pickle_memo,
        },
    };
    let mut r = Reader { b: bytes, pos: 0 };
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u64, Value> = HashMap::new();
    macro_rules! pop {
        () => {
            stack.pop().ok_or("pickle stack underflow")?
        };
    }
    macro_rules! push {
        ($v:expr) => {{
            let v = $v;
            vm.budget.value()?;
            stack.push(v);
        }};
    }
    fn pop_mark(stack: &mut Vec<Value>, marks: &mut Vec<usize>) -> Result<Vec<Value>, String> {
        let m = marks.pop().ok_or("MARK missing")?;
        if m > stack.len() {
            return Err("MARK beyond the stack".into());
        }
        Ok(stack.split_off(m))
    }
    let memo_put = |memo: &mut HashMap<u64, Value>, idx: u64, v: Value, max: u64| {
        if memo.len() as u64 >= max && !memo.contains_key(&idx) {
            return Err(limits::LimitError::new(
                "the number of memo entries of the pickle",
                memo.len() as u64 + 1,
                "max_pickle_memo",
                max,
            )
            .to_string());
        }
        memo.insert(idx, v);
        Ok(())
    };
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
            b'.' => {
                let top = stack.pop().ok_or("empty stack at STOP")?;
                return Ok((top, vm.arena));
            }
            b'}' => {
                let d = vm.new_dict(Vec::new())?;
                push!(d)
            }
            b']' => {
                let v = vm.new_seq(Vec::new(), false)?;
                push!(v)
            }
            b')' => {
                let v = vm.new_seq(Vec::new(), true)?;
                push!(v)
            }
            b'(' => {
                if marks.len() as u64 >= vm.budget.max_depth {
                    vm.check_depth(marks.len() as u64 + 1)?;
                }
                marks.push(stack.len())
            }
            b'N' => push!(Value::None),
            0x88 => push!(Value::Bool(true)),
            0x89 => push!(Value::Bool(false)),
            b'X' => {
                let n = r.u32()? as u64;
                push!(Value::Str(utf8(r.len_u64(n)?)?));
            }
            0x8c => {
                let n = r.u8()? as u64;
                push!(Value::Str(utf8(r.len_u64(n)?)?));
            }
            0x8d => {
                let n = r.u64()?;
                push!(Value::Str(utf8(r.len_u64(n)?)?));
            }
            b'T' => {
                let n = r.u32()? as u64;
                push!(Value::Str(Rc::from(String::from_utf8_lossy(r.len_u64(n)?))));
            }
            b'U' => {
                let n = r.u8()? as u64;
                push!(Value::Str(Rc::from(String::from_utf8_lossy(r.len_u64(n)?))));
            }
            b'B' => {
                let n = r.u32()? as u64;
                push!(Value::Bytes(Rc::from(r.len_u64(n)?)));
            }
            b'C' => {
                let n = r.u8()? as u64;
                push!(Value::Bytes(Rc::from(r.len_u64(n)?)));
            }
            0x8e => {
                let n = r.u64()?;
                push!(Value::Bytes(Rc::from(r.len_u64(n)?)));
            }
            b'J' => push!(Value::Int(r.u32()? as i32 as i64)),
            b'K' => push!(Value::Int(r.u8()? as i64)),
            b'M' => push!(Value::Int(r.u16()? as i64)),
            0x8a => {
                let n = r.u8()? as u64;
                push!(long_le(r.len_u64(n)?));
            }
            0x8b => {
                let n = r.u32()? as u64;
                push!(long_le(r.len_u64(n)?));
            }
            b'I' | b'L' => {
                let s = r.line()?.trim_end_matches('L');
                push!(match s {
                    "01" => Value::Bool(true),
                    "00" => Value::Bool(false),
                    _ => Value::Int(
                        s.parse()
                            .map_err(|_| format!("bad integer '{}'", short(s)))?
                    ),
                });
            }
            b'G' => push!(Value::Float(r.be_f64()?)),
            b'F' => {
                let s = r.line()?;
                push!(Value::Float(
                    s.parse().map_err(|_| format!("bad float '{}'", short(s)))?,
                ));
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let v = vm.new_seq(items, true)?;
                stack.push(v);
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                let v = vm.new_seq(items, true)?;
                stack.push(v);
            }
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let v = vm.new_seq(items, false)?;
                stack.push(v);
            }
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                let d = vm.new_dict(pairs)?;
                stack.push(d);
            }
            b'c' => {
                let module = r.line()?.to_string();
                let name = r.line()?;
                push!(Value::Global(Rc::from(format!("{module}.{name}"))));
            }
            0x93 => {
                let name = pop!();
                let module = pop!();
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => {
                        stack.push(Value::Global(Rc::from(format!("{m}.{n}"))))
                    }
                    _ => return Err("STACK_GLOBAL needs two strings".into()),
                }
            }
            b'Q' => {
                let pid = pop!();
                let st = storage_of(&vm, &pid)?;
                stack.push(st);
            }
            b'P' => return Err("text persistent ids (PERSID) are not supported".into()),
            b'R' | 0x81 => {
                let args = pop!();
                let func = pop!();
                let v = call(&mut vm, &func, &args)?;
                stack.push(v);
            }
            0x92 => {
                let _kwargs = pop!();
                let args = pop!();
                let cls = pop!();
                let v = call(&mut vm, &cls, &args)?;
                stack.push(v);
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
                vm.extend_dict(stack.last(), items)?;
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop!()]
                } else {
                    pop_mark(&mut stack, &mut marks)?
                };
                vm.extend_list(stack.last(), items)?;
            }
            0x94 => {
                let v = stack.last().ok_or("MEMOIZE on an empty stack")?.clone();
                let idx = memo.len() as u64;
                memo_put(&mut memo, idx, v, vm.budget.max_memo)?;
            }
            b'q' | b'r' | b'p' => {
                let idx = match op {
                    b'q' => r.u8()? as u64,
                    b'r' => r.u32()? as u64,
                    _ => r.line()?.parse().map_err(|_| "bad PUT index")?,
                };
                let v = stack.last().ok_or("PUT on an empty stack")?.clone();
                memo_put(&mut memo, idx, v, vm.budget.max_memo)?;
            }
            b'h' | b'j' | b'g' => {
                let idx = match op {
                    b'h' => r.u8()? as u64,
                    b'j' => r.u32()? as u64,
                    _ => r.line()?.parse().map_err(|_| "bad GET index")?,
                };
                let v = memo
                    .get(&idx)
                    .ok_or(format!("memo entry {idx} missing"))?
                    .clone();
                push!(v);
            }
            b'0' => {
                pop!();
            }
            b'1' => {
                pop_mark(&mut stack, &mut marks)?;
            }
            b'2' => {
                let v = stack.last().ok_or("DUP on an empty stack")?.clone();
                push!(v);
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
    use crate::limits::{with_limits, Limits};

    #[test]
    fn memo_shares_and_unknown_classes_stay_inert() {
        // {'a': [1, 2.5, 'x'], 'b': <same list via memo>} with the list filled after BINPUT.
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'('];
        p.extend(b"X\x01\x00\x00\x00a");
        p.extend(b"]q\x01(K\x01G");
        p.extend(2.5f64.to_be_bytes());
        p.extend(b"X\x01\x00\x00\x00xe");
        p.extend(b"X\x01\x00\x00\x00bh\x01u.");
        let (v, arena) = load(&p).unwrap();
        let d = arena.entries(&v).unwrap();
        assert_eq!(d.len(), 2);
        let (Value::List(a), Value::List(b)) = (&d[0].1, &d[1].1) else {
            panic!("{d:?}")
        };
        assert_eq!(a, b);
        assert_eq!(arena.items(&d[0].1).unwrap().len(), 3);
        // os.system('…') is never called: it becomes an inert object.
        let (v, _) = load(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsK\x01\x86R.").unwrap();
        assert!(matches!(v, Value::Object(c) if &*c == "os.system"));
        // Unknown opcodes and truncation are errors.
        assert!(load(b"\x80\x02\xff").is_err());
        assert!(load(b"\x80\x02X\xff\xff\xff\x7fab").is_err());
        assert!(load(b"").is_err());
    }

    /// The hostile pickles of issue 18: nesting, DUP bombs, self-containing lists.
    #[test]
    fn nesting_dup_bombs_and_cycles_are_bounded() {
        // 200,000 nested one-tuples: refused at the depth limit, no stack overflow.
        let mut p = vec![0x80, 2, b')'];
        p.extend(std::iter::repeat_n(0x85u8, 200_000));
        p.push(b'.');
        let err = load(&p).unwrap_err();
        assert!(err.contains("max_pickle_depth"), "{err}");
        // 200,000 nested MARKs.
        let mut p = vec![0x80, 2];
        p.extend(std::iter::repeat_n(b'(', 200_000));
        let err = load(&p).unwrap_err();
        assert!(err.contains("max_pickle_depth"), "{err}");
        // Top-down nesting through the memo (list appended into the previous one, forever):
        // never refused by depth, but harmless: no recursion anywhere.
        let mut p = vec![0x80, 2, b']', b'p'];
        p.extend(b"0\n");
        for _ in 0..100_000 {
            p.extend(b"g0\n]p0\na0"); // get L, new list M, memo[0] = M, L.append(M), pop L
        }
        p.extend(b"g0\n.");
        assert!(load(&p).is_ok());
        // A list that contains itself.
        let (v, arena) = load(b"\x80\x02]q\x00h\x00a.").unwrap();
        let items = arena.items(&v).unwrap();
        assert!(matches!((&v, &items[0]), (Value::List(a), Value::List(b)) if a == b));
        drop(arena);
        // A 16 MB string DUPed a million times: shared, then the value budget stops it.
        let mut p = vec![0x80, 4, 0x8d];
        p.extend((16u64 << 20).to_le_bytes());
        p.extend(std::iter::repeat_n(b'a', 16 << 20));
        p.extend(std::iter::repeat_n(b'2', 1_000_000));
        p.push(b'.');
        let small = Limits {
            max_pickle_values: 100_000,
            ..Limits::DEFAULT
        };
        let err = with_limits(small, || load(&p)).unwrap_err();
        assert!(err.contains("max_pickle_values"), "{err}");
        assert!(load(&p).is_ok());
        // Memo budget.
        let mut p = vec![0x80, 2, b'N'];
        for i in 0..1000u32 {
            p.push(b'r');
            p.extend(i.to_le_bytes());
        }
        p.push(b'.');
        let small = Limits {
            max_pickle_memo: 10,
            ..Limits::DEFAULT
        };
        let err = with_limits(small, || load(&p)).unwrap_err();
        assert!(err.contains("max_pickle_memo"), "{err}");
    }
}
