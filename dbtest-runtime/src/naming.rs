//! Every name dbtest generates (templates, test databases, locks) and the one way identifiers
//! and literals are put into SQL.
//!
//! Names follow one pattern, `dbtest_<kind>_<hex>[_<label>]`, at most 64 characters (MySQL's
//! limit for databases and for `GET_LOCK` names), so they can be told apart from anything dbtest
//! did not create.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every dbtest name starts with this.
pub const PREFIX: &str = "dbtest_";
/// Longest database or lock name MySQL and MariaDB accept.
pub const MAX_NAME: usize = 64;

/// The name of a database dbtest makes, a template (`dbtest_tpl_…`) or a test database
/// (`dbtest_db_…`), checked against the pattern ([`is_generated`]) once, where it is made or
/// read, so that it goes into any statement as it is: its `Display` is the quoted identifier,
/// [`DbName::literal`] the string literal, [`DbName::as_str`] the bare name (for messages and
/// bound parameters). The pattern allows only `[a-z0-9_]`: neither needs escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DbName(String);

impl DbName {
    /// `name`, if it is one dbtest makes.
    pub fn parse(name: &str) -> Option<DbName> {
        is_generated(name).then(|| DbName(name.to_owned()))
    }

    /// The bare name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a SQL string literal.
    pub fn literal(&self) -> String {
        format!("'{}'", self.0)
    }

    /// The hex digest in the name: a template's 16 digits, or the 8 of a test database's
    /// template.
    fn digest(&self) -> &str {
        self.0[PREFIX.len()..].split('_').nth(1).unwrap_or_default()
    }
}

impl std::fmt::Display for DbName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

/// The template database of a migration set, from a hex digest of the set (and of the account
/// that uses it: see `template::account_key`).
pub fn template_name(key_hex: &str) -> DbName {
    DbName(format!("{PREFIX}tpl_{}", &key_hex[..16]))
}

/// A new, unique test database name for the test at `test_path` cloned from `template`.
///
/// The name carries the template's digest (so a sweep can tell which set it belongs to), a
/// random part that is unique across processes and machines, and as much of the test's own name
/// as fits, to make a kept database easy to recognise.
pub fn test_db_name(template: &DbName, test_path: &str) -> DbName {
    let digest = template.digest();
    let mut name = format!(
        "{PREFIX}db_{}_{:012x}",
        &digest[..8.min(digest.len())],
        unique()
    );
    let label: String = test_path
        .rsplit("::")
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let room = MAX_NAME - name.len() - 1;
    if !label.is_empty() {
        name.push('_');
        name.push_str(&label[..label.len().min(room)]);
    }
    debug_assert!(is_generated(&name), "{name}");
    DbName(name)
}

/// Whether `name` is a test database name of template `template` (as [`test_db_name`] makes
/// them).
pub fn is_test_db_of(name: &DbName, template: &DbName) -> bool {
    let digest = template.digest();
    template.0.starts_with(&format!("{PREFIX}tpl_"))
        && name
            .0
            .starts_with(&format!("{PREFIX}db_{}_", &digest[..8.min(digest.len())]))
}

/// The advisory lock of connection slot `i`.
pub fn slot_lock(i: u32) -> String {
    format!("{PREFIX}slot_{i}")
}

/// `bytes` as lower-case hex digits (digests, keys, passwords).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bits (not for secrets).
pub fn random_u32() -> u32 {
    unique() as u32
}

/// 48 random bits: seeded from the process's random hasher keys, the pid, the clock and a counter.
fn unique() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish() & 0xffff_ffff_ffff
}

/// True for names of the shape dbtest generates (and only those).
pub fn is_generated(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let mut parts = rest.splitn(4, '_');
    name.len() <= MAX_NAME
        && match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("tpl"), Some(d), None, None) => hex(d, 16),
            (Some("db"), Some(d), Some(u), label) => {
                hex(d, 8)
                    && hex(u, 12)
                    && label.is_none_or(|l| {
                        !l.is_empty()
                            && l.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    })
            }
            _ => false,
        }
}

/// `name` as a quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `value` as a SQL string literal. Only for short settings (sql_mode, character sets, time
/// zones, generated names): anything else is refused, so the literal reads the same whatever the
/// session's `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES` mode.
pub fn literal(value: &str) -> Option<String> {
    value.bytes().all(plain).then(|| format!("'{value}'"))
}

/// The first `max` characters of `value` as a SQL string literal, each character [`literal`]
/// refuses replaced by `_` (for what is only informative: a test path, a host name).
pub fn literal_lossy(value: &str, max: usize) -> String {
    let plain: String = value
        .chars()
        .map(|c| {
            if c.is_ascii() && plain(c as u8) {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect();
    format!("'{plain}'")
}

/// A byte a literal may hold as it is, whatever the session's SQL mode.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_,+-:./ ".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_test_database_belongs_to_its_template_only() {
        let template = template_name(KEY);
        let other = template_name(&"f".repeat(64));
        let db = test_db_name(&template, "");
        assert!(is_test_db_of(&db, &template));
        assert!(!is_test_db_of(&db, &other));
        assert!(!is_test_db_of(&template, &template));
        // Another template's test database with this one's digest cut short: not its.
        let near = DbName::parse("dbtest_db_01234566_0123456789ab").unwrap();
        assert!(!is_test_db_of(&near, &template));
        for forged in [
            "shop",
            "dbtest_registry",
            "dbtest_db_01234567",
            "dbtest_db_01234567_x",
        ] {
            assert_eq!(DbName::parse(forged), None, "{forged}");
        }
    }

    #[test]
    fn a_name_shows_as_an_identifier_and_gives_its_literal() {
        let t = template_name(KEY);
        assert_eq!(t.to_string(), "`dbtest_tpl_0123456789abcdef`");
        assert_eq!(t.literal(), "'dbtest_tpl_0123456789abcdef'");
        assert_eq!(DbName::parse(t.as_str()), Some(t));
    }

    #[test]
    fn template_names_are_short_and_recognised() {
        let t = template_name(KEY);
        assert_eq!(t.as_str(), "dbtest_tpl_0123456789abcdef");
        assert!(is_generated(t.as_str()));
    }

    #[test]
    fn test_names_fit_and_are_unique() {
        let t = template_name(KEY);
        let long = "crate::module::a_test_with_a_really_long_descriptive_name_that_goes_on_and_on";
        let a = test_db_name(&t, long);
        let b = test_db_name(&t, long);
        assert_ne!(a, b);
        let (a, b) = (a.as_str(), b.as_str());
        assert_eq!(a.len(), MAX_NAME, "{a}");
        assert!(a.starts_with("dbtest_db_01234567_"), "{a}");
        assert!(is_generated(a) && is_generated(b));
        let short = test_db_name(&t, "x::Mixed-Case");
        assert!(short.as_str().ends_with("_mixed_case"), "{short}");
        assert!(is_generated(short.as_str()));
    }

    #[test]
    fn look_alikes_are_not_ours() {
        for name in [
            "dbtest",
            "dbtest_tpl_0123",
            "dbtest_tpl_0123456789ABCDEF",
            "dbtest_tpl_0123456789abcdef_x",
            "dbtest_db_01234567_0123456789ab_Bad",
            "dbtest_db_0123456_0123456789ab",
            "dbtest_herd_probe",
            "mydbtest_tpl_0123456789abcdef",
            "_sqlx_test_1",
        ] {
            assert!(!is_generated(name), "{name}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(
            literal("STRICT_TRANS_TABLES,NO_ZERO_DATE").unwrap(),
            "'STRICT_TRANS_TABLES,NO_ZERO_DATE'"
        );
        assert_eq!(literal("+00:00").unwrap(), "'+00:00'");
        assert!(literal("x'; DROP").is_none());
        assert!(literal("a\\b").is_none());
        assert_eq!(literal_lossy("crate::a'b\\c é", 9), "'crate::a_'");
        assert_eq!(literal_lossy("x'; DROP", 64), "'x__ DROP'");
    }
}
