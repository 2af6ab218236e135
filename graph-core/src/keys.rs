//! Keyed 64-bit property keys.
//!
//! A property key is xxh3-64 of `kind ‖ 0x1f ‖ normalised value`, computed with a 192-byte
//! secret derived from the deployment's key secret. Without the secret nobody can test a
//! guessed email or phone number against an exported key, so graph files can be shared
//! without plaintext PII.

use std::fmt;

use xxhash_rust::xxh3::{xxh3_64_with_secret, xxh3_128_with_seed};

const SECRET_LEN: usize = 192;
const SEPARATOR: u8 = 0x1f;

/// Computes property keys for one deployment secret.
#[derive(Clone)]
pub struct Keyer {
    secret: Box<[u8; SECRET_LEN]>,
}

impl fmt::Debug for Keyer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret never prints.
        f.write_str("Keyer { secret: [redacted] }")
    }
}

impl Keyer {
    /// Derives the hashing secret from the deployment's key secret (any length, at least
    /// 16 bytes recommended).
    pub fn new(deployment_secret: &[u8]) -> Self {
        let mut secret = Box::new([0u8; SECRET_LEN]);
        // Expand the user secret into 192 bytes: each 16-byte block is xxh3-128 of the secret
        // seeded with the block index. xxh3 wants high-entropy secret bytes, which a
        // passphrase is not; this spreads it.
        for (i, block) in secret.chunks_mut(16).enumerate() {
            let h = xxh3_128_with_seed(deployment_secret, 0x5249_4e47_4645_4e43 ^ i as u64);
            block.copy_from_slice(&h.to_le_bytes());
        }
        Keyer { secret }
    }

    /// The key of a property `(kind, normalised value)`.
    pub fn key(&self, kind: &str, value: &str) -> u64 {
        let len = kind.len() + 1 + value.len();
        if len <= 256 {
            let mut buf = [0u8; 256];
            buf[..kind.len()].copy_from_slice(kind.as_bytes());
            buf[kind.len()] = SEPARATOR;
            buf[kind.len() + 1..len].copy_from_slice(value.as_bytes());
            xxh3_64_with_secret(&buf[..len], &self.secret[..])
        } else {
            let mut buf = Vec::with_capacity(len);
            buf.extend_from_slice(kind.as_bytes());
            buf.push(SEPARATOR);
            buf.extend_from_slice(value.as_bytes());
            xxh3_64_with_secret(&buf, &self.secret[..])
        }
    }

    /// A public fingerprint of this keyer: the key of a fixed property, as 16 hex digits.
    /// Ingest records it in `attributes.parquet` beside the keys it computed, and the link
    /// uses those keys only when its own keyer gives the same fingerprint (otherwise it
    /// computes them again from the values). It tells no more about the secret than any
    /// exported key of a known value does.
    pub fn check(&self) -> String {
        key_hex(self.key("ringfence.key_check", "1"))
    }

    /// [`Keyer::key`], writing `kind ‖ separator ‖ value` into `scratch` (cleared first)
    /// rather than into a zero-filled stack buffer: a caller keying millions of values of
    /// mixed kinds reuses one buffer.
    pub fn key_in(&self, scratch: &mut Vec<u8>, kind: &str, value: &str) -> u64 {
        scratch.clear();
        scratch.extend_from_slice(kind.as_bytes());
        scratch.push(SEPARATOR);
        scratch.extend_from_slice(value.as_bytes());
        xxh3_64_with_secret(scratch, &self.secret[..])
    }

    /// A keyer for the values of one kind: [`KindKeyer::key`] gives what [`Keyer::key`]
    /// gives for that kind, writing the kind and separator once instead of on every call.
    pub(crate) fn for_kind(&self, kind: &str) -> KindKeyer<'_> {
        let mut buf = Vec::with_capacity(kind.len() + 1 + 64);
        buf.extend_from_slice(kind.as_bytes());
        buf.push(SEPARATOR);
        KindKeyer {
            secret: &self.secret[..],
            prefix: buf.len(),
            buf,
        }
    }

    /// A key made of two keys, for link rules that need two properties together
    /// (address with last name).
    pub fn combine(&self, kind: &str, a: u64, b: u64) -> u64 {
        let mut buf = [0u8; 64];
        let k = kind.len().min(40);
        buf[..k].copy_from_slice(&kind.as_bytes()[..k]);
        buf[k] = SEPARATOR;
        buf[k + 1..k + 9].copy_from_slice(&a.to_le_bytes());
        buf[k + 9..k + 17].copy_from_slice(&b.to_le_bytes());
        xxh3_64_with_secret(&buf[..k + 17], &self.secret[..])
    }
}

/// The keys of one kind's values (see [`Keyer::for_kind`]): a reader that keys millions of
/// values of a handful of kinds keeps one per kind.
pub(crate) struct KindKeyer<'a> {
    secret: &'a [u8],
    /// `kind ‖ separator`, then the last value keyed.
    buf: Vec<u8>,
    prefix: usize,
}

impl fmt::Debug for KindKeyer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KindKeyer { secret: [redacted] }")
    }
}

impl KindKeyer<'_> {
    /// The key of `(kind, value)`, equal to [`Keyer::key`]'s.
    pub(crate) fn key(&mut self, value: &[u8]) -> u64 {
        self.buf.truncate(self.prefix);
        self.buf.extend_from_slice(value);
        xxh3_64_with_secret(&self.buf, self.secret)
    }
}

/// Formats a key the way files and APIs show it: 16 lower-case hex digits.
pub fn key_hex(key: u64) -> String {
    format!("{key:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_tells_keyers_apart_without_showing_the_secret() {
        let a = Keyer::new(b"deployment-a-secret");
        assert_eq!(a.check(), Keyer::new(b"deployment-a-secret").check());
        assert_ne!(a.check(), Keyer::new(b"deployment-b-secret").check());
        assert_eq!(a.check().len(), 16);
        assert!(!a.check().contains("deployment"));
    }

    proptest::proptest! {
        #[test]
        fn key_in_gives_the_keys_key(kind in ".{0,12}", value in ".{0,300}") {
            let k = Keyer::new(b"key_in secret");
            let mut scratch = b"left over".to_vec();
            proptest::prop_assert_eq!(k.key_in(&mut scratch, &kind, &value), k.key(&kind, &value));
        }
    }

    #[test]
    fn keys_depend_on_kind_value_and_secret() {
        let a = Keyer::new(b"deployment-a-secret");
        let b = Keyer::new(b"deployment-b-secret");
        assert_eq!(a.key("email", "x@y.com"), a.key("email", "x@y.com"));
        assert_ne!(a.key("email", "x@y.com"), a.key("phone", "x@y.com"));
        assert_ne!(a.key("email", "x@y.com"), b.key("email", "x@y.com"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(a.key("ab", "c"), a.key("a", "bc"));
    }

    #[test]
    fn long_values_hash_like_short_ones_would() {
        let k = Keyer::new(b"s");
        let long = "é".repeat(500);
        assert_eq!(k.key("name", &long), k.key("name", &long));
        assert_ne!(k.key("name", &long), k.key("name", &long[..998]));
    }

    #[test]
    fn a_kind_keyer_gives_the_keyers_keys() {
        let k = Keyer::new(b"kind keyer secret");
        let long = "ü".repeat(300);
        for kind in ["email", "", "gov_id+name_last"] {
            let mut kk = k.for_kind(kind);
            // Short, empty, long (past the stack buffer of `key`), and short again after it.
            for v in ["x@y.com", "", long.as_str(), "a", "\u{1f}b"] {
                assert_eq!(kk.key(v.as_bytes()), k.key(kind, v), "{kind:?} {v:?}");
            }
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(
            format!("{:?}", Keyer::new(b"hunter2")),
            "Keyer { secret: [redacted] }"
        );
    }
}
