//! The records compared by duplicate detection: one per anchor, columnar, strings interned.

use std::collections::HashSet;
use std::sync::Mutex;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::config::{LinkConfig, is_typed_filler_of};

use super::compare::{
    ADDRESS, BIRTHDATE, EMAIL, FIRST_NAME, GOV_ID, LAST_NAME, NameSig, PHONE, address_signature,
    gov_signature, local_hash,
};
use crate::keys::Keyer;
use crate::record::{Normalized, kinds};
use crate::sort::{filled_with, fit, sort_hashed};
use crate::table::{LinkInput, RowValues};

/// Marks a missing value in [`Column::ids`].
pub const NULL: u32 = u32::MAX;

/// One interned string column: `ids[record]` is a value id (see [`Column::value`]), or
/// [`NULL`].
#[derive(Debug, Clone, Default)]
pub struct Column {
    /// Value id of each record, or [`NULL`].
    pub ids: Vec<u32>,
    /// Records holding each distinct value, by value id.
    pub counts: Vec<u32>,
    /// The distinct values back to back, in order of first appearance (one allocation
    /// instead of one per value).
    text: String,
    /// End offset of each value in `text`.
    ends: Vec<usize>,
}

/// The working lists of [`Column::intern_with`], kept from one column to the next so that
/// their memory is faulted in (and zeroed by the kernel) once, not once per column: 36 bytes
/// a record, 360 MB a column at ten million records.
#[derive(Debug, Default)]
pub(crate) struct InternScratch {
    keyed: Vec<(u64, u32, u32)>,
    spare: Vec<(u64, u32, u32)>,
    run_at: Vec<u32>,
}

impl Column {
    /// The value of record `rec`.
    pub fn get(&self, rec: usize) -> Option<&str> {
        match self.ids[rec] {
            NULL => None,
            id => Some(self.value(id)),
        }
    }

    /// The value with id `id` (`id < self.distinct()`).
    pub fn value(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.ends.len()
    }

    /// Records with a value.
    pub fn non_null(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// Interns the values of records `0..n` (`value(record)`); ids number the distinct values
    /// in order of first appearance, so they are deterministic.
    ///
    /// Sort-based: every value is hashed once (in parallel), the `(hash, record)` list is
    /// sorted (in parallel) so that equal values are adjacent with their first record first,
    /// the runs are numbered by that first record and scattered to their records (sequential
    /// passes without look-ups), and the text is assembled from each value's first record.
    /// No step walks the records one by one through a map: that probe (a cache miss per
    /// record into a table sized for all values, plus reading the stored value back to
    /// confirm a hit) was most of the longest step of duplicate detection at ten million
    /// records.
    ///
    /// Values are identified by a 96-bit hash (xxh3-128, truncated) without comparing the
    /// strings: two different values share an id only if they collide, with probability
    /// about `d² / 2⁹⁷` for `d` distinct values (below 10⁻¹⁵ at ten million).
    ///
    /// It works in `scratch`'s lists, which it leaves for the next column.
    pub(crate) fn intern_with<'a>(
        scratch: &mut InternScratch,
        n: usize,
        value: impl Fn(usize) -> Option<&'a str> + Sync,
    ) -> Column {
        let InternScratch {
            keyed,
            spare,
            run_at,
        } = scratch;
        // Every record's (hash high 64 bits, hash low 32 bits, record), 16 bytes, written in
        // place; a record without a value is marked with record NULL (no record's index) and
        // dropped.
        fit(keyed, n);
        keyed.par_iter_mut().enumerate().for_each(|(r, slot)| {
            *slot = value(r).map_or((0, 0, NULL), |s| {
                let h = xxh3_128(s.as_bytes());
                ((h >> 64) as u64, h as u32, r as u32)
            });
        });
        keyed.retain(|k| k.2 != NULL);
        sort_hashed(keyed, spare);
        let keyed: &[(u64, u32, u32)] = keyed;
        let same = |i: usize, j: usize| keyed[i].0 == keyed[j].0 && keyed[i].1 == keyed[j].1;
        // Where each run of one value starts.
        let starts: Vec<u32> = (0..keyed.len())
            .into_par_iter()
            .filter(|&i| i == 0 || !same(i - 1, i))
            .map(|i| i as u32)
            .collect();
        // Runs numbered by their first record: mark each run at its first record, then walk
        // the records in order (two passes over `n`, cheaper than sorting the runs).
        fit(run_at, n);
        run_at.par_iter_mut().for_each(|r| *r = NULL);
        for (run, &s) in starts.iter().enumerate() {
            run_at[keyed[s as usize].2 as usize] = run as u32;
        }
        let mut id_of_run = vec![0u32; starts.len()];
        let mut firsts: Vec<u32> = Vec::with_capacity(starts.len());
        for (rec, &run) in run_at.iter().enumerate() {
            if run != NULL {
                id_of_run[run as usize] = firsts.len() as u32;
                firsts.push(rec as u32);
            }
        }
        let mut counts = vec![0u32; starts.len()];
        let mut ids = vec![NULL; n];
        for (run, &s) in starts.iter().enumerate() {
            let end = starts.get(run + 1).map_or(keyed.len(), |&e| e as usize);
            let id = id_of_run[run];
            counts[id as usize] = (end - s as usize) as u32;
            for &(_, _, rec) in &keyed[s as usize..end] {
                ids[rec as usize] = id;
            }
        }
        drop((starts, id_of_run));
        // The distinct values in id order, read from their first records (in record order).
        let texts: Vec<&str> = firsts
            .par_iter()
            .map(|&rec| value(rec as usize).unwrap_or_default())
            .collect();
        let mut text = String::with_capacity(texts.iter().map(|t| t.len()).sum());
        let mut ends = Vec::with_capacity(texts.len());
        for t in texts {
            text.push_str(t);
            ends.push(text.len());
        }
        Column {
            ids,
            counts,
            text,
            ends,
        }
    }
}

/// A birthdate packed as `year << 9 | month << 5 | day`; 0 means missing.
pub(crate) type Dob = u32;

/// Packs a normalised `YYYY-MM-DD` birthdate; anything else is missing.
pub(crate) fn pack_dob(s: &str) -> Dob {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return 0;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d))
            if (1..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d) =>
        {
            y << 9 | m << 5 | d
        }
        _ => 0,
    }
}

/// `(year, month, day)` of a packed birthdate.
pub(crate) fn dob_parts(d: Dob) -> (u32, u32, u32) {
    (d >> 9, (d >> 5) & 0xf, d & 0x1f)
}

/// The first name inside a normalised full name (`first middle last`) given the last name.
///
/// A full name equal to the last name is a mononym (see
/// [`crate::normalize::split_full_name`]): it has no first name, and taking its first token
/// would compare a family name against first names.
pub(crate) fn first_name_of<'a>(full: &'a str, last: Option<&str>) -> Option<&'a str> {
    let given = match last {
        Some(l) if full == l => return None,
        Some(l) => full
            .strip_suffix(l)
            .and_then(|p| p.strip_suffix(' '))
            .unwrap_or(full),
        None => full,
    };
    given.split(' ').find(|t| !t.is_empty())
}

/// The government id number without its `CC:` prefix.
///
/// The country is left out of comparisons on purpose: it is often guessed from the address
/// (or unknown, `XX`), so the same document would otherwise disagree with itself between two
/// sources, while two different people's numbers colliding across countries is negligible.
pub(crate) fn gov_number(v: &str) -> &str {
    match v.split_once(':') {
        Some((cc, n)) if cc.len() == 2 => n,
        _ => v,
    }
}

/// The placeholder rules of the linker ([`LinkConfig::is_placeholder`]: the built-in lists and
/// those the run's configuration adds), so that a value the graph refuses to link on is not
/// evidence of one identity either: two people typing `000000000` do not share an identity.
/// Placeholders are missing.
#[derive(Debug)]
struct Placeholders {
    /// Per kind index (the kinds it was made for): the kind's placeholder rules.
    kinds: Vec<KindPlaceholders>,
}

/// One kind's placeholder rules, as [`LinkConfig::is_placeholder`] applies them.
#[derive(Debug)]
struct KindPlaceholders {
    name: String,
    /// Its listed placeholders ([`LinkConfig::placeholders`]). Every anchor's value of a
    /// compared kind is looked up (tens of millions at 10M accounts): a binary search of the
    /// sorted list was a handful of string comparisons each, 2.5% of a link's samples.
    listed: HashSet<Box<str>, foldhash::fast::FixedState>,
    /// Bit `n` is set when a listed placeholder is `n` bytes long (bit 63: 63 or more), so
    /// most values are settled by their length, without being hashed.
    lengths: u64,
    /// Whether its values can be typed fillers (ID and phone numbers; the kind itself, not a
    /// combination's base kind, as `is_placeholder` judges them).
    typed: bool,
}

/// The bit of [`KindPlaceholders::lengths`] for a value of `len` bytes.
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

impl Placeholders {
    /// The placeholder rules of `rules` for each of `kinds`.
    fn new(kinds: &[String], rules: &LinkConfig) -> Self {
        let kinds = kinds
            .iter()
            .map(|k| {
                let listed: HashSet<Box<str>, _> = rules
                    .placeholders(k)
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect();
                KindPlaceholders {
                    name: k.clone(),
                    lengths: listed.iter().fold(0, |m, v| m | length_bit(v.len())),
                    listed,
                    typed: matches!(k.as_str(), kinds::GOV_ID | kinds::PHONE),
                }
            })
            .collect();
        Placeholders { kinds }
    }

    /// Whether `value` of the kind with index `k` (of those it was made for) is a placeholder:
    /// what [`LinkConfig::is_placeholder`] answers.
    fn of_kind(&self, k: u16, value: &str) -> bool {
        self.kinds.get(usize::from(k)).is_some_and(|p| {
            (p.lengths & length_bit(value.len()) != 0 && p.listed.contains(value))
                || (p.typed && is_typed_filler_of(&p.name, value))
        })
    }
}

/// Field slots read from the attributes.
#[derive(Clone, Copy)]
enum Slot {
    Name = 0,
    Last = 1,
    Dob = 2,
    Gov = 3,
    Email = 4,
    Phone = 5,
    Address = 6,
}
const SLOTS: usize = 7;
// `Cells::missing` keeps a bit per slot in a byte.
const _: () = assert!(SLOTS <= 8);

/// The attribute kinds duplicate detection reads; every other kind is ignored.
pub const COMPARED_KINDS: &[&str] = &[
    kinds::NAME,
    kinds::NAME_LAST,
    kinds::BIRTHDATE,
    kinds::GOV_ID,
    kinds::EMAIL,
    kinds::PHONE,
    kinds::ADDRESS,
];

fn slot_of(kind: &str) -> Option<Slot> {
    Some(match kind {
        kinds::NAME => Slot::Name,
        kinds::NAME_LAST => Slot::Last,
        kinds::BIRTHDATE => Slot::Dob,
        kinds::GOV_ID => Slot::Gov,
        kinds::EMAIL => Slot::Email,
        kinds::PHONE => Slot::Phone,
        kinds::ADDRESS => Slot::Address,
        _ => return None,
    })
}

/// The records of a dedupe run: one per anchor entity (an account, or an inquiry without a
/// known account), in entity order. Columnar, with interned strings.
///
/// Each field is the anchor's own value; when the anchor has none, the first value among
/// its inquiries (in attribute order) fills in, because an inquiry collects the same claimed
/// identity again and often completes a sparse account. Placeholder values are missing.
#[derive(Debug, Clone)]
pub struct DedupeRecords {
    /// Entity index (in the [`LinkInput`]) of each record's anchor; ascending.
    pub anchors: Vec<u32>,
    /// First name: the first token of `name` before the last name.
    pub first_name: Column,
    /// Last name (`name_last`).
    pub last_name: Column,
    /// Full name (`name`, `first middle last`); kept for display, not compared.
    pub full_name: Column,
    /// Birthdates, packed (0 = missing).
    pub(crate) birthdate: Vec<Dob>,
    /// Per record the ids of the compared fields, the birthdate and value signatures (see
    /// [`Row`]).
    pub(crate) rows: Vec<Row>,
    /// Government id number without its country prefix.
    pub gov_id: Column,
    /// Email address.
    pub email: Column,
    /// Phone number (E.164).
    pub phone: Column,
    /// Address key (`street|postal`, `street|city` or `street|`).
    pub address: Column,
    /// [`NameSig`] of each distinct first name (`[FIRST_NAME]`) and last name
    /// (`[LAST_NAME]`), by value id.
    pub(crate) name_sigs: [Vec<NameSig>; 2],
    pub(crate) keyer: Keyer,
}

impl DedupeRecords {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The birthdate of record `rec` as `YYYY-MM-DD`.
    pub fn birthdate(&self, rec: usize) -> Option<String> {
        format_dob(self.birthdate[rec])
    }

    /// Record `rec` as an owned [`DedupeRecord`].
    pub fn record(&self, rec: usize) -> DedupeRecord {
        let s = |c: &Column| c.get(rec).map(str::to_owned);
        DedupeRecord {
            first_name: s(&self.first_name),
            last_name: s(&self.last_name),
            full_name: s(&self.full_name),
            birthdate: self.birthdate(rec),
            gov_id: s(&self.gov_id),
            email: s(&self.email),
            phone: s(&self.phone),
            address: s(&self.address),
        }
    }

    /// The comparison view of record `rec`.
    #[inline]
    pub(crate) fn side(&self, rec: usize) -> RecSide<'_> {
        RecSide {
            recs: self,
            row: &self.rows[rec],
        }
    }

    /// The column compared by comparison `c` (not the birthdate).
    pub(crate) fn column(&self, c: usize) -> &Column {
        match c {
            FIRST_NAME => &self.first_name,
            LAST_NAME => &self.last_name,
            GOV_ID => &self.gov_id,
            EMAIL => &self.email,
            PHONE => &self.phone,
            _ => &self.address,
        }
    }
}

pub(crate) fn format_dob(d: Dob) -> Option<String> {
    if d == 0 {
        return None;
    }
    let (y, m, day) = dob_parts(d);
    Some(format!("{y:04}-{m:02}-{day:02}"))
}

/// Marks a value that is present but not interned (a record outside [`DedupeRecords`]).
pub(crate) const UNKNOWN: u32 = u32::MAX - 1;

/// What a comparison needs from one record: per compared field an interned id ([`NULL`]
/// when missing, [`UNKNOWN`] when present but not interned) and its text, and the birthdate.
/// Row layout: the comparison index (see [`super::compare`]), with the packed birthdate at
/// [`BIRTHDATE`].
pub(crate) trait View {
    /// The row with signatures, for records of a [`DedupeRecords`].
    fn row(&self) -> Option<&Row>;
    fn id(&self, c: usize) -> u32;
    fn text(&self, c: usize) -> &str;
    fn dob(&self) -> Dob;
    /// The [`NameSig`] of the first (`c = FIRST_NAME`) or last name, when precomputed.
    fn name_sig(&self, c: usize) -> Option<NameSig>;
}

/// A record of a [`DedupeRecords`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecSide<'a> {
    recs: &'a DedupeRecords,
    row: &'a Row,
}

impl View for RecSide<'_> {
    #[inline]
    fn row(&self) -> Option<&Row> {
        Some(self.row)
    }
    #[inline]
    fn id(&self, c: usize) -> u32 {
        self.row[c]
    }
    #[inline]
    fn text(&self, c: usize) -> &str {
        self.recs.column(c).value(self.row[c])
    }
    #[inline]
    fn dob(&self) -> Dob {
        self.row[BIRTHDATE]
    }
    #[inline]
    fn name_sig(&self, c: usize) -> Option<NameSig> {
        self.recs
            .name_sigs
            .get(c)?
            .get(self.row[c] as usize)
            .copied()
    }
}

/// A [`DedupeRecord`] seen by the comparisons.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewSide<'a> {
    text: [Option<&'a str>; 8],
    dob: Dob,
}

impl View for NewSide<'_> {
    #[inline]
    fn row(&self) -> Option<&Row> {
        None
    }
    #[inline]
    fn id(&self, c: usize) -> u32 {
        if self.text[c].is_some() {
            UNKNOWN
        } else {
            NULL
        }
    }
    #[inline]
    fn text(&self, c: usize) -> &str {
        self.text[c].unwrap_or_default()
    }
    #[inline]
    fn dob(&self) -> Dob {
        self.dob
    }
    #[inline]
    fn name_sig(&self, _c: usize) -> Option<NameSig> {
        None
    }
}

/// One record outside [`DedupeRecords`], e.g. arriving on the live path. Values are in
/// normalised form ([`crate::normalize`]); build it with [`DedupeRecord::from_attributes`]
/// or [`DedupeRecord::from_normalized`] so the same rules as the batch path apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupeRecord {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Birthdate `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// Government id number without its country prefix.
    pub gov_id: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Address key.
    pub address: Option<String>,
}

impl DedupeRecord {
    /// Builds a record from `(kind, normalised value)` attributes, exactly as
    /// [`records_from_input`] reads an anchor: the first value of each kind wins,
    /// placeholders (of `rules`) are missing, the first name is taken from `name` and
    /// `name_last`.
    pub fn from_attributes<'a>(
        attrs: impl IntoIterator<Item = (&'a str, &'a str)>,
        rules: &LinkConfig,
    ) -> Self {
        let mut vals: [Option<&str>; SLOTS] = [None; SLOTS];
        for (kind, value) in attrs {
            if let Some(s) = slot_of(kind)
                && vals[s as usize].is_none()
                && !rules.is_placeholder(kind, value)
            {
                vals[s as usize] = Some(value);
            }
        }
        let last = vals[Slot::Last as usize];
        let dob = vals[Slot::Dob as usize].map(pack_dob).unwrap_or(0);
        DedupeRecord {
            first_name: vals[Slot::Name as usize]
                .and_then(|f| first_name_of(f, last))
                .map(str::to_owned),
            last_name: last.map(str::to_owned),
            full_name: vals[Slot::Name as usize].map(str::to_owned),
            birthdate: format_dob(dob),
            gov_id: vals[Slot::Gov as usize].map(|g| gov_number(g).to_owned()),
            email: vals[Slot::Email as usize].map(str::to_owned),
            phone: vals[Slot::Phone as usize].map(str::to_owned),
            address: vals[Slot::Address as usize].map(str::to_owned),
        }
    }

    /// Builds a record from a normalised input record, with the placeholders of `rules`.
    pub fn from_normalized(n: &Normalized, rules: &LinkConfig) -> Self {
        Self::from_attributes(
            n.attributes.iter().map(|a| (&*a.kind, a.value.as_str())),
            rules,
        )
    }

    pub(crate) fn side(&self) -> NewSide<'_> {
        let mut text = [None; 8];
        text[FIRST_NAME] = self.first_name.as_deref();
        text[LAST_NAME] = self.last_name.as_deref();
        text[GOV_ID] = self.gov_id.as_deref();
        text[EMAIL] = self.email.as_deref();
        text[PHONE] = self.phone.as_deref();
        text[ADDRESS] = self.address.as_deref();
        NewSide {
            text,
            dob: self.birthdate.as_deref().map(pack_dob).unwrap_or(0),
        }
    }
}

/// Builds the dedupe records of `input`: one per anchor, see [`DedupeRecords`].
///
/// Time `O(R + A)` for `R` attribute rows and `A` anchors (two passes over the rows, then the
/// columns are interned in parallel); memory about 100 bytes per anchor plus the distinct
/// values. Never fails: missing or unusable values are simply missing.
pub fn records_from_input(input: &LinkInput, rules: &LinkConfig) -> DedupeRecords {
    let attrs = &input.attributes;
    records_from_rows(
        input,
        rules,
        || (0..attrs.len()).map(|i| (i as u32, attrs.entity[i], attrs.kind[i])),
        |row| attrs.value(row),
    )
}

/// The attribute rows of [`COMPARED_KINDS`] as a batch link reads them for duplicate
/// detection, without the attribute table: the values of the rows whose entity is its own
/// anchor (an account, or an inquiry without a known account), and where each other row of
/// those kinds is (an inquiry's value is wanted only where its account has none, and is
/// fetched then: see [`records_from_compared`]). Every list is in file-row order.
///
/// An anchor's own row whose value is a placeholder is not kept: it can never fill a field,
/// and checking it here, as each row group is read in parallel, leaves the (sequential)
/// choice of each field's value without a value to read.
#[derive(Debug)]
pub struct ComparedRows {
    /// Kind names, as the `kind` lists index them.
    pub kinds: Vec<String>,
    /// Shared by the parts a read builds in parallel ([`ComparedRows::empty_like`]).
    placeholders: std::sync::Arc<Placeholders>,
    /// The anchors' own rows but placeholders: file row and value.
    pub own: RowValues,
    /// Where the rows are, in parts (one per row group read in parallel) kept as they were
    /// read: joining them was a sequential copy of ~1.4 GB at 10M accounts, all in freshly
    /// faulted pages.
    pub parts: Vec<RowPlaces>,
}

/// Where the rows of one part of [`ComparedRows`] are: entity and kind of the anchors' own
/// rows (in the order of [`ComparedRows::own`]), and file row, entity and kind of the others.
#[derive(Debug, Default)]
pub struct RowPlaces {
    /// Entity of each own row.
    pub own_entity: Vec<u32>,
    /// Kind of each own row.
    pub own_kind: Vec<u16>,
    /// The other rows: file row.
    pub other_row: Vec<u32>,
    /// Entity of each other row.
    pub other_entity: Vec<u32>,
    /// Kind of each other row.
    pub other_kind: Vec<u16>,
}

impl RowPlaces {
    /// The other rows: file row, entity and kind.
    pub fn others(&self) -> impl Iterator<Item = (u32, u32, u16)> + '_ {
        (self.other_row.iter().zip(&self.other_entity))
            .zip(&self.other_kind)
            .map(|((&r, &e), &k)| (r, e, k))
    }
}

impl ComparedRows {
    /// No rows yet, of the kinds `kinds` (which the rows' kind indexes refer to), whose
    /// placeholders are those of `rules`.
    pub fn new(kinds: Vec<String>, rules: &LinkConfig) -> Self {
        ComparedRows {
            placeholders: std::sync::Arc::new(Placeholders::new(&kinds, rules)),
            kinds,
            own: RowValues::default(),
            parts: Vec::new(),
        }
    }

    /// Adds file row `row` (after those held) of entity `e`, whose anchor is `anchor`, of
    /// kind `k`: with its value when `e` is its own anchor (unless it is a placeholder),
    /// else only where it is.
    pub fn push(&mut self, row: u32, e: u32, anchor: u32, k: u16, value: &str) {
        if anchor == e && self.placeholders.of_kind(k, value) {
            return;
        }
        if self.parts.is_empty() {
            self.parts.push(RowPlaces::default());
        }
        let Some(part) = self.parts.last_mut() else {
            return;
        };
        if anchor == e {
            self.own.push(row, value);
            part.own_entity.push(e);
            part.own_kind.push(k);
        } else {
            part.other_row.push(row);
            part.other_entity.push(e);
            part.other_kind.push(k);
        }
    }

    /// No rows yet, of the same kinds and placeholders as `self` (shared, not built again):
    /// a read makes one per row group.
    pub fn empty_like(&self) -> Self {
        ComparedRows {
            kinds: self.kinds.clone(),
            placeholders: self.placeholders.clone(),
            own: RowValues::default(),
            parts: Vec::new(),
        }
    }

    /// Room for `own_rows` more anchors' own rows holding `own_bytes` bytes of values and
    /// `other_rows` more other rows, in the part rows are added to (exactly: call it once
    /// per part with the part's counts, not per row).
    pub fn reserve(&mut self, own_rows: usize, own_bytes: usize, other_rows: usize) {
        if self.parts.is_empty() {
            self.parts.push(RowPlaces::default());
        }
        let Some(part) = self.parts.last_mut() else {
            return;
        };
        part.own_entity.reserve_exact(own_rows);
        part.own_kind.reserve_exact(own_rows);
        part.other_row.reserve_exact(other_rows);
        part.other_entity.reserve_exact(other_rows);
        part.other_kind.reserve_exact(other_rows);
        if own_rows > 0 {
            self.own.reserve(own_rows, own_bytes);
        }
    }

    /// The anchors' own rows: index in [`ComparedRows::own`], entity and kind.
    pub fn own_places(&self) -> impl Iterator<Item = (u32, u32, u16)> + '_ {
        (self.parts.iter())
            .flat_map(|p| p.own_entity.iter().zip(&p.own_kind))
            .enumerate()
            .map(|(i, (&e, &k))| (i as u32, e, k))
    }
}

/// Like [`records_from_input`] for a batch link, which reads no attribute table for it:
/// `anchor` is each entity's anchor; `rows` are the rows of [`COMPARED_KINDS`]
/// ([`ComparedRows`]); `fetch(rows)` is called once with the file rows (ascending) of the
/// inquiry rows whose anchor has no usable value of their kind, and returns their values. The
/// records equal [`records_from_input`]'s on the same rows. A value is found by its index
/// (`O(1)` when the chunks of values hold similar counts of rows, else `O(log chunks)`).
///
/// # Errors
/// What `fetch` returns.
pub fn records_from_compared(
    anchor: &[u32],
    keyer: &Keyer,
    rows: ComparedRows,
    fetch: impl FnOnce(&[u32]) -> crate::Result<RowValues>,
) -> crate::Result<DedupeRecords> {
    let mut cells = Cells::new(anchor, &rows.kinds);
    // No placeholder was kept among the anchors' own rows, so none is read here.
    cells.fill(anchor, rows.own_places(), true, |_, _| true);
    let ComparedRows {
        placeholders,
        own,
        mut parts,
        ..
    } = rows;
    for p in &mut parts {
        (p.own_entity, p.own_kind) = (Vec::new(), Vec::new());
    }
    // The other rows whose anchor's field is still empty (in parallel, in order): file row,
    // entity and kind.
    let missing = cells.missing();
    let gaps: Vec<(u32, u32, u16)> = parts
        .par_iter()
        .flat_map_iter(|p| {
            p.others().filter(|&(_, e, k)| {
                let a = anchor[e as usize];
                a != e && cells.lacks(missing[a as usize], k)
            })
        })
        .collect();
    drop((parts, missing));
    let gap_rows: Vec<u32> = gaps.iter().map(|g| g.0).collect();
    let fetched = fetch(&gap_rows)?;
    drop(gap_rows);
    let base = own.len() as u32;
    let value = |h: u32| match h.checked_sub(base) {
        None => own.value_at(h as usize),
        Some(j) => fetched.value_at(j as usize),
    };
    let inquiries = (gaps.iter().enumerate()).map(|(j, &(_, e, k))| (base + j as u32, e, k));
    let usable = |h: u32, k: u16| !placeholders.of_kind(k, value(h));
    cells.fill(anchor, inquiries, false, usable);
    drop(gaps);
    let recs = records_from_cells(keyer, cells, value);
    drop((own, fetched));
    Ok(with_signatures(recs))
}

/// Builds the records from the rows `rows()` walks: each row's handle, entity and kind (rows
/// in attribute order); `value(handle)` gives its value.
fn records_from_rows<'a, I: Iterator<Item = (u32, u32, u16)>>(
    input: &LinkInput,
    rules: &LinkConfig,
    rows_of: impl Fn() -> I,
    value: impl Fn(u32) -> &'a str + Sync,
) -> DedupeRecords {
    let (anchor, kinds) = (&input.entities.anchor, &input.attributes.kinds);
    let mut cells = Cells::new(anchor, kinds);
    let placeholders = Placeholders::new(kinds, rules);
    let usable = |h: u32, k: u16| !placeholders.of_kind(k, value(h));
    // The anchor's own rows win over its inquiries' rows: the first pass takes only rows of
    // anchors themselves, the second fills gaps.
    for own in [true, false] {
        cells.fill(anchor, rows_of(), own, usable);
    }
    with_signatures(records_from_cells(&input.keyer, cells, value))
}

/// Which row (a handle) fills each field of each record: `rows[rec * SLOTS + slot]`.
struct Cells {
    rec_of: Vec<u32>,
    anchors: Vec<u32>,
    slot_by_kind: Vec<Option<Slot>>,
    rows: Vec<u32>,
}

impl Cells {
    /// One record per entity that is its own anchor (`anchor[e] == e`), every field empty;
    /// `kinds` names the kinds rows give.
    fn new(anchor: &[u32], kinds: &[String]) -> Cells {
        let mut rec_of = vec![NULL; anchor.len()];
        let mut anchors = Vec::new();
        for (e, &a) in anchor.iter().enumerate() {
            if a as usize == e {
                rec_of[e] = anchors.len() as u32;
                anchors.push(e as u32);
            }
        }
        Cells {
            rows: filled_with(anchors.len() * SLOTS, NULL),
            rec_of,
            anchors,
            slot_by_kind: kinds.iter().map(|k| slot_of(k)).collect(),
        }
    }

    /// Per entity, a bit per field its record has no value for yet (`1 << slot`; none for an
    /// entity that is not its own anchor). The inquiry rows, whose anchors come in no
    /// particular order, are checked against it: a byte per entity is one random look-up
    /// into a small table, where the record index (4 bytes per entity) and then the record's
    /// cells (28 bytes per record) were two into larger ones.
    fn missing(&self) -> Vec<u8> {
        self.rec_of
            .par_iter()
            .map(|&rec| match rec {
                NULL => 0,
                _ => self.rows[rec as usize * SLOTS..][..SLOTS]
                    .iter()
                    .enumerate()
                    .filter(|&(_, &cell)| cell == NULL)
                    .fold(0, |m, (slot, _)| m | 1 << slot),
            })
            .collect()
    }

    /// Whether `missing` (an entity's byte of [`Cells::missing`]) holds the field of kind `k`
    /// (false for kinds not compared).
    fn lacks(&self, missing: u8, k: u16) -> bool {
        self.slot_by_kind[k as usize].is_some_and(|slot| missing >> slot as u8 & 1 == 1)
    }

    /// Fills empty fields from `rows` (handle, entity, kind), taking only the anchors' own
    /// rows (`own`) or only their inquiries' rows, and only rows that are `usable(handle,
    /// kind)` (never a placeholder).
    fn fill(
        &mut self,
        anchor_of: &[u32],
        rows: impl Iterator<Item = (u32, u32, u16)>,
        own: bool,
        usable: impl Fn(u32, u16) -> bool,
    ) {
        for (handle, e, k) in rows {
            let Some(slot) = self.slot_by_kind[k as usize] else {
                continue;
            };
            let anchor = anchor_of[e as usize];
            if (anchor == e) != own {
                continue;
            }
            let rec = self.rec_of[anchor as usize];
            if rec == NULL {
                // An anchor that is not its own anchor cannot occur in a valid input; skip.
                continue;
            }
            let cell = &mut self.rows[rec as usize * SLOTS + slot as usize];
            if *cell == NULL && usable(handle, k) {
                *cell = handle;
            }
        }
    }
}

/// The records whose fields `cells` chose, their values read through `value(handle)`:
/// columns only, without the signatures and rows [`with_signatures`] adds.
fn records_from_cells<'a>(
    keyer: &Keyer,
    cells: Cells,
    value: impl Fn(u32) -> &'a str + Sync,
) -> DedupeRecords {
    let Cells { anchors, rows, .. } = cells;
    let n = anchors.len();
    let value = |rec: usize, slot: Slot| -> Option<&str> {
        match rows[rec * SLOTS + slot as usize] {
            NULL => None,
            r => Some(value(r)),
        }
    };

    // Seven columns, interned in parallel (each interning is parallel too: its sequential
    // passes overlap another column's), each in a scratch taken from `pool` and put back.
    let tasks: Vec<u8> = (0..7).collect();
    let pool = Mutex::new(Vec::<InternScratch>::new());
    let lock = || pool.lock().unwrap_or_else(|e| e.into_inner());
    let cols: Vec<Column> = tasks
        .par_iter()
        .map(|&t| {
            let mut scratch = lock().pop().unwrap_or_default();
            let col = Column::intern_with(&mut scratch, n, |r| match t {
                0 => value(r, Slot::Name).and_then(|f| first_name_of(f, value(r, Slot::Last))),
                1 => value(r, Slot::Last),
                2 => value(r, Slot::Name),
                3 => value(r, Slot::Gov).map(gov_number),
                4 => value(r, Slot::Email),
                5 => value(r, Slot::Phone),
                _ => value(r, Slot::Address),
            });
            lock().push(scratch);
            col
        })
        .collect();
    drop(pool);
    let birthdate: Vec<Dob> = (0..n)
        .into_par_iter()
        .map(|r| value(r, Slot::Dob).map(pack_dob).unwrap_or(0))
        .collect();
    let mut it = cols.into_iter();
    let mut next = || it.next().unwrap_or_default();
    DedupeRecords {
        first_name: next(),
        last_name: next(),
        full_name: next(),
        gov_id: next(),
        email: next(),
        phone: next(),
        address: next(),
        birthdate,
        rows: Vec::new(),
        anchors,
        name_sigs: [Vec::new(), Vec::new()],
        keyer: keyer.clone(),
    }
}

/// Adds the signatures and the per-record [`Row`]s to records holding their columns only
/// ([`records_from_cells`]). Reads no values but the columns', so the values the cells
/// pointed at can be freed first: at 10M accounts they were 1.3 GB held while the rows
/// (640 MB) were built, the peak of a batch link.
fn with_signatures(mut recs: DedupeRecords) -> DedupeRecords {
    let n = recs.len();
    for c in [FIRST_NAME, LAST_NAME] {
        let col = recs.column(c);
        recs.name_sigs[c] = (0..col.distinct() as u32)
            .into_par_iter()
            .map(|id| NameSig::of(col.value(id)))
            .collect();
    }
    // Signatures per distinct value, then one row per record.
    let gov_sig: Vec<u32> = (0..recs.gov_id.distinct() as u32)
        .into_par_iter()
        .map(|id| gov_signature(recs.gov_id.value(id)))
        .collect();
    let local: Vec<u32> = (0..recs.email.distinct() as u32)
        .into_par_iter()
        .map(|id| local_hash(recs.email.value(id)))
        .collect();
    let addr: Vec<(u32, [u16; ADDRESS_TOKENS])> = (0..recs.address.distinct() as u32)
        .into_par_iter()
        .map(|id| address_signature(recs.address.value(id)))
        .collect();
    recs.rows = (0..n)
        .into_par_iter()
        .map(|r| {
            let mut row = Row {
                ids: [NULL; 8],
                gov_sig: 0,
                email_local: 0,
                addr_tokens: u32::MAX,
                addr_hashes: [0; ADDRESS_TOKENS],
            };
            for c in [FIRST_NAME, LAST_NAME, GOV_ID, EMAIL, PHONE, ADDRESS] {
                row.ids[c] = recs.column(c).ids[r];
            }
            row.ids[BIRTHDATE] = recs.birthdate[r];
            if row.ids[GOV_ID] != NULL {
                row.gov_sig = gov_sig[row.ids[GOV_ID] as usize];
            }
            if row.ids[EMAIL] != NULL {
                row.email_local = local[row.ids[EMAIL] as usize];
            }
            if row.ids[ADDRESS] != NULL {
                (row.addr_tokens, row.addr_hashes) = addr[row.ids[ADDRESS] as usize];
            }
            row
        })
        .collect();
    recs
}

/// Distinct address tokens a [`Row`] holds hashes of.
pub(crate) const ADDRESS_TOKENS: usize = 10;

/// One record as the comparisons read it: the interned ids of the compared fields (indexed
/// by comparison, the packed birthdate at [`BIRTHDATE`]) and signatures that settle most
/// non-matching values without reading their text (see [`super::compare::compare_cached`]).
///
/// One cache line per record, because pairs are compared in random order: reading seven
/// columns and the texts behind them would be a dozen cache misses per pair.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Row {
    pub ids: [u32; 8],
    /// [`gov_signature`] of the id number.
    pub gov_sig: u32,
    /// [`local_hash`] of the email.
    pub email_local: u32,
    /// Distinct address tokens, or `u32::MAX` when there are more than [`ADDRESS_TOKENS`].
    pub addr_tokens: u32,
    /// 16-bit hashes of the distinct address tokens, sorted.
    pub addr_hashes: [u16; ADDRESS_TOKENS],
}

impl std::ops::Index<usize> for Row {
    type Output = u32;
    #[inline]
    fn index(&self, c: usize) -> &u32 {
        &self.ids[c]
    }
}

#[cfg(test)]
mod tests {
    use proptest::test_runner::TestCaseError;

    use super::*;

    proptest::proptest! {
        /// The per-kind lists answer what the link's placeholder rules answer, configured
        /// placeholders included (one of them longer than the lengths told apart).
        #[test]
        fn placeholders_answer_as_the_link_rules_do(
            k in 0..COMPARED_KINDS.len() + 1,
            pick in 0usize..256,
            own in "[0-9a-z@.:+/-]{0,14}|[A-Z]{2}:[0-9]{0,3}(123456789|5555555)|\\+[0-9]{0,3}0000000|[a-z]{58,72}@x\\.io",
        ) {
            // The compared kinds and a combination kind (judged as its own kind, as the link
            // rules judge it).
            let kinds: Vec<String> = COMPARED_KINDS
                .iter()
                .map(|&k| k.to_owned())
                .chain(["phone+name_last".to_owned()])
                .collect();
            let long = format!("{}@x.io", "z".repeat(64));
            let rules = LinkConfig::from_toml_str(&format!(
                "[rules.email]\nlink = \"alone\"\nplaceholders = [\"nobody@corp.example\", \"{long}\"]\n\
                 [rules.phone]\nlink = \"alone\"\nplaceholders = [\"+15550001234\"]\n"
            ))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let p = Placeholders::new(&kinds, &rules);
            let kind = kinds[k].as_str();
            // A listed value of this kind or of another one (say an email's on a phone), or,
            // about half the time, a generated one.
            let listed: Vec<String> = kinds.iter().flat_map(|k| rules.placeholders(k)).collect();
            let value = listed.get(pick).cloned().unwrap_or(own);
            proptest::prop_assert_eq!(
                p.of_kind(k as u16, &value),
                rules.is_placeholder(kind, &value),
                "{} {:?}", kind, value
            );
        }
    }
}
