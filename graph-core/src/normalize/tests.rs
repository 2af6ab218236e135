//! Record-level tests and property tests across all normalisers.

use proptest::prelude::*;

use super::*;

fn opts() -> NormalizeOptions {
    NormalizeOptions::default()
}

fn attr<'a>(n: &'a Normalized, kind: &str) -> Vec<&'a str> {
    n.attributes
        .iter()
        .filter(|a| a.kind == kind)
        .map(|a| a.value.as_str())
        .collect()
}

fn codes(n: &Normalized) -> Vec<(Field, &'static str)> {
    n.issues.iter().map(|i| (i.field, i.code)).collect()
}

fn full_account() -> RawRecord<'static> {
    RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "  acct_1 ")
        .with(Field::ReferenceId, "CUST-0001")
        .with(Field::CreatedAt, "2024-03-01T12:00:00Z")
        .with(Field::NameFirst, "José")
        .with(Field::NameMiddle, "María")
        .with(Field::NameLast, "García-López")
        .with(Field::Birthdate, "04/12/1987")
        .with(Field::Email, "Jose.Garcia+shop@GoogleMail.com")
        .with(Field::Phone, "(415) 555-2671")
        .with(Field::AddressStreet, "123 North Main Street Apt 4")
        .with(Field::AddressCity, "Springfield")
        .with(Field::AddressSubdivision, "IL")
        .with(Field::AddressPostalCode, "62704-1234")
        .with(Field::AddressCountry, "United States")
        .with(Field::GovIdNumber, "123-45-6789")
        .with(Field::CardFingerprint, " Zx9+Qa== ")
        .with(Field::BankAccount, "de89 3704 0044 0532 0130 00")
        .with(Field::DeviceId, "550E8400-E29B-41D4-A716-446655440000")
        .with(Field::IpAddress, "::ffff:203.0.113.7")
        .with(Field::Label, "FRAUD")
}

#[test]
fn full_account_record() {
    let n = normalize_record(&full_account(), &opts()).expect("usable");
    assert_eq!(n.issues, vec![]);
    assert_eq!(n.entity.id, "acct_1");
    assert_eq!(n.entity.entity_type, EntityType::Account);
    assert_eq!(n.entity.account_id, None);
    assert_eq!(n.entity.created_at, Some(1_709_294_400_000));
    assert_eq!(n.entity.label, Some(Label::Fraud));
    let got: Vec<(&str, &str)> = n
        .attributes
        .iter()
        .map(|a| (&*a.kind, a.value.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("address", "123 n main st unit 4|62704"),
            ("bank_account", "DE89370400440532013000"),
            ("birthdate", "1987-04-12"),
            ("card_fingerprint", "Zx9+Qa=="),
            ("device_id", "550e8400-e29b-41d4-a716-446655440000"),
            ("email", "josegarcia@gmail.com"),
            ("gov_id", "US:123456789"),
            ("ip", "203.0.113.7"),
            ("name", "jose maria garcia lopez"),
            ("name_dob", "jose garcia lopez|1987-04-12"),
            ("name_last", "garcia lopez"),
            ("phone", "+14155552671"),
            ("reference_id", "cust-0001"),
        ]
    );
}

#[test]
fn ids() {
    let missing = RawRecord::new(EntityType::Account).with(Field::Email, "a@b.com");
    assert_eq!(
        normalize_record(&missing, &opts()).map_err(|r| r.code),
        Err("missing_id")
    );
    let blank = RawRecord::new(EntityType::Inquiry).with(Field::InquiryId, "   ");
    assert_eq!(
        normalize_record(&blank, &opts()).map_err(|r| r.code),
        Err("missing_id")
    );
    // An inquiry's id is inquiry_id, not account_id.
    let wrong = RawRecord::new(EntityType::Inquiry).with(Field::AccountId, "acct_1");
    assert_eq!(
        normalize_record(&wrong, &opts()).map_err(|r| r.code),
        Err("missing_id")
    );
    let long = "x".repeat(257);
    let r = RawRecord::new(EntityType::Account).with(Field::AccountId, &long);
    assert_eq!(
        normalize_record(&r, &opts()).map_err(|r| r.code),
        Err("invalid_id")
    );
    let ok256 = "é".repeat(256);
    let r = RawRecord::new(EntityType::Account).with(Field::AccountId, &ok256);
    assert!(normalize_record(&r, &opts()).is_ok());
    let r = RawRecord::new(EntityType::Account).with(Field::AccountId, "a\u{0}b");
    assert_eq!(
        normalize_record(&r, &opts()).map_err(|r| r.code),
        Err("invalid_id")
    );
    let r = RawRecord::new(EntityType::Inquiry)
        .with(Field::InquiryId, "inq_1")
        .with(Field::AccountId, " acct_9 ")
        .with(Field::Status, "  Completed ");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(n.entity.account_id.as_deref(), Some("acct_9"));
    assert_eq!(n.entity.status.as_deref(), Some("completed"));
    let r = RawRecord::new(EntityType::Inquiry)
        .with(Field::InquiryId, "inq_1")
        .with(Field::AccountId, "a\u{7}");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(n.entity.account_id, None);
    assert_eq!(codes(&n), vec![(Field::AccountId, "invalid_account_id")]);
}

#[test]
fn issues_keep_the_row() {
    let long = "a".repeat(1025);
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "acct_1")
        .with(Field::CreatedAt, "yesterday")
        .with(Field::Email, "not-an-email")
        .with(Field::Phone, "555")
        .with(Field::Birthdate, "12/04/87")
        .with(Field::GovIdNumber, "---")
        .with(Field::IpAddress, "999.1.1.1")
        .with(Field::NameFirst, "😀")
        .with(Field::NameLast, "Smith")
        .with(Field::AddressStreet, "!!!")
        .with(Field::AddressCountry, "Narnia")
        .with(Field::DeviceId, "\u{200B}")
        .with(Field::BankAccount, "--")
        .with(Field::ReferenceId, &long)
        .with(Field::Label, "1");
    let n = normalize_record(&r, &opts()).expect("row kept");
    assert_eq!(
        codes(&n),
        vec![
            (Field::ReferenceId, "too_long"),
            (Field::CreatedAt, "invalid_timestamp"),
            (Field::NameFirst, "invalid_name"),
            (Field::Birthdate, "invalid_birthdate"),
            (Field::Email, "invalid_email"),
            (Field::Phone, "invalid_phone"),
            (Field::AddressStreet, "invalid_address"),
            (Field::AddressCountry, "invalid_country"),
            (Field::GovIdNumber, "invalid_gov_id"),
            (Field::BankAccount, "invalid_bank_account"),
            (Field::DeviceId, "invalid_device_id"),
            (Field::IpAddress, "invalid_ip"),
            (Field::Label, "invalid_label"),
        ]
    );
    assert_eq!(n.entity.created_at, None);
    assert_eq!(n.entity.label, None);
    // Only the last name survived; without a first name there is no name_dob.
    let got: Vec<(&str, &str)> = n
        .attributes
        .iter()
        .map(|a| (&*a.kind, a.value.as_str()))
        .collect();
    assert_eq!(got, vec![("name", "smith"), ("name_last", "smith")]);
    for i in &n.issues {
        assert!(i.message.starts_with(i.field.name()), "{i:?}");
        assert!(
            !i.message.contains("Narnia"),
            "messages carry no raw values"
        );
    }
}

#[test]
fn labels() {
    for (raw, want) in [
        ("fraud", Some(Label::Fraud)),
        (" Legit ", Some(Label::Legit)),
        ("LEGIT", Some(Label::Legit)),
    ] {
        let r = RawRecord::new(EntityType::Account)
            .with(Field::AccountId, "a")
            .with(Field::Label, raw);
        assert_eq!(
            normalize_record(&r, &opts()).expect("usable").entity.label,
            want
        );
    }
    for raw in ["0", "1", "true", "false", "yes", "fraudulent"] {
        let r = RawRecord::new(EntityType::Account)
            .with(Field::AccountId, "a")
            .with(Field::Label, raw);
        let n = normalize_record(&r, &opts()).expect("usable");
        assert_eq!(
            (n.entity.label, codes(&n)),
            (None, vec![(Field::Label, "invalid_label")])
        );
    }
}

#[test]
fn names_from_full_name() {
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Name, "GARCÍA LÓPEZ, José")
        .with(Field::Birthdate, "1987-04-12");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(
        attr(&n, kinds::NAME_DOB),
        vec!["jose garcia lopez|1987-04-12"]
    );
    assert_eq!(attr(&n, kinds::NAME), vec!["jose garcia lopez"]);
    assert_eq!(attr(&n, kinds::NAME_LAST), vec!["garcia lopez"]);
    // The same person in columns gives the same keys.
    let cols = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "b")
        .with(Field::NameFirst, "Jose")
        .with(Field::NameLast, "Garcia-Lopez")
        .with(Field::Birthdate, "April 12, 1987");
    let m = normalize_record(&cols, &opts()).expect("usable");
    assert_eq!(n.attributes, m.attributes);
    // Columns win over the full name; a single token is a last name only.
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Name, "Madonna");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(attr(&n, kinds::NAME_LAST), vec!["madonna"]);
    assert_eq!(attr(&n, kinds::NAME_DOB), Vec::<&str>::new());
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Name, "😀 🙃");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(codes(&n), vec![(Field::Name, "invalid_name")]);
}

#[test]
fn phone_region_and_gov_id_country() {
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Phone, "030 123456")
        .with(Field::AddressCountry, "Deutschland")
        .with(Field::GovIdNumber, "T220001293");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(attr(&n, kinds::PHONE), vec!["+4930123456"]);
    assert_eq!(attr(&n, kinds::GOV_ID), vec!["DE:T220001293"]);
    // gov_id_country wins for the id, address country for the phone.
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Phone, "020 7946 0958")
        .with(Field::GovIdCountry, "GBR")
        .with(Field::GovIdNumber, "AB 12 34 56 C");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(attr(&n, kinds::PHONE), vec!["+442079460958"]);
    assert_eq!(attr(&n, kinds::GOV_ID), vec!["GB:AB123456C"]);
    // Default region, configurable.
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Phone, "06 12 34 56 78");
    let fr = NormalizeOptions {
        default_region: "FR".into(),
        ..NormalizeOptions::default()
    };
    assert_eq!(
        attr(&normalize_record(&r, &fr).expect("usable"), kinds::PHONE),
        vec!["+33612345678"]
    );
    let bad = NormalizeOptions {
        default_region: "??".into(),
        ..NormalizeOptions::default()
    };
    assert_eq!(
        codes(&normalize_record(&r, &bad).expect("usable")),
        vec![(Field::Phone, "invalid_phone")]
    );
}

/// Built-in kinds are borrowed static names (normalising allocates no kind names); custom
/// kinds own theirs.
#[test]
fn built_in_kinds_are_borrowed_and_custom_kinds_owned() {
    let mut r = full_account();
    r.custom = vec![("loyalty_id", "LOY 1")];
    let n = normalize_record(&r, &opts()).expect("usable");
    assert!(n.attributes.len() > 10, "{:?}", n.attributes);
    for a in &n.attributes {
        let custom = a.kind == "loyalty_id";
        assert_eq!(matches!(a.kind, Cow::Owned(_)), custom, "{}", a.kind);
    }
}

#[test]
fn custom_kinds_and_formats() {
    let mut r = RawRecord::new(EntityType::Account).with(Field::AccountId, "a");
    r.custom = vec![
        ("loyalty_id", "  LOY 0001 "),
        ("loyalty_id", "loy 0001"),
        ("email", "x@y.com"),
        ("Bad Kind", "v"),
        ("blank", "   "),
        ("empty", "\u{200B}"),
    ];
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(attr(&n, "loyalty_id"), vec!["loy 0001"]);
    assert_eq!(attr(&n, kinds::EMAIL), Vec::<&str>::new());
    assert_eq!(
        codes(&n),
        vec![
            (Field::ReferenceId, "invalid_custom_kind"),
            (Field::ReferenceId, "invalid_custom_kind"),
            (Field::ReferenceId, "invalid_custom"),
        ]
    );
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::Birthdate, "03/04/1987")
        .with(Field::CreatedAt, "01.03.2024");
    let o = NormalizeOptions {
        birthdate_format: Some("%d/%m/%Y".into()),
        timestamp_format: Some("%d.%m.%Y".into()),
        ..NormalizeOptions::default()
    };
    let n = normalize_record(&r, &o).expect("usable");
    assert_eq!(attr(&n, kinds::BIRTHDATE), vec!["1987-04-03"]);
    assert_eq!(n.entity.created_at, Some(1_709_251_200_000));
}

#[test]
fn hostile_record() {
    let big = "😀".repeat(2_500); // 10 kB
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "'; DROP TABLE accounts;--")
        .with(Field::NameFirst, "\u{202E}nhoJ\u{202C}")
        .with(Field::NameLast, "Smith\u{0}\u{7}")
        .with(Field::Email, "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ")
        .with(Field::Phone, &big)
        .with(Field::AddressStreet, "1 Main St\r\n\t#5")
        .with(Field::DeviceId, "A\u{0}B\u{1F}C")
        .with(Field::BrowserFingerprint, "ab\ncd\u{0}");
    let n = normalize_record(&r, &opts()).expect("usable");
    assert_eq!(n.entity.id, "'; DROP TABLE accounts;--");
    assert_eq!(attr(&n, kinds::NAME), vec!["nhoj smith"]);
    assert_eq!(attr(&n, kinds::EMAIL), vec!["john@example.com"]);
    assert_eq!(attr(&n, kinds::ADDRESS), vec!["1 main st unit 5|"]);
    assert_eq!(attr(&n, kinds::DEVICE_ID), vec!["abc"]);
    assert_eq!(attr(&n, kinds::BROWSER_FINGERPRINT), vec!["abcd"]);
    assert_eq!(codes(&n), vec![(Field::Phone, "too_long")]);
}

#[test]
fn attributes_are_deduplicated_and_sorted() {
    let r = RawRecord::new(EntityType::Account)
        .with(Field::AccountId, "a")
        .with(Field::DeviceId, "ABC")
        .with(Field::CardFingerprint, "abc")
        .with(Field::BrowserFingerprint, "abc");
    let n = normalize_record(&r, &opts()).expect("usable");
    let mut sorted = n.attributes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(n.attributes, sorted);
    assert_eq!(n.attributes.len(), 3);
}

// ---------------------------------------------------------------------------------------
// Property tests.

/// Strings that reach the interesting branches more often than uniform Unicode does.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        "[ -~]{0,40}",
        "[0-9+()x#.\\- ]{0,30}",
        "[a-zA-Z0-9.+_@-]{0,30}",
        "[0-9]{1,4}[ ./-][0-9]{1,4}[ ./-][0-9]{1,4}",
        "[a-zA-Z0-9 ,#.|'-]{0,60}",
        "[0-9a-fA-F:.\\[\\]%]{0,45}",
        proptest::collection::vec(
            prop_oneof![
                Just("\u{0}"),
                Just("\u{200B}"),
                Just("\u{202E}"),
                Just("\u{301}"),
                Just("é"),
                Just("ß"),
                Just("İ"),
                Just("Σ"),
                Just("ς"),
                Just("ǅ"),
                Just("ﬁ"),
                Just("①"),
                Just("한"),
                Just("ल"),
                Just("ि"),
                Just("😀"),
                Just("\u{FE0F}"),
                Just(" "),
                Just(","),
                Just("|"),
                Just("#"),
                Just("'"),
                Just("-"),
                Just("."),
                Just("@"),
                Just("+"),
                Just("1"),
                Just("a"),
                Just("Z"),
                Just("st"),
                Just("apt"),
                Just("\n"),
                Just("\u{3000}"),
                Just("Ⅳ"),
                Just("ŉ"),
                Just("ǰ"),
            ],
            0..24
        )
        .prop_map(|v| v.concat()),
    ]
}

fn no_control(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn value_functions_never_panic(s in messy(), t in messy()) {
        let _ = email(&s);
        let _ = phone(&s, "US");
        let _ = phone(&s, &t);
        let _ = birthdate(&s, None);
        let _ = birthdate(&s, Some(&t));
        let _ = timestamp_ms(&s, None);
        let _ = timestamp_ms(&s, Some(&t));
        let _ = split_full_name(&s);
        let _ = gov_id(&s, Some(&t));
        let _ = ip(&s);
        let _ = country(&s);
        for v in [name_part(&s), device_id(&s), fingerprint(&s), bank_account(&s), generic(&s)] {
            prop_assert!(no_control(&v));
        }
        if let Some(a) = address(Some(&s), Some(&t), Some(&t), Some(&t), Some(&t)) {
            prop_assert!(no_control(&a));
        }
        let _ = address(Some(&s), None, None, None, None);
        for kind in kinds::BUILT_IN.iter().chain(&["custom"]) {
            let _ = mask(kind, &s);
        }
    }

    /// The memo never changes a result: records drawn from a small pool of values (so they
    /// repeat, in every field and across regions and birthdate formats) give the same output
    /// through a tiny cache (emptied often), a default one and no cache at all.
    #[test]
    fn cached_normalisation_equals_uncached(
        messy_pool in proptest::collection::vec(messy(), 4),
        rows in proptest::collection::vec(
            (proptest::collection::vec(0usize..13, Field::COUNT), any::<bool>(), any::<bool>()),
            1..12,
        ),
    ) {
        // Realistic values too, so phones, countries, dates and addresses take their valid paths.
        let mut pool = messy_pool;
        pool.extend(
            ["+1 415 555 2671", "020 7946 0958", "GB", "de", "01/02/1990", "1990-02-01", "Émile", "10 Downing St", "10.0.0.1"]
                .map(str::to_owned),
        );
        let mut tiny = NormalizeCache::new(3);
        let mut big = NormalizeCache::default();
        for (picks, inquiry, day_first) in &rows {
            let mut r = RawRecord::new(if *inquiry { EntityType::Inquiry } else { EntityType::Account });
            // Index 12 leaves the field out; the ids are always set so rows get normalised.
            for (&f, &k) in Field::ALL.iter().zip(picks) {
                r.set(f, pool.get(k).map(String::as_str));
            }
            r.set(Field::AccountId, Some("a1"));
            r.set(Field::InquiryId, Some("i1"));
            let opts = NormalizeOptions {
                birthdate_format: day_first.then(|| "%d/%m/%Y".to_owned()),
                ..NormalizeOptions::default()
            };
            let want = normalize_record(&r, &opts);
            prop_assert_eq!(&normalize_record_cached(&r, &opts, &mut tiny), &want);
            prop_assert_eq!(&normalize_record_cached(&r, &opts, &mut big), &want);
            prop_assert!(tiny.len() <= 2 * 3);
        }
    }

    #[test]
    fn normalize_record_never_panics(vals in proptest::collection::vec(messy(), Field::COUNT), inquiry: bool) {
        let mut r = RawRecord::new(if inquiry { EntityType::Inquiry } else { EntityType::Account });
        for (&f, v) in Field::ALL.iter().zip(&vals) {
            r.set(f, Some(v.as_str()));
        }
        r.custom = vec![("custom_kind", vals[0].as_str()), (vals[1].as_str(), vals[2].as_str())];
        if let Ok(n) = normalize_record(&r, &NormalizeOptions::default()) {
            prop_assert!(no_control(&n.entity.id));
            for a in &n.attributes {
                prop_assert!(no_control(&a.value), "{a:?}");
                prop_assert!(!a.value.is_empty(), "{a:?}");
                let _ = mask(&a.kind, &a.value);
            }
            prop_assert!(n.attributes.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(n.entity.status.iter().chain(&n.entity.account_id).all(|s| no_control(s)));
        }
    }

    #[test]
    fn normalised_values_are_fixed_points(s in messy()) {
        if let Ok(e) = email(&s) {
            prop_assert_eq!(email(&e), Ok(e.clone()));
        }
        let n = name_part(&s);
        prop_assert_eq!(name_part(&n), n.clone());
        let g = generic(&s);
        prop_assert_eq!(generic(&g), g.clone());
        let d = device_id(&s);
        prop_assert_eq!(device_id(&d), d.clone());
        let f = fingerprint(&s);
        prop_assert_eq!(fingerprint(&f), f.clone());
        let b = bank_account(&s);
        prop_assert_eq!(bank_account(&b), b.clone());
        if let Ok(i) = ip(&s) {
            prop_assert_eq!(ip(&i), Ok(i.clone()));
        }
        if let Ok(p) = phone(&s, "US") {
            prop_assert_eq!(phone(&p, "US"), Ok(p.clone()));
            prop_assert_eq!(phone(&p, "DE"), Ok(p.clone()));
        }
        if let Ok(d) = birthdate(&s, None) {
            prop_assert_eq!(birthdate(&d, None), Ok(d.clone()));
        }
        if let Some(c) = country(&s) {
            prop_assert_eq!(country(&c), Some(c.clone()));
        }
        if let Some(a) = address(Some(&s), None, None, None, None) {
            prop_assert_eq!(address(Some(&a), None, None, None, None), Some(a.clone()));
        }
    }

    #[test]
    fn phone_formats_agree(area in 2u32..10, a2 in 0u32..90, ex in 200u32..1000, line in 0u32..10_000) {
        let area = area * 100 + a2;
        let variants = [
            format!("+1{area}{ex}{line:04}"),
            format!("({area}) {ex}-{line:04}"),
            format!("{area}.{ex}.{line:04}"),
            format!("1 {area} {ex} {line:04}"),
            format!("+1-{area}-{ex}-{line:04} ext. 12"),
            format!("011 1 {area} {ex} {line:04}"),
            format!(" {area}{ex}{line:04}\u{200B}"),
        ];
        let first = phone(&variants[0], "US");
        for v in &variants[1..] {
            prop_assert_eq!(&phone(v, "US"), &first, "{}", v);
        }
        // The number's own "+1" wins over any record region.
        prop_assert_eq!(&phone(&variants[0], "GB"), &first);
    }

    #[test]
    fn gmail_spellings_agree(local in "[a-z0-9]{1,12}", dots in proptest::collection::vec(any::<bool>(), 12), tag in "[a-z0-9]{0,6}", upper: bool, google: bool) {
        let mut spelled = String::new();
        for (i, c) in local.chars().enumerate() {
            spelled.push(c);
            if dots[i] && i + 1 < local.len() {
                spelled.push('.');
            }
        }
        if !tag.is_empty() {
            spelled.push('+');
            spelled.push_str(&tag);
        }
        spelled.push_str(if google { "@googlemail.com" } else { "@gmail.com" });
        if upper {
            spelled = spelled.to_uppercase();
        }
        prop_assert_eq!(email(&spelled), Ok(format!("{local}@gmail.com")));
    }

    #[test]
    fn birthdate_formats_agree(y in 1900i32..2020, m in 1u32..=12, d in 1u32..=28) {
        const MON: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let want = format!("{y:04}-{m:02}-{d:02}");
        let mon = MON[m as usize - 1];
        let mut variants = vec![
            want.clone(),
            format!("{y}{m:02}{d:02}"),
            format!("{y}/{m}/{d}"),
            format!("{d:02}.{m:02}.{y}"),
            format!("{d} {mon} {y}"),
            format!("{mon} {d}, {y}"),
            format!("{mon} {d} {y}"),
            format!("{want}T00:00:00Z"),
        ];
        // Unambiguous numeric orders.
        if d > 12 {
            variants.push(format!("{m:02}/{d:02}/{y}"));
            variants.push(format!("{d}/{m}/{y}"));
            variants.push(format!("{d:02}-{m:02}-{y}"));
            variants.push(format!("{m:02}-{d:02}-{y}"));
        } else {
            variants.push(format!("{m}/{d}/{y}"));
            variants.push(format!("{d:02}-{m:02}-{y}"));
        }
        for v in &variants {
            prop_assert_eq!(birthdate(v, None), Ok(want.clone()), "{}", v);
        }
    }

    #[test]
    fn gov_id_separators_agree(digits in "[0-9]{9}", seps in proptest::collection::vec(prop_oneof![Just(""), Just("-"), Just(" "), Just("."), Just("/")], 9)) {
        let spelled: String = digits.chars().zip(&seps).flat_map(|(c, s)| std::iter::once(c.to_string()).chain(std::iter::once((*s).to_owned()))).collect();
        prop_assert_eq!(gov_id(&spelled, Some("usa")), Ok(format!("US:{digits}")));
    }

    #[test]
    fn ipv6_spellings_agree(segs in proptest::array::uniform8(prop_oneof![Just(0u16), any::<u16>()]), port in 1u16..) {
        let addr = std::net::Ipv6Addr::from(segs);
        let full: Vec<String> = segs.iter().map(|s| format!("{s:04X}")).collect();
        let full = full.join(":");
        let want = ip(&addr.to_string());
        prop_assert!(want.is_ok());
        for v in [full.clone(), full.to_lowercase(), format!("[{full}]"), format!("[{addr}]:{port}"), format!(" {addr}%eth0 ")] {
            prop_assert_eq!(&ip(&v), &want, "{}", v);
        }
    }

    #[test]
    fn address_spellings_agree(
        number in 1u32..99_999,
        name in "[A-Z][a-z]{2,10}",
        suffix in 0usize..6,
        dir in 0usize..3,
        unit in 1u32..999,
        unit_style in 0usize..6,
        zip in 10_000u32..99_999,
        plus4 in proptest::option::of(1000u32..9999),
    ) {
        const SUFFIXES: [(&str, &str); 6] = [
            ("Street", "St."), ("Avenue", "Ave"), ("Road", "RD"), ("Boulevard", "Blvd."), ("Drive", "Dr"), ("Lane", "ln"),
        ];
        const DIRS: [(&str, &str); 3] = [("North", "N."), ("South West", "S.W."), ("", "")];
        let units = [format!("Apt {unit}"), format!("Apt. {unit}"), format!("#{unit}"), format!("Unit {unit}"), format!("Suite {unit}"), format!("Apartment No. {unit}")];
        let (long_s, short_s) = SUFFIXES[suffix];
        let (long_d, short_d) = DIRS[dir];
        let zip_text = match plus4 { Some(p) => format!("{zip}-{p}"), None => zip.to_string() };
        let canonical = address(Some(&format!("{number} {long_d} {name} {long_s} Apt {unit}")), Some("Springfield"), None, Some(&zip.to_string()), None);
        prop_assert!(canonical.is_some());
        let u = &units[unit_style];
        let variants = [
            address(Some(&format!("{number} {short_d} {name} {short_s} {u}")), Some("SPRINGFIELD"), Some("IL"), Some(&zip_text), Some("US")),
            address(Some(&format!("{number} {short_d} {}  {short_s}, {u}", name.to_uppercase())), None, None, Some(&zip_text), None),
            address(Some(&format!("{u}, {number} {long_d} {name} {long_s}")), None, None, Some(&zip_text), None),
            address(Some(&format!("{number} {short_d} {name} {short_s} {u}, Springfield, IL {zip_text}, USA")), None, None, None, None),
            address(Some(&format!("{number} {short_d} {name} {short_s} {u} Springfield IL {zip_text}")), None, None, None, None),
        ];
        for v in &variants {
            prop_assert_eq!(v, &canonical);
        }
        let key = canonical.unwrap_or_default();
        prop_assert_eq!(address(Some(&key), None, None, None, None), Some(key.clone()));
    }
}
