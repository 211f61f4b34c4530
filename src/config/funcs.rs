//! The function library of the configuration language (`file`, `csvdecode`, `lower`, `cidrsubnet`, …).
//!
//! hcl-rs ships no functions and its function type is a plain `fn` pointer, so functions cannot capture the
//! configuration directory. `file()` therefore reads through a thread-local [`FileScope`] that the loader installs for
//! the duration of one load: it resolves names against the configuration directory (or an in-memory map of data files
//! for `load_sources`) and remembers what it read, so that `csvdecode` can name the CSV file in its errors. This is the
//! only file reading the functions do; everything else here is pure.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::{Map, Number, Value};
use ipnet::Ipv4Net;

/// Where `file()` reads from during one load.
#[derive(Default)]
pub(crate) struct FileScope {
    /// Configuration directory (`None` when loading from memory).
    pub dir: Option<PathBuf>,
    /// In-memory data files by relative name.
    pub data: BTreeMap<String, String>,
    /// Files read so far: (name, content), so errors can name a file by its content.
    pub read: Vec<(String, String)>,
    /// Values of evaluated resource blocks by kind, then label, read by `__resource` (see [`resource`]). Nested so
    /// a lookup borrows its `&str` arguments instead of allocating a key per call (several calls per instance).
    pub resources: foldhash::HashMap<String, foldhash::HashMap<String, Value>>,
    /// Evaluated local values, read by `__local`.
    pub locals: foldhash::HashMap<String, Value>,
    /// What `__ref` returned, by kind, label and instance key (`None` for a block without `for_each`): a fleet
    /// references the same few region pairs, networks and groups from every instance, and building the compact object
    /// hashes its keys and looks the instance up in its block each time. Block values never change once registered.
    #[allow(clippy::type_complexity)]
    pub refs: foldhash::HashMap<
        String,
        foldhash::HashMap<String, foldhash::HashMap<Option<String>, Value>>,
    >,
    /// `each` of the instance being evaluated, read by `__each`.
    pub each: Option<Each>,
}

/// The `each` of the instance being evaluated.
pub(crate) enum Each {
    /// An `each` object of its own (`{ key, value }`).
    Owned(Value),
    /// Entry `index` of the object-valued local `name`, read in place: a fleet's `for_each = local.vms` then neither
    /// copies the whole map for `for_each` nor moves a row into an object per instance; `__each` copies only the
    /// leaves it is asked for.
    Local { name: String, index: usize },
}

fn with_scope_ref<T>(f: impl FnOnce(&FileScope) -> T) -> Option<T> {
    SCOPE.with(|s| s.borrow().as_ref().map(f))
}

fn with_scope_mut(f: impl FnOnce(&mut FileScope)) {
    SCOPE.with(|s| {
        if let Some(scope) = s.borrow_mut().as_mut() {
            f(scope);
        }
    });
}

/// One argument of `__ref`, `__local` or `__each`: a string literal of the rewritten expression (borrowed) or a
/// value (hcl-rs's evaluated argument, or what a nested call returned).
pub(crate) enum Arg<'a> {
    Str(&'a str),
    Val(Cow<'a, Value>),
}

impl<'a> Arg<'a> {
    /// hcl-rs's evaluated arguments, borrowed.
    fn all(args: &'a FuncArgs) -> Vec<Arg<'a>> {
        args.iter().map(|v| Arg::Val(Cow::Borrowed(v))).collect()
    }

    fn str(&self) -> Option<&str> {
        match self {
            Arg::Str(s) => Some(s),
            Arg::Val(v) => v.as_str(),
        }
    }

    fn value(&self) -> Cow<'_, Value> {
        match self {
            Arg::Str(s) => Cow::Owned(Value::String((*s).to_string())),
            Arg::Val(v) => Cow::Borrowed(v.as_ref()),
        }
    }

    fn short(&self) -> String {
        short(&self.value())
    }
}

/// The value of a call to `__ref`, `__local` or `__each` whose arguments are string or number literals or such calls
/// themselves: what the loader's rewrite makes of `region_pair.primary`, `each.value.id` or
/// `storage_account.cache[each.value.sub]`, the bulk of a fleet's attributes. It is computed by the functions
/// themselves, without hcl-rs's call machinery (a name lookup, a `Value` per literal argument and a type check of
/// each, per call: a sixth of a 10,000-VM load).
///
/// `None` for any other expression, for arguments hcl-rs's parameter types would refuse, and when the function fails:
/// the caller then evaluates the expression with hcl-rs, which gives the same value or reports the error as always.
pub(crate) fn eval_direct(expr: &hcl::Expression) -> Option<Value> {
    let hcl::Expression::FuncCall(call) = expr else {
        return None;
    };
    if !call.name.namespace.is_empty() || call.expand_final {
        return None;
    }
    // How many leading arguments hcl-rs's declaration (`declare_all`) types as strings; the rest are `Any`.
    type Direct = fn(&[Arg<'_>]) -> Result<Value, String>;
    let (func, strings): (Direct, usize) = match call.name.name.as_str() {
        "__ref" if call.args.len() >= 2 => (reference_of, 2),
        "__local" if !call.args.is_empty() => (local_of, 1),
        "__each" => (each_of, usize::MAX),
        _ => return None,
    };
    let mut args = Vec::with_capacity(call.args.len());
    for (i, a) in call.args.iter().enumerate() {
        let arg = match a {
            hcl::Expression::String(s) => Arg::Str(s),
            hcl::Expression::Number(n) if i >= strings => Arg::Val(Cow::Owned(Value::Number(*n))),
            nested => match eval_direct(nested)? {
                Value::String(s) => Arg::Val(Cow::Owned(Value::String(s))),
                _ if i < strings => return None,
                v => Arg::Val(Cow::Owned(v)),
            },
        };
        args.push(arg);
    }
    func(&args).ok()
}

/// Makes an evaluated local value visible to `__local`.
pub(crate) fn register_local(name: &str, value: Value) {
    with_scope_mut(|s| {
        s.locals.insert(name.to_string(), value);
    });
}

/// Sets (or clears) the `each` object of the instance being evaluated.
pub(crate) fn set_each(each: Option<Each>) {
    with_scope_mut(|s| s.each = each);
}

/// The keys of local `name` when it is an object (in order), for a `for_each` that names it alone; `None` when there
/// is no such local or it is not an object (the ordinary evaluation then reports what is wrong).
pub(crate) fn local_object_keys(name: &str) -> Option<Vec<String>> {
    with_scope_ref(|s| match s.locals.get(name)? {
        Value::Object(o) => Some(o.keys().cloned().collect()),
        _ => None,
    })
    .flatten()
}

/// A copy of an evaluated resource block's value.
pub(crate) fn resource_value(kind: &str, label: &str) -> Option<Value> {
    with_scope_ref(|s| s.resources.get(kind).and_then(|b| b.get(label)).cloned()).flatten()
}

/// A copy of an evaluated local value.
pub(crate) fn local_value(name: &str) -> Option<Value> {
    with_scope_ref(|s| s.locals.get(name).cloned()).flatten()
}

/// `__ref(kind, label [, key])`: like `__resource`, but only `address`, `id` and `name` of each instance.
fn reference(args: FuncArgs) -> Result<Value, String> {
    reference_of(&Arg::all(&args))
}

/// What `__ref` returns for a block's value: of each instance, only `address`, `id` and `name` (in that order, each if
/// present); a block with `for_each` keeps its map of instances.
pub(crate) fn compact(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("address") => {
            // Sized up front: collecting from a filter grows the map from empty (once per reference of every
            // instance).
            let mut out = hcl::Map::with_capacity(3);
            for k in ["address", "id", "name"] {
                if let Some(x) = o.get(k) {
                    out.insert(k.to_string(), x.clone());
                }
            }
            Value::Object(out)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), compact(v))).collect()),
        other => other.clone(),
    }
}

fn reference_of(args: &[Arg<'_>]) -> Result<Value, String> {
    let kind = args[0].str().unwrap_or_default();
    let label = args[1].str().unwrap_or_default();
    let cache_key = match args.get(2).map(Arg::str) {
        None => Some(None),
        Some(Some(k)) => Some(Some(k.to_string())),
        Some(None) => None,
    };
    if let Some(key) = &cache_key
        && let Some(hit) = SCOPE.with(|s| {
            let guard = s.borrow();
            guard
                .as_ref()?
                .refs
                .get(kind)?
                .get(label)?
                .get(key)
                .cloned()
        })
    {
        return Ok(hit);
    }
    let found = SCOPE.with(|s| {
        let guard = s.borrow();
        let block = guard
            .as_ref()
            .and_then(|scope| scope.resources.get(kind)?.get(label))
            .ok_or_else(|| format!("`{kind}.{label}` has no value (it failed to evaluate)"))?;
        let Some(key) = args.get(2) else {
            return Ok(compact(block));
        };
        match (block, key.str()) {
            (Value::Object(o), _) if o.contains_key("address") => Err(format!(
                "`{kind}.{label}` has no `for_each`, so it cannot be indexed"
            )),
            (Value::Object(o), Some(k)) => o
                .get(k)
                .map(compact)
                .ok_or_else(|| format!("`{kind}.{label}` has no instance {}", key.short())),
            _ => Err(format!("`{kind}.{label}` has no instance {}", key.short())),
        }
    })?;
    if let Some(key) = cache_key {
        with_scope_mut(|s| {
            s.refs
                .entry(kind.to_string())
                .or_default()
                .entry(label.to_string())
                .or_default()
                .insert(key, found.clone());
        });
    }
    Ok(found)
}

/// Prefix of a `__local` error that is a type error (`config::type`) rather than a missing key.
pub(crate) const TYPE_ERROR: &str = "type: ";

/// `__local(name, step...)`: a local value, or the part of it that the attribute and index steps select (rewritten
/// from `local.name[k].attr`, for the reason given at [`resource`]). Only the selected part is copied. The steps
/// follow hcl-rs's traversal rules and messages: a string selects an object key, an unsigned integer an array
/// element.
fn local(args: FuncArgs) -> Result<Value, String> {
    local_of(&Arg::all(&args))
}

fn local_of(args: &[Arg<'_>]) -> Result<Value, String> {
    let name = args[0].str().unwrap_or_default();
    with_scope_ref(|s| {
        let mut v = s
            .locals
            .get(name)
            .ok_or_else(|| format!("local value `{name}` has no value (it failed to evaluate)"))?;
        for step in args.iter().skip(1) {
            if let Some(key) = step.str() {
                v = match v {
                    Value::Object(o) => o.get(key).ok_or_else(|| format!("no such key `{key}`"))?,
                    other => {
                        return Err(format!(
                            "{TYPE_ERROR}unexpected value `{}`, expected an object",
                            short(other)
                        ));
                    }
                };
                continue;
            }
            v = match step.value().as_ref() {
                Value::Number(n) => {
                    let Some(i) = n.as_u64() else {
                        return Err(format!(
                            "{TYPE_ERROR}unexpected value `{n}`, expected an unsigned integer"
                        ));
                    };
                    match v {
                        Value::Array(a) => a
                            .get(i as usize)
                            .ok_or_else(|| format!("index {i} is out of range"))?,
                        other => {
                            return Err(format!(
                                "{TYPE_ERROR}unexpected value `{}`, expected an array",
                                short(other)
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "{TYPE_ERROR}unexpected value `{}`, expected an unsigned integer or string",
                        short(other)
                    ));
                }
            };
        }
        Ok(v.clone())
    })
    .unwrap_or_else(|| {
        Err(format!(
            "local value `{name}` has no value (it failed to evaluate)"
        ))
    })
}

/// `__for_local(name)`: what a `for` over the whole local `name` iterates after the loader's rewrite: the indices of
/// an array or the keys of an object (each key mapped to itself), so the loop's value variable is a handle its body
/// reads the element through (`__local(name, handle, …)`) instead of a copy of the element. Any other value is
/// returned as is, so hcl-rs reports it as it would the local itself.
fn for_local(args: FuncArgs) -> Result<Value, String> {
    let name = str_arg(&args, 0);
    with_scope_ref(|s| match s.locals.get(name) {
        None => Err(format!(
            "local value `{name}` has no value (it failed to evaluate)"
        )),
        Some(Value::Array(a)) => Ok(Value::Array((0..a.len() as u64).map(Value::from).collect())),
        Some(Value::Object(o)) => Ok(Value::Object(
            o.keys()
                .map(|k| (k.clone(), Value::String(k.clone())))
                .collect(),
        )),
        Some(other) => Ok(other.clone()),
    })
    .unwrap_or_else(|| {
        Err(format!(
            "local value `{name}` has no value (it failed to evaluate)"
        ))
    })
}

/// `__each(path...)`: a part of `each` (rewritten from `each.value.id` so only the leaf is copied, not the whole
/// row for every attribute that reads it).
fn each(args: FuncArgs) -> Result<Value, String> {
    each_of(&Arg::all(&args))
}

fn each_of(args: &[Arg<'_>]) -> Result<Value, String> {
    with_scope_ref(|s| {
        let each = s
            .each
            .as_ref()
            .ok_or("`each` is only available in a block with `for_each`")?;
        // For an entry of a local, `key` and `value` are resolved here and the walk goes on from there, as it would
        // from an owned `{ key, value }` object (same values, same messages).
        let key_value;
        let (mut v, skip) = match each {
            Each::Owned(v) => (v, 0),
            Each::Local { name, index } => {
                let (k, row) = match s.locals.get(name) {
                    Some(Value::Object(o)) => o.get_index(*index),
                    _ => None,
                }
                .ok_or("`each` is only available in a block with `for_each`")?;
                match args.first().and_then(Arg::str) {
                    Some("value") => (row, 1),
                    Some("key") => {
                        key_value = Value::String(k.clone());
                        (&key_value, 1)
                    }
                    _ => {
                        let key = args.first().and_then(Arg::str).unwrap_or_default();
                        return Err(format!("no such key: `{key}` in `each.{key}`"));
                    }
                }
            }
        };
        // The path is only spelled out for an error: building it on every call was an allocation per attribute of
        // every instance.
        let path = |upto: usize| {
            std::iter::once("each")
                .chain(
                    args.iter()
                        .take(upto + 1)
                        .map(|a| a.str().unwrap_or_default()),
                )
                .collect::<Vec<_>>()
                .join(".")
        };
        for (i, seg) in args.iter().enumerate().skip(skip) {
            let key = seg.str().unwrap_or_default();
            v = match v {
                Value::Object(o) => o
                    .get(key)
                    .ok_or_else(|| format!("no such key: `{key}` in `{}`", path(i)))?,
                other => return Err(format!("`{}`: {} is not an object", path(i), short(other))),
            };
        }
        Ok(v.clone())
    })
    .unwrap_or_else(|| Err("`each` is only available in a block with `for_each`".into()))
}

/// Makes an evaluated resource block visible to `__resource`.
pub(crate) fn register_resource(kind: &str, label: &str, value: Value) {
    SCOPE.with(|s| {
        if let Some(scope) = s.borrow_mut().as_mut() {
            scope
                .resources
                .entry(kind.to_string())
                .or_default()
                .insert(label.to_string(), value);
        }
    });
}

/// `__resource(kind, label [, key])`: the value of a resource block or of one instance of it.
///
/// The loader rewrites `protected_vm.web[k]` into `__resource("protected_vm", "web", k)` because hcl-rs evaluates a
/// traversal by cloning its root variable first: `[for k in ks : protected_vm.web[k]]` over 10,000 instances would
/// clone all 10,000 instances for every element. This lookup clones only the instance asked for.
fn resource(args: FuncArgs) -> Result<Value, String> {
    let kind = str_arg(&args, 0);
    let label = str_arg(&args, 1);
    SCOPE.with(|s| {
        let guard = s.borrow();
        let block = guard
            .as_ref()
            .and_then(|scope| scope.resources.get(kind)?.get(label))
            .ok_or_else(|| format!("`{kind}.{label}` has no value (it failed to evaluate)"))?;
        let Some(key) = args.get(2) else {
            return Ok(block.clone());
        };
        let found = match (block, key) {
            (Value::Object(o), Value::String(k)) if !o.contains_key("address") => o.get(k),
            (Value::Object(o), _) if o.contains_key("address") => {
                return Err(format!(
                    "`{kind}.{label}` has no `for_each`, so it cannot be indexed"
                ));
            }
            _ => None,
        };
        found
            .cloned()
            .ok_or_else(|| format!("`{kind}.{label}` has no instance {}", short(key)))
    })
}

thread_local! {
    static SCOPE: RefCell<Option<FileScope>> = const { RefCell::new(None) };
}

/// Installs `scope` for the duration of `f` (restoring the previous scope afterwards, so loads may nest).
pub(crate) fn with_scope<T>(scope: FileScope, f: impl FnOnce() -> T) -> (T, FileScope) {
    let prev = SCOPE.with(|s| s.borrow_mut().replace(scope));
    let out = f();
    let scope = SCOPE
        .with(|s| std::mem::replace(&mut *s.borrow_mut(), prev))
        .unwrap_or_default();
    (out, scope)
}

/// Reads a file relative to the configuration directory (or from the in-memory data files).
pub(crate) fn read_file(name: &str) -> Result<String, String> {
    SCOPE.with(|s| {
        let mut guard = s.borrow_mut();
        let scope = guard
            .as_mut()
            .ok_or_else(|| "file() is not available here".to_string())?;
        if let Some((_, text)) = scope.read.iter().find(|(n, _)| n == name) {
            return Ok(text.clone());
        }
        let text = if let Some(text) = scope.data.get(name) {
            text.clone()
        } else if let Some(dir) = &scope.dir {
            let path = if Path::new(name).is_absolute() {
                PathBuf::from(name)
            } else {
                dir.join(name)
            };
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{name}`: {e}"))?
        } else {
            return Err(format!("cannot read `{name}`: no such file"));
        };
        scope.read.push((name.to_string(), text.clone()));
        Ok(text)
    })
}

fn file_named_by_content(content: &str) -> Option<String> {
    SCOPE.with(|s| {
        s.borrow().as_ref().and_then(|scope| {
            scope
                .read
                .iter()
                .find(|(_, t)| t == content)
                .map(|(n, _)| n.clone())
        })
    })
}

/// Declares every library function in `ctx`.
pub fn declare_all(ctx: &mut Context) {
    use ParamType::*;
    let s = || String;
    let f = |func, params: Vec<ParamType>| FuncDef::new(func, params);
    // The rewritten references come first: hcl-rs finds a function by scanning the declared names in order, and
    // these are called once per attribute of every instance.
    ctx.declare_func(
        "__resource",
        FuncDef::builder()
            .param(s())
            .param(s())
            .variadic_param(Any)
            .build(resource),
    );
    ctx.declare_func(
        "__ref",
        FuncDef::builder()
            .param(s())
            .param(s())
            .variadic_param(Any)
            .build(reference),
    );
    ctx.declare_func(
        "__local",
        FuncDef::builder()
            .param(s())
            .variadic_param(Any)
            .build(local),
    );
    ctx.declare_func("__each", FuncDef::builder().variadic_param(s()).build(each));
    ctx.declare_func("__for_local", f(for_local, vec![s()]));
    ctx.declare_func("file", f(file, vec![s()]));
    ctx.declare_func("csvdecode", f(csvdecode, vec![s()]));
    ctx.declare_func("jsondecode", f(jsondecode, vec![s()]));
    ctx.declare_func("jsonencode", f(jsonencode, vec![Any]));
    ctx.declare_func("lower", f(lower, vec![s()]));
    ctx.declare_func("upper", f(upper, vec![s()]));
    ctx.declare_func("trimspace", f(trimspace, vec![s()]));
    ctx.declare_func(
        "format",
        FuncDef::builder()
            .param(s())
            .variadic_param(Any)
            .build(format),
    );
    ctx.declare_func("merge", FuncDef::builder().variadic_param(Any).build(merge));
    ctx.declare_func(
        "concat",
        FuncDef::builder().variadic_param(Any).build(concat),
    );
    ctx.declare_func("length", f(length, vec![Any]));
    ctx.declare_func(
        "lookup",
        FuncDef::builder()
            .param(Any)
            .param(s())
            .variadic_param(Any)
            .build(lookup),
    );
    ctx.declare_func("keys", f(keys, vec![Any]));
    ctx.declare_func("values", f(values, vec![Any]));
    ctx.declare_func("toset", f(toset, vec![Any]));
    ctx.declare_func("tolist", f(tolist, vec![Any]));
    ctx.declare_func("tostring", f(tostring, vec![Any]));
    ctx.declare_func("tonumber", f(tonumber, vec![Any]));
    ctx.declare_func("contains", f(contains, vec![Any, Any]));
    ctx.declare_func("replace", f(replace, vec![s(), s(), s()]));
    ctx.declare_func("split", f(split, vec![s(), s()]));
    ctx.declare_func("join", f(join, vec![s(), Any]));
    ctx.declare_func(
        "coalesce",
        FuncDef::builder().variadic_param(Any).build(coalesce),
    );
    ctx.declare_func("distinct", f(distinct, vec![Any]));
    ctx.declare_func("flatten", f(flatten, vec![Any]));
    ctx.declare_func(
        "range",
        FuncDef::builder()
            .param(Number)
            .variadic_param(Number)
            .build(range),
    );
    ctx.declare_func("substr", f(substr, vec![s(), Number, Number]));
    ctx.declare_func("cidrsubnet", f(cidrsubnet, vec![s(), Number, Number]));
    ctx.declare_func("cidrhost", f(cidrhost, vec![s(), Number]));
}

/// The names of all library functions (for "did you mean").
pub const NAMES: &[&str] = &[
    "file",
    "csvdecode",
    "jsondecode",
    "jsonencode",
    "lower",
    "upper",
    "trimspace",
    "format",
    "merge",
    "concat",
    "length",
    "lookup",
    "keys",
    "values",
    "toset",
    "tolist",
    "tostring",
    "tonumber",
    "contains",
    "replace",
    "split",
    "join",
    "coalesce",
    "distinct",
    "flatten",
    "range",
    "substr",
    "cidrsubnet",
    "cidrhost",
];

fn str_arg(args: &FuncArgs, i: usize) -> &str {
    args[i].as_str().unwrap_or_default()
}

fn int_arg(args: &FuncArgs, i: usize) -> Result<i64, String> {
    match &args[i] {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("argument {} must be a whole number, got {n}", i + 1)),
        other => Err(format!(
            "argument {} must be a number, got `{}`",
            i + 1,
            short(other)
        )),
    }
}

fn file(args: FuncArgs) -> Result<Value, String> {
    read_file(str_arg(&args, 0)).map(Value::String)
}

fn csvdecode(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0);
    let origin = file_named_by_content(text)
        .map(|n| format!("`{n}`"))
        .unwrap_or_else(|| "the CSV text".into());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("{origin}: cannot read the header row: {e}"))?
        .clone();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        // Row numbers count the header as row 1, as a spreadsheet shows them.
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!(
                    "{origin} row {}: expected {expected_len} fields, found {len}",
                    i + 2
                )
            }
            _ => format!("{origin} row {}: {e}", i + 2),
        })?;
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push(Value::Object(row));
    }
    Ok(Value::Array(rows))
}

fn json_to_value(j: serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(Number::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Number(Number::from(u))
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect())
        }
    }
}

/// Converts an HCL value to JSON (numbers keep integer form when they have one).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.into(),
            (_, Some(u), _) => u.into(),
            (_, _, Some(f)) => {
                serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
            }
            _ => serde_json::Value::Null,
        },
        Value::String(s) => s.clone().into(),
        Value::Array(a) => a.iter().map(value_to_json).collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn jsondecode(args: FuncArgs) -> Result<Value, String> {
    let j: serde_json::Value =
        serde_json::from_str(str_arg(&args, 0)).map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(json_to_value(j))
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(value_to_json(&args[0]).to_string()))
}

fn lower(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0).to_lowercase()))
}

fn upper(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0).to_uppercase()))
}

fn trimspace(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0).trim().to_string()))
}

/// A one-line rendering of a value for messages (JSON syntax, cut at 60 characters).
pub fn short(v: &Value) -> String {
    let text = value_to_json(v).to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}

/// Renders a scalar the way string interpolation does.
pub fn display_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `format(spec, args...)`: verbs `%s`, `%d`, `%v` and `%%`, with an optional `-` (left-align) or `0` (zero-pad) flag
/// and a width (`%03d`, `%-10s`); enough for naming things.
fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = str_arg(&args, 0);
    let mut rest = args.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = (width * 10 + d as usize).min(1_000);
            chars.next();
        }
        let verb = chars
            .next()
            .ok_or("the format string ends inside a `%` verb")?;
        if !matches!(verb, 's' | 'd' | 'v') {
            return Err(format!(
                "unsupported format verb `%{verb}` (use %s, %d, %v or %%)"
            ));
        }
        let arg = rest
            .next()
            .ok_or_else(|| format!("not enough arguments for `%{verb}`"))?;
        if verb == 'd' && !arg.is_number() {
            return Err(format!("`%d` needs a number, got `{}`", short(arg)));
        }
        let text = display_scalar(arg).unwrap_or_else(|| short(arg));
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if zero && verb == 'd' {
            let (sign, digits) = text
                .strip_prefix('-')
                .map_or(("", text.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&text);
        }
    }
    if rest.next().is_some() {
        return Err("too many arguments for the format string".into());
    }
    Ok(Value::String(out))
}

fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = Map::new();
    for (i, a) in args.iter().enumerate() {
        match a {
            Value::Object(o) => out.extend(o.iter().map(|(k, v)| (k.clone(), v.clone()))),
            Value::Null => {}
            other => {
                return Err(format!(
                    "argument {} must be a map or object, got `{}`",
                    i + 1,
                    short(other)
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        match a {
            Value::Array(v) => out.extend(v.iter().cloned()),
            other => {
                return Err(format!(
                    "argument {} must be a list, got `{}`",
                    i + 1,
                    short(other)
                ));
            }
        }
    }
    Ok(Value::Array(out))
}

fn length(args: FuncArgs) -> Result<Value, String> {
    let n = match &args[0] {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        other => {
            return Err(format!(
                "length() needs a list, map or string, got `{}`",
                short(other)
            ));
        }
    };
    Ok(Value::Number(Number::from(n as u64)))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    let Value::Object(o) = &args[0] else {
        return Err(format!("lookup() needs a map, got `{}`", short(&args[0])));
    };
    let key = str_arg(&args, 1);
    match (o.get(key), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("no key `{key}` in the map and no default given")),
    }
}

fn keys(args: FuncArgs) -> Result<Value, String> {
    let Value::Object(o) = &args[0] else {
        return Err(format!("keys() needs a map, got `{}`", short(&args[0])));
    };
    let mut k: Vec<&String> = o.keys().collect();
    k.sort();
    Ok(Value::Array(
        k.into_iter().map(|k| Value::String(k.clone())).collect(),
    ))
}

fn values(args: FuncArgs) -> Result<Value, String> {
    let Value::Object(o) = &args[0] else {
        return Err(format!("values() needs a map, got `{}`", short(&args[0])));
    };
    // Values come in key order, as Terraform's do, so `values()` is stable whatever order the map was built in.
    let mut entries: Vec<(&String, &Value)> = o.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    Ok(Value::Array(
        entries.into_iter().map(|(_, v)| v.clone()).collect(),
    ))
}

fn dedupe(items: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in items {
        // Values are not `Hash`; their canonical text is.
        if seen.insert(v.to_string()) {
            out.push(v);
        }
    }
    out
}

fn toset(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => {
            let mut v = dedupe(a.iter().cloned());
            if v.iter().all(Value::is_string) {
                v.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            Ok(Value::Array(v))
        }
        other => Err(format!("toset() needs a list, got `{}`", short(other))),
    }
}

fn tolist(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(Value::Array(a.clone())),
        other => Err(format!(
            "tolist() needs a list or set, got `{}`",
            short(other)
        )),
    }
}

fn tostring(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        v => display_scalar(v)
            .map(Value::String)
            .ok_or_else(|| format!("cannot convert `{}` to a string", short(v))),
    }
}

/// Parses a number the way `tonumber` and variable conversion do.
pub fn parse_number(s: &str) -> Option<Number> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Number::from(i));
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(Number::from_f64)
}

fn tonumber(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::String(s) => parse_number(s)
            .map(Value::Number)
            .ok_or_else(|| format!("`{s}` is not a number")),
        other => Err(format!("cannot convert `{other}` to a number")),
    }
}

fn contains(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(Value::Bool(a.contains(&args[1]))),
        other => Err(format!("contains() needs a list, got `{}`", short(other))),
    }
}

fn replace(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(
        str_arg(&args, 0).replace(str_arg(&args, 1), str_arg(&args, 2)),
    ))
}

fn split(args: FuncArgs) -> Result<Value, String> {
    let sep = str_arg(&args, 0);
    if sep.is_empty() {
        return Err("the separator must not be empty".into());
    }
    Ok(Value::Array(
        str_arg(&args, 1)
            .split(sep)
            .map(|p| Value::String(p.to_string()))
            .collect(),
    ))
}

fn join(args: FuncArgs) -> Result<Value, String> {
    let Value::Array(items) = &args[1] else {
        return Err(format!("join() needs a list, got `{}`", short(&args[1])));
    };
    let parts: Result<Vec<String>, String> = items
        .iter()
        .map(|v| display_scalar(v).ok_or_else(|| format!("cannot join `{}`", short(v))))
        .collect();
    Ok(Value::String(parts?.join(str_arg(&args, 0))))
}

fn coalesce(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "all arguments are null or empty".to_string())
}

fn distinct(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Array(a) => Ok(Value::Array(dedupe(a.iter().cloned()))),
        other => Err(format!("distinct() needs a list, got `{}`", short(other))),
    }
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flatten_into(x, out)),
        other => out.push(other.clone()),
    }
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    let Value::Array(_) = &args[0] else {
        return Err(format!("flatten() needs a list, got `{}`", short(&args[0])));
    };
    let mut out = Vec::new();
    flatten_into(&args[0], &mut out);
    Ok(Value::Array(out))
}

fn range(args: FuncArgs) -> Result<Value, String> {
    let nums: Result<Vec<i64>, String> = (0..args.len()).map(|i| int_arg(&args, i)).collect();
    let (start, end, step) = match nums?.as_slice() {
        [end] => (0, *end, 1),
        [start, end] => (*start, *end, if end >= start { 1 } else { -1 }),
        [start, end, step] => (*start, *end, *step),
        _ => return Err("range() takes one to three numbers".into()),
    };
    if step == 0 {
        return Err("the step must not be zero".into());
    }
    let count = if step > 0 {
        (end - start).max(0) / step
    } else {
        (start - end).max(0) / -step
    };
    if count > 1_000_000 {
        return Err("range() would produce more than 1,000,000 elements".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(Value::Number(Number::from(i)));
        i += step;
    }
    Ok(Value::Array(out))
}

fn substr(args: FuncArgs) -> Result<Value, String> {
    let s: Vec<char> = str_arg(&args, 0).chars().collect();
    let offset = int_arg(&args, 1)?;
    let len = int_arg(&args, 2)?;
    let start = if offset < 0 {
        (s.len() as i64 + offset).max(0)
    } else {
        offset.min(s.len() as i64)
    } as usize;
    let end = if len < 0 {
        s.len()
    } else {
        (start + len as usize).min(s.len())
    };
    Ok(Value::String(s[start..end].iter().collect()))
}

fn parse_cidr(s: &str) -> Result<Ipv4Net, String> {
    s.parse::<Ipv4Net>()
        .map_err(|_| format!("`{s}` is not an IPv4 CIDR prefix such as \"10.0.0.0/16\""))
}

fn cidrsubnet(args: FuncArgs) -> Result<Value, String> {
    let net = parse_cidr(str_arg(&args, 0))?;
    let newbits = int_arg(&args, 1)?;
    let num = int_arg(&args, 2)?;
    let new_len = net.prefix_len() as i64 + newbits;
    if !(0..=32).contains(&new_len) || newbits < 0 {
        return Err(format!(
            "cannot add {newbits} bits to /{}",
            net.prefix_len()
        ));
    }
    let count: u64 = 1 << newbits;
    if num < 0 || num as u64 >= count {
        return Err(format!(
            "subnet number {num} does not fit in {newbits} bits"
        ));
    }
    let base = u32::from(net.network()) as u64;
    let size: u64 = 1 << (32 - new_len);
    let addr = Ipv4Addr::from((base + num as u64 * size) as u32);
    Ok(Value::String(format!("{addr}/{new_len}")))
}

fn cidrhost(args: FuncArgs) -> Result<Value, String> {
    let net = parse_cidr(str_arg(&args, 0))?;
    let num = int_arg(&args, 1)?;
    let size: i64 = 1 << (32 - net.prefix_len() as i64);
    let idx = if num < 0 { size + num } else { num };
    if idx < 0 || idx >= size {
        return Err(format!("host number {num} is outside {net}"));
    }
    Ok(Value::String(
        Ipv4Addr::from(u32::from(net.network()) + idx as u32).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval(src: &str) -> Result<Value, String> {
        let mut ctx = Context::new();
        declare_all(&mut ctx);
        let expr: hcl::Expression = hcl_edit::parser::parse_expr(src)
            .map_err(|e| e.to_string())?
            .into();
        expr.evaluate(&ctx).map_err(|e| e.to_string())
    }

    fn ok(src: &str) -> String {
        value_to_json(&eval(src).unwrap_or_else(|e| panic!("{src}: {e}"))).to_string()
    }

    #[test]
    fn string_functions() {
        assert_eq!(ok(r#"lower("AbC")"#), r#""abc""#);
        assert_eq!(ok(r#"upper("abc")"#), r#""ABC""#);
        assert_eq!(ok(r#"trimspace("  x ")"#), r#""x""#);
        assert_eq!(ok(r#"format("vm-%s-%d", "web", 7)"#), r#""vm-web-7""#);
        assert!(eval(r#"format("%s %s", "a")"#).is_err());
        assert_eq!(
            ok(r#"format("web%03d|%-4s|%3s", 7, "ab", "c")"#),
            r#""web007|ab  |  c""#
        );
        assert!(eval(r#"format("%x", 1)"#).is_err());
        assert_eq!(ok(r#"replace("a-b-c", "-", "_")"#), r#""a_b_c""#);
        assert_eq!(ok(r#"join(",", split("/", "a/b"))"#), r#""a,b""#);
        assert_eq!(ok(r#"substr("hello", 1, 3)"#), r#""ell""#);
        assert_eq!(ok(r#"substr("hello", -3, -1)"#), r#""llo""#);
        assert_eq!(ok(r#"tostring(5)"#), r#""5""#);
        assert_eq!(ok(r#"tonumber("3")"#), "3");
        assert!(eval(r#"tonumber("x")"#).is_err());
    }

    #[test]
    fn collection_functions() {
        assert_eq!(ok(r#"length([1, 2, 3])"#), "3");
        assert_eq!(ok(r#"length({a = 1})"#), "1");
        assert_eq!(ok(r#"keys({b = 1, a = 2})"#), r#"["a","b"]"#);
        assert_eq!(ok(r#"values({b = 1, a = 2})"#), "[2,1]");
        assert_eq!(
            ok(r#"merge({a = 1}, {b = 2}, {a = 3})"#),
            r#"{"a":3,"b":2}"#
        );
        assert_eq!(ok(r#"concat([1], [2, 3])"#), "[1,2,3]");
        assert_eq!(ok(r#"lookup({a = 1}, "b", 9)"#), "9");
        assert!(eval(r#"lookup({a = 1}, "b")"#).is_err());
        assert_eq!(ok(r#"toset(["b", "a", "b"])"#), r#"["a","b"]"#);
        assert_eq!(ok(r#"tolist(["b"])"#), r#"["b"]"#);
        assert_eq!(ok(r#"contains(["a"], "a")"#), "true");
        assert_eq!(ok(r#"coalesce(null, "", "x")"#), r#""x""#);
        assert_eq!(ok(r#"distinct([1, 1, 2])"#), "[1,2]");
        assert_eq!(ok(r#"flatten([[1], [2, [3]]])"#), "[1,2,3]");
        assert_eq!(ok(r#"range(3)"#), "[0,1,2]");
        assert_eq!(ok(r#"range(1, 7, 3)"#), "[1,4]");
        assert!(eval("range(1, 2, 0)").is_err());
    }

    #[test]
    fn network_functions() {
        assert_eq!(
            ok(r#"cidrsubnet("10.20.0.0/16", 8, 2)"#),
            r#""10.20.2.0/24""#
        );
        assert!(eval(r#"cidrsubnet("10.20.0.0/16", 8, 256)"#).is_err());
        assert!(eval(r#"cidrsubnet("nope", 8, 1)"#).is_err());
        assert_eq!(ok(r#"cidrhost("10.20.1.0/24", 5)"#), r#""10.20.1.5""#);
        assert_eq!(ok(r#"cidrhost("10.20.1.0/24", -2)"#), r#""10.20.1.254""#);
    }

    #[test]
    fn json_functions() {
        assert_eq!(
            ok(r#"jsondecode("{\"a\": [1, true, null]}")"#),
            r#"{"a":[1,true,null]}"#
        );
        assert!(eval(r#"jsondecode("{")"#).is_err());
        assert_eq!(ok(r#"jsonencode({a = 1})"#), r#""{\"a\":1}""#);
    }

    #[test]
    fn file_and_csvdecode_read_through_the_scope() {
        let scope = FileScope {
            data: [(
                "inv.csv".to_string(),
                "name,ip\nweb01,10.0.0.4\nweb02\n".to_string(),
            )]
            .into(),
            ..FileScope::default()
        };
        let ((good, bad, missing), _) = with_scope(scope, || {
            (
                eval(r#"csvdecode("name,ip\nweb01,10.0.0.4\n")"#),
                eval(r#"csvdecode(file("inv.csv"))"#),
                eval(r#"file("nope.csv")"#),
            )
        });
        assert_eq!(
            value_to_json(&good.unwrap()).to_string(),
            r#"[{"name":"web01","ip":"10.0.0.4"}]"#
        );
        let bad = bad.unwrap_err();
        assert!(
            bad.contains("`inv.csv` row 3: expected 2 fields, found 1"),
            "{bad}"
        );
        assert!(missing.unwrap_err().contains("cannot read `nope.csv`"));
    }

    /// `eval_direct` gives what hcl-rs's evaluation of the same call gives, and nothing where hcl-rs fails (so the
    /// loader's fallback reports the error); the shapes the rewrite produces for a fleet take the direct path.
    #[test]
    fn direct_calls_agree_with_hcl_rs() {
        let row = |name: &str, sub: &str| {
            Value::Object(Map::from_iter([
                ("name".to_string(), Value::from(name)),
                ("sub".to_string(), Value::from(sub)),
                (
                    "tags".to_string(),
                    Value::Array(vec![Value::from("a"), Value::from(7)]),
                ),
            ]))
        };
        let fleet = Value::Object(Map::from_iter([
            ("vm1".to_string(), row("vm1", "s1")),
            ("vm2".to_string(), row("vm2", "s2")),
        ]));
        let instance = |name: &str| {
            Value::Object(Map::from_iter([
                (
                    "address".to_string(),
                    Value::from(format!("storage_account.cache[\"{name}\"]")),
                ),
                ("id".to_string(), Value::from(format!("/id/{name}"))),
                ("name".to_string(), Value::from(name)),
                ("kind".to_string(), Value::from("StorageV2")),
            ]))
        };
        let mut scope = FileScope {
            each: Some(Each::Local {
                name: "fleet".into(),
                index: 1,
            }),
            ..FileScope::default()
        };
        scope.locals.insert("fleet".into(), fleet);
        scope
            .locals
            .insert("list".into(), Value::Array(vec![Value::from("x")]));
        scope
            .resources
            .entry("storage_account".into())
            .or_default()
            .insert(
                "cache".into(),
                Value::Object(Map::from_iter([
                    ("s1".to_string(), instance("s1")),
                    ("s2".to_string(), instance("s2")),
                ])),
            );
        scope
            .resources
            .entry("vault".into())
            .or_default()
            .insert("dr".into(), instance("rsv"));
        // (expression, whether the direct path must take it)
        let cases = [
            (r#"__each("value", "name")"#, true),
            (r#"__each("key")"#, true),
            (r#"__each("value")"#, true),
            (r#"__each("value", "nope")"#, false),
            (r#"__each("value", 0)"#, false),
            (r#"__ref("vault", "dr")"#, true),
            (
                r#"__ref("storage_account", "cache", __each("value", "sub"))"#,
                true,
            ),
            (r#"__ref("storage_account", "cache", "s1")"#, true),
            (r#"__ref("storage_account", "cache")"#, true),
            (r#"__ref("storage_account", "cache", "s9")"#, false),
            (r#"__ref("vault", "dr", "x")"#, false),
            (r#"__ref("storage_account", "cache", 1)"#, false),
            (
                r#"__ref("storage_account", __each("value", "name"))"#,
                false,
            ),
            (r#"__local("fleet", "vm1", "tags", 1)"#, true),
            (r#"__local("fleet", __each("key"), "sub")"#, true),
            (r#"__local("list", 0)"#, true),
            (r#"__local("list", 1)"#, false),
            (r#"__local("list", "x")"#, false),
            (r#"__local("fleet", 0)"#, false),
            (r#"__local(0)"#, false),
            (r#"__local("fleet", var.x)"#, false),
            (r#"lower("A")"#, false),
            (r#""literal""#, false),
        ];
        let (results, _) = with_scope(scope, || {
            cases
                .iter()
                .map(|(src, _)| {
                    let expr: hcl::Expression = hcl_edit::parser::parse_expr(src).unwrap().into();
                    (eval_direct(&expr), eval(src))
                })
                .collect::<Vec<_>>()
        });
        for ((src, direct), (got, hcl)) in cases.iter().zip(results) {
            assert_eq!(got.is_some(), *direct, "{src}: direct path taken? {got:?}");
            match (got, hcl) {
                (Some(d), Ok(h)) => assert_eq!(d, h, "{src}"),
                (Some(d), Err(e)) => panic!("{src}: direct gave {d:?}, hcl-rs failed: {e}"),
                (None, _) => {}
            }
        }
    }
}
