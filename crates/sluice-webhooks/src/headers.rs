//! Request headers as this crate sees them: a plain list of `(name, value)` pairs.
//!
//! The server hands us whatever its HTTP stack produced, so names may arrive in any case and a
//! name may repeat. Lookups here are ASCII case-insensitive, and [`canonical_name`] produces the
//! `Content-Type` / `Svix-Id` spelling that Inngest transforms expect.

/// The first value of the header `name`, compared ASCII case-insensitively.
pub(crate) fn get<'h, N, V>(headers: &'h [(N, V)], name: &str) -> Option<&'h str>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    headers
        .iter()
        .find(|(n, _)| n.as_ref().trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// Canonical MIME header spelling, as Go's `textproto.CanonicalMIMEHeaderKey` produces it
/// (Inngest is written in Go, so transforms written for it index headers this way):
/// the first letter and every letter after a `-` upper-cased, the rest lower-cased.
///
/// `x-github-event` becomes `X-Github-Event`, `svix-id` becomes `Svix-Id`.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.trim().chars() {
        if upper {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        let h = [("Svix-Id", "a"), ("svix-id", "b"), ("X-Other", "c")];
        assert_eq!(get(&h, "SVIX-ID"), Some("a"));
        assert_eq!(get(&h, "x-other"), Some("c"));
        assert_eq!(get(&h, "missing"), None);
    }

    #[test]
    fn canonical_case() {
        assert_eq!(canonical_name("content-type"), "Content-Type");
        assert_eq!(canonical_name("SVIX-ID"), "Svix-Id");
        assert_eq!(canonical_name("x-github-event"), "X-Github-Event");
        assert_eq!(canonical_name("x-hub-signature-256"), "X-Hub-Signature-256");
    }
}
