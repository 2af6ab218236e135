//! Email addresses.

use super::text::fold_basic;

const INVALID: &str = "invalid_email";

/// How a mailbox provider treats the local part, i.e. which spellings reach the same inbox.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Nothing is known: the local part is kept as written (after case folding).
    Verbatim,
    /// `user+anything` delivers to `user`.
    PlusTag,
    /// Gmail: dots are ignored and `+tag` is dropped.
    Gmail,
    /// Yahoo disposable addresses: `base-keyword` delivers to `base`'s account.
    DashTag,
}

/// Whether `rest` looks like a public suffix such as `com`, `co.uk`, `com.br` or `fr`, so that
/// `hotmail.co.uk` is recognised but `live.example.org` (someone's own domain) is not.
fn is_tld_like(rest: &str) -> bool {
    let mut labels = 0;
    for label in rest.split('.') {
        labels += 1;
        if label.is_empty() || label.len() > 3 || labels > 2 {
            return false;
        }
    }
    true
}

/// The canonical domain and the local-part rule for a (lower-case) domain.
///
/// Domains are only merged where the provider documents one shared account namespace:
/// googlemail.com is gmail.com; every Apple ID's `@icloud.com`, `@me.com` and `@mac.com` names
/// are the same account; Proton gives every account `@proton.me`, `@protonmail.com`,
/// `@protonmail.ch` and `@pm.me`. Hotmail and Outlook are *separate* namespaces, so they are not
/// merged.
fn provider(domain: &str) -> (&str, Rule) {
    match domain {
        "gmail.com" | "googlemail.com" => ("gmail.com", Rule::Gmail),
        "icloud.com" | "me.com" | "mac.com" => ("icloud.com", Rule::PlusTag),
        "proton.me" | "protonmail.com" | "protonmail.ch" | "pm.me" => ("proton.me", Rule::PlusTag),
        "ymail.com" | "rocketmail.com" => (domain, Rule::DashTag),
        "msn.com" | "passport.com" => (domain, Rule::PlusTag),
        _ => {
            let (first, rest) = domain.split_once('.').unwrap_or((domain, ""));
            match first {
                "outlook" | "hotmail" | "live" | "windowslive" if is_tld_like(rest) => {
                    (domain, Rule::PlusTag)
                }
                "yahoo" if is_tld_like(rest) => (domain, Rule::DashTag),
                _ => (domain, Rule::Verbatim),
            }
        }
    }
}

/// Normalises an email address into the key under which the same inbox always appears.
///
/// Steps: NFKC, invisible characters removed, trimmed, lower-cased (local parts are
/// case-insensitive at every provider that matters); an optional `mailto:` prefix and
/// surrounding `<…>` are removed; a trailing dot of the domain is dropped. Provider rules then
/// undo the spellings that reach the same inbox: Gmail/Googlemail drop dots and `+tag`
/// (googlemail.com becomes gmail.com), Outlook/Hotmail/Live/MSN, iCloud/me/mac (all become
/// icloud.com) and Proton (all become proton.me) drop `+tag`, Yahoo drops a `-keyword`
/// disposable suffix.
///
/// # Errors
/// `"invalid_email"` unless there is exactly one `@`, a non-empty local part (also after the
/// provider rules), and a domain of at least two non-empty dot-separated labels, with no
/// whitespace or address punctuation in the domain.
///
/// The result is idempotent: `email(&email(x)?) == email(x)`.
pub fn email(raw: &str) -> Result<String, &'static str> {
    let mut folded = String::with_capacity(raw.len());
    fold_basic(raw, true, &mut folded);
    let mut s = folded.as_str();
    s = s.strip_prefix("mailto:").unwrap_or(s);
    if let Some(inner) = s.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        s = inner;
    }
    if s.contains(' ') {
        return Err(INVALID);
    }
    let (local, domain) = s.split_once('@').ok_or(INVALID)?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if local.is_empty()
        || !domain.contains('.')
        || domain.split('.').any(str::is_empty)
        || domain.bytes().any(|b| {
            matches!(
                b,
                b'@' | b',' | b';' | b':' | b'<' | b'>' | b'(' | b')' | b'[' | b']' | b'\\' | b'"'
            )
        })
    {
        return Err(INVALID);
    }
    let (domain, rule) = provider(domain);
    let mut out = String::with_capacity(local.len() + 1 + domain.len());
    match rule {
        Rule::Verbatim => out.push_str(local),
        Rule::PlusTag => out.push_str(before(local, '+')),
        Rule::DashTag => out.push_str(before(local, '-')),
        Rule::Gmail => out.extend(before(local, '+').chars().filter(|&c| c != '.')),
    }
    if out.is_empty() {
        return Err(INVALID);
    }
    out.push('@');
    out.push_str(domain);
    Ok(out)
}

fn before(s: &str, sep: char) -> &str {
    s.split_once(sep).map_or(s, |(head, _)| head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_rules() {
        let same = [
            "John.Doe@gmail.com",
            "johndoe+shop@gmail.com",
            " J.O.H.N.D.O.E@GoogleMail.com ",
            "mailto:johndoe@gmail.com",
            "<johndoe@gmail.com>",
            "johndoe@gmail.com.",
            "ｊｏｈｎｄｏｅ＠ｇｍａｉｌ．ｃｏｍ",
            "john\u{200B}doe@gmail.com",
        ];
        for s in same {
            assert_eq!(email(s), Ok("johndoe@gmail.com".to_owned()), "{s}");
        }
        assert_eq!(email("a.b+x@outlook.com").as_deref(), Ok("a.b@outlook.com"));
        assert_eq!(
            email("a.b+x@hotmail.co.uk").as_deref(),
            Ok("a.b@hotmail.co.uk")
        );
        assert_eq!(
            email("a+x@live.example.org").as_deref(),
            Ok("a+x@live.example.org")
        );
        assert_eq!(
            email("jane-ebay@yahoo.com").as_deref(),
            Ok("jane@yahoo.com")
        );
        assert_eq!(
            email("jane-x@yahoo.co.uk").as_deref(),
            Ok("jane@yahoo.co.uk")
        );
        assert_eq!(
            email("jane-x@example.com").as_deref(),
            Ok("jane-x@example.com")
        );
        assert_eq!(email("a+b@me.com").as_deref(), Ok("a@icloud.com"));
        assert_eq!(email("a@mac.com").as_deref(), Ok("a@icloud.com"));
        assert_eq!(email("a+b@protonmail.com").as_deref(), Ok("a@proton.me"));
        assert_eq!(email("a@pm.me").as_deref(), Ok("a@proton.me"));
        // Hotmail and Outlook are different namespaces.
        assert_ne!(email("a@hotmail.com"), email("a@outlook.com"));
        // Dots matter outside Gmail.
        assert_ne!(email("a.b@example.com"), email("ab@example.com"));
    }

    #[test]
    fn unicode_is_kept_but_normalised() {
        assert_eq!(
            email("JOSÉ@exämple.com"),
            email("jose\u{301}@exa\u{308}mple.com")
        );
        assert_ne!(email("josé@example.com"), email("jose@example.com"));
        assert_eq!(email("مرحبا@مثال.كوم").as_deref(), Ok("مرحبا@مثال.كوم"));
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@b..com",
            "a@.b.com",
            "a@b.com..",
            "+tag@gmail.com",
            "...@gmail.com",
            "-x@yahoo.com",
            "a@b.com'; DROP TABLE users;--",
            "a@(b).com",
            "😀@😀",
        ] {
            assert_eq!(email(s), Err(INVALID), "{s:?}");
        }
    }

    #[test]
    fn hostile_but_valid_shapes_do_not_panic() {
        let long = format!("{}@example.com", "a".repeat(10_000));
        assert!(email(&long).is_ok());
        assert_eq!(
            email("a\u{0}b@example.com").as_deref(),
            Ok("ab@example.com")
        );
        assert_eq!(
            email("o'brien@example.com").as_deref(),
            Ok("o'brien@example.com")
        );
        assert_eq!(email("😀@example.com").as_deref(), Ok("😀@example.com"));
    }
}
