//! Variable types (`string`, `list(number)`, `object({ name = string })`, …) and value conversion between them.
//!
//! Owns the parsing of type expressions from the hcl-edit tree and the Terraform-like conversion rules ("3" → 3 for a
//! number, `["a", "a"]` → `["a"]` for a set). Pure; reasons come back as strings and the loader attaches spans.

use std::fmt;

use hcl::{Map, Value};
use hcl_edit::expr::Expression;

use super::funcs::{display_scalar, parse_number, short};

/// A variable type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarType {
    /// Any value, unconverted.
    Any,
    /// A string.
    String,
    /// A number.
    Number,
    /// A boolean.
    Bool,
    /// A list of one element type.
    List(Box<VarType>),
    /// A set: a list without duplicates.
    Set(Box<VarType>),
    /// A map from string keys to one element type.
    Map(Box<VarType>),
    /// An object with the given attributes (extra attributes are dropped, missing ones are an error).
    Object(Vec<(String, VarType)>),
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::String => f.write_str("string"),
            Self::Number => f.write_str("number"),
            Self::Bool => f.write_str("bool"),
            Self::List(t) => write!(f, "list({t})"),
            Self::Set(t) => write!(f, "set({t})"),
            Self::Map(t) => write!(f, "map({t})"),
            Self::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    write!(f, "{}{k} = {t}", if i == 0 { " " } else { ", " })?;
                }
                f.write_str(" })")
            }
        }
    }
}

impl VarType {
    /// Whether values given as text (`-var`, environment) should be parsed as HCL rather than taken as a string.
    pub fn is_structural(&self) -> bool {
        matches!(
            self,
            Self::List(_) | Self::Set(_) | Self::Map(_) | Self::Object(_)
        )
    }

    /// Parses a type expression. Errors name what was expected.
    pub fn parse(expr: &Expression) -> Result<Self, String> {
        const EXPECTED: &str = "expected a type: string, number, bool, any, list(T), set(T), map(T) or object({ name = T, ... })";
        match expr {
            Expression::Variable(v) => match v.as_str() {
                "string" => Ok(Self::String),
                "number" => Ok(Self::Number),
                "bool" => Ok(Self::Bool),
                "any" => Ok(Self::Any),
                other => Err(format!("unknown type `{other}`; {EXPECTED}")),
            },
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                let args: Vec<&Expression> = call.args.iter().collect();
                if args.len() != 1 || !call.name.namespace.is_empty() {
                    return Err(format!("`{name}(...)` takes exactly one type argument"));
                }
                match name {
                    "list" => Ok(Self::List(Box::new(Self::parse(args[0])?))),
                    "set" => Ok(Self::Set(Box::new(Self::parse(args[0])?))),
                    "map" => Ok(Self::Map(Box::new(Self::parse(args[0])?))),
                    "object" => {
                        let Expression::Object(obj) = args[0] else {
                            return Err("object(...) takes an object of attribute types: object({ name = string })".into());
                        };
                        let mut attrs = Vec::new();
                        for (k, v) in obj.iter() {
                            let key = match k {
                                hcl_edit::expr::ObjectKey::Ident(id) => id.as_str().to_string(),
                                hcl_edit::expr::ObjectKey::Expression(Expression::String(s)) => {
                                    s.as_str().to_string()
                                }
                                _ => {
                                    return Err("object attribute names must be identifiers".into());
                                }
                            };
                            attrs.push((key, Self::parse(v.expr())?));
                        }
                        Ok(Self::Object(attrs))
                    }
                    other => Err(format!("unknown type constructor `{other}`; {EXPECTED}")),
                }
            }
            _ => Err(EXPECTED.into()),
        }
    }

    /// Converts a value to this type.
    pub fn convert(&self, value: Value) -> Result<Value, String> {
        self.convert_at(value, "")
    }

    fn convert_at(&self, value: Value, at: &str) -> Result<Value, String> {
        let where_ = |s: String| {
            if at.is_empty() {
                s
            } else {
                format!("{at}: {s}")
            }
        };
        if value.is_null() {
            return Ok(Value::Null);
        }
        match self {
            Self::Any => Ok(value),
            Self::String => display_scalar(&value)
                .map(Value::String)
                .ok_or_else(|| where_(format!("expected a string, got `{}`", short(&value)))),
            Self::Number => match &value {
                Value::Number(_) => Ok(value),
                Value::String(s) => parse_number(s)
                    .map(Value::Number)
                    .ok_or_else(|| where_(format!("expected a number, got \"{s}\""))),
                _ => Err(where_(format!(
                    "expected a number, got `{}`",
                    short(&value)
                ))),
            },
            Self::Bool => match &value {
                Value::Bool(_) => Ok(value),
                Value::String(s) if s == "true" => Ok(Value::Bool(true)),
                Value::String(s) if s == "false" => Ok(Value::Bool(false)),
                _ => Err(where_(format!(
                    "expected true or false, got `{}`",
                    short(&value)
                ))),
            },
            Self::List(t) | Self::Set(t) => {
                let Value::Array(items) = value else {
                    return Err(where_(format!("expected a list, got `{}`", short(&value))));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.into_iter().enumerate() {
                    let v = t.convert_at(v, &format!("{at}[{i}]"))?;
                    if matches!(self, Self::List(_)) || !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }
            Self::Map(t) => {
                let Value::Object(items) = value else {
                    return Err(where_(format!("expected a map, got `{}`", short(&value))));
                };
                let mut out = Map::new();
                for (k, v) in items {
                    let v = t.convert_at(v, &format!("{at}[\"{k}\"]"))?;
                    out.insert(k, v);
                }
                Ok(Value::Object(out))
            }
            Self::Object(attrs) => {
                let Value::Object(mut items) = value else {
                    return Err(where_(format!(
                        "expected an object, got `{}`",
                        short(&value)
                    )));
                };
                let mut out = Map::new();
                for (k, t) in attrs {
                    let v = items.swap_remove(k).ok_or_else(|| {
                        where_(format!("attribute `{k}` is required by the type {self}"))
                    })?;
                    out.insert(k.clone(), t.convert_at(v, &format!("{at}.{k}"))?);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> VarType {
        VarType::parse(&hcl_edit::parser::parse_expr(src).unwrap()).unwrap()
    }

    fn val(src: &str) -> Value {
        hcl::Expression::from(hcl_edit::parser::parse_expr(src).unwrap()).into()
    }

    #[test]
    fn parses_type_expressions() {
        assert_eq!(ty("list(string)"), VarType::List(Box::new(VarType::String)));
        assert_eq!(
            ty("object({ a = number, b = set(bool) })").to_string(),
            "object({ a = number, b = set(bool) })"
        );
        assert!(VarType::parse(&hcl_edit::parser::parse_expr("strin").unwrap()).is_err());
        assert!(
            VarType::parse(&hcl_edit::parser::parse_expr("list(string, number)").unwrap()).is_err()
        );
        assert!(VarType::parse(&hcl_edit::parser::parse_expr("\"string\"").unwrap()).is_err());
    }

    #[test]
    fn converts_scalars_like_terraform() {
        assert_eq!(ty("number").convert(Value::from("3")).unwrap(), val("3"));
        assert!(ty("number").convert(Value::from("three")).is_err());
        assert_eq!(ty("string").convert(val("3")).unwrap(), Value::from("3"));
        assert_eq!(
            ty("bool").convert(Value::from("true")).unwrap(),
            Value::Bool(true)
        );
        assert!(ty("bool").convert(Value::from("yes")).is_err());
    }

    #[test]
    fn converts_collections() {
        assert_eq!(
            ty("set(string)").convert(val(r#"["a", "a", 1]"#)).unwrap(),
            val(r#"["a", "1"]"#)
        );
        assert_eq!(
            ty("map(number)").convert(val(r#"{ a = "2" }"#)).unwrap(),
            val("{ a = 2 }")
        );
        let e = ty("list(number)").convert(val(r#"[1, "x"]"#)).unwrap_err();
        assert_eq!(e, "[1]: expected a number, got \"x\"");
        let o = ty("object({ a = string })");
        assert_eq!(
            o.convert(val(r#"{ a = 1, b = 2 }"#)).unwrap(),
            val(r#"{ a = "1" }"#)
        );
        assert!(
            o.convert(val("{ b = 2 }"))
                .unwrap_err()
                .contains("attribute `a` is required")
        );
    }
}
