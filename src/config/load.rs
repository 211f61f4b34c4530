//! The loader: source texts in, a typed [`Config`] or every problem found out.
//!
//! Passes, in order (each collects problems and carries on, so one run reports everything it can):
//!
//! ```text
//!  parse (hcl-edit, spans kept) ─► declare (one item per block / local) ─► check (schema names, references)
//!      ─► order (item DAG, cycles reported) ─► evaluate in order (hcl-rs eval; for_each expanded once per block)
//!      ─► decode (typed model) ─► validate (ASR rules)
//! ```
//!
//! Evaluation contexts contain only what an item references, so evaluating 10,000 `for_each` instances never copies
//! the whole configuration per instance. The loader reads no files itself: texts come from `config::load` or
//! `config::load_sources`, and `file()` reads through the scope installed in `config::funcs`.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::fmt;
use std::path::PathBuf;

use hcl::eval::{Context, Evaluate};
use hcl::{Map, Value};
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::visit::{Visit, visit_expr, visit_template};
use sha2::{Digest, Sha256};

use super::decode::{self, DecodeEnv, EvalAttr, EvalBlock, EvalBody};
use super::diag::{Diagnostic, Diagnostics, did_you_mean};
use super::funcs;
use super::model::{
    Config, Dependency, EdgeReason, Output, Provider, Resource, Resources, Variable,
};
use super::schema::{self, Schema};
use super::source::{SourceFile, Span, Spanned};
use super::types::VarType;
use super::values::ArmId;
use super::{LoadOptions, Loaded};
use crate::addr::{ResourceAddr, ResourceKind};

/// What `config::load`/`config::load_sources` hand to the loader.
pub(crate) struct Input {
    pub config_files: Vec<SourceFile>,
    pub var_files: Vec<SourceFile>,
    pub dir: Option<PathBuf>,
    pub data: BTreeMap<String, String>,
}

/// Runs the loader with `file()` scoped to the input's directory and data files.
pub(crate) fn run(input: Input, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let scope = funcs::FileScope {
        dir: input.dir.clone(),
        data: input.data,
        ..funcs::FileScope::default()
    };
    let n_config = input.config_files.len();
    let mut sources = input.config_files;
    sources.extend(input.var_files);
    let loader = Loader {
        opts,
        sources,
        n_config,
        dir: input.dir,
        diags: Vec::new(),
        vars: HashMap::new(),
        var_values: BTreeMap::new(),
        blocks: HashMap::new(),
        resources: Resources::default(),
        outputs: BTreeMap::new(),
        provider: None,
        backend: None,
        default_subscription: None,
        imports: Vec::new(),
        full_reads: FullReads::All,
    };
    funcs::with_scope(scope, move || loader.run()).0
}

/// One node of the item DAG.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Provider,
    Backend,
    Var(String),
    Local(String),
    Res(ResourceKind, String),
    Output(String),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Provider => f.write_str("provider"),
            Node::Backend => f.write_str("backend"),
            Node::Var(n) => write!(f, "var.{n}"),
            Node::Local(n) => write!(f, "local.{n}"),
            Node::Res(k, n) => write!(f, "{k}.{n}"),
            Node::Output(n) => write!(f, "output.{n}"),
        }
    }
}

/// How a reference picks an instance of a `for_each` block.
#[derive(Clone, Debug)]
enum RefKey {
    /// `kind.label` (all instances of a for_each block, or the single instance).
    None,
    /// `kind.label["key"]`.
    Literal(String),
    /// `kind.label[expr]`: evaluated per instance.
    Dynamic(hcl::Expression),
}

/// A reference as collected, before resolution: root, attribute path, first index, span, why, inside `for_each`.
type RawRef = (
    String,
    Vec<String>,
    Option<Expression>,
    Span,
    EdgeReason,
    bool,
);

/// A reference found in an expression.
#[derive(Clone, Debug)]
struct Ref {
    root: String,
    path: Vec<String>,
    key: RefKey,
    span: Span,
    reason: EdgeReason,
    /// Inside a string template: hcl-rs parses templates at evaluation time, so such references are not rewritten
    /// and need their root in the evaluation context.
    in_template: bool,
}

/// A declared item: a top-level block, or one attribute of a `locals` block.
struct Item<'b> {
    node: Node,
    file: usize,
    header: Span,
    block: Option<&'b Block>,
    local: Option<&'b Attribute>,
    refs: Vec<Ref>,
    deps: BTreeSet<usize>,
    body: Option<CBody>,
    for_each: Option<CAttr>,
    failed: bool,
}

/// A block body with expressions converted to hcl-rs once (not per instance).
#[derive(Default)]
struct CBody {
    attrs: Vec<CAttr>,
    blocks: Vec<CBlock>,
}

struct CAttr {
    name: String,
    expr: hcl::Expression,
    span: Span,
}

struct CBlock {
    ident: String,
    labels: Vec<Spanned<String>>,
    header: Span,
    body: CBody,
}

/// What is known about an evaluated resource block.
struct BlockInfo {
    for_each: bool,
    keys: Vec<String>,
}

struct Loader<'o> {
    opts: &'o LoadOptions,
    sources: Vec<SourceFile>,
    n_config: usize,
    dir: Option<PathBuf>,
    diags: Vec<Diagnostic>,
    /// Declared variables: type.
    vars: HashMap<String, VarType>,
    var_values: BTreeMap<String, Variable>,
    blocks: HashMap<(ResourceKind, String), BlockInfo>,
    resources: Resources,
    outputs: BTreeMap<String, Output>,
    provider: Option<Spanned<Provider>>,
    backend: Option<Spanned<super::model::Backend>>,
    default_subscription: Option<String>,
    /// `import` blocks as written; checked against the resources once they are evaluated.
    imports: Vec<RawImport>,
    /// The resource blocks whose whole value something reads (see [`FullReads`]).
    full_reads: FullReads,
}

/// Which resource blocks' values are read beyond `address`, `id` and `name` of their instances: the blocks named by a
/// `__resource` call (an attribute of a resource, `protected_vm.web.target_vm_size`, or a whole value outside a
/// resource attribute, in a local or an output) or by a string template. The others register each instance's compact
/// value only (`decode::compact_reference_value`), which is all `__ref` reads.
enum FullReads {
    /// Every block (an expression the scan does not understand was found: the safe answer).
    All,
    Blocks(HashSet<(ResourceKind, String)>),
}

impl FullReads {
    /// Scans the compiled items (after `check` compiled them, before any is evaluated).
    fn of(items: &[Item<'_>]) -> Self {
        let mut blocks = HashSet::new();
        let mut all = false;
        use FullReads as F;
        fn body(b: &CBody, blocks: &mut HashSet<(ResourceKind, String)>, all: &mut bool) {
            for a in &b.attrs {
                F::scan(&a.expr, blocks, all);
            }
            for blk in &b.blocks {
                body(&blk.body, blocks, all);
            }
        }
        for it in items {
            if let Some(b) = &it.body {
                body(b, &mut blocks, &mut all);
            }
            if let Some(fe) = &it.for_each {
                F::scan(&fe.expr, &mut blocks, &mut all);
            }
            for r in it.refs.iter().filter(|r| r.in_template) {
                if let (Some(kind), Some(label)) =
                    (ResourceKind::from_name(&r.root), r.path.first())
                {
                    blocks.insert((kind, label.clone()));
                }
            }
        }
        if all {
            FullReads::All
        } else {
            FullReads::Blocks(blocks)
        }
    }

    /// Adds the blocks `e` reads whole to `blocks`; sets `all` on an expression it does not know.
    fn scan(e: &hcl::Expression, blocks: &mut HashSet<(ResourceKind, String)>, all: &mut bool) {
        let expr = Self::scan;
        use hcl::expr::{Expression as E, ObjectKey, Operation, TraversalOperator as Op};
        match e {
            E::Null | E::Bool(_) | E::Number(_) | E::String(_) | E::Variable(_) => {}
            // Templates read resources through the context, found from their references below.
            E::TemplateExpr(_) => {}
            E::FuncCall(f) => {
                if f.name.name.as_str() == "__resource" {
                    match (f.args.first(), f.args.get(1)) {
                        (Some(E::String(kind)), Some(E::String(label))) => {
                            match ResourceKind::from_name(kind) {
                                Some(k) => {
                                    blocks.insert((k, label.clone()));
                                }
                                None => *all = true,
                            }
                        }
                        _ => *all = true,
                    }
                }
                f.args.iter().for_each(|a| expr(a, blocks, all));
            }
            E::Array(items) => items.iter().for_each(|a| expr(a, blocks, all)),
            E::Object(o) => {
                for (k, v) in o {
                    match k {
                        ObjectKey::Identifier(_) => {}
                        ObjectKey::Expression(k) => expr(k, blocks, all),
                        _ => *all = true,
                    }
                    expr(v, blocks, all);
                }
            }
            E::Traversal(t) => {
                expr(&t.expr, blocks, all);
                for op in &t.operators {
                    if let Op::Index(ix) = op {
                        expr(ix, blocks, all);
                    }
                }
            }
            E::Parenthesis(inner) => expr(inner, blocks, all),
            E::Conditional(c) => {
                expr(&c.cond_expr, blocks, all);
                expr(&c.true_expr, blocks, all);
                expr(&c.false_expr, blocks, all);
            }
            E::Operation(op) => match op.as_ref() {
                Operation::Unary(u) => expr(&u.expr, blocks, all),
                Operation::Binary(b) => {
                    expr(&b.lhs_expr, blocks, all);
                    expr(&b.rhs_expr, blocks, all);
                }
            },
            E::ForExpr(f) => {
                expr(&f.collection_expr, blocks, all);
                if let Some(k) = &f.key_expr {
                    expr(k, blocks, all);
                }
                expr(&f.value_expr, blocks, all);
                if let Some(c) = &f.cond_expr {
                    expr(c, blocks, all);
                }
            }
            _ => *all = true,
        }
    }

    fn full(&self, kind: ResourceKind, label: &str) -> bool {
        match self {
            FullReads::All => true,
            // Looked up once per block, not per instance.
            FullReads::Blocks(b) => b.contains(&(kind, label.to_string())),
        }
    }
}

/// An `import` block before its target is known to exist.
struct RawImport {
    header: Span,
    to: ResourceAddr,
    to_span: Span,
    id: String,
    id_span: Span,
}

fn span_of(file: usize, node: &impl hcl_edit::Span) -> Span {
    Span::new(file, node.span().unwrap_or(0..0))
}

fn header_span(file: usize, b: &Block) -> Span {
    let start = b.ident.span().map_or(0, |r| r.start);
    let end = b
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| b.ident.span())
        .map_or(start, |r| r.end);
    Span::new(file, start..end)
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == '-')
}

/// Collects references, unknown functions and scoped variables of `for` expressions.
struct RefCollector {
    file: usize,
    scoped: Vec<String>,
    refs: Vec<(String, Vec<String>, Option<Expression>, Span)>,
    bad_funcs: Vec<(String, Span)>,
    /// Spans of string templates and heredocs (references inside them stay as written; see [`Ref::in_template`]).
    templates: Vec<Span>,
}

impl RefCollector {
    fn new(file: usize) -> Self {
        Self {
            file,
            scoped: Vec::new(),
            refs: Vec::new(),
            bad_funcs: Vec::new(),
            templates: Vec::new(),
        }
    }
}

impl Visit for RefCollector {
    fn visit_expr(&mut self, e: &Expression) {
        match e {
            Expression::Traversal(t) => {
                if let Expression::Variable(root) = &t.expr {
                    let mut path = Vec::new();
                    let mut index = None;
                    let mut end = root.span().map_or(0, |r| r.end);
                    let mut collecting = true;
                    for op in &t.operators {
                        match op.value() {
                            TraversalOperator::GetAttr(id) if collecting => {
                                path.push(id.as_str().to_string());
                                end = op.span().map_or(end, |r| r.end);
                            }
                            TraversalOperator::Index(ix) => {
                                self.visit_expr(ix);
                                if collecting && path.len() == 1 {
                                    index = Some(ix.clone());
                                    end = op.span().map_or(end, |r| r.end);
                                }
                                collecting = false;
                            }
                            _ => collecting = false,
                        }
                    }
                    let name = root.as_str();
                    if !self.scoped.iter().any(|s| s == name) {
                        let start = root.span().map_or(0, |r| r.start);
                        self.refs.push((
                            name.to_string(),
                            path,
                            index,
                            Span::new(self.file, start..end),
                        ));
                    }
                } else {
                    self.visit_expr(&t.expr);
                    for op in &t.operators {
                        if let TraversalOperator::Index(ix) = op.value() {
                            self.visit_expr(ix);
                        }
                    }
                }
            }
            Expression::Variable(v) => {
                let name = v.as_str();
                if !self.scoped.iter().any(|s| s == name) {
                    self.refs
                        .push((name.to_string(), Vec::new(), None, span_of(self.file, v)));
                }
            }
            Expression::ForExpr(f) => {
                self.visit_expr(&f.intro.collection_expr);
                let before = self.scoped.len();
                if let Some(k) = &f.intro.key_var {
                    self.scoped.push(k.as_str().to_string());
                }
                self.scoped.push(f.intro.value_var.as_str().to_string());
                if let Some(k) = &f.key_expr {
                    self.visit_expr(k);
                }
                self.visit_expr(&f.value_expr);
                if let Some(c) = &f.cond {
                    self.visit_expr(&c.expr);
                }
                self.scoped.truncate(before);
            }
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                if !call.name.namespace.is_empty() || !funcs::NAMES.contains(&name) {
                    self.bad_funcs
                        .push((name.to_string(), span_of(self.file, &call.name.name)));
                }
                for a in call.args.iter() {
                    self.visit_expr(a);
                }
            }
            _ => visit_expr(self, e),
        }
    }

    fn visit_string_template(&mut self, node: &hcl_edit::template::StringTemplate) {
        self.templates.push(span_of(self.file, node));
        hcl_edit::visit::visit_string_template(self, node);
    }

    fn visit_heredoc_template(&mut self, node: &hcl_edit::template::HeredocTemplate) {
        self.templates.push(span_of(self.file, node));
        hcl_edit::visit::visit_heredoc_template(self, node);
    }

    fn visit_for_template_expr(&mut self, node: &hcl_edit::template::ForTemplateExpr) {
        self.visit_expr(&node.collection_expr);
        let before = self.scoped.len();
        if let Some(k) = &node.key_var {
            self.scoped.push(k.as_str().to_string());
        }
        self.scoped.push(node.value_var.as_str().to_string());
        visit_template(self, &node.template);
        self.scoped.truncate(before);
    }
}

fn value_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

impl<'o> Loader<'o> {
    fn emit(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(mut self) -> Result<Loaded, Diagnostics> {
        // Parse every configuration file; a parse error stops only that file.
        let mut bodies: Vec<(usize, Body)> = Vec::new();
        for file in 0..self.n_config {
            let text = self.sources[file].text.clone();
            match hcl_edit::parser::parse_body(&text) {
                Ok(body) => bodies.push((file, body)),
                Err(e) => self.parse_error(file, &e),
            }
        }
        let mut items = self.declare(&bodies);
        self.check(&mut items);
        self.full_reads = FullReads::of(&items);
        let order = self.order(&mut items);
        self.eval_variables(&mut items);
        for idx in order {
            if items[idx].failed || items[idx].deps.iter().any(|d| items[*d].failed) {
                // A dependency failed and was reported; evaluating this item would only repeat that problem.
                items[idx].failed = true;
                continue;
            }
            if matches!(items[idx].node, Node::Var(_)) {
                continue;
            }
            let before = self.error_count();
            self.eval_item(&mut items, idx);
            if self.error_count() > before {
                items[idx].failed = true;
            }
        }
        let all_parsed = bodies.len() == self.n_config;
        if all_parsed && self.provider.is_none() && !items.iter().any(|i| i.node == Node::Provider)
        {
            self.emit(
                Diagnostic::error("config::missing_provider", "the configuration has no provider block")
                    .help("add `provider \"simulator\" { estate = \"estate.json\" }` or `provider \"azure\" { subscription_id = \"...\" }`"),
            );
        }
        let failed_any = items.iter().any(|i| i.failed);
        drop(items);
        if !self.has_errors() && !failed_any {
            let validation = super::validate::validate(&self.resources, self.opts);
            self.diags.extend(validation);
        }
        self.finish()
    }

    fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.severity == super::diag::Severity::Error)
            .count()
    }

    fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Reads an `import { to = kind.name["key"], id = "/subscriptions/…" }` block: both attributes are literals (the
    /// address of a configured instance and an ARM id), nothing else is allowed inside.
    fn declare_import(&mut self, file: usize, block: &Block) {
        let header = header_span(file, block);
        if !block.labels.is_empty() {
            self.emit(
                Diagnostic::error("config::labels", "an `import` block takes no labels")
                    .label(header, "write `import { to = ..., id = \"...\" }`"),
            );
            return;
        }
        let mut to: Option<(ResourceAddr, Span)> = None;
        let mut id: Option<(String, Span)> = None;
        let mut ok = true;
        for s in block.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let span = span_of(file, &a.value);
                    match a.key.as_str() {
                        "to" => {
                            let text: String = a
                                .value
                                .to_string()
                                .chars()
                                .filter(|c| !c.is_whitespace())
                                .collect();
                            match text.parse::<ResourceAddr>() {
                                Ok(addr)
                                    if matches!(
                                        a.value,
                                        Expression::Traversal(_) | Expression::Variable(_)
                                    ) =>
                                {
                                    to = Some((addr, span))
                                }
                                Ok(_) => {
                                    ok = false;
                                    self.emit(
                                        Diagnostic::error(
                                            "config::import_to",
                                            "`to` must be a resource address, not a string",
                                        )
                                        .label(span, "remove the quotes: `to = kind.name` or `kind.name[\"key\"]`"),
                                    );
                                }
                                Err(e) => {
                                    ok = false;
                                    self.emit(
                                        Diagnostic::error(
                                            "config::import_to",
                                            format!("`to` is not a resource address: {}", e.reason),
                                        )
                                        .label(
                                            span,
                                            "expected `kind.name` or `kind.name[\"key\"]`",
                                        ),
                                    );
                                }
                            }
                        }
                        "id" => match &a.value {
                            Expression::String(v) => match ArmId::parse_declared(v.value()) {
                                Ok(_) => id = Some((v.value().to_string(), span)),
                                Err(e) => {
                                    ok = false;
                                    self.emit(
                                        Diagnostic::error(
                                            "config::import_id",
                                            format!("`id` is not an ARM id: {e}"),
                                        )
                                        .label(span, "expected \"/subscriptions/.../resourceGroups/.../providers/...\""),
                                    );
                                }
                            },
                            _ => {
                                ok = false;
                                self.emit(
                                    Diagnostic::error(
                                        "config::import_id",
                                        "`id` must be a literal string",
                                    )
                                    .label(span, "write the ARM id in quotes"),
                                );
                            }
                        },
                        other => {
                            ok = false;
                            self.emit(
                                Diagnostic::error(
                                    "config::unknown_attribute",
                                    format!("unknown attribute `{other}` in an `import` block"),
                                )
                                .label(
                                    span_of(file, &a.key),
                                    "an `import` block takes `to` and `id`",
                                )
                                .maybe_help(did_you_mean(other, ["to", "id"])),
                            );
                        }
                    }
                }
                Structure::Block(b) => {
                    ok = false;
                    self.emit(
                        Diagnostic::error(
                            "config::unknown_block",
                            format!(
                                "blocks are not allowed in `import` (found `{}`)",
                                b.ident.as_str()
                            ),
                        )
                        .label(header_span(file, b), "not allowed here"),
                    );
                }
            }
        }
        if !ok {
            return;
        }
        for (name, missing) in [("to", to.is_none()), ("id", id.is_none())] {
            if missing {
                self.emit(
                    Diagnostic::error(
                        "config::import_missing",
                        format!("the `import` block has no `{name}`"),
                    )
                    .label(header, format!("add `{name} = ...`")),
                );
            }
        }
        if let (Some((to, to_span)), Some((id, id_span))) = (to, id) {
            self.imports.push(RawImport {
                header,
                to,
                to_span,
                id,
                id_span,
            });
        }
    }

    /// Checks the `import` blocks against the evaluated resources: the target instance exists, and no address or
    /// id is imported twice.
    fn check_imports(&mut self) -> Vec<super::model::Import> {
        let mut out: Vec<super::model::Import> = Vec::new();
        for raw in std::mem::take(&mut self.imports) {
            if !self.resources.contains_key(&raw.to) {
                let known: Vec<String> = self
                    .resources
                    .keys()
                    .filter(|a| a.kind == raw.to.kind)
                    .map(ToString::to_string)
                    .collect();
                self.emit(
                    Diagnostic::error(
                        "config::import_target",
                        format!("import target `{}` is not in the configuration", raw.to),
                    )
                    .label(raw.to_span, "no resource instance with this address")
                    .maybe_help(did_you_mean(
                        &raw.to.to_string(),
                        known.iter().map(String::as_str),
                    )),
                );
                continue;
            }
            if let Some(first) = out.iter().find(|i| i.to == raw.to) {
                self.emit(duplicate(
                    &format!("import of `{}`", raw.to),
                    first.span,
                    raw.header,
                ));
                continue;
            }
            if let Some(first) = out
                .iter()
                .find(|i| i.id.value.eq_ignore_ascii_case(&raw.id))
            {
                self.emit(
                    Diagnostic::error(
                        "config::import_duplicate_id",
                        format!(
                            "`{}` is imported twice (as `{}` and `{}`)",
                            raw.id, first.to, raw.to
                        ),
                    )
                    .label(raw.id_span, "imported again here")
                    .label(first.id.span, "first imported here"),
                );
                continue;
            }
            out.push(super::model::Import {
                to: raw.to,
                id: Spanned::new(raw.id, raw.id_span),
                span: raw.header,
            });
        }
        out
    }

    fn finish(mut self) -> Result<Loaded, Diagnostics> {
        let imports = self.check_imports();
        // The same problem found once per for_each instance is reported once.
        let mut seen = HashSet::new();
        let diags: Vec<Diagnostic> = std::mem::take(&mut self.diags)
            .into_iter()
            .filter(|d| seen.insert((d.code, d.message.clone(), d.labels.first().map(|l| l.span))))
            .map(|d| d.resolve(&self.sources))
            .collect();
        let (errors, warnings): (Vec<_>, Vec<_>) = diags
            .into_iter()
            .partition(|d| d.severity == super::diag::Severity::Error);
        if !errors.is_empty() {
            let mut all = errors;
            all.extend(warnings);
            return Err(Diagnostics(all));
        }
        let (Some(provider), backend) = (self.provider, self.backend) else {
            return Err(Diagnostics(vec![Diagnostic::error(
                "config::missing_provider",
                "the configuration has no provider block",
            )]));
        };
        let fingerprint = fingerprint(&self.sources[..self.n_config], &self.var_values);
        let backend = backend.unwrap_or_else(|| {
            Spanned::new(
                super::model::Backend::Local {
                    path: PathBuf::from("asrform.state.json"),
                },
                Span::default(),
            )
        });
        let config = Config {
            sources: self.sources,
            config_files: self.n_config,
            provider,
            backend,
            variables: self.var_values,
            outputs: self.outputs,
            resources: self.resources,
            fingerprint,
            imports,
        };
        Ok(Loaded {
            config,
            warnings: Diagnostics(warnings),
        })
    }

    fn parse_error(&mut self, file: usize, e: &hcl_edit::parser::Error) {
        let len = self.sources[file].text.len();
        let start = e.location().offset().min(len);
        let end = (start + 1).min(len);
        let message = e
            .message()
            .lines()
            .next()
            .unwrap_or("syntax error")
            .to_string();
        self.emit(
            Diagnostic::error("config::parse", format!("syntax error: {message}"))
                .label(Span::new(file, start..end), "here")
                .help("only the first syntax error of a file is reported; fix it and run again"),
        );
    }

    // ---- declare ---------------------------------------------------------------------------------------------

    fn declare<'b>(&mut self, bodies: &'b [(usize, Body)]) -> Vec<Item<'b>> {
        let mut items: Vec<Item<'b>> = Vec::new();
        let mut by_node: HashMap<Node, usize> = HashMap::new();
        let new_item = |node, file, header, block, local| Item {
            node,
            file,
            header,
            block,
            local,
            refs: Vec::new(),
            deps: BTreeSet::new(),
            body: None,
            for_each: None,
            failed: false,
        };
        for (file, body) in bodies {
            let file = *file;
            for structure in body.iter() {
                let block = match structure {
                    Structure::Attribute(a) => {
                        self.emit(
                            Diagnostic::error(
                                "config::unexpected_attribute",
                                format!("attribute `{}` outside of any block", a.key.as_str()),
                            )
                            .label(span_of(file, &a.key), "attributes belong inside a block")
                            .help("put it in a `locals { ... }` block to name a value"),
                        );
                        continue;
                    }
                    Structure::Block(b) => b,
                };
                let ident = block.ident.as_str();
                let header = header_span(file, block);
                if ident == "import" {
                    self.declare_import(file, block);
                    continue;
                }
                if ident == "locals" {
                    if !block.labels.is_empty() {
                        self.emit(
                            Diagnostic::error("config::labels", "a `locals` block takes no labels")
                                .label(header, "remove the label"),
                        );
                    }
                    for s in block.body.iter() {
                        match s {
                            Structure::Attribute(a) => {
                                let name = a.key.as_str().to_string();
                                let node = Node::Local(name.clone());
                                let here = span_of(file, &a.key);
                                if let Some(&first) = by_node.get(&node) {
                                    let first: &Item = &items[first];
                                    self.emit(duplicate(
                                        &format!("local.{name}"),
                                        first.header,
                                        here,
                                    ));
                                    continue;
                                }
                                by_node.insert(node.clone(), items.len());
                                items.push(new_item(node, file, here, None, Some(a)));
                            }
                            Structure::Block(b) => self.emit(
                                Diagnostic::error(
                                    "config::unknown_block",
                                    format!(
                                        "blocks are not allowed in `locals` (found `{}`)",
                                        b.ident.as_str()
                                    ),
                                )
                                .label(header_span(file, b), "not allowed here"),
                            ),
                        }
                    }
                    continue;
                }
                let kind = ResourceKind::from_name(ident);
                if kind.is_none() && !schema::TOP_LEVEL.contains(&ident) {
                    self.emit(
                        Diagnostic::error(
                            "config::unknown_block",
                            format!("unknown block type `{ident}`"),
                        )
                        .label(span_of(file, &block.ident), "not a block type of asrform")
                        .maybe_help(did_you_mean(ident, schema::top_level_names())),
                    );
                    continue;
                }
                if block.labels.len() != 1 {
                    self.emit(
                        Diagnostic::error(
                            "config::labels",
                            format!(
                                "a `{ident}` block takes exactly one label, found {}",
                                block.labels.len()
                            ),
                        )
                        .label(header, format!("write `{ident} \"name\" {{ ... }}`")),
                    );
                    continue;
                }
                let label = block.labels[0].as_str();
                let label_span = span_of(file, &block.labels[0]);
                let node = match (ident, kind) {
                    ("provider", _) => {
                        if !["simulator", "azure"].contains(&label) {
                            self.emit(
                                Diagnostic::error(
                                    "config::unknown_provider",
                                    format!("unknown provider `{label}`"),
                                )
                                .label(label_span, "expected \"simulator\" or \"azure\"")
                                .maybe_help(did_you_mean(label, ["simulator", "azure"])),
                            );
                            continue;
                        }
                        Node::Provider
                    }
                    ("backend", _) => {
                        if !["local", "azurerm"].contains(&label) {
                            self.emit(
                                Diagnostic::error(
                                    "config::unknown_backend",
                                    format!("unknown backend `{label}`"),
                                )
                                .label(label_span, "expected \"local\" or \"azurerm\"")
                                .maybe_help(did_you_mean(label, ["local", "azurerm"])),
                            );
                            continue;
                        }
                        Node::Backend
                    }
                    (_, _) if !is_ident(label) => {
                        self.emit(
                            Diagnostic::error("config::label", format!("`{label}` is not a valid name"))
                                .label(label_span, "names start with a letter or `_` and contain letters, digits, `_` and `-`"),
                        );
                        continue;
                    }
                    ("variable", _) => Node::Var(label.to_string()),
                    ("output", _) => Node::Output(label.to_string()),
                    (_, Some(kind)) => Node::Res(kind, label.to_string()),
                    _ => continue,
                };
                if let Some(&first) = by_node.get(&node) {
                    let what = match &node {
                        Node::Provider => "provider block (only one is allowed)".to_string(),
                        Node::Backend => "backend block (at most one is allowed)".to_string(),
                        other => format!("`{other}`"),
                    };
                    let first = items[first].header;
                    self.emit(duplicate(&what, first, header));
                    continue;
                }
                by_node.insert(node.clone(), items.len());
                items.push(new_item(node, file, header, Some(block), None));
            }
        }
        for item in &items {
            match &item.node {
                Node::Var(n) => {
                    self.vars.insert(n.clone(), VarType::Any);
                }
                Node::Res(k, n) => {
                    let for_each = item.block.is_some_and(|b| b.body.has_attribute("for_each"));
                    self.blocks.insert(
                        (*k, n.clone()),
                        BlockInfo {
                            for_each,
                            keys: Vec::new(),
                        },
                    );
                }
                _ => {}
            }
        }
        items
    }

    // ---- check: names and references ----------------------------------------------------------------------

    fn check(&mut self, items: &mut [Item<'_>]) {
        let by_node: HashMap<Node, usize> = items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.node.clone(), i))
            .collect();
        let var_names: Vec<String> = items
            .iter()
            .filter_map(|i| {
                if let Node::Var(n) = &i.node {
                    Some(n.clone())
                } else {
                    None
                }
            })
            .collect();
        let local_names: Vec<String> = items
            .iter()
            .filter_map(|i| {
                if let Node::Local(n) = &i.node {
                    Some(n.clone())
                } else {
                    None
                }
            })
            .collect();
        let mut labels: HashMap<ResourceKind, Vec<String>> = HashMap::new();
        for it in items.iter() {
            if let Node::Res(k, n) = &it.node {
                labels.entry(*k).or_default().push(n.clone());
            }
        }
        let provider_idx = by_node.get(&Node::Provider).copied();
        for (idx, item) in items.iter_mut().enumerate() {
            let file = item.file;
            let mut raw_refs: Vec<RawRef> = Vec::new();
            let mut collector = RefCollector::new(file);
            match (&item.node, item.block, item.local) {
                (_, None, Some(attr)) => {
                    collector.visit_expr(&attr.value);
                    item.body = Some(CBody {
                        attrs: vec![CAttr {
                            name: attr.key.as_str().to_string(),
                            expr: rewrite_refs(attr.value.clone().into()),
                            span: span_of(file, &attr.value),
                        }],
                        blocks: Vec::new(),
                    });
                }
                (node, Some(block), _) => {
                    let (schema, lifecycle): (&Schema, Option<&'static Schema>) = match node {
                        Node::Provider if block.labels[0].as_str() == "azure" => {
                            (&schema::PROVIDER_AZURE, None)
                        }
                        Node::Provider => (&schema::PROVIDER_SIMULATOR, None),
                        Node::Backend if block.labels[0].as_str() == "azurerm" => {
                            (&schema::BACKEND_AZURERM, None)
                        }
                        Node::Backend => (&schema::BACKEND_LOCAL, None),
                        Node::Var(_) => (&schema::VARIABLE, None),
                        Node::Output(_) => (&schema::OUTPUT, None),
                        Node::Res(k, _) => (
                            schema::resource(*k),
                            Some(if *k == ResourceKind::ProtectedVm {
                                &schema::LIFECYCLE_VM
                            } else {
                                &schema::LIFECYCLE
                            }),
                        ),
                        Node::Local(_) => unreachable_local(),
                    };
                    let what = match node {
                        Node::Res(k, _) => k.as_str().to_string(),
                        Node::Provider => format!("provider \"{}\"", block.labels[0].as_str()),
                        Node::Backend => format!("backend \"{}\"", block.labels[0].as_str()),
                        Node::Var(_) => "variable".into(),
                        Node::Output(_) => "output".into(),
                        Node::Local(_) => "locals".into(),
                    };
                    let is_var = matches!(node, Node::Var(_));
                    let mut cbody = CBody::default();
                    let mut for_each = None;
                    for s in block.body.iter() {
                        match s {
                            Structure::Attribute(a) => {
                                let name = a.key.as_str();
                                if lifecycle.is_some() && name == "depends_on" {
                                    self.depends_on(file, a, &mut raw_refs);
                                    continue;
                                }
                                if is_var && name == "type" {
                                    continue; // a type expression, not a value: parsed in eval_variables
                                }
                                let meta = lifecycle.is_some() && name == "for_each";
                                if !meta
                                    && !self.check_attr_name(
                                        file,
                                        a,
                                        schema,
                                        &what,
                                        lifecycle.is_some(),
                                    )
                                {
                                    continue;
                                }
                                if cbody.attrs.iter().any(|c: &CAttr| c.name == name)
                                    || (meta && for_each.is_some())
                                {
                                    self.emit(
                                        Diagnostic::error(
                                            "config::duplicate_attribute",
                                            format!("attribute `{name}` is set twice"),
                                        )
                                        .label(span_of(file, &a.key), "set again here"),
                                    );
                                    continue;
                                }
                                let before = collector.refs.len();
                                collector.visit_expr(&a.value);
                                let expr = rewrite_refs(a.value.clone().into());
                                let attr = CAttr {
                                    name: name.to_string(),
                                    expr: if lifecycle.is_some() && !meta {
                                        compact_refs(expr)
                                    } else {
                                        expr
                                    },
                                    span: span_of(file, &a.value),
                                };
                                if meta {
                                    for r in &collector.refs[before..] {
                                        raw_refs.push((
                                            r.0.clone(),
                                            r.1.clone(),
                                            r.2.clone(),
                                            r.3,
                                            EdgeReason::Reference,
                                            true,
                                        ));
                                    }
                                    collector.refs.truncate(before);
                                    for_each = Some(attr);
                                } else {
                                    cbody.attrs.push(attr);
                                }
                            }
                            Structure::Block(b) => {
                                if let Some(lc) =
                                    lifecycle.filter(|_| b.ident.as_str() == "lifecycle")
                                {
                                    if let Some(c) = self.compile_lifecycle(file, b, lc) {
                                        cbody.blocks.push(c);
                                    }
                                    continue;
                                }
                                if let Some(c) =
                                    self.compile_block(file, b, schema, &what, &mut collector)
                                {
                                    cbody.blocks.push(c);
                                }
                            }
                        }
                    }
                    item.body = Some(cbody);
                    item.for_each = for_each;
                }
                _ => {}
            }
            let errors_before_funcs = self.error_count();
            for (name, span) in std::mem::take(&mut collector.bad_funcs) {
                self.emit(
                    Diagnostic::error(
                        "config::unknown_function",
                        format!("unknown function `{name}`"),
                    )
                    .label(span, "not a function of asrform")
                    .maybe_help(did_you_mean(&name, funcs::NAMES.iter().copied())),
                );
            }
            if self.error_count() > errors_before_funcs {
                item.failed = true;
            }
            let templates = std::mem::take(&mut collector.templates);
            for r in collector.refs {
                raw_refs.push((r.0, r.1, r.2, r.3, EdgeReason::Reference, false));
            }
            // Resolve references to items. An item with a broken reference is not evaluated: hcl-rs would only repeat
            // the problem as "undefined variable".
            let errors_before_refs = self.error_count();
            let in_for_each_block = item.block.is_some_and(|b| b.body.has_attribute("for_each"))
                && matches!(item.node, Node::Res(..));
            let self_var = if let Node::Var(n) = &item.node {
                Some(n.clone())
            } else {
                None
            };
            let mut refs = Vec::new();
            let mut deps = BTreeSet::new();
            for (root, path, index, span, reason, in_fe) in raw_refs {
                let in_template = templates
                    .iter()
                    .any(|t| t.file == span.file && t.start <= span.start && span.end <= t.end);
                let key = match index {
                    None => RefKey::None,
                    Some(Expression::String(s)) => RefKey::Literal(s.as_str().to_string()),
                    Some(other) => RefKey::Dynamic(rewrite_refs(other.into())),
                };
                if let Some(me) = self_var.as_ref().filter(|_| root != "var") {
                    self.emit(
                        Diagnostic::error(
                            "config::variable_reference",
                            format!("variable `{me}` cannot refer to `{root}`"),
                        )
                        .label(
                            span,
                            "variables can only refer to themselves, in validation conditions",
                        ),
                    );
                    continue;
                }
                let target: Option<Node> = match root.as_str() {
                    "var" => {
                        let Some(name) = path.first() else {
                            self.emit(bare_root(span, "var", "var.<name>"));
                            continue;
                        };
                        if let Some(me) = &self_var {
                            if name != me {
                                self.emit(
                                    Diagnostic::error("config::variable_reference", format!("variable `{me}` cannot refer to `var.{name}`"))
                                        .label(span, "variables can only refer to themselves, in validation conditions"),
                                );
                                continue;
                            }
                            None
                        } else if !var_names.contains(name) {
                            self.emit(
                                Diagnostic::error(
                                    "config::unknown_reference",
                                    format!("unknown variable `var.{name}`"),
                                )
                                .label(span, "no `variable` block declares this")
                                .maybe_help(
                                    did_you_mean(name, var_names.iter().map(String::as_str)).map(
                                        |_| {
                                            format!(
                                                "did you mean `var.{}`?",
                                                super::diag::suggest(
                                                    name,
                                                    var_names.iter().map(String::as_str)
                                                )
                                                .unwrap_or_default()
                                            )
                                        },
                                    ),
                                ),
                            );
                            continue;
                        } else {
                            Some(Node::Var(name.clone()))
                        }
                    }
                    "local" => {
                        let Some(name) = path.first() else {
                            self.emit(bare_root(span, "local", "local.<name>"));
                            continue;
                        };
                        if !local_names.contains(name) {
                            let s =
                                super::diag::suggest(name, local_names.iter().map(String::as_str));
                            self.emit(
                                Diagnostic::error(
                                    "config::unknown_reference",
                                    format!("unknown local value `local.{name}`"),
                                )
                                .label(span, "no `locals` block defines this")
                                .maybe_help(s.map(|s| format!("did you mean `local.{s}`?"))),
                            );
                            continue;
                        }
                        Some(Node::Local(name.clone()))
                    }
                    "each" => {
                        if !in_for_each_block || in_fe {
                            self.emit(
                                Diagnostic::error(
                                    "config::each_outside_for_each",
                                    "`each` is only available in a block with `for_each`",
                                )
                                .label(
                                    span,
                                    if in_fe {
                                        "`for_each` cannot refer to `each`"
                                    } else {
                                        "this block has no `for_each`"
                                    },
                                ),
                            );
                            continue;
                        }
                        match path.first().map(String::as_str) {
                            Some("key" | "value") => None,
                            other => {
                                self.emit(
                                    Diagnostic::error(
                                        "config::unknown_reference",
                                        format!("`each.{}` does not exist", other.unwrap_or("")),
                                    )
                                    .label(span, "use `each.key` or `each.value`"),
                                );
                                continue;
                            }
                        }
                    }
                    kind_name => {
                        if let Some(kind) = ResourceKind::from_name(kind_name) {
                            let Some(label) = path.first() else {
                                self.emit(bare_root(
                                    span,
                                    kind_name,
                                    &format!("{kind_name}.<name>"),
                                ));
                                continue;
                            };
                            let known = labels.get(&kind).map(Vec::as_slice).unwrap_or_default();
                            if !known.contains(label) {
                                let s =
                                    super::diag::suggest(label, known.iter().map(String::as_str));
                                self.emit(
                                    Diagnostic::error(
                                        "config::unknown_reference",
                                        format!("unknown resource `{kind_name}.{label}`"),
                                    )
                                    .label(
                                        span,
                                        format!("no `{kind_name}` block is labelled `{label}`"),
                                    )
                                    .maybe_help(
                                        s.map(|s| format!("did you mean `{kind_name}.{s}`?")),
                                    ),
                                );
                                continue;
                            }
                            if reason == EdgeReason::DependsOn && path.len() > 1 {
                                self.emit(
                                    Diagnostic::error(
                                        "config::depends_on",
                                        "`depends_on` lists whole resources, not attributes",
                                    )
                                    .label(span, format!("write `{kind_name}.{label}`")),
                                );
                                continue;
                            }
                            Some(Node::Res(kind, label.clone()))
                        } else {
                            // Suggest a whole reference when the root is a misspelt kind: `replication_polcy.std`.
                            let roots = ["var", "local", "each"]
                                .into_iter()
                                .chain(ResourceKind::ALL.iter().map(|k| k.as_str()));
                            let help = super::diag::suggest(&root, roots).map(|s| {
                                match (ResourceKind::from_name(s), path.first()) {
                                    (Some(k), Some(label)) => {
                                        let known =
                                            labels.get(&k).map(Vec::as_slice).unwrap_or_default();
                                        let l = super::diag::suggest(
                                            label,
                                            known.iter().map(String::as_str),
                                        )
                                        .unwrap_or(label);
                                        format!("did you mean `{s}.{l}`?")
                                    }
                                    _ => format!("did you mean `{s}`?"),
                                }
                            });
                            self.emit(
                                Diagnostic::error("config::unknown_reference", format!("unknown name `{root}`"))
                                    .label(span, "not a variable, local, `each` or resource kind")
                                    .maybe_help(help.or_else(|| Some("references look like `var.x`, `local.x`, `each.value` or `vault.dr`".into()))),
                            );
                            continue;
                        }
                    }
                };
                if let Some(t) = target
                    && let Some(&d) = by_node.get(&t)
                {
                    if d == idx && !matches!(t, Node::Var(_)) {
                        self.emit(
                            Diagnostic::error(
                                "config::cycle",
                                format!("`{}` refers to itself", item.node),
                            )
                            .label(span, "self-reference"),
                        );
                        item.failed = true;
                        continue;
                    }
                    deps.insert(d);
                }
                refs.push(Ref {
                    root,
                    path,
                    key,
                    span,
                    reason,
                    in_template,
                });
            }
            if matches!(item.node, Node::Res(..))
                && let Some(p) = provider_idx
            {
                deps.insert(p); // ids need the provider's subscription
            }
            item.refs = refs;
            item.deps = deps;
            if self.error_count() > errors_before_refs {
                item.failed = true;
            }
        }
    }

    fn check_attr_name(
        &mut self,
        file: usize,
        a: &Attribute,
        schema: &Schema,
        what: &str,
        resource: bool,
    ) -> bool {
        let name = a.key.as_str();
        if schema.attrs.contains(&name) {
            return true;
        }
        let meta: &[&str] = if resource { schema::META_ATTRS } else { &[] };
        let candidates = schema.attrs.iter().chain(meta.iter()).copied();
        let is_block = schema.blocks.iter().any(|b| b.name == name);
        self.emit(
            Diagnostic::error(
                "config::unknown_attribute",
                format!("unknown attribute `{name}`"),
            )
            .label(
                span_of(file, &a.key),
                format!("not an attribute of `{what}`"),
            )
            .maybe_help(if is_block {
                Some(format!("`{name}` is a block: write `{name} {{ ... }}`"))
            } else {
                did_you_mean(name, candidates)
            }),
        );
        false
    }

    fn depends_on(&mut self, file: usize, a: &Attribute, out: &mut Vec<RawRef>) {
        let Expression::Array(arr) = &a.value else {
            self.emit(
                Diagnostic::error(
                    "config::depends_on",
                    "`depends_on` must be a list of resources",
                )
                .label(
                    span_of(file, &a.value),
                    "write `depends_on = [vault.dr, protected_vm.web]`",
                ),
            );
            return;
        };
        for e in arr.iter() {
            let mut c = RefCollector::new(file);
            let plain = matches!(e, Expression::Traversal(_) | Expression::Variable(_));
            c.visit_expr(e);
            if !plain || c.refs.len() != 1 {
                self.emit(
                    Diagnostic::error(
                        "config::depends_on",
                        "`depends_on` entries must be plain references",
                    )
                    .label(
                        span_of(file, e),
                        "write a resource address such as `vault.dr`",
                    ),
                );
                continue;
            }
            let r = c.refs.pop().expect("one reference");
            out.push((r.0, r.1, r.2, r.3, EdgeReason::DependsOn, false));
        }
    }

    fn compile_block(
        &mut self,
        file: usize,
        b: &Block,
        parent: &Schema,
        parent_what: &str,
        collector: &mut RefCollector,
    ) -> Option<CBlock> {
        let ident = b.ident.as_str();
        let Some(bs) = parent.blocks.iter().find(|bs| bs.name == ident) else {
            let is_attr = parent.attrs.contains(&ident);
            self.emit(
                Diagnostic::error("config::unknown_block", format!("unknown block `{ident}`"))
                    .label(
                        span_of(file, &b.ident),
                        format!("not a block of `{parent_what}`"),
                    )
                    .maybe_help(if is_attr {
                        Some(format!("`{ident}` is an attribute: write `{ident} = ...`"))
                    } else {
                        did_you_mean(ident, parent.blocks.iter().map(|b| b.name))
                    }),
            );
            return None;
        };
        let header = header_span(file, b);
        if b.labels.len() != bs.labels {
            self.emit(
                Diagnostic::error(
                    "config::labels",
                    format!(
                        "a `{ident}` block takes {} label(s), found {}",
                        bs.labels,
                        b.labels.len()
                    ),
                )
                .label(
                    header,
                    if bs.labels == 0 {
                        format!("write `{ident} {{ ... }}`")
                    } else {
                        format!("write `{ident} \"name\" {{ ... }}`")
                    },
                ),
            );
            return None;
        }
        let labels = b
            .labels
            .iter()
            .map(|l| Spanned::new(l.as_str().to_string(), span_of(file, l)))
            .collect();
        let mut body = CBody::default();
        for s in b.body.iter() {
            match s {
                Structure::Attribute(a) => {
                    if !self.check_attr_name(file, a, bs.schema, ident, false) {
                        continue;
                    }
                    if body.attrs.iter().any(|c| c.name == a.key.as_str()) {
                        self.emit(
                            Diagnostic::error(
                                "config::duplicate_attribute",
                                format!("attribute `{}` is set twice", a.key.as_str()),
                            )
                            .label(span_of(file, &a.key), "set again here"),
                        );
                        continue;
                    }
                    collector.visit_expr(&a.value);
                    body.attrs.push(CAttr {
                        name: a.key.as_str().to_string(),
                        expr: compact_refs(rewrite_refs(a.value.clone().into())),
                        span: span_of(file, &a.value),
                    });
                }
                Structure::Block(inner) => {
                    if let Some(c) = self.compile_block(file, inner, bs.schema, ident, collector) {
                        body.blocks.push(c);
                    }
                }
            }
        }
        Some(CBlock {
            ident: ident.to_string(),
            labels,
            header,
            body,
        })
    }

    /// `lifecycle` is static: `ignore_changes` lists attribute names (bare or quoted), never references.
    fn compile_lifecycle(&mut self, file: usize, b: &Block, schema: &Schema) -> Option<CBlock> {
        let header = header_span(file, b);
        if !b.labels.is_empty() {
            self.emit(
                Diagnostic::error("config::labels", "a `lifecycle` block takes no labels")
                    .label(header, "remove the label"),
            );
            return None;
        }
        let mut body = CBody::default();
        for s in b.body.iter() {
            let Structure::Attribute(a) = s else {
                self.emit(
                    Diagnostic::error("config::unknown_block", "`lifecycle` has no nested blocks")
                        .label(header, "here"),
                );
                continue;
            };
            if !self.check_attr_name(file, a, schema, "lifecycle", false) {
                continue;
            }
            let expr: hcl::Expression = if a.key.as_str() == "ignore_changes" {
                let Expression::Array(arr) = &a.value else {
                    self.emit(
                        Diagnostic::error(
                            "config::type",
                            "`ignore_changes` must be a list of attribute names",
                        )
                        .label(
                            span_of(file, &a.value),
                            "write `ignore_changes = [target_vm_size]`",
                        ),
                    );
                    continue;
                };
                let mut names = Vec::new();
                for e in arr.iter() {
                    match e {
                        Expression::Variable(v) => {
                            names.push(hcl::Expression::String(v.as_str().to_string()))
                        }
                        Expression::String(s) => {
                            names.push(hcl::Expression::String(s.as_str().to_string()))
                        }
                        other => self.emit(
                            Diagnostic::error(
                                "config::type",
                                "`ignore_changes` entries are attribute names",
                            )
                            .label(
                                span_of(file, other),
                                "write a bare attribute name such as `target_vm_size`",
                            ),
                        ),
                    }
                }
                hcl::Expression::Array(names)
            } else {
                let mut c = RefCollector::new(file);
                c.visit_expr(&a.value);
                if !c.refs.is_empty() {
                    self.emit(
                        Diagnostic::error(
                            "config::lifecycle",
                            "`lifecycle` settings must be literal values",
                        )
                        .label(span_of(file, &a.value), "write `true` or `false`"),
                    );
                    continue;
                }
                a.value.clone().into()
            };
            body.attrs.push(CAttr {
                name: a.key.as_str().to_string(),
                expr,
                span: span_of(file, &a.value),
            });
        }
        Some(CBlock {
            ident: "lifecycle".into(),
            labels: Vec::new(),
            header,
            body,
        })
    }

    // ---- order -------------------------------------------------------------------------------------------

    /// Kahn's algorithm in declaration order; items on or behind a cycle are reported and left out.
    fn order(&mut self, items: &mut [Item<'_>]) -> Vec<usize> {
        let n = items.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut pending: Vec<usize> = vec![0; n];
        for (i, it) in items.iter().enumerate() {
            pending[i] = it.deps.len();
            for &d in &it.deps {
                dependents[d].push(i);
            }
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
            .filter(|&i| pending[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            order.push(i);
            for &j in &dependents[i] {
                pending[j] -= 1;
                if pending[j] == 0 {
                    ready.push(std::cmp::Reverse(j));
                }
            }
        }
        if order.len() < n {
            let mut g = petgraph::graph::DiGraph::<usize, ()>::new();
            let nodes: Vec<_> = (0..n).map(|i| g.add_node(i)).collect();
            for (i, it) in items.iter().enumerate() {
                for &d in &it.deps {
                    g.add_edge(nodes[d], nodes[i], ());
                }
            }
            for scc in petgraph::algo::tarjan_scc(&g) {
                if scc.len() < 2 {
                    continue;
                }
                let mut members: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
                members.sort();
                let path: Vec<String> =
                    members.iter().map(|m| items[*m].node.to_string()).collect();
                let mut d = Diagnostic::error(
                    "config::cycle",
                    format!("dependency cycle: {}", path.join(" → ")),
                )
                .help("break the cycle by removing one of the references");
                for m in &members {
                    d = d.label(items[*m].header, "part of the cycle");
                }
                self.emit(d);
            }
            let done: HashSet<usize> = order.iter().copied().collect();
            for (i, it) in items.iter_mut().enumerate() {
                if !done.contains(&i) {
                    it.failed = true;
                }
            }
        }
        order
    }

    // ---- evaluation --------------------------------------------------------------------------------------

    /// The evaluation context of an item: the function library, the variables it references, and the locals and
    /// resources it references from inside string templates (everything else reaches them through the rewritten
    /// `__local`/`__resource`/`__each` calls, which copy only what is used).
    fn context(&self, refs: &[Ref]) -> Context<'static> {
        let mut ctx = Context::new();
        funcs::declare_all(&mut ctx);
        let mut var = Map::new();
        let mut local = Map::new();
        let mut kinds: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
        for r in refs {
            let Some(name) = r.path.first() else { continue };
            match r.root.as_str() {
                "var" => {
                    if let Some(v) = self.var_values.get(name) {
                        var.entry(name.clone()).or_insert_with(|| v.value.clone());
                    }
                }
                "local" if r.in_template && !local.contains_key(name) => {
                    if let Some(v) = funcs::local_value(name) {
                        local.insert(name.clone(), v);
                    }
                }
                k if r.in_template => {
                    if let Some(kind) = ResourceKind::from_name(k) {
                        let entry = kinds.entry(kind.as_str()).or_default();
                        if !entry.contains_key(name)
                            && let Some(v) = funcs::resource_value(kind.as_str(), name)
                        {
                            entry.insert(name.clone(), v);
                        }
                    }
                }
                _ => {}
            }
        }
        ctx.declare_var("var", Value::Object(var));
        ctx.declare_var("local", Value::Object(local));
        for (k, v) in kinds {
            ctx.declare_var(k, Value::Object(v));
        }
        ctx
    }

    fn eval_error(&mut self, span: Span, e: &hcl::eval::Error) {
        use hcl::eval::ErrorKind;
        let (code, message) = match e.kind() {
            ErrorKind::FuncCall(name, msg) => match name.to_string().as_str() {
                "__local" if msg.starts_with(funcs::TYPE_ERROR) => {
                    ("config::type", msg[funcs::TYPE_ERROR.len()..].to_string())
                }
                "__resource" | "__ref" | "__local" | "__each" | "__for_local" => {
                    ("config::no_such_key", msg.clone())
                }
                "file" => ("config::file", msg.clone()),
                "csvdecode" => ("config::csvdecode", msg.clone()),
                "jsondecode" => ("config::jsondecode", msg.clone()),
                other => ("config::function", format!("{other}(): {msg}")),
            },
            ErrorKind::NoSuchKey(k) => ("config::no_such_key", format!("no such key `{k}`")),
            ErrorKind::Index(i) => ("config::no_such_key", format!("index {i} is out of range")),
            ErrorKind::Unexpected(v, expected) => (
                "config::type",
                format!(
                    "unexpected value `{}`, expected {expected}",
                    funcs::short(v)
                ),
            ),
            ErrorKind::BinaryOp(l, op, r) => (
                "config::type",
                format!(
                    "`{op}` cannot be applied to `{}` and `{}`",
                    funcs::short(l),
                    funcs::short(r)
                ),
            ),
            ErrorKind::UnaryOp(op, v) => (
                "config::type",
                format!("`{op}` cannot be applied to `{}`", funcs::short(v)),
            ),
            other => ("config::eval", other.to_string()),
        };
        let message = one_line(&message);
        self.emit(Diagnostic::error(code, message).label(span, "while evaluating this expression"));
    }

    fn eval_expr(&mut self, ctx: &Context, attr: &CAttr) -> Option<Value> {
        if let Some(v) = funcs::eval_direct(&attr.expr) {
            return Some(v);
        }
        match attr.expr.evaluate(ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                self.eval_error(attr.span, &e);
                None
            }
        }
    }

    fn eval_body(&mut self, ctx: &Context, body: &CBody, ok: &mut bool) -> EvalBody {
        let mut out = EvalBody {
            attrs: Vec::with_capacity(body.attrs.len()),
            blocks: Vec::new(),
        };
        for a in &body.attrs {
            match self.eval_expr(ctx, a) {
                Some(value) => out.attrs.push(EvalAttr {
                    name: a.name.clone(),
                    value,
                    span: a.span,
                }),
                None => *ok = false,
            }
        }
        for b in &body.blocks {
            let inner = self.eval_body(ctx, &b.body, ok);
            out.blocks.push(EvalBlock {
                ident: b.ident.clone(),
                labels: b.labels.clone(),
                header: b.header,
                body: inner,
            });
        }
        out
    }

    fn eval_item(&mut self, items: &mut [Item<'_>], idx: usize) {
        let ctx = self.context(&items[idx].refs);
        let header = items[idx].header;
        let body = items[idx].body.take().unwrap_or_default();
        match items[idx].node.clone() {
            Node::Local(name) => {
                if let Some(v) = body.attrs.first().and_then(|a| self.eval_expr(&ctx, a)) {
                    funcs::register_local(&name, v);
                }
            }
            Node::Output(name) => {
                let mut ok = true;
                let eb = self.eval_body(&ctx, &body, &mut ok);
                if ok && let Some(o) = decode::output(&name, &eb, header, &mut self.diags) {
                    self.outputs.insert(name, o);
                }
            }
            Node::Provider => {
                let mut ok = true;
                let eb = self.eval_body(&ctx, &body, &mut ok);
                let label = items[idx]
                    .block
                    .map(|b| b.labels[0].as_str().to_string())
                    .unwrap_or_default();
                if ok {
                    self.provider =
                        decode::provider(&label, &eb, header, self.dir.as_deref(), &mut self.diags);
                    self.default_subscription = self.provider_subscription();
                }
            }
            Node::Backend => {
                let mut ok = true;
                let eb = self.eval_body(&ctx, &body, &mut ok);
                let label = items[idx]
                    .block
                    .map(|b| b.labels[0].as_str().to_string())
                    .unwrap_or_default();
                if ok {
                    self.backend = decode::backend(&label, &eb, header, &mut self.diags);
                }
            }
            Node::Res(kind, label) => {
                let for_each = items[idx].for_each.take();
                let refs = std::mem::take(&mut items[idx].refs);
                self.eval_resource(kind, &label, header, ctx, &body, for_each.as_ref(), &refs);
            }
            Node::Var(_) => {}
        }
    }

    /// The subscription resources default to: the Azure provider's, or the simulator estate's first.
    fn provider_subscription(&mut self) -> Option<String> {
        match &self.provider.as_ref()?.value {
            Provider::Azure {
                subscription_id, ..
            } => Some(subscription_id.value.clone()),
            Provider::Simulator { estate, .. } => {
                let name = estate.value.to_string_lossy().to_string();
                let rel = self
                    .dir
                    .as_ref()
                    .and_then(|d| estate.value.strip_prefix(d).ok())
                    .map(|p| p.to_string_lossy().to_string());
                let span = estate.span;
                match funcs::read_file(rel.as_deref().unwrap_or(&name)) {
                    // Only the first subscription id is needed here; checking the estate is the simulator's job.
                    Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(j) => j["subscriptions"][0]["id"].as_str().map(str::to_string),
                        Err(err) => {
                            self.emit(
                                Diagnostic::error(
                                    "config::estate",
                                    format!("the estate file is not valid JSON: {err}"),
                                )
                                .label(span, "this estate"),
                            );
                            None
                        }
                    },
                    Err(msg) => {
                        self.emit(
                            Diagnostic::error("config::file", msg)
                                .label(span, "the estate file of the simulator"),
                        );
                        None
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_resource(
        &mut self,
        kind: ResourceKind,
        label: &str,
        header: Span,
        mut ctx: Context<'static>,
        body: &CBody,
        for_each: Option<&CAttr>,
        refs: &[Ref],
    ) {
        let each_in_template = refs.iter().any(|r| r.root == "each" && r.in_template);
        // `for_each = local.name` over an object: the instances read their entry of the local in place (see
        // `funcs::Each::Local`) instead of a copy of the whole map split into one `each` object per instance.
        // Templates see `each` as a variable, so they still get an object of their own.
        let local_keys = for_each
            .filter(|_| !each_in_template)
            .and_then(|fe| whole_local(&fe.expr))
            .and_then(|name| Some((name, funcs::local_object_keys(name)?)));
        // Expand for_each once for the whole block.
        let instances: Vec<(Option<String>, Option<funcs::Each>)> = match for_each {
            None => vec![(None, None)],
            Some(_) if local_keys.is_some() => {
                let (name, keys) = local_keys.expect("checked");
                keys.into_iter()
                    .enumerate()
                    .map(|(index, k)| {
                        let each = funcs::Each::Local {
                            name: name.to_string(),
                            index,
                        };
                        (Some(k), Some(each))
                    })
                    .collect()
            }
            Some(fe) => {
                let Some(v) = self.eval_expr(&ctx, fe) else {
                    return;
                };
                match v {
                    Value::Object(map) => map
                        .into_iter()
                        .map(|(k, v)| {
                            let mut each = Map::new();
                            each.insert("key".to_string(), Value::String(k.clone()));
                            each.insert("value".to_string(), v);
                            (Some(k), Some(funcs::Each::Owned(Value::Object(each))))
                        })
                        .collect(),
                    Value::Array(list) if list.iter().all(Value::is_string) => {
                        let mut seen = HashSet::new();
                        list.into_iter()
                            .filter_map(|v| {
                                let s = v.as_str()?.to_string();
                                seen.insert(s.clone()).then(|| {
                                    let mut each = Map::new();
                                    each.insert("key".to_string(), Value::String(s.clone()));
                                    each.insert("value".to_string(), Value::String(s.clone()));
                                    (Some(s), Some(funcs::Each::Owned(Value::Object(each))))
                                })
                            })
                            .collect()
                    }
                    other => {
                        let found = match &other {
                            Value::Array(_) => "a list that is not all strings".to_string(),
                            v => format!("a {}", value_type_name(v)),
                        };
                        self.emit(
                            Diagnostic::error("config::for_each_type", format!("`for_each` must be a map or a set of strings, found {found}"))
                                .label(fe.span, "this value")
                                .help("use a map (`{ for row in local.rows : row.name => row }`) or `toset([...])`"),
                        );
                        return;
                    }
                }
            }
        };
        let mut block_value = Map::with_capacity(if for_each.is_some() {
            instances.len()
        } else {
            0
        });
        let mut keys = Vec::new();
        let mut single = Value::Null;
        let mut made = Vec::with_capacity(instances.len());
        let full = self.full_reads.full(kind, label);
        for (key, each) in instances {
            if let Some(each) = each {
                if let (true, funcs::Each::Owned(v)) = (each_in_template, &each) {
                    ctx.declare_var("each", v.clone());
                }
                funcs::set_each(Some(each));
            }
            let addr = ResourceAddr {
                kind,
                name: label.to_string(),
                key: key.clone(),
            };
            let mut ok = true;
            let eb = self.eval_body(&ctx, body, &mut ok);
            if !ok {
                continue;
            }
            let depends = self.instance_deps(&ctx, refs, &eb);
            let env = DecodeEnv {
                resources: &self.resources,
                default_subscription: self.default_subscription.as_deref(),
                label,
                key: key.as_deref(),
            };
            let Some(mut decoded) = decode::resource(kind, &env, &eb, header, &mut self.diags)
            else {
                continue;
            };
            let value = if full {
                decode::reference_value(&addr, eb, &mut decoded)
            } else {
                // Every test build checks the shortcut against what `__ref` makes of the whole value.
                #[cfg(debug_assertions)]
                let whole = funcs::compact(&decode::reference_value(
                    &addr,
                    eb.clone(),
                    &mut decoded.clone(),
                ));
                let compact = decode::compact_reference_value(&addr, eb, &decoded);
                #[cfg(debug_assertions)]
                assert_eq!(compact, whole, "compact value of {addr}");
                compact
            };
            match &key {
                Some(k) => {
                    block_value.insert(k.clone(), value);
                    keys.push(k.clone());
                }
                None => single = value,
            }
            // Instances of one block never read each other, so the block's instances join the map at once (one
            // re-sort per block, see `Resources::extend`).
            made.push(Resource {
                addr,
                span: header,
                id: decoded.id,
                depends,
                lifecycle: decoded.lifecycle,
                body: decoded.body,
            });
        }
        self.resources.extend(made);
        let value = if for_each.is_some() {
            Value::Object(block_value)
        } else {
            single
        };
        funcs::set_each(None);
        funcs::register_resource(kind.as_str(), label, value);
        if let Some(info) = self.blocks.get_mut(&(kind, label.to_string())) {
            info.keys = keys;
        }
    }

    /// The resources one instance depends on. Static references give most edges; references whose key is computed
    /// (`protected_vm.web[each.key]`) are resolved by evaluating the key, and references inside `for` expressions
    /// (`[for k in keys : protected_vm.web[k]]`) by finding the reference objects in the evaluated values.
    fn instance_deps(&self, ctx: &Context, refs: &[Ref], body: &EvalBody) -> Vec<Dependency> {
        let mut out: Vec<Dependency> = Vec::new();
        // Most instances have a handful of dependencies, so duplicates are found by scanning them (hashing each
        // address into a fresh set per instance was a twentieth of the 10,000-VM load); a set takes over once an
        // instance depends on many (every instance of a `for_each` block).
        let mut seen: Option<HashSet<(ResourceAddr, EdgeReason)>> = None;
        let mut push =
            |to: ResourceAddr, reason: EdgeReason, span: Span, out: &mut Vec<Dependency>| {
                let fresh = match &mut seen {
                    Some(set) => set.insert((to.clone(), reason)),
                    None => {
                        let fresh = !out.iter().any(|d| d.reason == reason && d.to == to);
                        if fresh && out.len() >= 16 {
                            let mut set: HashSet<_> =
                                out.iter().map(|d| (d.to.clone(), d.reason)).collect();
                            set.insert((to.clone(), reason));
                            seen = Some(set);
                        }
                        fresh
                    }
                };
                if fresh {
                    out.push(Dependency { to, reason, span });
                }
            };
        let mut unresolved: Vec<(&Ref, ResourceKind, &String)> = Vec::new();
        for r in refs {
            let Some(kind) = ResourceKind::from_name(&r.root) else {
                continue;
            };
            let Some(label) = r.path.first() else {
                continue;
            };
            let Some(info) = self.blocks.get(&(kind, label.clone())) else {
                continue;
            };
            if !info.for_each {
                push(
                    ResourceAddr::new(kind, label.clone()),
                    r.reason,
                    r.span,
                    &mut out,
                );
                continue;
            }
            match &r.key {
                RefKey::Literal(k) => push(
                    ResourceAddr::keyed(kind, label.clone(), k.clone()),
                    r.reason,
                    r.span,
                    &mut out,
                ),
                RefKey::Dynamic(e) => {
                    match funcs::eval_direct(e).map_or_else(|| e.evaluate(ctx), Ok) {
                        Ok(Value::String(k)) => push(
                            ResourceAddr::keyed(kind, label.clone(), k),
                            r.reason,
                            r.span,
                            &mut out,
                        ),
                        _ => unresolved.push((r, kind, label)),
                    }
                }
                RefKey::None => {
                    for k in &info.keys {
                        push(
                            ResourceAddr::keyed(kind, label.clone(), k.clone()),
                            r.reason,
                            r.span,
                            &mut out,
                        );
                    }
                }
            }
        }
        if !unresolved.is_empty() {
            let mut found = Vec::new();
            for a in &body.attrs {
                collect_addresses(&a.value, a.span, &mut found);
            }
            fn walk(b: &EvalBody, found: &mut Vec<(ResourceAddr, Span)>) {
                for blk in &b.blocks {
                    for a in &blk.body.attrs {
                        collect_addresses(&a.value, a.span, found);
                    }
                    walk(&blk.body, found);
                }
            }
            walk(body, &mut found);
            for (r, kind, label) in unresolved {
                let before = out.len();
                for (addr, _) in found
                    .iter()
                    .filter(|(a, _)| a.kind == kind && &a.name == label)
                {
                    push(addr.clone(), r.reason, r.span, &mut out);
                }
                if out.len() == before
                    && !out.iter().any(|d| d.to.kind == kind && &d.to.name == label)
                {
                    // Nothing says which instances are used (`[for k in ks : protected_vm.web[k].id]`): depend on all.
                    for k in self
                        .blocks
                        .get(&(kind, label.clone()))
                        .map(|i| i.keys.as_slice())
                        .unwrap_or_default()
                    {
                        push(
                            ResourceAddr::keyed(kind, label.clone(), k.clone()),
                            r.reason,
                            r.span,
                            &mut out,
                        );
                    }
                }
            }
        }
        out
    }

    // ---- variables ---------------------------------------------------------------------------------------

    fn eval_variables(&mut self, items: &mut [Item<'_>]) {
        // Values from -var-file files: parsed once, by variable name.
        let mut from_files: HashMap<String, (Value, Span)> = HashMap::new();
        for file in self.n_config..self.sources.len() {
            let text = self.sources[file].text.clone();
            let body = match hcl_edit::parser::parse_body(&text) {
                Ok(b) => b,
                Err(e) => {
                    self.parse_error(file, &e);
                    continue;
                }
            };
            let mut ctx = Context::new();
            funcs::declare_all(&mut ctx);
            for s in body.iter() {
                match s {
                    Structure::Block(b) => self.emit(
                        Diagnostic::error(
                            "config::var_file",
                            "variable files contain only `name = value` assignments",
                        )
                        .label(header_span(file, b), "a block is not allowed here"),
                    ),
                    Structure::Attribute(a) => {
                        let name = a.key.as_str();
                        if !self.vars.contains_key(name) {
                            let s =
                                super::diag::suggest(name, self.vars.keys().map(String::as_str));
                            self.emit(
                                Diagnostic::warning(
                                    "config::unknown_variable",
                                    format!("value for undeclared variable `{name}`"),
                                )
                                .label(span_of(file, &a.key), "no `variable` block declares this")
                                .maybe_help(s.map(|s| format!("did you mean `{s}`?"))),
                            );
                            continue;
                        }
                        let span = span_of(file, &a.value);
                        let expr: hcl::Expression = a.value.clone().into();
                        match expr.evaluate(&ctx) {
                            Ok(v) => {
                                from_files.insert(name.to_string(), (v, span));
                            }
                            Err(e) => self.eval_error(span, &e),
                        }
                    }
                }
            }
        }
        for (name, _) in &self.opts.vars {
            if !self.vars.contains_key(name) {
                self.emit(
                    Diagnostic::error(
                        "config::unknown_variable",
                        format!("`-var {name}=...` sets a variable that is not declared"),
                    )
                    .maybe_help(did_you_mean(name, self.vars.keys().map(String::as_str))),
                );
            }
        }
        for item in items.iter_mut() {
            let Node::Var(name) = item.node.clone() else {
                continue;
            };
            if item.failed {
                continue; // its references were reported in `check`
            }
            let before = self.error_count();
            self.eval_variable(item, &name, &from_files);
            if self.error_count() > before {
                item.failed = true;
            }
        }
    }

    fn text_value(
        &mut self,
        name: &str,
        origin: String,
        text: &str,
        ty: &VarType,
    ) -> Option<(Value, Span)> {
        let file = self.sources.len();
        let prefix = format!("{name}=");
        self.sources
            .push(SourceFile::new(origin, format!("{prefix}{text}")));
        let span = Span::new(file, prefix.len()..prefix.len() + text.len());
        if !ty.is_structural() {
            return Some((Value::String(text.to_string()), span));
        }
        let parsed = hcl_edit::parser::parse_expr(text);
        let Ok(expr) = parsed else {
            self.emit(
                Diagnostic::error(
                    "config::variable_value",
                    format!("the value of `{name}` is not a valid HCL value for type {ty}"),
                )
                .label(span, "this value")
                .help("write lists as [\"a\", \"b\"] and maps as { key = \"value\" }"),
            );
            return None;
        };
        let mut ctx = Context::new();
        funcs::declare_all(&mut ctx);
        match hcl::Expression::from(expr).evaluate(&ctx) {
            Ok(v) => Some((v, span)),
            Err(e) => {
                self.eval_error(span, &e);
                None
            }
        }
    }

    fn eval_variable(
        &mut self,
        item: &mut Item<'_>,
        name: &str,
        from_files: &HashMap<String, (Value, Span)>,
    ) {
        let file = item.file;
        let header = item.header;
        let block = item.block.expect("variables are blocks");
        let ty = match block.body.get_attribute("type") {
            None => VarType::Any,
            Some(a) => match VarType::parse(&a.value) {
                Ok(t) => t,
                Err(msg) => {
                    self.emit(
                        Diagnostic::error("config::variable_type", msg)
                            .label(span_of(file, &a.value), "not a type"),
                    );
                    return;
                }
            },
        };
        self.vars.insert(name.to_string(), ty.clone());
        let body = item.body.take().unwrap_or_default();
        let mut ctx = Context::new();
        funcs::declare_all(&mut ctx);
        let attr = |n: &str| body.attrs.iter().find(|a| a.name == n);
        // Lowest to highest precedence: default, environment, -var-file, -var.
        let mut chosen: Option<(Value, Span)> = None;
        if let Some(a) = attr("default") {
            chosen = self.eval_expr(&ctx, a).map(|v| (v, a.span));
        }
        let errors_before_values = self.error_count();
        let env = self
            .opts
            .env_vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .cloned();
        if let Some((_, text)) = env {
            chosen = self
                .text_value(name, format!("ASRFORM_VAR_{name}"), &text, &ty)
                .or(chosen);
        }
        if let Some(v) = from_files.get(name) {
            chosen = Some(v.clone());
        }
        let cli = self
            .opts
            .vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .cloned();
        if let Some((_, text)) = cli {
            chosen = self
                .text_value(name, format!("-var {name}"), &text, &ty)
                .or(chosen);
        }
        let Some((raw, value_span)) = chosen else {
            if self.error_count() == errors_before_values {
                self.emit(
                    Diagnostic::error("config::missing_variable", format!("no value for variable `{name}`"))
                        .label(header, "declared here without a default")
                        .help(format!("pass `-var {name}=...`, set ASRFORM_VAR_{name}, put it in a -var-file, or add a default")),
                );
            }
            return;
        };
        let value = match ty.convert(raw) {
            Ok(v) => v,
            Err(msg) => {
                self.emit(
                    Diagnostic::error(
                        "config::variable_type",
                        format!("wrong type for variable `{name}`: {msg}"),
                    )
                    .label(value_span, format!("expected {ty}")),
                );
                return;
            }
        };
        let mut vctx = Context::new();
        funcs::declare_all(&mut vctx);
        let mut vars = Map::new();
        vars.insert(name.to_string(), value.clone());
        vctx.declare_var("var", Value::Object(vars));
        for v in body.blocks.iter().filter(|b| b.ident == "validation") {
            let Some(cond) = v.body.attrs.iter().find(|a| a.name == "condition") else {
                self.emit(
                    Diagnostic::error(
                        "config::missing_attribute",
                        "a `validation` block needs a `condition`",
                    )
                    .label(v.header, "here"),
                );
                continue;
            };
            let message = v
                .body
                .attrs
                .iter()
                .find(|a| a.name == "error_message")
                .and_then(|a| self.eval_expr(&vctx, a))
                .and_then(|m| funcs::display_scalar(&m))
                .unwrap_or_else(|| format!("invalid value for variable `{name}`"));
            match self.eval_expr(&vctx, cond) {
                Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => self.emit(
                    Diagnostic::error("config::variable_validation", message)
                        .label(cond.span, "this condition is false")
                        .label(value_span, "for this value"),
                ),
                Some(other) => self.emit(
                    Diagnostic::error(
                        "config::type",
                        format!(
                            "a validation condition must be true or false, got `{}`",
                            funcs::short(&other)
                        ),
                    )
                    .label(cond.span, "not a bool"),
                ),
                None => {}
            }
        }
        let mut decode_diags = Vec::new();
        let mut ok = true;
        let eb = self.eval_body(
            &ctx,
            &CBody {
                attrs: body.attrs,
                blocks: Vec::new(),
            },
            &mut ok,
        );
        let (description, sensitive) = decode::description_sensitive(&eb, &mut decode_diags);
        self.diags.extend(decode_diags);
        self.var_values.insert(
            name.to_string(),
            Variable {
                name: name.to_string(),
                value,
                sensitive,
                description,
                span: header,
            },
        );
    }
}

/// Rewrites resource traversals (`kind.label`, `kind.label[key]`) into `__resource` calls; see `funcs::resource` for
/// why. Names bound by `for` expressions shadow resource kinds and are left alone. String templates keep their
/// traversals (hcl-rs parses them at evaluation time), which still work through the context.
fn rewrite_refs(mut e: hcl::Expression) -> hcl::Expression {
    rewrite(&mut e, &mut Vec::new());
    e
}

/// A name bound by a `for` expression; `local` is set when the name holds a handle into that local (see the
/// `ForExpr` arm of [`rewrite`]) rather than the element itself.
struct Bound {
    name: String,
    local: Option<String>,
}

/// `__local(local, handle)`: the element a handle variable stands for, read in place.
fn element_call(local: &str, var: &str) -> hcl::Expression {
    use hcl::expr::{Expression as E, FuncCall, FuncName};
    E::FuncCall(Box::new(FuncCall {
        name: FuncName::new("__local"),
        args: vec![
            E::String(local.to_string()),
            E::Variable(hcl::expr::Variable::unchecked(var)),
        ],
        expand_final: false,
    }))
}

/// `name(head…, steps…)` followed by the rest of traversal `t`, where the steps are its first `take` operators
/// (attribute names as strings, index expressions as they are).
fn steps_into_call(
    t: &mut hcl::expr::Traversal,
    take: usize,
    name: &str,
    mut args: Vec<hcl::Expression>,
) -> hcl::Expression {
    use hcl::expr::{Expression as E, FuncCall, FuncName, Traversal, TraversalOperator as Op};
    args.extend(t.operators.drain(..take).map(|op| match op {
        Op::GetAttr(id) => E::String(id.as_str().to_string()),
        Op::Index(ix) => ix,
        _ => E::Null,
    }));
    let call = E::FuncCall(Box::new(FuncCall {
        name: FuncName::new(name),
        args,
        expand_final: false,
    }));
    let rest = std::mem::take(&mut t.operators);
    if rest.is_empty() {
        call
    } else {
        E::Traversal(Box::new(Traversal {
            expr: call,
            operators: rest,
        }))
    }
}

/// Whether `e` has parts [`rewrite`] cannot see into: string templates (hcl-rs parses them at evaluation time) and
/// computed object keys. A `for` whose body has them keeps its ordinary evaluation.
fn opaque(e: &hcl::Expression) -> bool {
    use hcl::expr::{Expression as E, ObjectKey, Operation, TraversalOperator as Op};
    match e {
        E::TemplateExpr(_) => true,
        E::Traversal(t) => {
            opaque(&t.expr)
                || t.operators
                    .iter()
                    .any(|op| matches!(op, Op::Index(ix) if opaque(ix)))
        }
        E::Array(items) => items.iter().any(opaque),
        E::Object(o) => o
            .iter()
            .any(|(k, v)| matches!(k, ObjectKey::Expression(_)) || opaque(v)),
        E::FuncCall(f) => f.args.iter().any(opaque),
        E::Parenthesis(p) => opaque(p),
        E::Conditional(c) => opaque(&c.cond_expr) || opaque(&c.true_expr) || opaque(&c.false_expr),
        E::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => opaque(&u.expr),
            Operation::Binary(b) => opaque(&b.lhs_expr) || opaque(&b.rhs_expr),
        },
        E::ForExpr(f) => {
            opaque(&f.collection_expr)
                || f.key_expr.as_ref().is_some_and(opaque)
                || opaque(&f.value_expr)
                || f.cond_expr.as_ref().is_some_and(opaque)
        }
        _ => false,
    }
}

fn rewrite(e: &mut hcl::Expression, scoped: &mut Vec<Bound>) {
    use hcl::expr::{
        Expression as E, FuncCall, FuncName, Operation, Traversal, TraversalOperator as Op,
    };
    match e {
        E::Traversal(t) => {
            for op in t.operators.iter_mut() {
                if let Op::Index(ix) = op {
                    rewrite(ix, scoped);
                }
            }
            let root = match &t.expr {
                E::Variable(v) => Some(v.as_str().to_string()),
                _ => None,
            };
            let Some(root) = root else {
                rewrite(&mut t.expr, scoped);
                return;
            };
            if let Some(b) = scoped.iter().rev().find(|b| b.name == root) {
                let Some(local) = b.local.clone() else {
                    return;
                };
                // `row.name` where `row` is a handle into `local.rows` → `__local("rows", row, "name")`.
                let take = t
                    .operators
                    .iter()
                    .take_while(|op| matches!(op, Op::GetAttr(_) | Op::Index(_)))
                    .count();
                let head = vec![
                    E::String(local),
                    E::Variable(hcl::expr::Variable::unchecked(&root)),
                ];
                *e = steps_into_call(t, take, "__local", head);
                return;
            }
            if root == "local" || root == "each" {
                // `local.name…` → `__local("name", …)…`; `each.value.a.b…` → `__each("value", "a", "b")…`.
                // For locals the whole leading chain of attribute and index steps goes into the call
                // (`local.vms[name].plan` → `__local("vms", name, "plan")`): a `for` over 10,000 VMs that reads
                // `local.vms[name]` per element would otherwise copy the whole map once per element.
                let take = if root == "local" {
                    match t.operators.first() {
                        Some(Op::GetAttr(_)) => t
                            .operators
                            .iter()
                            .take_while(|op| matches!(op, Op::GetAttr(_) | Op::Index(_)))
                            .count(),
                        _ => 0,
                    }
                } else {
                    t.operators
                        .iter()
                        .take_while(|op| matches!(op, Op::GetAttr(_)))
                        .count()
                };
                if take == 0 {
                    return;
                }
                let name = if root == "local" { "__local" } else { "__each" };
                *e = steps_into_call(t, take, name, Vec::new());
                return;
            }
            if ResourceKind::from_name(&root).is_none() {
                return;
            }
            let Some(Op::GetAttr(label)) = t.operators.first() else {
                return;
            };
            let mut args = vec![E::String(root), E::String(label.as_str().to_string())];
            let mut consumed = 1;
            if let Some(Op::Index(ix)) = t.operators.get(1) {
                args.push(ix.clone());
                consumed = 2;
            }
            let call = E::FuncCall(Box::new(FuncCall {
                name: FuncName::new("__resource"),
                args,
                expand_final: false,
            }));
            let rest: Vec<Op> = t.operators.drain(consumed..).collect();
            *e = if rest.is_empty() {
                call
            } else {
                E::Traversal(Box::new(Traversal {
                    expr: call,
                    operators: rest,
                }))
            };
        }
        E::Array(items) => items.iter_mut().for_each(|x| rewrite(x, scoped)),
        E::Object(o) => o.values_mut().for_each(|x| rewrite(x, scoped)),
        E::FuncCall(f) => f.args.iter_mut().for_each(|x| rewrite(x, scoped)),
        E::Parenthesis(p) => rewrite(p, scoped),
        E::Conditional(c) => {
            rewrite(&mut c.cond_expr, scoped);
            rewrite(&mut c.true_expr, scoped);
            rewrite(&mut c.false_expr, scoped);
        }
        E::Operation(op) => match op.as_mut() {
            Operation::Unary(u) => rewrite(&mut u.expr, scoped),
            Operation::Binary(b) => {
                rewrite(&mut b.lhs_expr, scoped);
                rewrite(&mut b.rhs_expr, scoped);
            }
        },
        E::Variable(v) => {
            if let Some(Bound {
                local: Some(local), ..
            }) = scoped.iter().rev().find(|b| b.name == v.as_str())
            {
                *e = element_call(local, v.as_str());
            }
        }
        E::ForExpr(f) => {
            rewrite(&mut f.collection_expr, scoped);
            // `for row in local.rows : …`: hcl-rs would copy the whole local for the loop, then the whole row again
            // for every `row.x` in the body. Instead the loop runs over handles (the array's indices, the object's
            // keys; `__for_local`) and the body reads each element where it is (`__local("rows", row, "x")`). The
            // key variable keeps its meaning (an index or key is its own handle).
            let handle_of = whole_local(&f.collection_expr)
                .filter(|_| {
                    !(f.key_expr.as_ref().is_some_and(opaque)
                        || opaque(&f.value_expr)
                        || f.cond_expr.as_ref().is_some_and(opaque))
                })
                .map(str::to_string);
            if let Some(local) = &handle_of {
                f.collection_expr = hcl::Expression::FuncCall(Box::new(FuncCall {
                    name: FuncName::new("__for_local"),
                    args: vec![E::String(local.clone())],
                    expand_final: false,
                }));
            }
            let before = scoped.len();
            if let Some(k) = &f.key_var {
                scoped.push(Bound {
                    name: k.as_str().to_string(),
                    local: None,
                });
            }
            scoped.push(Bound {
                name: f.value_var.as_str().to_string(),
                local: handle_of,
            });
            if let Some(k) = &mut f.key_expr {
                rewrite(k, scoped);
            }
            rewrite(&mut f.value_expr, scoped);
            if let Some(c) = &mut f.cond_expr {
                rewrite(c, scoped);
            }
            scoped.truncate(before);
        }
        _ => {}
    }
}

/// The local an expression is exactly (`local.name`, rewritten to `__local("name")`), if it is one.
fn whole_local(e: &hcl::Expression) -> Option<&str> {
    match e {
        hcl::Expression::FuncCall(f)
            if f.name.namespace.is_empty() && f.name.name.as_str() == "__local" =>
        {
            match f.args.as_slice() {
                [hcl::Expression::String(name)] => Some(name.as_str()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// In a resource attribute, a whole-value reference (`region_pair = region_pair.primary`, `vms = [protected_vm.a]`)
/// only needs the referenced resource's `address`, `id` and `name` (that is all the resource's own value keeps, see
/// `decode::reference_value`), so `__resource` there becomes `__ref`, which copies just those.
fn compact_refs(e: hcl::Expression) -> hcl::Expression {
    use hcl::expr::Expression as E;
    match e {
        E::FuncCall(mut f) if f.name.name.as_str() == "__resource" => {
            f.name = hcl::expr::FuncName::new("__ref");
            E::FuncCall(f)
        }
        E::Array(items) => E::Array(items.into_iter().map(compact_refs).collect()),
        // A list built by `for` (`[for k in keys : protected_vm.web[k]]`) is a list of references too. (An object
        // built by `for` is kept whole in the resource's value, see `decode::compact`, so its references stay.)
        E::ForExpr(mut f) if f.key_expr.is_none() => {
            f.value_expr = compact_refs(f.value_expr);
            E::ForExpr(f)
        }
        other => other,
    }
}

/// Reference objects (values with an `address`) inside `v`, outermost only: a referenced VM's nested region pair is
/// the VM's dependency, not this resource's.
fn collect_addresses(v: &Value, span: Span, out: &mut Vec<(ResourceAddr, Span)>) {
    match v {
        Value::Object(o) => {
            if let Some(addr) = o
                .get("address")
                .and_then(Value::as_str)
                .and_then(|a| a.parse().ok())
            {
                out.push((addr, span));
            } else {
                o.values().for_each(|x| collect_addresses(x, span, out));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_addresses(x, span, out)),
        _ => {}
    }
}

/// Collapses a multi-line message (hcl-rs renders values over several lines) into one line.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn unreachable_local() -> (&'static Schema, Option<&'static Schema>) {
    // Locals are attributes, handled before this match; keep a harmless answer instead of panicking.
    (&schema::OUTPUT, None)
}

fn duplicate(what: &str, first: Span, again: Span) -> Diagnostic {
    Diagnostic::error("config::duplicate", format!("{what} is declared twice"))
        .label(again, "declared again here")
        .label(first, "first declared here")
        .help("remove one of them or give it another name")
}

fn bare_root(span: Span, root: &str, shape: &str) -> Diagnostic {
    Diagnostic::error(
        "config::unknown_reference",
        format!("`{root}` cannot be used on its own"),
    )
    .label(span, format!("write `{shape}`"))
}

/// sha256 over the configuration files (sorted by name) and the effective variable values, hex encoded.
fn fingerprint(files: &[SourceFile], vars: &BTreeMap<String, Variable>) -> String {
    let mut h = Sha256::new();
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for f in sorted {
        h.update(f.name.as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    for (k, v) in vars {
        h.update(k.as_bytes());
        h.update([b'=']);
        h.update(funcs::value_to_json(&v.value).to_string().as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{LoadOptions, ResourceBody, load_sources};
    use super::*;

    const HEAD: &str = r#"
provider "azure" { subscription_id = "00000000-0000-0000-0000-000000000001" }
resource_group "dr" {
  name     = "rg-dr"
  location = "westus2"
}
"#;

    fn load(extra: &str, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
        load_sources(
            vec![("main.asr.hcl".into(), format!("{HEAD}{extra}"))],
            opts,
        )
    }

    fn codes(extra: &str) -> Vec<&'static str> {
        match load(extra, &LoadOptions::default()) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.code).collect(),
        }
    }

    fn rg_names(l: &Loaded) -> Vec<String> {
        l.config
            .resources
            .values()
            .filter_map(|r| match &r.body {
                ResourceBody::ResourceGroup(g) => Some(g.name.value.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn import_blocks_are_checked_against_the_configuration() {
        let id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dr";
        let ok = load(
            &format!("import {{\n  to = resource_group.dr\n  id = \"{id}\"\n}}\n"),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(ok.config.imports.len(), 1);
        assert_eq!(ok.config.imports[0].to.to_string(), "resource_group.dr");
        assert_eq!(ok.config.imports[0].id.value, id);
        let addr: ResourceAddr = "resource_group.dr".parse().unwrap();
        assert!(ok.config.import_for(&addr).is_some());
        // The target must exist; the error points at `to` and suggests the configured one.
        let err = load(
            &format!("import {{\n  to = resource_group.dx\n  id = \"{id}\"\n}}\n"),
            &LoadOptions::default(),
        )
        .unwrap_err();
        let d = err
            .iter()
            .find(|d| d.code == "config::import_target")
            .unwrap();
        assert!(d.message.contains("resource_group.dx"), "{}", d.message);
        let text = format!("{HEAD}import {{\n  to = resource_group.dx\n");
        let label = d.labels.first().unwrap().span;
        assert_eq!(
            label.start as usize,
            text.len() - "resource_group.dx\n".len()
        );
        assert_eq!(
            codes(&format!(
                "import {{\n  to = \"resource_group.dr\"\n  id = \"{id}\"\n}}\n"
            )),
            vec!["config::import_to"]
        );
        assert_eq!(
            codes("import {\n  to = resource_group.dr\n  id = \"rg-dr\"\n}\n"),
            vec!["config::import_id"]
        );
        assert_eq!(
            codes("import {\n  to = resource_group.dr\n}\n"),
            vec!["config::import_missing"]
        );
        assert_eq!(
            codes(&format!(
                "import \"x\" {{\n  to = resource_group.dr\n  id = \"{id}\"\n}}\n"
            )),
            vec!["config::labels"]
        );
        let twice = format!("import {{\n  to = resource_group.dr\n  id = \"{id}\"\n}}\n");
        assert_eq!(codes(&format!("{twice}{twice}")), vec!["config::duplicate"]);
    }

    #[test]
    fn templates_see_resources_locals_and_each() {
        let l = load(
            r#"
locals { suffix = "x" }
resource_group "more" {
  for_each = toset(["a", "b"])
  name     = "${resource_group.dr.name}-${each.key}-${local.suffix}"
  location = resource_group.dr.location
}
"#,
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(rg_names(&l), ["rg-dr", "rg-dr-a-x", "rg-dr-b-x"]);
        let more = &l.config.resources[&"resource_group.more[\"a\"]".parse().unwrap()];
        assert_eq!(
            more.depends
                .iter()
                .map(|d| d.to.to_string())
                .collect::<Vec<_>>(),
            ["resource_group.dr"]
        );
    }

    #[test]
    fn for_each_over_a_local_reads_its_entries_like_a_copy_would() {
        // `for_each = local.groups` reads the local in place; wrapping it in `merge(...)` forces the copied path.
        // Both must give the same instances, values and error messages.
        let body = |for_each: &str, name: &str| {
            format!(
                r#"
locals {{
  groups = {{
    b = {{ name = "rg-b", loc = "westus2" }}
    a = {{ name = "rg-a", loc = "eastus" }}
  }}
}}
resource_group "more" {{
  for_each = {for_each}
  name     = {name}
  location = each.value.loc
}}
"#
            )
        };
        for for_each in ["local.groups", "merge(local.groups)"] {
            let l = load(
                &body(for_each, "\"${each.value.name}-x\""),
                &LoadOptions::default(),
            );
            // A template sees `each` as a variable (an object of its own).
            assert_eq!(rg_names(&l.unwrap()), ["rg-dr", "rg-a-x", "rg-b-x"]);
            let l = load(&body(for_each, "each.value.name"), &LoadOptions::default()).unwrap();
            assert_eq!(rg_names(&l), ["rg-dr", "rg-a", "rg-b"], "{for_each}");
            let l = load(&body(for_each, "each.key"), &LoadOptions::default()).unwrap();
            assert_eq!(rg_names(&l), ["rg-dr", "a", "b"], "{for_each}");
            for (name, message) in [
                (
                    "each.value.nope",
                    "no such key: `nope` in `each.value.nope`",
                ),
                ("each.key.x", "`each.key.x`: \"b\" is not an object"),
            ] {
                let err = load(&body(for_each, name), &LoadOptions::default()).unwrap_err();
                let d = err.iter().next().expect("one error");
                assert_eq!(
                    (d.code, d.message.as_str()),
                    ("config::no_such_key", message),
                    "{for_each}: {name}"
                );
            }
        }
    }

    #[test]
    fn for_over_a_whole_local_reads_elements_in_place_like_a_copy_would() {
        // `for … in local.x` runs over handles (`__for_local`) and reads elements in place; `concat`/`merge` around
        // the local force hcl-rs's own evaluation over a copy. Every body shape must give the same value.
        let locals = r#"
locals {
  rows = [
    { name = "b", sub = "s1", tags = { env = "prod" }, list = ["x", "y"] },
    { name = "a", sub = "s2", tags = { env = "dev" }, list = ["z"] },
  ]
  fleet = { b = { plan = "first", n = 2 }, a = { plan = "", n = 1 } }
  word = "w"
}
"#;
        let bodies = [
            ("ROWS", "{ for row in COLL : row.name => row }"),
            ("ROWS", "toset([for row in COLL : row.sub])"),
            ("ROWS", "[for i, row in COLL : \"${i}-${row.name}\"]"),
            (
                "ROWS",
                "[for i, row in COLL : [i, row[\"tags\"].env, length(row.list)]]",
            ),
            (
                "ROWS",
                "[for row in COLL : [for row in row.list : upper(row)]]",
            ),
            (
                "ROWS",
                "[for row in COLL : row if row.tags.env == \"prod\"]",
            ),
            (
                "FLEET",
                "[for name, row in COLL : name if row.plan == \"first\"]",
            ),
            ("FLEET", "{ for name, row in COLL : name => row.n + 1 }"),
            ("FLEET", "[for row in COLL : row]"),
        ];
        let value = |expr: &str| -> Result<hcl::Value, Vec<(&'static str, String)>> {
            let text = format!("{locals}output \"o\" {{ value = {expr} }}\n");
            match load(&text, &LoadOptions::default()) {
                Ok(l) => Ok(l.config.outputs["o"].value.clone()),
                Err(d) => Err(d.iter().map(|d| (d.code, d.message.clone())).collect()),
            }
        };
        for (coll, body) in bodies {
            let (whole, copy) = match coll {
                "ROWS" => ("local.rows", "concat(local.rows)"),
                _ => ("local.fleet", "merge(local.fleet)"),
            };
            let fast = value(&body.replace("COLL", whole));
            assert!(fast.is_ok(), "{body}: {fast:?}");
            assert_eq!(fast, value(&body.replace("COLL", copy)), "{body}");
        }
        // Errors keep their codes: a missing key, a step into a string, a `for` over something that is no collection.
        for (expr, code) in [
            ("[for row in local.rows : row.nope]", "config::no_such_key"),
            ("[for row in local.rows : row.name.x]", "config::type"),
            ("[for c in local.word : c]", "config::type"),
        ] {
            let err = value(expr).unwrap_err();
            assert_eq!(err[0].0, code, "{expr}: {err:?}");
        }
    }

    #[test]
    fn for_expressions_shadow_resource_kinds_and_find_instance_edges() {
        let l = load(
            r#"
locals { vault = { name = "shadow" } }
resource_group "more" {
  for_each = { for vault in [local.vault] : vault.name => vault }
  name     = each.value.name
  location = "westus2"
}
resource_group "last" {
  name     = join("-", [for k, g in resource_group.more : resource_group.more[k].name])
  location = "westus2"
}
"#,
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(rg_names(&l), ["rg-dr", "shadow", "shadow"]);
        let last = &l.config.resources[&"resource_group.last".parse().unwrap()];
        assert_eq!(
            last.depends
                .iter()
                .map(|d| d.to.to_string())
                .collect::<Vec<_>>(),
            ["resource_group.more[\"shadow\"]"]
        );
    }

    #[test]
    fn local_attribute_and_index_chains_select_only_the_part_asked_for() {
        let l = load(
            r#"
locals {
  rows = { web = { name = "rg-web", tags = ["a", "b"] }, db = { name = "rg-db", tags = ["c"] } }
  keys = ["web", "db"]
}
resource_group "more" {
  for_each = toset(local.keys)
  name     = "${local.rows[each.key].name}-${local.rows[each.key]["tags"][0]}"
  location = "westus2"
}
resource_group "picked" {
  name     = join("-", [for k in local.keys : local.rows[k].tags[length(local.rows[k].tags) - 1] if local.rows[k].name != "rg-web"])
  location = "westus2"
}
"#,
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(rg_names(&l), ["rg-dr", "rg-db-c", "rg-web-a", "c"]);
    }

    #[test]
    fn bad_steps_into_locals_keep_their_codes() {
        let head = "locals {\n  m = { a = { b = \"x\" } }\n  l = [1, 2]\n}\n";
        let rg = |expr: &str| {
            format!(
                "{head}resource_group \"x\" {{\n  name = {expr}\n  location = \"westus2\"\n}}\n"
            )
        };
        assert_eq!(codes(&rg("local.m.a.nope")), ["config::no_such_key"]);
        assert_eq!(codes(&rg("local.m[\"zz\"].b")), ["config::no_such_key"]);
        assert_eq!(codes(&rg("tostring(local.l[5])")), ["config::no_such_key"]);
        assert_eq!(codes(&rg("local.m.a.b.c")), ["config::type"]);
        assert_eq!(codes(&rg("tostring(local.l[\"a\"])")), ["config::type"]);
        assert_eq!(codes(&rg("tostring(local.m[true])")), ["config::type"]);
        let d = load(&rg("local.m.a.nope"), &LoadOptions::default()).unwrap_err();
        assert!(
            d.iter().any(|d| d.message.contains("no such key `nope`")),
            "{d:?}"
        );
    }

    #[test]
    fn locals_reference_each_other_and_cycles_are_errors() {
        assert!(codes("locals {\n  a = local.b\n  b = 1\n}\n").is_empty());
        assert_eq!(
            codes("locals {\n  a = local.b\n  b = local.a\n}\n"),
            ["config::cycle"]
        );
        assert_eq!(codes("locals {\n  a = local.a\n}\n"), ["config::cycle"]);
    }

    #[test]
    fn missing_instance_key_is_reported_once() {
        let c = codes(
            r#"
resource_group "more" {
  for_each = toset(["a"])
  name     = "m"
  location = "westus2"
}
resource_group "bad" {
  name     = resource_group.more["zz"].name
  location = "westus2"
}
"#,
        );
        assert_eq!(c, ["config::no_such_key"]);
    }

    #[test]
    fn cli_values_are_converted_to_the_variable_type() {
        let src = r#"
variable "regions" { type = list(string) }
variable "count" { type = number }
variable "on" { type = bool }
"#;
        let opts = LoadOptions {
            vars: vec![
                ("regions".into(), "[\"eastus\", \"westus2\"]".into()),
                ("count".into(), "3".into()),
            ],
            env_vars: vec![("on".into(), "true".into())],
            ..LoadOptions::default()
        };
        let l = load(src, &opts).unwrap();
        let v = &l.config.variables;
        assert_eq!(v["regions"].value.as_array().map(Vec::len), Some(2));
        assert_eq!(v["count"].value.as_u64(), Some(3));
        assert_eq!(v["on"].value, Value::Bool(true));
        let bad = LoadOptions {
            vars: vec![("regions".into(), "[".into()), ("count".into(), "3".into())],
            ..opts
        };
        let err = load(src, &bad).unwrap_err();
        assert_eq!(
            err.iter().map(|d| d.code).collect::<Vec<_>>(),
            ["config::variable_value"]
        );
        assert_eq!(err.iter().next().unwrap().file(), Some("-var regions"));
    }

    /// What the scan makes of rewritten resource-attribute expressions: whole references (alone, in a list, in a
    /// list built by `for`) read nothing more; attributes, object-valued `for`s and calls that take whole values do.
    #[test]
    fn the_whole_value_scan_finds_reads_beyond_address_id_and_name() {
        let scan = |src: &str| {
            let e: hcl::Expression = hcl_edit::parser::parse_expr(src).unwrap().into();
            let e = compact_refs(rewrite_refs(e));
            let (mut blocks, mut all) = (HashSet::new(), false);
            FullReads::scan(&e, &mut blocks, &mut all);
            assert!(!all, "{src}");
            let mut v: Vec<String> = blocks
                .into_iter()
                .map(|(k, l)| format!("{k}.{l}"))
                .collect();
            v.sort();
            v
        };
        let none: Vec<String> = Vec::new();
        assert_eq!(scan("region_pair.primary"), none);
        assert_eq!(scan("[protected_vm.a, protected_vm.b[\"x\"]]"), none);
        assert_eq!(
            scan("[for n, r in local.fleet : protected_vm.vm[n] if r.plan == \"first\"]"),
            none
        );
        assert_eq!(scan("storage_account.cache[each.value.sub]"), none);
        assert_eq!(scan("vault.dr.location"), ["vault.dr"]);
        assert_eq!(
            scan("{ for n, r in local.fleet : n => protected_vm.vm[n] }"),
            ["protected_vm.vm"]
        );
        assert_eq!(scan("concat([vault.a], [vault.b])"), ["vault.a", "vault.b"]);
        assert_eq!(
            scan("cond ? -length(vault.a.tags) : (vault.b[\"k\"].x + 1)"),
            ["vault.a", "vault.b"]
        );
    }

    /// Blocks that nothing reads beyond `address`, `id` and `name` keep compact instance values; every way of
    /// reading more still sees the whole value (an attribute, a template, a whole value in a local or an output, a
    /// `for_each` over a block), and references to compact blocks resolve as before.
    #[test]
    fn whole_values_are_kept_for_the_blocks_something_reads_more_of() {
        let groups = ["attr", "tmpl", "whole", "each", "plain"]
            .map(|g| {
                format!(
                    "resource_group \"{g}\" {{\n  name = \"rg-{g}\"\n  location = \"westus2\"\n}}\n"
                )
            })
            .concat();
        let src = format!(
            r#"{groups}
locals {{
  whole = resource_group.whole
}}
resource_group "reader" {{
  for_each = resource_group.each
  name     = "rg-r-${{each.key}}"
  location = resource_group.attr.location
}}
vault "v" {{
  name           = "rsv"
  resource_group = resource_group.plain
  location       = "westus2"
  tags           = {{ groups = join(",", [for g in [resource_group.plain, resource_group.attr] : g.name]) }}
}}
output "attr" {{ value = resource_group.attr.location }}
output "tmpl" {{ value = "${{resource_group.tmpl.location}}" }}
output "whole" {{ value = local.whole.location }}
output "refs" {{ value = [for g in ["plain"] : resource_group.plain] }}
"#
        );
        let l = load(&src, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d:?}"));
        let out = |name: &str| l.config.outputs[name].value.clone();
        assert_eq!(out("attr"), Value::from("westus2"));
        assert_eq!(out("tmpl"), Value::from("westus2"));
        assert_eq!(out("whole"), Value::from("westus2"));
        // An output is not a resource attribute: its references stay whole.
        assert_eq!(
            out("refs").as_array().unwrap()[0].as_object().unwrap()["location"],
            Value::from("westus2")
        );
        // `for_each` over a block without one iterates its attributes: `location` is there only in the whole value.
        let reader: ResourceAddr = "resource_group.reader[\"location\"]".parse().unwrap();
        assert!(
            l.config.resources.get(&reader).is_some(),
            "{:?}",
            l.config.resources.keys().collect::<Vec<_>>()
        );
        let vault = &l.config.resources[&"vault.v".parse().unwrap()];
        let ResourceBody::Vault(v) = &vault.body else {
            panic!()
        };
        assert_eq!(
            v.tags.get("groups").map(String::as_str),
            Some("rg-plain,rg-attr")
        );
        assert!(
            vault
                .depends
                .iter()
                .any(|d| d.to.to_string() == "resource_group.plain")
        );
    }

    #[test]
    fn variables_cannot_refer_to_other_things() {
        assert_eq!(
            codes("locals { x = 1 }\nvariable \"v\" { default = local.x }\n"),
            ["config::variable_reference"]
        );
        assert_eq!(
            codes("variable \"w\" { default = 1 }\nvariable \"v\" { default = var.w }\n"),
            ["config::variable_reference"]
        );
    }

    #[test]
    fn unknown_cli_variable_suggests_the_declared_one() {
        let opts = LoadOptions {
            vars: vec![("regon".into(), "x".into())],
            ..LoadOptions::default()
        };
        let err = load("variable \"region\" { default = \"y\" }\n", &opts).unwrap_err();
        let d = err.iter().next().unwrap();
        assert_eq!(d.code, "config::unknown_variable");
        assert_eq!(d.help.as_deref(), Some("did you mean `region`?"));
    }

    #[test]
    fn rewrite_keeps_operators_after_the_lookup() {
        let e: hcl::Expression = hcl_edit::parser::parse_expr("protected_vm.web[each.key].nics[0]")
            .unwrap()
            .into();
        let text = hcl::format::to_string(&rewrite_refs(e)).unwrap();
        assert_eq!(
            text,
            "__resource(\"protected_vm\", \"web\", __each(\"key\")).nics[0]"
        );
        let e: hcl::Expression = hcl_edit::parser::parse_expr("[for vault in x : vault.id]")
            .unwrap()
            .into();
        assert_eq!(
            hcl::format::to_string(&rewrite_refs(e)).unwrap(),
            "[for vault in x : vault.id]"
        );
    }
}
