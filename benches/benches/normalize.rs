//! Normalisation cost per value kind and per record, against a naive peer (trim + lower-case
//! only) on the same values, so the price of doing it properly is visible as a ratio.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use graph_core::{EntityType, Field, NormalizeOptions, RawRecord, normalize};
use std::hint::black_box;

const EMAILS: &[&str] = &[
    "  John.Smith+promo@GMAIL.com ",
    "maria.garcia@outlook.com",
    "Zoë.Müller@proton.me",
    "x_y@company.co.uk",
];
/// Phone numbers with the record's region, as the ingest path sees them.
const PHONES: &[(&str, &str)] = &[
    ("+1 (415) 555-2671", "US"),
    ("415.555.2671", "US"),
    ("07700 900123", "GB"),
    ("+49 151 23456789", "DE"),
];
const NAMES: &[&str] = &[
    "  José  GARCÍA-López",
    "Zoë O'Brien",
    "Nguyễn Văn An",
    "ＪＯＨＮ smith",
];
const ADDRESSES: &[&str] = &[
    "123 Main Street Apt 4, Springfield, IL 62704",
    "10 Downing St",
    "Hauptstraße 5",
    "500 N. Michigan Avenue Suite 300",
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(4));
    g.bench_function("email", |b| {
        b.iter(|| {
            EMAILS
                .iter()
                .map(|e| normalize::email(black_box(e)).is_ok() as usize)
                .sum::<usize>()
        })
    });
    g.bench_function("phone", |b| {
        b.iter(|| {
            PHONES
                .iter()
                .map(|(p, r)| normalize::phone(black_box(p), r).is_ok() as usize)
                .sum::<usize>()
        })
    });
    // The peer for phones: the `phonenumber` crate's own parse + validate + E.164 on the same
    // numbers, which is what `normalize::phone` did for every number before its fast path.
    g.bench_function("peer_phonenumber_crate", |b| {
        b.iter(|| {
            PHONES
                .iter()
                .map(|(p, r)| {
                    let region = r.parse().ok();
                    phonenumber::parse(region, black_box(p))
                        .ok()
                        .filter(phonenumber::is_valid)
                        .map(|n| n.format().mode(phonenumber::Mode::E164).to_string())
                        .is_some() as usize
                })
                .sum::<usize>()
        })
    });
    g.bench_function("name", |b| {
        b.iter(|| {
            NAMES
                .iter()
                .map(|n| normalize::name_part(black_box(n)).len())
                .sum::<usize>()
        })
    });
    g.bench_function("address", |b| {
        b.iter(|| {
            ADDRESSES
                .iter()
                .map(|a| {
                    normalize::address(Some(black_box(a)), None, None, None, None)
                        .map_or(0, |s| s.len())
                })
                .sum::<usize>()
        })
    });
    g.bench_function("peer_trim_lowercase_all", |b| {
        b.iter(|| {
            EMAILS
                .iter()
                .chain(PHONES.iter().map(|(p, _)| p))
                .chain(NAMES)
                .chain(ADDRESSES)
                .map(|s| black_box(s).trim().to_lowercase().len())
                .sum::<usize>()
        })
    });
    g.finish();

    let opts = NormalizeOptions::default();
    let mut g = c.benchmark_group("normalize_record");
    g.throughput(Throughput::Elements(1));
    g.bench_function("account", |b| {
        b.iter(|| {
            let raw = RawRecord::new(EntityType::Account)
                .with(Field::AccountId, "acct_0000000001")
                .with(Field::CreatedAt, "2025-03-04T10:11:12Z")
                .with(Field::NameFirst, "José")
                .with(Field::NameLast, "García-López")
                .with(Field::Birthdate, "04/12/1987")
                .with(Field::Email, "Jose.Garcia+x@gmail.com")
                .with(Field::Phone, "(415) 555-2671")
                .with(Field::AddressStreet, "123 Main Street Apt 4")
                .with(Field::AddressCity, "Springfield")
                .with(Field::AddressPostalCode, "62704")
                .with(Field::AddressCountry, "US")
                .with(Field::GovIdNumber, "123-45-6780")
                .with(Field::DeviceId, "A1B2C3D4-0000-4000-8000-000000000001")
                .with(Field::IpAddress, "203.0.113.7");
            graph_core::normalize_record(black_box(&raw), &opts).map(|n| n.attributes.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
