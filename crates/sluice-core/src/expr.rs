//! CEL expressions over events: trigger filters, `waitForEvent` conditions, and event-name
//! patterns.
//!
//! The Inngest SDKs write conditions in CEL: a trigger's `expression` sees the incoming event as
//! `event` (`event.data.plan == 'pro'`); a `waitForEvent` `if` sees the run's trigger as `event`
//! and the candidate as `async`. Evaluation uses the `cel-interpreter` crate, with one deliberate
//! change of semantics, because events are schemaless and a filter must not blow up on the event
//! that lacks a field:
//!
//! - reading a missing field (or a field of `null`) gives `null`, so `event.data.missing == 'x'`
//!   is false and `has(event.data.missing)` works as usual;
//! - `<`, `<=`, `>`, `>=` and `in` with a `null` side are false rather than errors;
//! - `size(null)` is 0, and `exists`/`all`/`map`/`filter` over `null` see an empty list.
//!
//! This is done by rewriting the parsed expression once at compile time: field selections and
//! the affected operators become calls to functions registered below. Everything else keeps
//! `cel-interpreter`'s behaviour, and other runtime errors (calling `startsWith` on a number, an
//! unknown variable) still come back as [`Error::Eval`]; callers treat those as "no match" and
//! show the message, they never fail a run over it.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use cel_interpreter::extractors::This;
use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Context, ExecutionError, ResolveResult, Value as CelValue};
use cel_parser::ast::{operators, CallExpr, EntryExpr, Expr as Node, IdedExpr};
use cel_parser::reference::Val;
use cel_parser::Parser;
use serde_json::Value as Json;

/// Longest expression accepted; Inngest's own limits are of this order, and it bounds the
/// parser's recursion.
pub const MAX_SOURCE_LEN: usize = 16 * 1024;

const FIELD_FN: &str = "__sluice_field";
const ITER_FN: &str = "__sluice_iter";
const IN_FN: &str = "__sluice_in";
const LESS_FN: &str = "__sluice_lt";
const LESS_EQ_FN: &str = "__sluice_le";
const GREATER_FN: &str = "__sluice_gt";
const GREATER_EQ_FN: &str = "__sluice_ge";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid expression {expr:?}: {message}")]
    Parse { expr: String, message: String },
    #[error("expression {expr:?} uses {what}, which is not supported")]
    Unsupported { expr: String, what: String },
    #[error("expression {expr:?} failed: {message}")]
    Eval { expr: String, message: String },
    #[error("expression {expr:?} gave {got}, not a boolean")]
    NotBool { expr: String, got: String },
}

/// A compiled expression. Cheap to clone and safe to share between threads, so it can be cached
/// per function.
#[derive(Debug, Clone)]
pub struct Expr {
    source: Arc<str>,
    ast: Arc<IdedExpr>,
    variables: Arc<[String]>,
}

impl Expr {
    /// Parses `src` and prepares it for evaluation.
    pub fn compile(src: &str) -> Result<Self, Error> {
        if src.len() > MAX_SOURCE_LEN {
            return Err(Error::Parse {
                expr: src.chars().take(80).collect::<String>() + "…",
                message: format!("longer than {MAX_SOURCE_LEN} bytes"),
            });
        }
        check_shape(src).map_err(|message| Error::Parse {
            expr: src.to_owned(),
            message,
        })?;
        // The generated parser panics on some malformed input (e.g. a dangling `==`) instead of
        // reporting it; a panic here is a syntax error in the user's expression.
        let parsed = catch_unwind(|| Parser::default().parse(src))
            .map_err(|_| Error::Parse {
                expr: src.to_owned(),
                message: "syntax error".to_owned(),
            })?
            .map_err(|errors| Error::Parse {
                expr: src.to_owned(),
                message: errors
                    .errors
                    .iter()
                    .map(|e| format!("at {}:{}: {}", e.pos.0, e.pos.1, e.msg))
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let mut rewriter = Rewriter {
            source: src,
            bound: Vec::new(),
            free: BTreeSet::new(),
        };
        let ast = rewriter.rewrite(parsed)?;
        Ok(Self {
            source: src.into(),
            ast: Arc::new(ast),
            variables: rewriter.free.into_iter().collect(),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The top-level variables the expression reads (`event`, `async`, …), sorted, so callers
    /// can refuse, at sync time, an expression that names a variable it will never be given.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Evaluates to a boolean. `vars` binds names such as `event` and `async` to JSON values.
    pub fn eval_bool(&self, vars: &[(&str, &Json)]) -> Result<bool, Error> {
        match self.eval_cel(vars)? {
            CelValue::Bool(b) => Ok(b),
            other => Err(Error::NotBool {
                expr: self.source.to_string(),
                got: other.type_of().to_string(),
            }),
        }
    }

    fn eval_cel(&self, vars: &[(&str, &Json)]) -> Result<CelValue, Error> {
        let mut ctx = context();
        for (name, value) in vars {
            ctx.add_variable_from_value(*name, json_to_cel(value));
        }
        // cel-interpreter has a few panicking corners (integer overflow in string indexing, a
        // `todo!` on odd comprehensions). The rewrite avoids the known ones; this keeps an
        // unknown one from taking down the engine over a user's expression.
        let outcome = catch_unwind(AssertUnwindSafe(|| CelValue::resolve(&self.ast, &ctx)));
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Error::Eval {
                expr: self.source.to_string(),
                message: e.to_string(),
            }),
            Err(_) => Err(Error::Eval {
                expr: self.source.to_string(),
                message: "the expression could not be evaluated".to_owned(),
            }),
        }
    }
}

/// Deepest bracket nesting accepted.
const MAX_NESTING: usize = 16;
/// Most operators (`+ - * / % ! < >`) accepted in one expression.
const MAX_OPERATORS: usize = 24;
/// Longest run of `.field` selections accepted in one chain.
const MAX_CHAIN: usize = 16;

/// Refuses expressions whose shape the third-party parser handles badly, before parsing them.
///
/// Its generated parser recurses deeply (a chain of ~80 `+` overflows a 2 MiB thread stack in a
/// debug build) and takes exponential time on long selections after a literal (`[].a.a.a…`).
/// Real filters are far inside these limits: they nest a few levels and select a few fields.
fn check_shape(src: &str) -> Result<(), String> {
    let (mut depth, mut max_depth, mut operators, mut chain, mut max_chain) = (0usize, 0, 0, 0, 0);
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                // Skip the string literal; a backslash escapes the next character.
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '.' if chars.peek().is_some_and(|n| n.is_alphabetic() || *n == '_') => {
                chain += 1;
                max_chain = max_chain.max(chain);
            }
            '+' | '-' | '*' | '/' | '%' | '!' | '<' | '>' => {
                operators += 1;
                chain = 0;
            }
            c if c.is_whitespace() || matches!(c, ',' | '=' | '&' | '|' | '?' | ':') => chain = 0,
            _ => {}
        }
    }
    if max_depth > MAX_NESTING {
        return Err(format!("nested more than {MAX_NESTING} levels deep"));
    }
    if operators > MAX_OPERATORS {
        return Err(format!(
            "more than {MAX_OPERATORS} operators; split the condition up"
        ));
    }
    if max_chain > MAX_CHAIN {
        return Err(format!("a chain of more than {MAX_CHAIN} field selections"));
    }
    Ok(())
}

/// The `if` expression for the SDKs' `waitForEvent`/`cancelOn` `match: "data.userId"` shorthand:
/// the field must be equal on the run's trigger (`event`) and the candidate (`async`).
pub fn match_to_expr(field: &str) -> String {
    let field = field.trim();
    let field = field.strip_prefix("event.").unwrap_or(field);
    format!("event.{field} == async.{field}")
}

/// Whether an event name satisfies a trigger's event pattern: equal, or for a pattern ending in
/// `*` (`app/*`), starting with the part before the `*`. A bare `*` matches only itself, so a
/// catch-all cannot also swallow `inngest/function.failed` and loop on its own failures.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.is_empty() => name.starts_with(prefix),
        _ => pattern == name,
    }
}

/// Rewrites the parsed tree for missing-field-tolerant semantics and records its free variables.
struct Rewriter<'a> {
    source: &'a str,
    /// Comprehension variables in scope at the current node.
    bound: Vec<String>,
    free: BTreeSet<String>,
}

impl Rewriter<'_> {
    fn unsupported(&self, what: &str) -> Error {
        Error::Unsupported {
            expr: self.source.to_owned(),
            what: what.to_owned(),
        }
    }

    /// Rewrites a boxed child in place, reusing its allocation.
    fn rewrite_boxed(&mut self, mut e: Box<IdedExpr>) -> Result<Box<IdedExpr>, Error> {
        *e = self.rewrite(std::mem::replace(&mut *e, placeholder()))?;
        Ok(e)
    }

    fn rewrite(&mut self, e: IdedExpr) -> Result<IdedExpr, Error> {
        let id = e.id;
        let expr = match e.expr {
            Node::Select(mut select) if !select.test => {
                let operand = self.rewrite(*select.operand)?;
                let field = std::mem::take(&mut select.field);
                call(
                    FIELD_FN,
                    vec![
                        operand,
                        IdedExpr {
                            id,
                            expr: Node::Literal(Val::String(field)),
                        },
                    ],
                )
            }
            Node::Select(mut select) => {
                select.operand = self.rewrite_boxed(select.operand)?;
                Node::Select(select)
            }
            Node::Call(mut c) => {
                c.target = match c.target {
                    Some(t) => Some(self.rewrite_boxed(t)?),
                    None => None,
                };
                c.args = c
                    .args
                    .into_iter()
                    .map(|a| self.rewrite(a))
                    .collect::<Result<_, _>>()?;
                if c.args.len() == 2 && c.target.is_none() {
                    let replacement = match c.func_name.as_str() {
                        operators::LESS => Some(LESS_FN),
                        operators::LESS_EQUALS => Some(LESS_EQ_FN),
                        operators::GREATER => Some(GREATER_FN),
                        operators::GREATER_EQUALS => Some(GREATER_EQ_FN),
                        operators::IN => Some(IN_FN),
                        _ => None,
                    };
                    if let Some(name) = replacement {
                        c.func_name = name.to_owned();
                    }
                }
                if c.func_name == operators::OPT_SELECT || c.func_name == operators::OPT_INDEX {
                    return Err(self.unsupported("optional field syntax (.? / [?])"));
                }
                Node::Call(c)
            }
            Node::Comprehension(mut comp) => {
                let range = self.rewrite(*comp.iter_range)?;
                comp.iter_range = Box::new(IdedExpr {
                    id,
                    expr: call(ITER_FN, vec![range]),
                });
                comp.accu_init = self.rewrite_boxed(comp.accu_init)?;
                self.bound.push(comp.iter_var.clone());
                self.bound.push(comp.accu_var.clone());
                let inner = (|| -> Result<_, Error> {
                    let cond = self.rewrite(*comp.loop_cond)?;
                    let step = self.rewrite(*comp.loop_step)?;
                    let result = self.rewrite(*comp.result)?;
                    Ok((cond, step, result))
                })();
                self.bound.truncate(self.bound.len() - 2);
                let (cond, step, result) = inner?;
                comp.loop_cond = Box::new(cond);
                comp.loop_step = Box::new(step);
                comp.result = Box::new(result);
                Node::Comprehension(comp)
            }
            Node::List(mut list) => {
                list.elements = list
                    .elements
                    .into_iter()
                    .map(|a| self.rewrite(a))
                    .collect::<Result<_, _>>()?;
                Node::List(list)
            }
            Node::Map(mut map) => {
                for entry in map.entries.iter_mut() {
                    match &mut entry.expr {
                        EntryExpr::MapEntry(e) => {
                            if e.optional {
                                return Err(self.unsupported("optional map entries"));
                            }
                            e.key = self.rewrite(std::mem::replace(&mut e.key, placeholder()))?;
                            e.value =
                                self.rewrite(std::mem::replace(&mut e.value, placeholder()))?;
                        }
                        EntryExpr::StructField(_) => {
                            return Err(self.unsupported("message construction"))
                        }
                    }
                }
                Node::Map(map)
            }
            Node::Ident(name) => {
                if !self.bound.contains(&name) {
                    self.free.insert(name.clone());
                }
                Node::Ident(name)
            }
            Node::Literal(v) => Node::Literal(v),
            Node::Struct(_) => return Err(self.unsupported("message construction")),
            Node::Unspecified => return Err(self.unsupported("an empty expression")),
        };
        Ok(IdedExpr { id, expr })
    }
}

fn call(name: &str, args: Vec<IdedExpr>) -> Node {
    Node::Call(CallExpr {
        func_name: name.to_owned(),
        target: None,
        args,
    })
}

fn placeholder() -> IdedExpr {
    IdedExpr {
        id: 0,
        expr: Node::Literal(Val::Null),
    }
}

/// A fresh evaluation context: the standard library plus the functions the rewrite calls.
fn context() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.add_function(FIELD_FN, field);
    ctx.add_function(ITER_FN, iterable);
    ctx.add_function(IN_FN, null_safe_in);
    let comparisons: [(&str, OrderingTest); 4] = [
        (LESS_FN, Ordering::is_lt),
        (LESS_EQ_FN, Ordering::is_le),
        (GREATER_FN, Ordering::is_gt),
        (GREATER_EQ_FN, Ordering::is_ge),
    ];
    for (name, test) in comparisons {
        ctx.add_function(name, move |a: CelValue, b: CelValue| compare(a, b, test));
    }
    ctx.add_function("size", size);
    ctx.add_function("lowerAscii", |This(s): This<Arc<String>>| {
        s.to_ascii_lowercase()
    });
    ctx.add_function("upperAscii", |This(s): This<Arc<String>>| {
        s.to_ascii_uppercase()
    });
    ctx
}

/// `a.b`, reading `null` for a missing key or a non-map receiver.
fn field(target: CelValue, name: CelValue) -> ResolveResult {
    Ok(match (target, name) {
        (CelValue::Map(map), CelValue::String(key)) => map
            .map
            .get(&Key::String(key))
            .cloned()
            .unwrap_or(CelValue::Null),
        _ => CelValue::Null,
    })
}

/// The range of a comprehension: lists and maps as they are, `null` as an empty list.
fn iterable(v: CelValue) -> ResolveResult {
    match v {
        CelValue::List(_) | CelValue::Map(_) => Ok(v),
        CelValue::Null => Ok(CelValue::List(Arc::new(Vec::new()))),
        other => Err(ExecutionError::function_error(
            "exists/all/map/filter",
            format!("cannot iterate over a {}", other.type_of()),
        )),
    }
}

fn null_safe_in(item: CelValue, container: CelValue) -> ResolveResult {
    Ok(CelValue::Bool(match (item, container) {
        (CelValue::Null, _) | (_, CelValue::Null) => false,
        (CelValue::String(needle), CelValue::String(hay)) => hay.contains(needle.as_str()),
        (item, CelValue::List(items)) => items.contains(&item),
        (item, CelValue::Map(map)) => match TryInto::<Key>::try_into(item) {
            Ok(key) => map.map.contains_key(&key),
            Err(_) => false,
        },
        (item, container) => return Err(ExecutionError::ValuesNotComparable(item, container)),
    }))
}

type OrderingTest = fn(Ordering) -> bool;

fn compare(a: CelValue, b: CelValue, test: OrderingTest) -> ResolveResult {
    if matches!(a, CelValue::Null) || matches!(b, CelValue::Null) {
        return Ok(CelValue::Bool(false));
    }
    match a.partial_cmp(&b) {
        Some(ordering) => Ok(CelValue::Bool(test(ordering))),
        None => Err(ExecutionError::ValuesNotComparable(a, b)),
    }
}

/// `size()` counting characters rather than bytes (as CEL specifies), and 0 for `null`.
fn size(This(this): This<CelValue>) -> ResolveResult {
    let n = match &this {
        CelValue::List(l) => l.len(),
        CelValue::Map(m) => m.map.len(),
        CelValue::String(s) => s.chars().count(),
        CelValue::Bytes(b) => b.len(),
        CelValue::Null => 0,
        other => {
            return Err(ExecutionError::function_error(
                "size",
                format!("a {} has no size", other.type_of()),
            ))
        }
    };
    Ok(CelValue::Int(n as i64))
}

/// JSON to CEL: objects become maps, integers that fit become `int` (or `uint`), other numbers
/// `double`. CEL compares across numeric types, so `event.data.n == 10` holds for `10.0` too.
pub fn json_to_cel(value: &Json) -> CelValue {
    match value {
        Json::Null => CelValue::Null,
        Json::Bool(b) => CelValue::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                CelValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                CelValue::UInt(u)
            } else {
                CelValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => CelValue::String(Arc::new(s.clone())),
        Json::Array(items) => CelValue::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Json::Object(obj) => {
            let map: HashMap<Key, CelValue> = obj
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            CelValue::Map(Map { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(src: &str, event: &Json) -> bool {
        Expr::compile(src)
            .unwrap()
            .eval_bool(&[("event", event)])
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn order() -> Json {
        json!({
            "name": "shop/order.created",
            "data": {
                "plan": "pro",
                "seats": 12,
                "amount": 10.0,
                "price": 9.75,
                "big": 18446744073709551615u64,
                "name": "Zoë",
                "email": "Ada@Example.com",
                "function_id": "app-fn",
                "tags": ["vip", "beta"],
                "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}],
                "meta": {},
                "nothing": null
            },
            "user": {"id": "u_1"},
            "ts": 1700000000000i64
        })
    }

    /// Asserts each expression in `yes` is true and each in `no` false for `event`.
    fn check_all(event: &Json, yes: &[&str], no: &[&str]) {
        for src in yes {
            assert!(check(src, event), "expected true: {src}");
        }
        for src in no {
            assert!(!check(src, event), "expected false: {src}");
        }
    }

    #[test]
    fn typical_trigger_filters() {
        let yes = [
            "event.data.plan == 'pro'",
            "event.data.plan == \"pro\" && event.data.seats > 10",
            "event.data.plan == 'free' || event.data.seats >= 12",
            "!(event.data.plan == 'free')",
            "event.data.plan != 'free'",
            "event.user.id == 'u_1'",
            "event.name == 'shop/order.created'",
            "event.data.seats > 10 ? true : false",
            "event.ts > 0",
        ];
        let no = [
            "event.data.plan == 'free'",
            "event.data.plan == 'free' || event.data.seats < 12",
        ];
        check_all(&order(), &yes, &no);
    }

    #[test]
    fn on_failure_filter() {
        let failed = json!({
            "name": "inngest/function.failed",
            "data": {"function_id": "app-fn", "run_id": "01H", "error": {"message": "boom"}}
        });
        let yes = ["event.data.function_id == 'app-fn'"];
        check_all(&failed, &yes, &["event.data.function_id == 'app-other'"]);
    }

    #[test]
    fn missing_fields_are_false_not_errors() {
        let yes = [
            "event.data.missing == null",
            "event.data.missing != 'x'",
            "size(event.data.missing) == 0",
            "event.data.missing == 'x' || event.data.plan == 'pro'",
            "has(event.data.plan)",
            "has(event.data.nothing)",
        ];
        let no = [
            "event.data.missing == 'x'",
            "event.data.missing.deeper.still == 1",
            "event.data.missing > 5",
            "event.data.missing <= 5",
            "5 < event.data.missing",
            "'x' in event.data.missing",
            "event.data.missing in ['a']",
            "event.data.missing.exists(i, i == 1)",
            "event.data.plan.missing == 'x'",
            "event.data.nothing.x == 1",
            "event.missing_top == 'x'",
            "has(event.data.missing)",
            "has(event.data.missing.deeper)",
        ];
        check_all(&order(), &yes, &no);
        // A trigger without `data` at all.
        check_all(&json!({"name": "x"}), &[], &["event.data.plan == 'pro'"]);
    }

    #[test]
    fn numbers_compare_across_int_and_double() {
        let yes = [
            "event.data.amount == 10",
            "event.data.seats == 12.0",
            "event.data.price > 9.5",
            "event.data.price < 10",
            "event.data.big > 0",
            "event.data.seats + 1 == 13",
            "event.data.seats % 5 == 2",
        ];
        check_all(&order(), &yes, &[]);
    }

    #[test]
    fn strings_lists_and_maps() {
        let yes = [
            "size(event.data.tags) == 2",
            "event.data.tags.size() == 2",
            "size(event.data.name) == 3", // characters, not bytes
            "size(event.data.meta) == 0",
            "event.data.email.endsWith('.com')",
            "event.data.email.startsWith('Ada')",
            "event.data.email.contains('@')",
            "event.data.email.lowerAscii() == 'ada@example.com'",
            "event.data.plan.upperAscii() == 'PRO'",
            "event.data.email.matches('^[A-Za-z]+@')",
            "'vip' in event.data.tags",
            "'plan' in event.data",
            "event.data.tags[0] == 'vip'",
            "event.data.items[1].sku == 'b'",
            "event.data.items.exists(i, i.qty > 1)",
            "event.data.items.all(i, i.qty >= 1)",
            "event.data.items.exists_one(i, i.sku == 'a')",
            "event.data.items.filter(i, i.qty > 1).size() == 1",
            "event.data.items.map(i, i.qty) == [2, 1]",
            "event.data.plan + '-' + event.user.id == 'pro-u_1'",
        ];
        let no = [
            "'gold' in event.data.tags",
            "event.data.items.all(i, i.missing > 0)",
        ];
        check_all(&order(), &yes, &no);
    }

    #[test]
    fn wait_for_event_match() {
        let src = match_to_expr("data.userId");
        assert_eq!(src, "event.data.userId == async.data.userId");
        assert_eq!(match_to_expr("event.data.userId"), src);
        let expr = Expr::compile(&src).unwrap();
        assert_eq!(expr.variables(), ["async", "event"]);
        let trigger = json!({"data": {"userId": "u1"}});
        let same = json!({"data": {"userId": "u1", "x": 1}});
        let other = json!({"data": {"userId": "u2"}});
        let without = json!({"data": {}});
        let run = |candidate: &Json| expr.eval_bool(&[("event", &trigger), ("async", candidate)]);
        assert_eq!(run(&same), Ok(true));
        assert_eq!(run(&other), Ok(false));
        assert_eq!(run(&without), Ok(false));
        let custom = Expr::compile("async.data.amount > event.data.min && async.data.ok").unwrap();
        let candidate = json!({"data": {"amount": 50, "ok": true}});
        let trig = json!({"data": {"min": 10}});
        assert_eq!(
            custom.eval_bool(&[("event", &trig), ("async", &candidate)]),
            Ok(true)
        );
    }

    #[test]
    fn free_variables_skip_comprehension_variables() {
        let expr = Expr::compile("event.data.items.exists(i, i.qty > 1) && x == 1").unwrap();
        assert_eq!(expr.variables(), ["event", "x"]);
        assert!(Expr::compile("1 == 1").unwrap().variables().is_empty());
    }

    #[test]
    fn errors_are_clear() {
        let err = Expr::compile("event.data.plan == ").unwrap_err();
        assert!(matches!(err, Error::Parse { .. }));
        assert!(err.to_string().contains("event.data.plan =="), "{err}");
        assert!(matches!(
            Expr::compile("Msg{a: 1}"),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            Expr::compile(&"1+".repeat(10_000)),
            Err(Error::Parse { .. })
        ));

        let e = order();
        let eval = |src: &str| Expr::compile(src).unwrap().eval_bool(&[("event", &e)]);
        assert!(
            matches!(eval("event.data.plan"), Err(Error::NotBool { got, .. }) if got == "string")
        );
        for src in [
            "async.data.x == 1",
            "event.data.seats.startsWith('1')",
            "event.data.plan.exists(c, c == 'p')",
            "event.data.plan > 1",
        ] {
            assert!(matches!(eval(src), Err(Error::Eval { .. })), "{src}");
        }
    }

    #[test]
    fn refuses_shapes_the_parser_cannot_take() {
        let too_deep = format!(
            "{}1{}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        let too_long = format!("{}1", "1 + ".repeat(MAX_OPERATORS + 1));
        let long_chain = format!("[]{}", ".a".repeat(MAX_CHAIN + 1));
        for src in [too_deep, too_long, long_chain] {
            assert!(
                matches!(Expr::compile(&src), Err(Error::Parse { .. })),
                "{src}"
            );
        }
        // Brackets, operators and dots inside strings do not count.
        let quoted = format!(
            "event.data.s == '{}' || event.data.t == \"{}\"",
            "((((+.a".repeat(30),
            "\\\"-".repeat(30)
        );
        assert!(Expr::compile(&quoted).is_ok());
        // A long flat condition is fine.
        let flat = vec!["event.data.user.plan == 'pro'"; 200].join(" && ");
        assert!(check(&flat, &json!({"data": {"user": {"plan": "pro"}}})));
        // The parser's own panics on malformed input become errors, and it keeps working.
        for src in ["", "a &&", "(", "1 in", "{a:}"] {
            assert!(
                matches!(Expr::compile(src), Err(Error::Parse { .. })),
                "{src:?}"
            );
        }
        assert!(check("event.data.plan == 'pro'", &order()));
    }

    #[test]
    fn compiled_expressions_are_shareable() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Expr>();
        let expr = Expr::compile("event.data.plan == 'pro'").unwrap();
        let copy = expr.clone();
        let e = order();
        let handle = std::thread::spawn(move || copy.eval_bool(&[("event", &order())]));
        assert_eq!(handle.join().unwrap(), Ok(true));
        assert_eq!(expr.eval_bool(&[("event", &e)]), Ok(true));
        assert_eq!(expr.source(), "event.data.plan == 'pro'");
    }

    #[test]
    fn event_name_patterns() {
        assert!(name_matches("app/user.created", "app/user.created"));
        assert!(!name_matches("app/user.created", "app/user.deleted"));
        assert!(name_matches("app/*", "app/user.created"));
        assert!(name_matches("app/*", "app/a/b"));
        assert!(!name_matches("app/*", "other/user.created"));
        assert!(!name_matches("app/*", "app"));
        assert!(name_matches("clerk/user.*", "clerk/user.updated"));
        assert!(!name_matches("*", "inngest/function.failed"));
        assert!(name_matches("*", "*"));
    }
}
