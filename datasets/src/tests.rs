//! Tests of the whole generator: files, determinism, truth and population content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;

struct Data {
    summary: Summary,
    accounts: Vec<csv::StringRecord>,
    inquiries: Vec<csv::StringRecord>,
    truth: Vec<csv::StringRecord>,
    headers: [Vec<String>; 3],
    progress: Vec<u64>,
}

fn read(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut r = csv::ReaderBuilder::new().from_path(path).expect("open csv");
    let headers = r
        .headers()
        .expect("headers")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = r
        .records()
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("valid csv");
    (headers, rows)
}

fn generate(cfg: &Config) -> Data {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("nested/out");
    let mut progress = Vec::new();
    let summary = generate_to_dir(cfg, &out, &mut |n| progress.push(n)).expect("generate");
    let (ha, accounts) = read(&out.join("accounts.csv"));
    let (hi, inquiries) = read(&out.join("inquiries.csv"));
    let (ht, truth) = read(&out.join("truth.csv"));
    Data {
        summary,
        accounts,
        inquiries,
        truth,
        headers: [ha, hi, ht],
        progress,
    }
}

fn col(headers: &[&str], name: &str) -> usize {
    headers.iter().position(|h| *h == name).expect("column")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = Config::new(3_000, 7);
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let c = tempfile::tempdir().expect("tempdir");
    generate_to_dir(&cfg, a.path(), &mut |_| {}).expect("a");
    generate_to_dir(&cfg, b.path(), &mut |_| {}).expect("b");
    generate_to_dir(&Config::new(3_000, 8), c.path(), &mut |_| {}).expect("c");
    for f in ["accounts.csv", "inquiries.csv", "truth.csv"] {
        let x = std::fs::read(a.path().join(f)).expect("read");
        let y = std::fs::read(b.path().join(f)).expect("read");
        let z = std::fs::read(c.path().join(f)).expect("read");
        assert!(x.len() > 1_000, "{f} is suspiciously small");
        assert!(x == y, "{f} differs between two runs with the same seed");
        assert!(x != z, "{f} is the same for different seeds");
    }
}

#[test]
fn headers_truth_and_csv_roundtrip() {
    let d = generate(&Config::new(5_000, 1));
    assert_eq!(d.headers[0], ACCOUNT_COLUMNS);
    assert_eq!(d.headers[1], INQUIRY_COLUMNS);
    assert_eq!(d.headers[2], TRUTH_COLUMNS);
    // The csv reader is strict about field counts: every row parsed, with the header's width.
    assert!(d.accounts.iter().all(|r| r.len() == ACCOUNT_COLUMNS.len()));
    assert!(d.inquiries.iter().all(|r| r.len() == INQUIRY_COLUMNS.len()));
    assert!(d.truth.iter().all(|r| r.len() == TRUTH_COLUMNS.len()));
    // Values that need quoting are present and survive the round trip.
    let ua = col(&INQUIRY_COLUMNS, "user_agent");
    assert!(
        d.inquiries
            .iter()
            .any(|r| r[ua].contains("KHTML, like Gecko"))
    );
    let last = col(&ACCOUNT_COLUMNS, "name_last");
    assert!(d.accounts.iter().any(|r| r[last].contains('\'')));

    assert_eq!(d.summary.accounts, 5_000);
    assert_eq!(d.accounts.len(), 5_000);
    assert_eq!(d.truth.len(), 5_000);
    assert_eq!(d.inquiries.len() as u64, d.summary.inquiries);
    let mut seen = BTreeSet::new();
    for (i, (a, t)) in d.accounts.iter().zip(&d.truth).enumerate() {
        assert_eq!(&a[0], &t[0], "truth row {i} is not for account row {i}");
        assert_eq!(a[0].len(), "acct_0000000001".len());
        assert!(
            seen.insert(a[0].to_owned()),
            "duplicate account id {}",
            &a[0]
        );
        assert!(t[1].starts_with("person_"));
        assert!(t[2].is_empty() || t[2].starts_with("ring_"));
    }
    let persons: BTreeSet<&str> = d.truth.iter().map(|t| t.get(1).unwrap_or("")).collect();
    assert_eq!(persons.len() as u64, d.summary.persons);
    assert_eq!(d.progress.last(), Some(&5_000));
}

#[test]
fn inquiries_follow_their_account() {
    let d = generate(&Config::new(5_000, 3));
    let created: BTreeMap<&str, &str> = d.accounts.iter().map(|a| (&a[0], &a[2])).collect();
    let statuses = [
        "completed",
        "approved",
        "declined",
        "needs_review",
        "failed",
        "expired",
    ];
    for q in &d.inquiries {
        let acct = created.get(&q[1]).expect("inquiry of an unknown account");
        // RFC 3339 UTC with a fixed width compares as text.
        assert!(q[2] > **acct, "inquiry {} before its account", &q[0]);
        assert!(q[2].ends_with('Z') && q[2].len() == 20);
        assert!(statuses.contains(&&q[3]), "status {}", &q[3]);
    }
    let mean = d.inquiries.len() as f64 / d.accounts.len() as f64;
    assert!(
        (1.0..1.4).contains(&mean),
        "mean inquiries per account {mean}"
    );
    for a in &d.accounts {
        assert!(
            a[2].as_bytes() >= b"2024-01-01T00:00:00Z" && a[2].as_bytes() < b"2026-01-01T00:00:00Z"
        );
    }
}

#[test]
fn rings_and_benign_lookalikes_at_20k() {
    let cfg = Config::new(20_000, 11);
    let d = generate(&cfg);
    let s = &d.summary;

    // Rings: sizes within bounds, every pattern present, truth agrees with the summary.
    for p in Pattern::ALL {
        assert!(
            s.rings_by_pattern[p.as_str()] >= 1,
            "no {} ring: {s:?}",
            p.as_str()
        );
    }
    let mut rings: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, t) in d.truth.iter().enumerate() {
        if !t[2].is_empty() {
            rings.entry(t.get(2).unwrap_or("")).or_default().push(i);
        }
    }
    assert_eq!(rings.len() as u64, s.rings);
    assert_eq!(
        rings.values().map(Vec::len).sum::<usize>() as u64,
        s.ring_accounts
    );
    let ring_share = s.ring_accounts as f64 / s.accounts as f64;
    assert!(
        (0.008..=0.012).contains(&ring_share),
        "ring share {ring_share}"
    );
    let created = col(&ACCOUNT_COLUMNS, "created_at");
    for (id, members) in &rings {
        let n = members.len();
        assert!(
            (cfg.ring_size_min..=cfg.ring_size_max).contains(&n),
            "{id} has {n} members"
        );
        // Burst: all members within four days.
        let times: Vec<&str> = members
            .iter()
            .map(|&i| d.accounts[i].get(created).unwrap_or(""))
            .collect();
        let (lo, hi) = (
            times.iter().min().expect("min"),
            times.iter().max().expect("max"),
        );
        let secs = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("rfc3339")
                .timestamp()
        };
        assert!(secs(hi) - secs(lo) <= 4 * 86_400, "{id} spans {lo}..{hi}");
    }
    assert_eq!(
        s.largest_ring,
        rings.values().map(Vec::len).max().unwrap_or(0) as u64
    );
    assert!(s.largest_ring <= 50);

    // A person is either entirely inside one ring or entirely outside rings: stolen-identity
    // victims have no legitimate account, synthetic identities are never reused elsewhere.
    let mut person_rings: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in &d.truth {
        person_rings
            .entry(t.get(1).unwrap_or(""))
            .or_default()
            .insert(t.get(2).unwrap_or(""));
    }
    for (person, rs) in &person_rings {
        assert_eq!(rs.len(), 1, "{person} spans {rs:?}");
    }
    // Stolen identity: some ring has several accounts under one person.
    let mut per_person: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &d.truth {
        *per_person.entry(t.get(1).unwrap_or("")).or_default() += 1;
    }
    assert!(
        d.truth
            .iter()
            .any(|t| !t[2].is_empty() && per_person[&t[1]] >= 3)
    );
    // Benign duplicates: persons with two accounts outside rings.
    let dup = d
        .truth
        .iter()
        .filter(|t| t[2].is_empty() && per_person[&t[1]] == 2)
        .count();
    assert_eq!(dup as u64, 2 * s.duplicate_persons);
    assert!(s.duplicate_persons >= 100, "{s:?}");

    // Labels.
    let label = col(&ACCOUNT_COLUMNS, "label");
    for (a, t) in d.accounts.iter().zip(&d.truth) {
        match &a[label] {
            "fraud" => assert!(!t[2].is_empty(), "fraud label outside a ring"),
            "legit" => assert!(t[2].is_empty(), "legit label inside a ring"),
            "" => {}
            other => panic!("label {other}"),
        }
    }
    assert!(s.fraud_labels >= 1 && s.legit_labels >= 200, "{s:?}");

    // Benign hubs.
    assert!(
        s.households >= 200 && s.household_accounts >= 2 * s.households,
        "{s:?}"
    );
    assert!(s.dorms >= 1 && s.dorm_accounts >= 30, "{s:?}");
    assert!(s.public_ips >= 4 && s.public_ip_accounts >= 400, "{s:?}");
    assert!(s.placeholder_accounts >= 1, "{s:?}");
    let ip = col(&ACCOUNT_COLUMNS, "ip_address");
    let mut by_ip: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in d.accounts.iter().enumerate() {
        if !a[ip].is_empty() {
            by_ip.entry(a.get(ip).unwrap_or("")).or_default().push(i);
        }
    }
    let big: Vec<_> = by_ip.values().filter(|v| v.len() >= 30).collect();
    assert!(
        big.len() >= 5,
        "expected public and dorm IPs, got {} big IPs",
        big.len()
    );
    for members in big {
        assert!(
            members.iter().all(|&i| d.truth[i][2].is_empty()),
            "a ring on a hub IP"
        );
    }
    let email = col(&ACCOUNT_COLUMNS, "email");
    let phone = col(&ACCOUNT_COLUMNS, "phone");
    let gov = col(&ACCOUNT_COLUMNS, "gov_id_number");
    let placeholders = d
        .accounts
        .iter()
        .filter(|a| {
            [
                "test@test.com",
                "none@none.com",
                "N/A",
                "0000000000",
                "1234567890",
                "123456789",
                "000000000",
            ]
            .iter()
            .any(|v| a[email] == **v || a[phone] == **v || a[gov] == **v)
        })
        .count();
    assert_eq!(placeholders as u64, s.placeholder_accounts);
    // Households: one street address shared by people with mostly one last name.
    let street = col(&ACCOUNT_COLUMNS, "address_street");
    let postal = col(&ACCOUNT_COLUMNS, "address_postal_code");
    let mut by_addr: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for a in &d.accounts {
        if !a[street].is_empty() {
            *by_addr
                .entry((a[street].to_lowercase(), a.get(postal).unwrap_or("")))
                .or_default() += 1;
        }
    }
    assert!(by_addr.values().filter(|&&n| n >= 2).count() >= 100);
}

#[test]
fn honest_people_never_share_strong_identifiers() {
    let d = generate(&Config::new(20_000, 5));
    // Canonical form of an email and a phone, enough for this check.
    let email_key = |s: &str| {
        let s = s.trim().to_lowercase();
        let (local, domain) = s.split_once('@').unwrap_or((&s, ""));
        let local = local.split('+').next().unwrap_or("");
        let local = if domain == "gmail.com" {
            local.replace('.', "")
        } else {
            local.to_owned()
        };
        format!("{local}@{domain}")
    };
    let placeholder = |s: &str| {
        [
            "test@test.com",
            "none@none.com",
            "n/a",
            "N/A",
            "0000000000",
            "1234567890",
            "123456789",
            "000000000",
        ]
        .contains(&s)
    };
    let columns = [
        "email",
        "gov_id_number",
        "card_fingerprint",
        "bank_account",
        "device_id",
    ];
    for name in columns {
        let c = col(&ACCOUNT_COLUMNS, name);
        let mut owners: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (a, t) in d.accounts.iter().zip(&d.truth) {
            let v = &a[c];
            if v.is_empty() || placeholder(v) || !t[2].is_empty() {
                continue;
            }
            let key = match name {
                "email" => email_key(v),
                "gov_id_number" | "bank_account" => v
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_uppercase(),
                "device_id" => v.to_lowercase(),
                _ => v.to_owned(),
            };
            owners
                .entry(key)
                .or_default()
                .insert(t.get(1).unwrap_or(""));
        }
        let shared: Vec<_> = owners.iter().filter(|(_, o)| o.len() > 1).collect();
        // Households may share a family device; nothing else is shared between honest people.
        let allowed = if name == "device_id" { 200 } else { 0 };
        assert!(
            shared.len() <= allowed,
            "{name}: {} values shared, e.g. {:?}",
            shared.len(),
            shared.first()
        );
    }
}

#[test]
fn phones_are_valid_under_libphonenumber() {
    let d = generate(&Config::new(5_000, 9));
    let phone = col(&ACCOUNT_COLUMNS, "phone");
    let country = col(&ACCOUNT_COLUMNS, "address_country");
    let mut checked = 0;
    let mut bad = Vec::new();
    let rows = d
        .accounts
        .iter()
        .map(|a| (&a[phone], &a[country]))
        .chain(d.inquiries.iter().map(|q| {
            (
                &q[col(&INQUIRY_COLUMNS, "phone")],
                &q[col(&INQUIRY_COLUMNS, "address_country")],
            )
        }));
    for (p, c) in rows {
        if p.is_empty() || ["0000000000", "1234567890", "N/A"].contains(&p) {
            continue;
        }
        let region = match c.to_uppercase().as_str() {
            "" => "US".to_owned(),
            "USA" => "US".to_owned(),
            "GBR" => "GB".to_owned(),
            "DEU" => "DE".to_owned(),
            "FRA" => "FR".to_owned(),
            "CAN" => "CA".to_owned(),
            other => other.to_owned(),
        };
        let id: phonenumber::country::Id = region.parse().expect("region");
        checked += 1;
        // phonenumber 0.3 applies the default region's national-prefix rule even to numbers
        // with a `+` country code (so `+49 17…` with region US loses its leading 1): only give
        // a region to numbers written without one.
        let given = if p.trim_start().starts_with('+') {
            None
        } else {
            Some(id)
        };
        match phonenumber::parse(given, p) {
            Ok(n) if phonenumber::is_valid(&n) => {}
            _ => bad.push(format!("{p} ({region})")),
        }
    }
    assert!(checked > 4_000);
    assert!(
        bad.is_empty(),
        "{} of {checked} invalid, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
}

#[test]
fn small_and_empty_populations() {
    let d = generate(&Config::new(0, 1));
    assert_eq!(d.summary.accounts, 0);
    assert!(d.accounts.is_empty() && d.truth.is_empty() && d.inquiries.is_empty());
    let d = generate(&Config::new(37, 1));
    assert_eq!(d.accounts.len(), 37);
    assert_eq!(d.truth.len(), 37);
}

#[test]
fn rejects_bad_knobs() {
    let mut cfg = Config::new(10, 1);
    cfg.ring_size_max = 60;
    assert!(matches!(
        generate_to_dir(&cfg, Path::new("/nonexistent/never"), &mut |_| {}),
        Err(Error::InvalidConfig(_))
    ));
    let mut cfg = Config::new(10, 1);
    cfg.noise_rate = 1.5;
    assert!(matches!(cfg.validate(), Err(Error::InvalidConfig(m)) if m.contains("noise_rate")));
    assert!(Config::new(10, 1).validate().is_ok());
}
