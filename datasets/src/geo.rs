//! Countries and everything that depends on them: cities, streets, postal codes, phone number
//! ranges, government id formats, email domains and IP ranges.

use crate::names::Culture;

/// Country of residence of a persona.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Country {
    #[default]
    Us,
    Gb,
    De,
    Fr,
    Ca,
}

impl Country {
    pub(crate) const ALL: [Country; 5] = [
        Country::Us,
        Country::Gb,
        Country::De,
        Country::Fr,
        Country::Ca,
    ];

    /// Share of personas per country, in per mille.
    pub(crate) const WEIGHTS: [u32; 5] = [800, 60, 50, 40, 50];

    pub(crate) fn iso2(self) -> &'static str {
        match self {
            Country::Us => "US",
            Country::Gb => "GB",
            Country::De => "DE",
            Country::Fr => "FR",
            Country::Ca => "CA",
        }
    }

    pub(crate) fn iso3(self) -> &'static str {
        match self {
            Country::Us => "USA",
            Country::Gb => "GBR",
            Country::De => "DEU",
            Country::Fr => "FRA",
            Country::Ca => "CAN",
        }
    }

    pub(crate) fn calling_code(self) -> &'static str {
        match self {
            Country::Us | Country::Ca => "1",
            Country::Gb => "44",
            Country::De => "49",
            Country::Fr => "33",
        }
    }

    /// Culture mix of the population (weights).
    pub(crate) fn cultures(self) -> &'static [(Culture, u32)] {
        use Culture::*;
        match self {
            Country::Us => &[
                (Anglo, 40),
                (Irish, 6),
                (Hispanic, 18),
                (Chinese, 5),
                (Vietnamese, 4),
                (SouthAsian, 6),
                (Arabic, 3),
                (WestAfrican, 6),
                (German, 3),
                (Slavic, 4),
                (Japanese, 2),
                (Korean, 2),
                (French, 1),
            ],
            Country::Gb => &[
                (Anglo, 60),
                (Irish, 10),
                (SouthAsian, 12),
                (WestAfrican, 5),
                (Slavic, 5),
                (Arabic, 4),
                (Chinese, 2),
                (French, 2),
            ],
            Country::De => &[
                (German, 72),
                (Turkish, 12),
                (Slavic, 9),
                (Arabic, 4),
                (Vietnamese, 2),
                (Anglo, 1),
            ],
            Country::Fr => &[
                (French, 70),
                (Arabic, 15),
                (WestAfrican, 7),
                (Vietnamese, 3),
                (Hispanic, 3),
                (Chinese, 2),
            ],
            Country::Ca => &[
                (Anglo, 38),
                (French, 24),
                (Irish, 6),
                (Chinese, 10),
                (SouthAsian, 10),
                (Vietnamese, 3),
                (Korean, 3),
                (Arabic, 3),
                (Slavic, 3),
            ],
        }
    }

    pub(crate) fn cities(self) -> &'static [City] {
        match self {
            Country::Us => US_CITIES,
            Country::Gb => GB_CITIES,
            Country::De => DE_CITIES,
            Country::Fr => FR_CITIES,
            Country::Ca => CA_CITIES,
        }
    }

    /// Highest house number used in generated street addresses.
    pub(crate) fn max_house_number(self) -> u64 {
        match self {
            Country::Us | Country::Ca => 9_999,
            Country::Gb => 999,
            Country::De | Country::Fr => 400,
        }
    }

    /// Number of distinct (street, street type) pairs.
    pub(crate) fn street_variants(self) -> u64 {
        match self {
            Country::Us | Country::Ca | Country::Gb => {
                (EN_STREETS.len() * EN_SUFFIXES.len()) as u64
            }
            Country::De => (DE_STEMS.len() * DE_SUFFIXES.len()) as u64,
            Country::Fr => (FR_NAMES.len() * FR_TYPES.len()) as u64,
        }
    }

    /// Size of the space of distinct street addresses (number, street, type, city).
    pub(crate) fn address_space(self) -> u64 {
        self.max_house_number() * self.street_variants() * self.cities().len() as u64
    }

    /// Email domains local to the country (ISPs, national webmail).
    pub(crate) fn email_domains(self) -> &'static [&'static str] {
        match self {
            Country::Us => &["comcast.net", "att.net", "verizon.net", "sbcglobal.net"],
            Country::Gb => &["btinternet.com", "yahoo.co.uk", "hotmail.co.uk", "sky.com"],
            Country::De => &["gmx.de", "web.de", "t-online.de", "gmx.net"],
            Country::Fr => &["orange.fr", "free.fr", "laposte.net", "sfr.fr"],
            Country::Ca => &["shaw.ca", "rogers.com", "videotron.ca", "sympatico.ca"],
        }
    }

    /// Phone number ranges valid under libphonenumber's metadata, as (national prefix,
    /// number of free digits after it). NANP countries are handled separately.
    pub(crate) fn phone_blocks(self) -> &'static [(&'static str, u32)] {
        match self {
            Country::Us | Country::Ca => &[],
            Country::Gb => &[
                ("71", 8),
                ("72", 8),
                ("73", 8),
                ("771", 7),
                ("772", 7),
                ("773", 7),
                ("774", 7),
                ("775", 7),
                ("776", 7),
                ("777", 7),
                ("780", 7),
                ("781", 7),
                ("784", 7),
                ("785", 7),
                ("786", 7),
                ("787", 7),
                ("788", 7),
                ("789", 7),
                ("794", 7),
                ("795", 7),
                ("796", 7),
                ("797", 7),
                ("798", 7),
                ("799", 7),
            ],
            Country::De => &[
                ("151", 8),
                ("152", 8),
                ("157", 8),
                ("159", 8),
                ("160", 7),
                ("162", 7),
                ("163", 7),
                ("170", 8),
                ("171", 8),
                ("172", 8),
                ("173", 8),
                ("174", 8),
                ("175", 8),
                ("176", 8),
                ("177", 8),
                ("178", 8),
                ("179", 8),
            ],
            Country::Fr => &[
                ("60", 7),
                ("61", 7),
                ("62", 7),
                ("64", 7),
                ("65", 7),
                ("66", 7),
                ("67", 7),
                ("68", 7),
                ("73", 7),
                ("74", 7),
                ("75", 7),
                ("76", 7),
                ("77", 7),
                ("78", 7),
                ("79", 7),
            ],
        }
    }

    /// NANP area codes used for the country (US or CA).
    pub(crate) fn area_codes(self) -> &'static [u16] {
        match self {
            Country::Us => &[
                212, 310, 415, 646, 702, 305, 312, 617, 206, 512, 713, 404, 213, 323, 718, 917,
                202, 303, 503, 602, 214, 469, 615, 720, 347, 408, 510, 619, 773, 818,
            ],
            Country::Ca => &[416, 604, 514, 647, 778, 438, 403, 613, 905],
            _ => &[],
        }
    }

    /// Size of the phone number space (distinct national numbers).
    pub(crate) fn phone_space(self) -> u64 {
        match self {
            Country::Us | Country::Ca => self.area_codes().len() as u64 * NANP_PER_AREA,
            _ => self.phone_blocks().iter().map(|&(_, d)| 10u64.pow(d)).sum(),
        }
    }

    /// Appends the national significant number (no trunk prefix, no country code) for index
    /// `idx` of the country's phone space.
    pub(crate) fn push_phone(self, out: &mut String, idx: u64) {
        match self {
            Country::Us | Country::Ca => {
                let areas = self.area_codes();
                let area = areas[(idx / NANP_PER_AREA) as usize % areas.len()];
                let rest = idx % NANP_PER_AREA;
                // Exchanges 200..=999 without 555 (reserved for fiction and directory use).
                let mut exchange = 200 + rest / 10_000;
                if exchange >= 555 {
                    exchange += 1;
                }
                crate::util::push_u64(out, u64::from(area));
                crate::util::push_u64(out, exchange);
                crate::util::push_padded(out, rest % 10_000, 4);
            }
            _ => {
                let mut i = idx;
                for &(prefix, digits) in self.phone_blocks() {
                    let size = 10u64.pow(digits);
                    if i < size {
                        out.push_str(prefix);
                        crate::util::push_padded(out, i, digits as usize);
                        return;
                    }
                    i -= size;
                }
            }
        }
    }

    /// Size of the space of distinct government id numbers.
    pub(crate) fn gov_space(self) -> u64 {
        match self {
            // Area 001-899 without 666, group 01-99, serial 0001-9999.
            Country::Us => 898 * 99 * 9_999,
            // First digit 1-7 or 9, then 7 digits; the ninth is a Luhn check digit.
            Country::Ca => 8 * 10_000_000,
            // Prefix letter pairs without the seven never issued (BG, GB, KN, NK, NT, TN, ZZ),
            // six digits, suffix A-D.
            Country::Gb => (NINO_FIRST.len() as u64 * NINO_SECOND.len() as u64 - 7) * 1_000_000 * 4,
            Country::De => 9 * 10_000_000_000,
            // Department 01-95, commune 001-990, order 001-999 (sex and birth come from the persona).
            Country::Fr => 95 * 990 * 999,
        }
    }
}

/// Exchanges per NANP area code (200..=999 without 555) times line numbers.
const NANP_PER_AREA: u64 = 799 * 10_000;

/// A city with its subdivision and postal-code prefixes.
#[derive(Debug)]
pub(crate) struct City {
    pub(crate) name: &'static str,
    pub(crate) subdivision: &'static str,
    /// Postal code prefixes; the rest of the code is random (digits or, for GB and CA, the
    /// inward part).
    pub(crate) postal: &'static [&'static str],
}

const fn city(
    name: &'static str,
    subdivision: &'static str,
    postal: &'static [&'static str],
) -> City {
    City {
        name,
        subdivision,
        postal,
    }
}

static US_CITIES: &[City] = &[
    city("New York", "NY", &["100", "101", "102", "103", "104"]),
    city("Los Angeles", "CA", &["900", "901"]),
    city("Chicago", "IL", &["606"]),
    city("Houston", "TX", &["770"]),
    city("Phoenix", "AZ", &["850"]),
    city("Philadelphia", "PA", &["191"]),
    city("San Antonio", "TX", &["782"]),
    city("San Diego", "CA", &["921"]),
    city("Dallas", "TX", &["752"]),
    city("Austin", "TX", &["787"]),
    city("San Jose", "CA", &["951"]),
    city("Jacksonville", "FL", &["322"]),
    city("Columbus", "OH", &["432"]),
    city("Charlotte", "NC", &["282"]),
    city("San Francisco", "CA", &["941"]),
    city("Indianapolis", "IN", &["462"]),
    city("Seattle", "WA", &["981"]),
    city("Denver", "CO", &["802"]),
    city("Washington", "DC", &["200"]),
    city("Boston", "MA", &["021", "022"]),
    city("Nashville", "TN", &["372"]),
    city("Portland", "OR", &["972"]),
    city("Las Vegas", "NV", &["891"]),
    city("Miami", "FL", &["331"]),
    city("Atlanta", "GA", &["303"]),
    city("Minneapolis", "MN", &["554"]),
    city("New Orleans", "LA", &["701"]),
    city("Brooklyn", "NY", &["112"]),
    city("Albuquerque", "NM", &["871"]),
    city("Salt Lake City", "UT", &["841"]),
];

static GB_CITIES: &[City] = &[
    city(
        "London",
        "England",
        &["SW1A", "E1", "N1", "SE1", "W1", "NW1", "EC1A", "WC2N"],
    ),
    city("Manchester", "England", &["M1", "M2", "M4", "M14"]),
    city("Birmingham", "England", &["B1", "B5", "B15"]),
    city("Leeds", "England", &["LS1", "LS6"]),
    city("Glasgow", "Scotland", &["G1", "G12"]),
    city("Edinburgh", "Scotland", &["EH1", "EH3"]),
    city("Cardiff", "Wales", &["CF10", "CF24"]),
    city("Belfast", "Northern Ireland", &["BT1", "BT7"]),
    city("Bristol", "England", &["BS1", "BS8"]),
    city("Liverpool", "England", &["L1", "L8"]),
];

static DE_CITIES: &[City] = &[
    city(
        "Berlin",
        "Berlin",
        &["101", "103", "104", "106", "107", "108", "109", "120"],
    ),
    city("München", "Bayern", &["803", "804", "806", "809"]),
    city(
        "Hamburg",
        "Hamburg",
        &["200", "201", "202", "203", "220", "221"],
    ),
    city("Köln", "Nordrhein-Westfalen", &["506", "507", "509", "510"]),
    city("Frankfurt am Main", "Hessen", &["603", "604", "605"]),
    city("Stuttgart", "Baden-Württemberg", &["701", "703", "704"]),
    city("Düsseldorf", "Nordrhein-Westfalen", &["402", "404", "405"]),
    city("Leipzig", "Sachsen", &["041", "043"]),
    city("Dresden", "Sachsen", &["010", "011", "013"]),
    city("Nürnberg", "Bayern", &["904", "905"]),
    city("Hannover", "Niedersachsen", &["301", "304", "305"]),
    city("Bremen", "Bremen", &["281", "282"]),
];

static FR_CITIES: &[City] = &[
    city("Paris", "Île-de-France", &["7500", "7501"]),
    city("Lyon", "Auvergne-Rhône-Alpes", &["6900"]),
    city("Marseille", "Provence-Alpes-Côte d'Azur", &["1300", "1301"]),
    city(
        "Toulouse",
        "Occitanie",
        &["3100", "3120", "3130", "3140", "3150"],
    ),
    city(
        "Nice",
        "Provence-Alpes-Côte d'Azur",
        &["0600", "0610", "0620", "0630"],
    ),
    city(
        "Nantes",
        "Pays de la Loire",
        &["4400", "4410", "4420", "4430"],
    ),
    city("Strasbourg", "Grand Est", &["6700", "6710", "6720"]),
    city(
        "Bordeaux",
        "Nouvelle-Aquitaine",
        &["3300", "3310", "3320", "3380"],
    ),
    city("Lille", "Hauts-de-France", &["5900", "5916", "5980"]),
    city("Rennes", "Bretagne", &["3500", "3520"]),
    city("Montpellier", "Occitanie", &["3400", "3407", "3409"]),
    city("Saint-Étienne", "Auvergne-Rhône-Alpes", &["4200", "4210"]),
];

static CA_CITIES: &[City] = &[
    city("Toronto", "ON", &["M5V", "M4C", "M6K", "M2N", "M1B"]),
    city("Vancouver", "BC", &["V6B", "V5K", "V6K"]),
    city("Montréal", "QC", &["H2X", "H3B", "H1A"]),
    city("Calgary", "AB", &["T2P", "T3A"]),
    city("Ottawa", "ON", &["K1P", "K2P"]),
    city("Edmonton", "AB", &["T5J", "T6E"]),
    city("Winnipeg", "MB", &["R3C"]),
    city("Québec", "QC", &["G1R"]),
    city("Halifax", "NS", &["B3H"]),
    city("Mississauga", "ON", &["L5B"]),
];

pub(crate) static EN_STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Pine",
    "Sunset",
    "Highland",
    "Church",
    "Mill",
    "River",
    "Spring",
    "Center",
    "Ridge",
    "Jefferson",
    "Lincoln",
    "Madison",
    "Franklin",
    "Chestnut",
    "Walnut",
    "Cherry",
    "Willow",
    "Forest",
    "Meadow",
    "Valley",
    "Lakeview",
    "King",
    "Queen",
    "Victoria",
    "High",
    "Station",
    "Bridge",
    "Green",
    "Grove",
    "Mount Pleasant",
    "Orchard",
    "Prospect",
    "Railroad",
    "Market",
    "Union",
    "Water",
    "Front",
    "College",
    "School",
    "North",
    "South",
    "Broad",
    "Dogwood",
    "Magnolia",
    "Hickory",
    "Birch",
    "Poplar",
    "Sycamore",
    "Laurel",
    "Jackson",
    "Adams",
];

/// (long form, abbreviation).
pub(crate) static EN_SUFFIXES: &[(&str, &str)] = &[
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Boulevard", "Blvd"),
    ("Lane", "Ln"),
    ("Drive", "Dr"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Way", "Wy"),
    ("Terrace", "Ter"),
];

pub(crate) static DE_STEMS: &[&str] = &[
    "Haupt",
    "Bahnhof",
    "Garten",
    "Schiller",
    "Goethe",
    "Linden",
    "Berg",
    "Kirch",
    "Schul",
    "Wald",
    "Feld",
    "Mühlen",
    "Rosen",
    "Birken",
    "Eichen",
    "Ahorn",
    "Tannen",
    "Buchen",
    "Sonnen",
    "Mozart",
    "Beethoven",
    "Bismarck",
    "Friedrich",
    "Wilhelm",
    "Kaiser",
    "Königs",
    "Post",
    "Markt",
    "Brunnen",
    "Burg",
    "Wiesen",
    "Blumen",
    "Parks",
    "Hafen",
    "Schloss",
    "Rathaus",
    "Kloster",
    "Dorf",
    "Mittel",
    "Lessing",
];

/// (long form, abbreviation). The stem and the suffix are written as one word.
pub(crate) static DE_SUFFIXES: &[(&str, &str)] = &[
    ("straße", "str."),
    ("weg", "weg"),
    ("allee", "allee"),
    ("gasse", "gasse"),
    ("ring", "ring"),
    ("platz", "pl."),
];

/// (long form, abbreviation).
pub(crate) static FR_TYPES: &[(&str, &str)] = &[
    ("rue", "r."),
    ("avenue", "av."),
    ("boulevard", "bd"),
    ("place", "pl."),
    ("chemin", "ch."),
    ("allée", "all."),
    ("impasse", "imp."),
    ("quai", "q."),
];

pub(crate) static FR_NAMES: &[&str] = &[
    "de la Paix",
    "Victor Hugo",
    "Jean Jaurès",
    "de la République",
    "Pasteur",
    "du Général de Gaulle",
    "des Lilas",
    "Gambetta",
    "Voltaire",
    "de l'Église",
    "du Moulin",
    "des Écoles",
    "de la Gare",
    "Saint-Michel",
    "Nationale",
    "de Verdun",
    "Émile Zola",
    "des Tilleuls",
    "du Château",
    "de la Liberté",
    "Carnot",
    "Foch",
    "Jean Moulin",
    "des Roses",
    "du Stade",
    "de Paris",
    "Molière",
    "Racine",
    "de la Fontaine",
    "Louis Blériot",
];

pub(crate) static NINO_FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
pub(crate) static NINO_SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";

/// Webmail providers used everywhere, with weights.
pub(crate) static WEBMAIL: &[(&str, u32)] = &[
    ("gmail.com", 40),
    ("yahoo.com", 12),
    ("outlook.com", 9),
    ("hotmail.com", 8),
    ("icloud.com", 7),
    ("proton.me", 3),
    ("aol.com", 2),
];

/// Employer domains (fictional companies).
pub(crate) static COMPANY_DOMAINS: &[&str] = &[
    "acme-corp.com",
    "globex.com",
    "initech.com",
    "umbrella-corp.com",
    "hooli.com",
    "contoso.com",
    "fabrikam.com",
    "northwind-traders.com",
    "wayne-enterprises.com",
    "stark-industries.com",
];

/// Disposable email domains, favoured by fraud rings.
pub(crate) static DISPOSABLE_DOMAINS: &[&str] = &[
    "mailinator.com",
    "guerrillamail.com",
    "yopmail.com",
    "10minutemail.com",
    "temp-mail.org",
    "sharklasers.com",
    "trashmail.com",
];

/// First octets of residential IPv4 ranges (all public unicast, none reserved).
pub(crate) static RESIDENTIAL_V4: &[u8] = &[
    24, 50, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 107, 108, 184, 2, 5, 31,
    46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 176,
    178, 188, 212, 213, 217,
];

/// First octets of hosting / proxy ranges used by fraud rings.
pub(crate) static DATACENTER_V4: &[u8] = &[
    45, 103, 104, 138, 139, 141, 142, 143, 146, 147, 149, 151, 154, 155, 159, 162, 164, 167, 185,
    193, 194, 195, 209,
];

/// Residential IPv6 /32-ish prefixes per country (first two hextets).
pub(crate) fn v6_prefixes(c: Country) -> &'static [&'static str] {
    match c {
        Country::Us => &["2600:1700", "2601:0282", "2603:8001", "2607:fb90"],
        Country::Gb => &["2a00:23c5", "2a02:0c7f"],
        Country::De => &["2003:00e2", "2a02:8108"],
        Country::Fr => &["2a01:cb00", "2a01:0e0a"],
        Country::Ca => &["2607:fea8", "2605:8d80"],
    }
}
