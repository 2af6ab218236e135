use proptest::prelude::*;

use super::blocking::candidates;
use super::compare::compare;
use super::model::SplitMix;
use super::records::InternScratch;
use super::score::Scorer;
use super::*;
use crate::config::LinkConfig;
use crate::keys::Keyer;
use crate::record::{EntityType, kinds};
use crate::table::{Attributes, Entities, LinkInput, RowValues};

type Row = Vec<(&'static str, String)>;

fn input_from(rows: &[Row]) -> LinkInput {
    let mut entities = Entities::default();
    let mut attributes = Attributes::default();
    let keyer = Keyer::new(b"dedupe tests");
    for (i, row) in rows.iter().enumerate() {
        let e = entities.push(format!("acct_{i}"), EntityType::Account, None, None, None);
        for (k, v) in row {
            let kid = attributes.kind_id(k);
            attributes.push(&keyer, e, kid, v);
        }
    }
    LinkInput {
        entities,
        attributes,
        keyer,
    }
}

#[derive(Clone)]
struct Person {
    first: String,
    last: String,
    dob: (u32, u32, u32),
    gov: Option<String>,
    email: String,
    phone: Option<String>,
    address: Option<String>,
}

impl Person {
    fn row(&self) -> Row {
        let mut r: Row = vec![
            (kinds::NAME, format!("{} {}", self.first, self.last)),
            (kinds::NAME_LAST, self.last.clone()),
            (
                kinds::BIRTHDATE,
                format!("{:04}-{:02}-{:02}", self.dob.0, self.dob.1, self.dob.2),
            ),
            (kinds::EMAIL, self.email.clone()),
        ];
        if let Some(g) = &self.gov {
            r.push((kinds::GOV_ID, format!("US:{g}")));
        }
        if let Some(p) = &self.phone {
            r.push((kinds::PHONE, p.clone()));
        }
        if let Some(a) = &self.address {
            r.push((kinds::ADDRESS, a.clone()));
        }
        r
    }
}

const FIRST: &[&str] = &[
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "daniel",
    "emily",
    "matthew",
    "ashley",
    "anthony",
    "olivia",
    "noah",
    "grace",
    "andrew",
    "hannah",
];
const LAST: &[&str] = &[
    "smith", "johnson", "williams", "brown", "jones", "miller", "davis", "wilson", "anderson",
    "taylor", "thomas", "moore", "jackson", "martin", "thompson", "white", "harris", "clark",
    "lewis", "robinson", "walker", "young", "allen", "wright", "scott", "baker", "adams", "nelson",
    "hill", "campbell",
];

/// Skewed towards the start of the list, so `smith` is common.
fn pick<'a>(rng: &mut SplitMix, list: &[&'a str]) -> &'a str {
    let n = list.len() as u64;
    list[(rng.below(n) * rng.below(n) / n) as usize]
}

fn typo(rng: &mut SplitMix, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() >= 4 {
        let i = 1 + rng.below(c.len() as u64 - 2) as usize;
        c.swap(i, i + 1);
    }
    c.into_iter().collect()
}

/// A planted population: `persons` people, `dups` of whom register a second time with typos.
/// Returns the rows and the number of true pairs. Person 0 carries a rare surname and has a
/// duplicate, person 1 is "smith" and has a duplicate.
fn population(persons: usize, dups: usize, seed: u64) -> (Vec<Row>, Vec<usize>) {
    let mut rng = SplitMix(seed);
    let mut rows = Vec::new();
    let mut person_of = Vec::new();
    let mut people = Vec::new();
    for i in 0..persons {
        let last = match i {
            0 => "quixotica".to_owned(),
            1 => "smith".to_owned(),
            _ => pick(&mut rng, LAST).to_owned(),
        };
        let p = Person {
            first: pick(&mut rng, FIRST).to_owned(),
            last,
            dob: (
                1940 + rng.below(60) as u32,
                1 + rng.below(12) as u32,
                1 + rng.below(28) as u32,
            ),
            gov: (rng.below(10) < 7)
                .then(|| format!("{:09}", 100_000_000 + i * 7919 % 900_000_000)),
            email: format!("user{i}@mail.com"),
            phone: (rng.below(10) < 8).then(|| format!("+1415555{:04}", i % 10_000)),
            address: (rng.below(10) < 8)
                .then(|| format!("{} main st|{:05}", 1 + i, 10_000 + i % 500)),
        };
        rows.push(p.row());
        person_of.push(i);
        people.push(p);
    }
    for (i, person) in people.iter().enumerate().take(dups) {
        let mut p = person.clone();
        match rng.below(10) {
            0..3 => p.first = typo(&mut rng, &p.first),
            3..6 => p.last = typo(&mut rng, &p.last),
            _ => {}
        }
        if rng.below(10) == 0 && p.dob.2 <= 12 {
            p.dob = (p.dob.0, p.dob.2, p.dob.1);
        }
        if let Some(g) = &p.gov
            && rng.below(5) == 0
        {
            let mut b = g.clone().into_bytes();
            b[4] = b'0' + (b[4] - b'0' + 1) % 10;
            p.gov = String::from_utf8(b).ok();
        }
        if rng.below(20) < 17 {
            p.email = format!("second{i}@other.org");
        }
        if rng.below(2) == 0 {
            p.phone = Some(format!("+1212555{:04}", i));
        }
        if rng.below(4) == 0 {
            p.address = Some(format!("{} oak ave|{:05}", 1 + i, 20_000 + i % 500));
        }
        rows.push(p.row());
        person_of.push(i);
    }
    (rows, person_of)
}

fn test_cfg() -> DedupeConfig {
    DedupeConfig {
        u_pairs: 200_000,
        ..DedupeConfig::default()
    }
}

fn planted() -> (LinkInput, Vec<usize>) {
    let (rows, person_of) = population(2000, 200, 7);
    (input_from(&rows), person_of)
}

fn level<'a>(m: &'a Model, field: &str, level: &str) -> &'a LevelModel {
    m.comparisons
        .iter()
        .find(|c| c.field == field)
        .and_then(|c| c.levels.iter().find(|l| l.level == level))
        .expect("level exists")
}

#[test]
fn em_converges_on_a_planted_population() {
    let (input, person_of) = planted();
    let recs = records_from_input(&input, &LinkConfig::default());
    let cfg = test_cfg();
    let (model, result) = dedupe(&recs, &cfg);
    assert!(model.training.em_converged, "{:?}", model.training);
    let first = level(&model, "first_name", "exact");
    assert!(first.m > 0.6, "m(first exact) = {}", first.m);
    assert!(first.u < 0.1, "u(first exact) = {}", first.u);
    let dob = level(&model, "birthdate", "exact");
    assert!(dob.m > 0.8 && dob.u < 0.01, "{dob:?}");
    // Planted share: 200 true pairs among all pairs.
    let n = person_of.len() as f64;
    let planted = 200.0 / (n * (n - 1.0) / 2.0);
    let ratio = model.lambda / planted;
    assert!(
        (0.7..1.4).contains(&ratio),
        "lambda {} vs planted {planted}",
        model.lambda
    );
    // And it finds them.
    let names: Vec<String> = person_of.iter().map(|p| p.to_string()).collect();
    let person: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
    let prf = duplicate_pair_prf(&person, result.pairs.iter().map(|p| (p.a, p.b)));
    assert!(prf.f1 > 0.9, "{prf:?}");
}

#[test]
fn explanations_add_up_to_the_weight() {
    let (input, _) = planted();
    let recs = records_from_input(&input, &LinkConfig::default());
    let (model, result) = dedupe(&recs, &test_cfg());
    assert!(!result.pairs.is_empty());
    for p in &result.pairs {
        assert_eq!(p.fields.len(), 7);
        let sum = p
            .fields
            .iter()
            .fold(model.prior_weight(), |acc, f| acc + f.weight);
        assert_eq!(sum, p.match_weight, "{p:?}");
        for f in &p.fields {
            if f.level == "null" {
                assert_eq!(f.weight, 0.0);
            }
        }
        assert!(p.a < p.b);
    }
    assert!(
        result
            .pairs
            .windows(2)
            .all(|w| (w[0].a, w[0].b) < (w[1].a, w[1].b))
    );
}

#[test]
fn rare_surname_match_weighs_more_than_a_common_one() {
    let (input, _) = planted();
    let recs = records_from_input(&input, &LinkConfig::default());
    let (model, result) = dedupe(&recs, &test_cfg());
    let last_weight = |anchor: u32| {
        result
            .pairs
            .iter()
            .find(|p| p.a == anchor)
            .and_then(|p| {
                p.fields
                    .iter()
                    .find(|f| f.field == "last_name" && f.level == "exact")
            })
            .map(|f| f.weight)
    };
    // Person 0 (quixotica) and 1 (smith) both have a duplicate at record 2000 / 2001; the
    // duplicate of 0 or 1 may carry a surname typo, so compare through the model as well.
    let tf = model.comparisons[1]
        .term_frequencies
        .as_ref()
        .expect("names have term frequencies");
    assert!(tf.frequency("smith") > tf.frequency("quixotica"));
    let reloaded = Model::from_json(&model.to_json()).expect("roundtrip");
    let w = |name: &str| super::model::Compiled::new(&reloaded).exact_weight(1, name);
    assert!(
        w("quixotica") > w("smith") + 3.0,
        "rare {} common {}",
        w("quixotica"),
        w("smith")
    );
    if let (Some(r), Some(c)) = (last_weight(0), last_weight(1)) {
        assert!(r > c, "rare {r} common {c}");
    }
}

/// The default name rules pair one name's typo (even one that changes its Soundex code) when
/// the other name, its first letter and the birthdate agree, and do not pair two people who
/// only share a surname code and a birthdate under different first initials.
#[test]
fn name_rules_pair_typos_under_the_other_names_initial() {
    let dob = Some((1984, 3, 7));
    let row = |first: &str, last: &str, n: u32| {
        // Nothing else in common: every pair below can only come from a name rule.
        person_row(
            first,
            last,
            dob,
            [None, Some(format!("p{n}@x.com")), None, None],
        )
    };
    let rows = [
        row("sandra", "okafor", 0),
        row("sadra", "okafor", 1),   // Soundex S536 → S360, initial kept
        row("william", "okafor", 2), // another initial, same surname and birthdate
        row("bill", "okafor", 3),    // a nickname: its initial differs from william's
        row("sandra", "okafo", 4),   // a surname typo: O216 → O210
        row("ирина", "петрова", 5),  // Cyrillic: the name is its own phonetic code
        row("ирина", "петровa", 6),  // the last letter a Latin "a"
        row("sandra", "", 7),        // no surname: no initial, no key
    ];
    let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
    let cfg = DedupeConfig::default();
    let mut got = candidates(&recs, &cfg).pairs();
    got.sort_unstable();
    let want: Vec<u64> = [(0, 1), (0, 4), (5, 6)]
        .iter()
        .map(|&(a, b)| super::blocking::pack(a, b))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn oversized_blocks_are_skipped_and_reported_without_plaintext() {
    let mut rows: Vec<Row> = (0..250)
        .map(|i| {
            vec![
                (kinds::PHONE, "+14155550000".to_owned()),
                (kinds::NAME, format!("person{i} family{i}")),
                (kinds::NAME_LAST, format!("family{i}")),
            ]
        })
        .collect();
    rows.push(vec![(kinds::PHONE, "+14155559999".into())]);
    rows.push(vec![(kinds::PHONE, "+14155559999".into())]);
    let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
    let cfg = DedupeConfig {
        max_block_size: 200,
        ..test_cfg()
    };
    let c = candidates(&recs, &cfg);
    let phone = c
        .oversized
        .iter()
        .find(|b| b.rule == "phone")
        .expect("phone block reported");
    assert_eq!(phone.entity_count, 250);
    assert_eq!(phone.key_hash.len(), 16);
    assert!(!phone.key_hash.contains("4155550000"));
    // The small phone block still pairs; the oversized one adds nothing.
    assert!(c.pairs().contains(&super::blocking::pack(250, 251)));
    assert!(c.len() < 1000, "{}", c.len());
    let stats = c
        .rules
        .iter()
        .find(|r| r.rule == "phone")
        .expect("phone rule");
    assert_eq!(stats.oversized_blocks, 1);
    let result = score_pairs(&recs, &train(&recs, &cfg), &cfg);
    assert_eq!(result.oversized_blocks, c.oversized);
}

#[test]
fn unicode_names_do_not_panic() {
    let names = [
        "李 小龙",
        "小龙",
        "Ωμέγα αλφα",
        "josé maría garcía",
        "👍 🎉",
        "a\u{301}b\u{302} c",
        "ß ÆØÅ",
        "ナルト うずまき",
        "",
        " ",
        "x",
        "ñandú ñ",
    ];
    let rows: Vec<Row> = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            let last = n.rsplit(' ').next().unwrap_or_default().to_owned();
            let row = vec![
                (kinds::NAME, (*n).to_owned()),
                (kinds::NAME_LAST, last),
                (kinds::BIRTHDATE, "1990-02-03".to_owned()),
                (kinds::GOV_ID, format!("JP:ＡＢ{i}")),
                (kinds::EMAIL, format!("ü{i}@例え.jp")),
                (kinds::ADDRESS, "東京 1|".to_owned()),
            ];
            [row.clone(), row]
        })
        .collect();
    let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
    let (model, result) = dedupe(&recs, &test_cfg());
    assert!(result.candidate_pairs > 0);
    let _ = score_record(&model, &recs, &recs.record(0), &test_cfg());
}

#[test]
fn model_json_roundtrip_gives_identical_scores() {
    let (input, _) = planted();
    let recs = records_from_input(&input, &LinkConfig::default());
    let cfg = test_cfg();
    let (model, result) = dedupe(&recs, &cfg);
    let json = model.to_json();
    let reloaded = Model::from_json(&json).expect("valid model");
    assert_eq!(reloaded, model);
    assert_eq!(reloaded.to_json(), json);
    let again = score_pairs(&recs, &reloaded, &cfg);
    assert_eq!(again.pairs, result.pairs);
    assert_eq!(again.groups, result.groups);
    // Other versions and shapes are refused.
    let bad = json.replacen("\"version\": 1", "\"version\": 2", 1);
    assert!(Model::from_json(&bad).is_err());
    assert!(Model::from_json("{}").is_err());
}

#[test]
fn live_scoring_matches_the_batch() {
    let (input, _) = planted();
    let recs = records_from_input(&input, &LinkConfig::default());
    let cfg = test_cfg();
    let (model, result) = dedupe(&recs, &cfg);
    let index = DedupeIndex::build(&recs, &cfg);
    // Record 2003 is the duplicate of person 3: as a new record it finds person 3's record
    // with the batch pair's weight.
    for p in result.pairs.iter().filter(|p| p.b >= 2000).take(20) {
        let live = index.score(&model, &recs, &recs.record(p.b as usize), 0.0);
        let hit = live
            .iter()
            .find(|l| l.a == p.a)
            .expect("batch pair found live");
        assert_eq!(hit.match_weight, p.match_weight);
        assert_eq!(hit.b, NEW_RECORD);
    }
    let via_fn = score_record(&model, &recs, &recs.record(2003), &cfg);
    assert!(via_fn.iter().all(|p| p.match_probability >= cfg.threshold));
}

#[test]
fn results_are_deterministic_across_thread_counts() {
    let (input, _) = planted();
    let recs = records_from_input(&input, &LinkConfig::default());
    let cfg = test_cfg();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let (m1, r1) = one.install(|| dedupe(&recs, &cfg));
    let (m2, r2) = dedupe(&recs, &cfg);
    assert_eq!(m1, m2);
    assert_eq!(r1.pairs, r2.pairs);
    assert_eq!(r1.groups, r2.groups);
}

#[test]
fn groups_do_not_chain_different_people() {
    let (mut rows, _) = population(2000, 200, 11);
    let base = rows.len() as u32;
    let a = Person {
        first: "amelia".into(),
        last: "zanzibar".into(),
        dob: (1971, 3, 14),
        gov: Some("555123456".into()),
        email: "amelia.z@mail.com".into(),
        phone: Some("+13125550001".into()),
        address: Some("77 elm st|60601".into()),
    };
    // b is a with a different email: clearly a's duplicate.
    let b = Person {
        email: "az1971@other.org".into(),
        ..a.clone()
    };
    // c shares b's email and phone but is another person: different name, birthdate, id.
    let c = Person {
        first: "boris".into(),
        last: "quellmalz".into(),
        dob: (1988, 11, 2),
        gov: Some("777888999".into()),
        email: "az1971@other.org".into(),
        phone: Some("+13125550001".into()),
        address: None,
    };
    rows.extend([a.row(), b.row(), c.row()]);
    let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
    let (_, result) = dedupe(&recs, &test_cfg());
    let (ia, ib, ic) = (base, base + 1, base + 2);
    assert!(result.pairs.iter().any(|p| (p.a, p.b) == (ia, ib)));
    for g in &result.groups {
        assert!(!(g.contains(&ia) && g.contains(&ic)), "{g:?}");
    }
    // Every two members of every group match.
    let cfg = test_cfg();
    let model = train(&recs, &cfg);
    let scorer = Scorer::new(&recs, &model);
    for g in &result.groups {
        for (i, &x) in g.iter().enumerate() {
            for &y in &g[i + 1..] {
                let w = scorer.pair_weight(x as usize, y as usize);
                assert!(1.0 / (1.0 + (-w).exp2()) >= cfg.threshold);
            }
        }
    }
}

#[test]
fn one_strong_pair_does_not_chain_a_group() {
    // 0–1 and 1–2 match, 0–2 does not: 2 stays out of {0, 1} although 1–2 is strong; 2–3
    // then groups on its own.
    let matching = [(0, 1), (1, 2), (2, 3)];
    let is_match = |x: usize, y: usize| matching.contains(&(x.min(y), x.max(y)));
    let edges = vec![(10.0, 0, 1), (9.0, 1, 2), (8.0, 2, 3)];
    let (mut groups, refused) = super::score::constrained_groups(5, edges, is_match, 10);
    for g in &mut groups {
        g.sort_unstable();
    }
    groups.sort();
    assert_eq!(groups, vec![vec![0, 1], vec![2, 3]]);
    assert_eq!(refused, 1);
    // The size cap refuses merges too.
    let all = |_: usize, _: usize| true;
    let (groups, refused) =
        super::score::constrained_groups(4, vec![(3.0, 0, 1), (2.0, 2, 3), (1.0, 1, 2)], all, 3);
    assert_eq!(groups.iter().map(Vec::len).max(), Some(2));
    assert_eq!(refused, 1);
}

#[test]
fn config_toml_defaults_and_errors() {
    assert_eq!(
        DedupeConfig::from_toml_str("").expect("empty"),
        DedupeConfig::default()
    );
    let c = DedupeConfig::from_toml_str(
        "threshold = 0.8\nmax_block_size = 50\n[[blocking]]\nname = \"phone\"\nkeys = [\"phone\"]\n",
    )
    .expect("valid");
    assert_eq!(c.threshold, 0.8);
    assert_eq!(c.blocking.len(), 1);
    assert!(DedupeConfig::from_toml_str("threshold = 1.5").is_err());
    assert!(
        DedupeConfig::from_toml_str("[[fixed_m]]\nfield = \"gov_id\"\nlevel = \"nope\"\nm = 0.1\n")
            .is_err()
    );
    assert!(
        DedupeConfig::from_toml_str("[[blocking]]\nname = \"x\"\nkeys = [\"shoe_size\"]\n")
            .is_err()
    );
}

#[test]
fn first_name_skips_mononyms_and_placeholders_are_missing() {
    let r = DedupeRecord::from_attributes(
        [
            (kinds::NAME, "suharto"),
            (kinds::NAME_LAST, "suharto"),
            (kinds::GOV_ID, "ID:123456789"),
            (kinds::EMAIL, "test@test.com"),
            (kinds::PHONE, "+14155552671"),
        ],
        &LinkConfig::default(),
    );
    assert_eq!(r.first_name, None);
    assert_eq!(r.last_name.as_deref(), Some("suharto"));
    assert_eq!(r.gov_id, None);
    assert_eq!(r.email, None);
    assert_eq!(r.phone.as_deref(), Some("+14155552671"));
    let r = DedupeRecord::from_attributes(
        [
            (kinds::NAME, "maria jose de la cruz"),
            (kinds::NAME_LAST, "de la cruz"),
        ],
        &LinkConfig::default(),
    );
    assert_eq!(r.first_name.as_deref(), Some("maria"));
}

/// A placeholder the run's configuration adds is missing too, as the linker treats it.
#[test]
fn configured_placeholders_are_missing() {
    let rules = LinkConfig::from_toml_str(
        "[rules.email]\nlink = \"alone\"\nplaceholders = [\"nobody@corp.example\"]\n",
    )
    .unwrap();
    let attrs = [
        (kinds::NAME, "ana lopez"),
        (kinds::EMAIL, "nobody@corp.example"),
    ];
    let default = DedupeRecord::from_attributes(attrs, &LinkConfig::default());
    assert_eq!(default.email.as_deref(), Some("nobody@corp.example"));
    let configured = DedupeRecord::from_attributes(attrs, &rules);
    assert_eq!(configured.email, None);
    assert_eq!(configured.full_name.as_deref(), Some("ana lopez"));
}

/// One person's attribute rows: the full name, the last name, the birthdate, then the
/// government id number (US), email, phone and address when present.
fn person_row(
    first: &str,
    last: &str,
    dob: Option<(u32, u32, u32)>,
    [gov, email, phone, addr]: [Option<String>; 4],
) -> Row {
    let mut r: Row = Vec::new();
    let full = format!("{first} {last}").trim().to_owned();
    if !full.is_empty() {
        r.push((kinds::NAME, full));
    }
    if !last.is_empty() {
        r.push((kinds::NAME_LAST, last.to_owned()));
    }
    if let Some((y, m, d)) = dob {
        r.push((kinds::BIRTHDATE, format!("{y:04}-{m:02}-{d:02}")));
    }
    for (kind, v) in [
        (kinds::GOV_ID, gov.map(|g| format!("US:{g}"))),
        (kinds::EMAIL, email),
        (kinds::PHONE, phone),
        (kinds::ADDRESS, addr),
    ] {
        if let Some(v) = v {
            r.push((kind, v));
        }
    }
    r
}

fn arb_person() -> impl Strategy<Value = Row> {
    (
        "[a-zé李 ]{0,9}",
        "[a-zö]{0,8}",
        proptest::option::of((1900u32..2020, 1u32..13, 1u32..29)),
        proptest::option::of("[0-9]{6,9}"),
        proptest::option::of("[a-c.]{1,4}@[ab]\\.com"),
        proptest::option::of("\\+1[0-9]{3}"),
        proptest::option::of("[0-9] [a-c ]{0,6}\\|[0-9]{0,2}"),
    )
        .prop_map(|(first, last, dob, gov, email, phone, addr)| {
            person_row(&first, &last, dob, [gov, email, phone, addr])
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pair_scores_are_symmetric(rows in proptest::collection::vec(arb_person(), 2..12)) {
        let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
        let cfg = DedupeConfig { u_pairs: 1000, ..DedupeConfig::default() };
        let model = train(&recs, &cfg);
        let scorer = Scorer::new(&recs, &model);
        for a in 0..recs.len() {
            for b in 0..recs.len() {
                prop_assert_eq!(compare(&recs.side(a), &recs.side(b)), compare(&recs.side(b), &recs.side(a)));
                prop_assert_eq!(scorer.pair_weight(a, b).to_bits(), scorer.pair_weight(b, a).to_bits());
            }
        }
        // The live path agrees with the batch weight, whichever side is "new".
        let index = DedupeIndex::build(&recs, &cfg);
        for p in score_pairs(&recs, &model, &cfg).pairs {
            let live = index.score(&model, &recs, &recs.record(p.b as usize), 0.0);
            let hit = live.iter().find(|l| l.a == p.a);
            prop_assert!(hit.is_some());
            prop_assert_eq!(hit.map(|h| h.match_weight.to_bits()), Some(p.match_weight.to_bits()));
        }
    }
}

/// A record drawn from a handful of values per field, so that blocks collide and overflow.
fn arb_crowded_person() -> impl Strategy<Value = Row> {
    let pick = |vals: &'static [&'static str]| proptest::sample::select(vals);
    (
        pick(&["ann", "anne", "bob", "robert", ""]),
        pick(&["lee", "li", "smith", "smyth", ""]),
        proptest::option::of((2000u32..2002, 1u32..4, 1u32..4)),
        proptest::option::of(pick(&["111111", "111112", "222222"])),
        proptest::option::of(pick(&["a@a.com", "a@b.com", "b@a.com"])),
        proptest::option::of(pick(&["+14155550001", "+14155550002"])),
        proptest::option::of(pick(&["1 a st|94000", "2 b st|94000", "3 c st|10001"])),
    )
        .prop_map(|(first, last, dob, gov, email, phone, addr)| {
            let owned = |v: Option<&str>| v.map(str::to_owned);
            person_row(
                first,
                last,
                dob,
                [owned(gov), owned(email), owned(phone), owned(addr)],
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The candidates are exactly the pairs sharing a key under some rule whose block is
    /// within the cap (what the live index calls a candidate), each once, and every rule's
    /// pair count is the pairs inside its blocks within the cap.
    #[test]
    fn candidates_are_the_union_of_the_rules_blocks(
        rows in proptest::collection::vec(arb_crowded_person(), 2..40),
        cap in 2u32..8,
        with_year_rule in any::<bool>(),
    ) {
        let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
        let mut cfg = DedupeConfig { max_block_size: cap, ..DedupeConfig::default() };
        if with_year_rule {
            cfg.blocking.push(BlockingRule {
                name: "names_sound_birth_year".into(),
                keys: vec![
                    BlockKey::FirstNamePhonetic,
                    BlockKey::LastNamePhonetic,
                    BlockKey::BirthYear,
                ],
            });
        }
        let c = candidates(&recs, &cfg);
        let mut got = c.pairs();
        got.sort_unstable();
        got.dedup();
        prop_assert_eq!(got.len(), c.len(), "a pair came twice");
        let blocks = LiveBlocks::build(&recs, &cfg);
        let keys: Vec<Vec<Option<u64>>> =
            (0..recs.len()).map(|i| blocks.keys(&recs.record(i))).collect();
        let mut want = Vec::new();
        for a in 0..recs.len() {
            for b in a + 1..recs.len() {
                if blocks.is_candidate(&keys[a], &keys[b]) {
                    want.push(super::blocking::pack(a as u32, b as u32));
                }
            }
        }
        prop_assert_eq!(got, want);
        for (r, stats) in c.rules.iter().enumerate() {
            let mut within = 0u64;
            for a in 0..recs.len() {
                for b in a + 1..recs.len() {
                    if let (Some(x), Some(y)) = (keys[a][r], keys[b][r])
                        && x == y
                        && blocks.block_size(r, x) <= cap as usize
                    {
                        within += 1;
                    }
                }
            }
            prop_assert_eq!(stats.pairs, within, "rule {}", stats.rule);
        }
    }
}

#[test]
fn patterns_count_each_comparison_vector() {
    let gammas: Vec<u32> = (0..200_000u32).map(|i| i % 7 * 3).collect();
    let p = super::model::patterns(&[&gammas[..100_000], &gammas[100_000..]]);
    let want: Vec<(u32, u64)> = (0..7u32)
        .map(|g| (g * 3, (0..200_000u32).filter(|i| i % 7 == g).count() as u64))
        .collect();
    assert_eq!(p, want);
    assert!(super::model::patterns(&[]).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Scoring drops pairs by an upper bound of their weight first; the matches are still
    /// exactly the candidates whose full weight reaches the threshold.
    #[test]
    fn matches_are_the_candidates_at_or_above_the_threshold(
        rows in proptest::collection::vec(arb_crowded_person(), 2..40),
        threshold in prop_oneof![Just(0.9), 0.01f64..0.99],
    ) {
        let recs = records_from_input(&input_from(&rows), &LinkConfig::default());
        let cfg = DedupeConfig { u_pairs: 1000, threshold, ..DedupeConfig::default() };
        let (model, result) = dedupe(&recs, &cfg);
        let scorer = Scorer::new(&recs, &model);
        let mut want: Vec<(u32, u32, u64)> = candidates(&recs, &cfg)
            .pairs()
            .into_iter()
            .map(super::blocking::unpack)
            .map(|(a, b)| (a, b, scorer.pair_weight(a as usize, b as usize)))
            .filter(|&(_, _, w)| 1.0 / (1.0 + (-w).exp2()) >= cfg.threshold_clamped())
            .map(|(a, b, w)| (a, b, w.to_bits()))
            .collect();
        want.sort_unstable();
        let got: Vec<(u32, u32, u64)> =
            result.pairs.iter().map(|p| (p.a, p.b, p.match_weight.to_bits())).collect();
        prop_assert_eq!(got, want);
    }
}

/// Records built from the anchors' own values, with the inquiry rows fetched only for the
/// fields still empty, equal the records built from every value (a batch link reads the
/// former).
#[test]
fn records_from_own_values_and_fetched_gaps_equal_records_from_every_value() {
    let keyer = Keyer::new(b"dedupe tests");
    let mut entities = Entities::default();
    let mut attributes = Attributes::default();
    let mut add = |e: u32, k: &str, v: &str| {
        let kid = attributes.kind_id(k);
        attributes.push(&keyer, e, kid, v);
    };
    let a0 = entities.push("a0", EntityType::Account, None, None, None);
    let a1 = entities.push("a1", EntityType::Account, None, None, None);
    let i0 = entities.push("i0", EntityType::Inquiry, Some(a0), None, None);
    let i1 = entities.push("i1", EntityType::Inquiry, Some(a1), None, None);
    let lone = entities.push("i2", EntityType::Inquiry, None, None, None);
    // a0: a placeholder email and no phone of its own; its inquiry has both.
    add(a0, kinds::NAME, "ana maria lopez");
    add(a0, kinds::NAME_LAST, "lopez");
    add(a0, kinds::EMAIL, "test@test.com");
    // a1: every field its own, its phone a placeholder the configuration lists; its
    // inquiry's other values are not used.
    add(a1, kinds::NAME, "bo chen");
    add(a1, kinds::NAME_LAST, "chen");
    add(a1, kinds::PHONE, "+14155552671");
    add(a1, kinds::BIRTHDATE, "1990-01-02");
    add(i0, kinds::EMAIL, "ana.lopez@example.org");
    add(i0, kinds::PHONE, "+14155550000");
    add(i0, kinds::BIRTHDATE, "1985-06-07");
    add(i1, kinds::PHONE, "+14155559999");
    add(i1, kinds::GOV_ID, "US:123456780");
    // An inquiry without a known account is its own anchor.
    add(lone, kinds::NAME, "cy dee");
    add(lone, kinds::EMAIL, "cy@example.org");
    let input = LinkInput {
        entities,
        attributes,
        keyer,
    };
    let rules = LinkConfig::from_toml_str(
        "[rules.phone]\nlink = \"alone\"\nplaceholders = [\"+14155552671\"]\n",
    )
    .unwrap();
    let attrs = &input.attributes;
    // The rows as a batch link reads them: the anchors' own values, the others' places.
    let mut compared = ComparedRows::new(attrs.kinds.clone(), &rules);
    for r in 0..attrs.len() as u32 {
        let (e, k) = (attrs.entity[r as usize], attrs.kind[r as usize]);
        compared.push(r, e, input.entities.anchor[e as usize], k, attrs.value(r));
    }
    let mut asked = Vec::new();
    let from_values =
        records_from_compared(&input.entities.anchor, &input.keyer, compared, |rows| {
            asked = rows.to_vec();
            Ok(RowValues::from_attributes(attrs, rows))
        })
        .unwrap();
    let whole = records_from_input(&input, &rules);
    let fields = |r: &DedupeRecords| -> Vec<Vec<Option<String>>> {
        (0..r.len())
            .map(|i| {
                let mut f: Vec<Option<String>> = [
                    &r.first_name,
                    &r.last_name,
                    &r.full_name,
                    &r.gov_id,
                    &r.email,
                    &r.phone,
                    &r.address,
                ]
                .iter()
                .map(|c| c.get(i).map(str::to_owned))
                .collect();
                f.push(Some(r.birthdate[i].to_string()));
                f
            })
            .collect()
    };
    assert_eq!(from_values.anchors, whole.anchors);
    assert_eq!(fields(&from_values), fields(&whole));
    // Only a0's inquiry rows for its empty or placeholder fields, and a1's for its
    // placeholder phone and missing ID number.
    let kind_of = |r: u32| attrs.kinds[attrs.kind[r as usize] as usize].as_str();
    let asked: Vec<(u32, &str)> = asked
        .iter()
        .map(|&r| (attrs.entity[r as usize], kind_of(r)))
        .collect();
    assert_eq!(
        asked,
        [
            (i0, kinds::EMAIL),
            (i0, kinds::PHONE),
            (i0, kinds::BIRTHDATE),
            (i1, kinds::PHONE),
            (i1, kinds::GOV_ID)
        ]
    );
    assert_eq!(
        fields(&whole)[0][4].as_deref(),
        Some("ana.lopez@example.org"),
        "the placeholder gave way to the inquiry's email"
    );
    assert_eq!(
        fields(&whole)[1][5].as_deref(),
        Some("+14155559999"),
        "the configured placeholder gave way to the inquiry's phone"
    );
}

/// What [`Column::intern_with`] must give: one record at a time, ids in order of first appearance.
fn interned_one_by_one(values: &[Option<String>]) -> (Vec<u32>, Vec<String>, Vec<u32>) {
    let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let (mut ids, mut distinct, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    for v in values {
        ids.push(match v {
            None => NULL,
            Some(s) => {
                let id = *seen.entry(s).or_insert_with(|| {
                    distinct.push(s.clone());
                    counts.push(0);
                    (distinct.len() - 1) as u32
                });
                counts[id as usize] += 1;
                id
            }
        });
    }
    (ids, distinct, counts)
}

fn assert_interned_like_one_by_one(values: &[Option<String>]) {
    assert_interned_in(&mut InternScratch::default(), values);
}

/// As [`assert_interned_like_one_by_one`], interning in `scratch` (left by earlier columns).
fn assert_interned_in(scratch: &mut InternScratch, values: &[Option<String>]) {
    let col = Column::intern_with(scratch, values.len(), |r| values[r].as_deref());
    let (ids, distinct, counts) = interned_one_by_one(values);
    assert_eq!(col.ids, ids);
    assert_eq!(col.distinct(), distinct.len());
    let got: Vec<&str> = (0..col.distinct() as u32).map(|id| col.value(id)).collect();
    assert_eq!(got, distinct);
    assert_eq!(col.counts, counts);
}

#[test]
fn interning_numbers_values_in_order_of_first_appearance() {
    // Columns of few values, of nearly all distinct ones, with gaps, and Unicode; then no
    // values at all. Each column in a fresh scratch, and all in one scratch, longer columns
    // before shorter ones (whose lists it holds longer, with other columns' entries).
    let mut rng = SplitMix(7);
    let n = 100_000;
    let mut columns: Vec<Vec<Option<String>>> = [1, 3, 1_000, 60_000, 1_000_000]
        .into_iter()
        .map(|distinct| {
            (0..n)
                .map(|_| {
                    let v = rng.below(distinct);
                    (v % 11 != 5).then(|| format!("välue-{v}-ß"))
                })
                .collect()
        })
        .collect();
    columns.push(Vec::new());
    columns.push(vec![None; 40_000]);
    columns.push((0..70_000).map(|i| Some(format!("{}", i % 900))).collect());
    let mut shared = InternScratch::default();
    for values in &columns {
        assert_interned_like_one_by_one(values);
        assert_interned_in(&mut shared, values);
    }
}

proptest! {
    #[test]
    fn interning_agrees_with_one_by_one_on_any_values(
        values in proptest::collection::vec(proptest::option::of("[a-c]{0,2}|\\PC{0,6}"), 0..300)
    ) {
        assert_interned_like_one_by_one(&values);
    }
}
