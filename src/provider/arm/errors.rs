//! The one mapping from HTTP responses (status, headers, ARM or ASR error body) to [`ProviderError`], and the
//! classification of 429s into throttle scopes.
//!
//! ARM errors are `{"error":{"code","message","details":[…]}}`; ASR "implements error response in a different
//! format" (capitalised keys, numeric-string codes, `possibleCauses`/`recommendedAction`, sometimes no `error`
//! wrapper), so parsing is defensive and never fails: an unreadable body still yields a typed error with the status.
//! This module must not retry, wait or log.

use std::time::Duration;

use azure_core::http::headers::{HeaderName, Headers};
use serde_json::Value;

use crate::provider::{ErrorContext, OpKind, ProviderError, ThrottleScope};

const CORRELATION: HeaderName = HeaderName::from_static("x-ms-correlation-request-id");

/// Code and message pulled out of an error body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    /// Error code; ASR's are numeric strings.
    pub code: String,
    /// Message, with possible causes and recommended action appended.
    pub message: String,
}

fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads an ARM or ASR error object (the value inside `error`, or the body itself).
pub fn parse_error_value(v: &Value) -> ErrorBody {
    let inner = get_ci(v, "error").filter(|e| e.is_object()).unwrap_or(v);
    let mut code = get_ci(inner, "code").and_then(as_text).unwrap_or_default();
    let mut message = get_ci(inner, "message")
        .and_then(as_text)
        .unwrap_or_default();
    // ASR nests the useful part in details[0] when the outer code is generic.
    if let Some(Value::Array(details)) = get_ci(inner, "details")
        && let Some(first) = details.first()
    {
        let d = parse_error_value(first);
        if code.is_empty() {
            code = d.code.clone();
        }
        if message.is_empty() {
            message = d.message.clone();
        } else if !d.message.is_empty() && d.message != message {
            message = format!(
                "{message} ({}{})",
                if d.code.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", d.code)
                },
                d.message
            );
        }
    }
    for (key, label) in [
        ("possibleCauses", "possible causes"),
        ("recommendedAction", "recommended action"),
    ] {
        if let Some(t) = get_ci(inner, key).and_then(as_text) {
            message = if message.is_empty() {
                format!("{label}: {t}")
            } else {
                format!("{message}; {label}: {t}")
            };
        }
    }
    ErrorBody { code, message }
}

/// Reads an error body from raw bytes; tolerant of empty and non-JSON bodies.
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => parse_error_value(&v),
        Err(_) => {
            let text = String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(300)
                .collect::<String>();
            ErrorBody {
                code: String::new(),
                message: text,
            }
        }
    }
}

/// Reads `retry-after-ms`, `x-ms-retry-after-ms` or `retry-after` (seconds, or an HTTP date relative to `now`).
pub fn retry_after(headers: &Headers, now: time::OffsetDateTime) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(v) = headers.get_optional_str(&HeaderName::from_static(name))
            && let Ok(ms) = v.trim().parse::<u64>()
        {
            return Some(Duration::from_millis(ms));
        }
    }
    let v = headers
        .get_optional_str(&HeaderName::from_static("retry-after"))?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// Builds the context of an error response.
pub fn context(
    method: &str,
    path: &str,
    status: Option<u16>,
    headers: Option<&Headers>,
    body: &ErrorBody,
) -> ErrorContext {
    ErrorContext {
        method: method.to_string(),
        path: path.to_string(),
        status,
        code: body.code.clone(),
        message: body.message.clone(),
        correlation_id: headers.and_then(|h| h.get_optional_string(&CORRELATION)),
    }
}

/// Which scope a 429 charged, from its error code: RP quota, resource contention, or (default) ARM's subscription
/// bucket for the request's kind.
pub fn throttle_scope(
    code: &str,
    subscription: &str,
    namespace: &str,
    path: &str,
    kind: OpKind,
) -> ThrottleScope {
    if code.eq_ignore_ascii_case("ResourceRequestsThrottled") && !namespace.is_empty() {
        ThrottleScope::ResourceProvider {
            subscription: subscription.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
        }
    } else if code.eq_ignore_ascii_case("RetryableErrorDueToAnotherOperation")
        || code.eq_ignore_ascii_case("AnotherOperationInProgress")
    {
        ThrottleScope::Resource {
            path: path.to_ascii_lowercase(),
        }
    } else {
        ThrottleScope::Subscription {
            subscription: subscription.to_ascii_lowercase(),
            kind,
        }
    }
}

/// Maps a final (non-retried) error response to a typed error.
pub fn map_status(
    status: u16,
    ctx: ErrorContext,
    scope: Option<ThrottleScope>,
    retry_after: Option<Duration>,
) -> ProviderError {
    let ctx = Box::new(ctx);
    match status {
        404 => ProviderError::NotFound { ctx },
        409 | 412 => ProviderError::Conflict { ctx },
        401 => ProviderError::Unauthorized { ctx },
        403 => ProviderError::Forbidden { ctx },
        429 => ProviderError::Throttled {
            scope: scope.unwrap_or(ThrottleScope::Resource {
                path: ctx.path.to_ascii_lowercase(),
            }),
            retry_after: retry_after.unwrap_or_default(),
            ctx,
        },
        408 | 500..=599 => ProviderError::Transient { ctx },
        _ => ProviderError::Validation { ctx },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_and_asr_envelopes_are_both_read() {
        let arm =
            br#"{"error":{"code":"ResourceNotFound","message":"The Resource was not found."}}"#;
        assert_eq!(parse_error_body(arm).code, "ResourceNotFound");
        let asr = br#"{"Error":{"Code":150261,"Message":"Policy creation failed.","PossibleCauses":"Bad retention.","RecommendedAction":"Fix it."}}"#;
        let e = parse_error_body(asr);
        assert_eq!(e.code, "150261");
        assert!(e.message.starts_with("Policy creation failed."));
        assert!(e.message.contains("possible causes: Bad retention."));
        assert!(e.message.contains("recommended action: Fix it."));
        let bare = br#"{"code":"BadRequest","message":"","details":[{"code":"150039","message":"Disk not found"}]}"#;
        let e = parse_error_body(bare);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("BadRequest", "Disk not found")
        );
        let html = b"<html>Bad gateway</html>";
        assert_eq!(parse_error_body(html).message, "<html>Bad gateway</html>");
        assert_eq!(parse_error_body(b""), ErrorBody::default());
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        let mut h = Headers::new();
        h.insert("retry-after", "7");
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250");
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
        let mut h = Headers::new();
        h.insert("retry-after", "Thu, 01 Jan 2026 00:00:30 +0000");
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&Headers::new(), now), None);
    }

    #[test]
    fn throttle_codes_pick_the_right_scope() {
        let s = throttle_scope(
            "SubscriptionRequestsThrottled",
            "S",
            "Microsoft.Network",
            "/p",
            OpKind::Read,
        );
        assert_eq!(
            s,
            ThrottleScope::Subscription {
                subscription: "s".into(),
                kind: OpKind::Read
            }
        );
        let s = throttle_scope(
            "ResourceRequestsThrottled",
            "S",
            "Microsoft.Network",
            "/p",
            OpKind::Write,
        );
        assert_eq!(
            s,
            ThrottleScope::ResourceProvider {
                subscription: "s".into(),
                namespace: "microsoft.network".into()
            }
        );
        let s = throttle_scope(
            "RetryableErrorDueToAnotherOperation",
            "S",
            "Microsoft.Network",
            "/P",
            OpKind::Write,
        );
        assert_eq!(s, ThrottleScope::Resource { path: "/p".into() });
    }

    #[test]
    fn statuses_map_to_typed_errors_with_hints() {
        let ctx = ErrorContext {
            method: "GET".into(),
            path: "/x".into(),
            status: Some(401),
            ..Default::default()
        };
        let e = map_status(401, ctx.clone(), None, None);
        assert!(matches!(e, ProviderError::Unauthorized { .. }));
        let help = miette::Diagnostic::help(&e)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(help.contains("az login"), "{help}");
        assert!(map_status(404, ctx.clone(), None, None).is_not_found());
        assert!(matches!(
            map_status(412, ctx.clone(), None, None),
            ProviderError::Conflict { .. }
        ));
        assert!(map_status(503, ctx.clone(), None, None).is_transient());
        assert!(matches!(
            map_status(400, ctx, None, None),
            ProviderError::Validation { .. }
        ));
    }
}
