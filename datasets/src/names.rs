//! Embedded name lists, grouped by culture, and ASCII folding.

use unicode_normalization::UnicodeNormalization;

/// A naming culture. Country of residence picks a culture mix; first and last names are
/// usually drawn from the same culture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Culture {
    #[default]
    Anglo,
    Irish,
    Hispanic,
    German,
    French,
    Vietnamese,
    Chinese,
    SouthAsian,
    Arabic,
    Turkish,
    WestAfrican,
    Slavic,
    Japanese,
    Korean,
}

impl Culture {
    #[cfg(test)]
    pub(crate) const ALL: [Culture; 14] = [
        Culture::Anglo,
        Culture::Irish,
        Culture::Hispanic,
        Culture::German,
        Culture::French,
        Culture::Vietnamese,
        Culture::Chinese,
        Culture::SouthAsian,
        Culture::Arabic,
        Culture::Turkish,
        Culture::WestAfrican,
        Culture::Slavic,
        Culture::Japanese,
        Culture::Korean,
    ];

    pub(crate) fn first_names(self) -> &'static [&'static str] {
        match self {
            Culture::Anglo => &[
                "James",
                "Mary",
                "John",
                "Patricia",
                "Robert",
                "Jennifer",
                "Michael",
                "Linda",
                "William",
                "Elizabeth",
                "David",
                "Barbara",
                "Richard",
                "Susan",
                "Joseph",
                "Jessica",
                "Thomas",
                "Sarah",
                "Charles",
                "Karen",
                "Christopher",
                "Emily",
                "Daniel",
                "Zoë",
                "Matthew",
                "Ashley",
                "Anthony",
                "Olivia",
                "Ethan",
                "Madison",
                "Noah",
                "Ava",
                "Benjamin",
                "Harper",
                "Samuel",
                "Grace",
                "Andrew",
                "Hannah",
                "Joshua",
                "Abigail",
            ],
            Culture::Irish => &[
                "Liam", "Siobhán", "Seán", "Niamh", "Ciarán", "Aoife", "Patrick", "Bridget",
                "Declan", "Róisín", "Eoin", "Saoirse", "Conor", "Gráinne", "Fionn", "Orla",
                "Cillian", "Maeve", "Darragh", "Caoimhe",
            ],
            Culture::Hispanic => &[
                "José",
                "María",
                "Juan",
                "Ana",
                "Luis",
                "Carmen",
                "Carlos",
                "Lucía",
                "Jesús",
                "Sofía",
                "Miguel",
                "Isabel",
                "Javier",
                "Valentina",
                "Alejandro",
                "Camila",
                "Diego",
                "Ximena",
                "Andrés",
                "Guadalupe",
                "Raúl",
                "Martina",
                "Héctor",
                "Paola",
                "Fernando",
                "Mónica",
                "Ramón",
                "Verónica",
            ],
            Culture::German => &[
                "Lukas",
                "Anna",
                "Maximilian",
                "Lena",
                "Jonas",
                "Lea",
                "Felix",
                "Hannah",
                "Leon",
                "Sophie",
                "Paul",
                "Marie",
                "Jürgen",
                "Jörg",
                "Günter",
                "Sabine",
                "Ursula",
                "Klaus",
                "Birgit",
                "Stefan",
                "Käthe",
                "Björn",
                "Dieter",
                "Heike",
            ],
            Culture::French => &[
                "Jean",
                "Marie",
                "Pierre",
                "Camille",
                "Louis",
                "Léa",
                "Hugo",
                "Chloé",
                "Gabriel",
                "Manon",
                "Raphaël",
                "Inès",
                "Arthur",
                "Élodie",
                "Théo",
                "Océane",
                "Antoine",
                "Amélie",
                "François",
                "Hélène",
                "Loïc",
                "Anaïs",
                "Benoît",
                "Cécile",
                "Jérôme",
                "Noémie",
            ],
            Culture::Vietnamese => &[
                "Anh", "Minh", "Linh", "Huy", "Trang", "Dũng", "Thảo", "Tuấn", "Hương", "Quang",
                "Ngọc", "Khánh", "Phương", "Hải", "Lan", "Thanh", "Đức", "Mai", "Bảo", "Vy",
            ],
            Culture::Chinese => &[
                "Wei", "Fang", "Jing", "Lei", "Min", "Jun", "Yan", "Hui", "Xiaoming", "Hao", "Yu",
                "Mei", "Qiang", "Ying", "Zhiwei", "Xin", "Lin", "Tao", "Na", "Jie",
            ],
            Culture::SouthAsian => &[
                "Aarav", "Priya", "Rahul", "Ananya", "Vikram", "Deepika", "Arjun", "Sneha",
                "Rohan", "Kavya", "Sanjay", "Pooja", "Amit", "Neha", "Raj", "Divya", "Imran",
                "Harpreet", "Gurpreet", "Lakshmi",
            ],
            Culture::Arabic => &[
                "Mohammed", "Fatima", "Ahmed", "Aisha", "Omar", "Layla", "Ali", "Mariam",
                "Youssef", "Nour", "Hassan", "Zainab", "Khalid", "Salma", "Karim", "Yasmin",
                "Ibrahim", "Amira", "Tariq", "Rania",
            ],
            Culture::Turkish => &[
                "Mehmet", "Ayşe", "Mustafa", "Fatma", "Ahmet", "Emine", "Zeynep", "Hüseyin",
                "Elif", "Murat", "Özlem", "Emre", "Gül", "Burak", "Şule", "Can", "Derya",
                "İbrahim",
            ],
            Culture::WestAfrican => &[
                "Chinedu",
                "Ngozi",
                "Oluwaseun",
                "Adaeze",
                "Kwame",
                "Ama",
                "Emeka",
                "Chiamaka",
                "Tunde",
                "Folake",
                "Kofi",
                "Abena",
                "Ifeanyi",
                "Yetunde",
                "Babajide",
                "Nneka",
                "Kwabena",
                "Efua",
            ],
            Culture::Slavic => &[
                "Aleksandr",
                "Olga",
                "Dmitri",
                "Natalia",
                "Piotr",
                "Katarzyna",
                "Tomasz",
                "Agnieszka",
                "Ivan",
                "Svetlana",
                "Jakub",
                "Zofia",
                "Łukasz",
                "Małgorzata",
                "Sergei",
                "Anastasia",
                "Bartosz",
                "Magdalena",
                "Miroslav",
                "Jelena",
            ],
            Culture::Japanese => &[
                "Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Yuto", "Sakura", "Takumi", "Yuki",
                "Hiroshi", "Keiko", "Kenji", "Naoko", "Daiki", "Emi",
            ],
            Culture::Korean => &[
                "Min-jun",
                "Seo-yeon",
                "Ji-ho",
                "Ji-woo",
                "Hyun-woo",
                "Soo-ah",
                "Jae-won",
                "Ha-eun",
                "Dong-hyun",
                "Eun-ji",
                "Sung-min",
                "Yoo-jin",
            ],
        }
    }

    pub(crate) fn last_names(self) -> &'static [&'static str] {
        match self {
            Culture::Anglo => &[
                "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
                "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Thompson", "White",
                "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "Wright",
                "Scott", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
                "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart",
            ],
            Culture::Irish => &[
                "O'Brien",
                "O'Connor",
                "Murphy",
                "Kelly",
                "O'Sullivan",
                "Walsh",
                "McCarthy",
                "Byrne",
                "Ryan",
                "O'Neill",
                "Doyle",
                "Gallagher",
                "Kennedy",
                "Lynch",
                "Quinn",
                "McLaughlin",
                "Fitzgerald",
                "Brennan",
                "O'Donnell",
                "Ní Bhriain",
            ],
            Culture::Hispanic => &[
                "García",
                "Rodríguez",
                "Martínez",
                "Hernández",
                "López",
                "González",
                "Pérez",
                "Sánchez",
                "Ramírez",
                "Torres",
                "Flores",
                "Rivera",
                "Gómez",
                "Díaz",
                "Reyes",
                "Morales",
                "Cruz",
                "Ortiz",
                "Gutiérrez",
                "Chávez",
                "García-López",
                "Fernández",
                "Jiménez",
                "Ruiz",
                "Álvarez",
                "Castillo",
                "Vargas",
                "Mendoza",
                "Núñez",
                "Peña",
                "de la Cruz",
            ],
            Culture::German => &[
                "Müller",
                "Schmidt",
                "Schneider",
                "Fischer",
                "Weber",
                "Meyer",
                "Wagner",
                "Becker",
                "Schulz",
                "Hoffmann",
                "Schäfer",
                "Koch",
                "Bauer",
                "Richter",
                "Klein",
                "Wolf",
                "Schröder",
                "Neumann",
                "Schwarz",
                "Zimmermann",
                "Braun",
                "Krüger",
                "Hofmann",
                "Hartmann",
                "Lange",
                "Schmitt",
                "Werner",
                "Krause",
                "Meier",
                "Köhler",
                "Weiß",
                "Groß",
            ],
            Culture::French => &[
                "Martin",
                "Bernard",
                "Dubois",
                "Thomas",
                "Robert",
                "Richard",
                "Petit",
                "Durand",
                "Leroy",
                "Moreau",
                "Simon",
                "Laurent",
                "Lefèvre",
                "Michel",
                "Fournier",
                "Girard",
                "Bonnet",
                "Dupont",
                "Lambert",
                "Fontaine",
                "Rousseau",
                "Vincent",
                "Mercier",
                "Blanc",
                "Guérin",
                "Boyer",
                "Chevalier",
                "Lemaître",
                "Bérard",
                "Faure",
            ],
            Culture::Vietnamese => &[
                "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
                "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
            ],
            Culture::Chinese => &[
                "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu",
                "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo",
            ],
            Culture::SouthAsian => &[
                "Patel", "Sharma", "Singh", "Kumar", "Gupta", "Shah", "Mehta", "Reddy", "Iyer",
                "Nair", "Rao", "Joshi", "Desai", "Kapoor", "Chopra", "Malhotra", "Khan",
                "Chaudhry", "Bose", "Banerjee",
            ],
            Culture::Arabic => &[
                "Al-Sayed", "Haddad", "Khoury", "Nasser", "Mansour", "Hamdan", "Saleh", "Aziz",
                "Rahman", "Farouk", "El-Amin", "Bakr", "Khalil", "Qasim", "Darwish", "Benali",
                "Bouaziz", "Belkacem", "Cherif", "Mahmoud",
            ],
            Culture::Turkish => &[
                "Yılmaz",
                "Kaya",
                "Demir",
                "Şahin",
                "Çelik",
                "Yıldız",
                "Yıldırım",
                "Öztürk",
                "Aydın",
                "Özdemir",
                "Arslan",
                "Doğan",
                "Kılıç",
                "Aslan",
                "Çetin",
                "Koç",
            ],
            Culture::WestAfrican => &[
                "Okafor", "Adeyemi", "Okonkwo", "Mensah", "Owusu", "Eze", "Nwosu", "Adebayo",
                "Boateng", "Oyelaran", "Asante", "Ogunleye", "Obi", "Balogun", "Danjuma", "Appiah",
            ],
            Culture::Slavic => &[
                "Nowak",
                "Kowalski",
                "Wiśniewski",
                "Wójcik",
                "Kowalczyk",
                "Kamiński",
                "Lewandowski",
                "Zieliński",
                "Ivanov",
                "Petrov",
                "Smirnov",
                "Kuznetsov",
                "Popov",
                "Novák",
                "Dvořák",
                "Horváth",
                "Kovačević",
                "Jovanović",
                "Szymański",
                "Woźniak",
            ],
            Culture::Japanese => &[
                "Sato",
                "Suzuki",
                "Takahashi",
                "Tanaka",
                "Watanabe",
                "Ito",
                "Yamamoto",
                "Nakamura",
                "Kobayashi",
                "Kato",
                "Yoshida",
                "Yamada",
                "Sasaki",
                "Matsumoto",
                "Inoue",
                "Kimura",
            ],
            Culture::Korean => &[
                "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han",
                "Oh", "Seo", "Shin", "Kwon", "Hwang",
            ],
        }
    }
}

/// Appends `s` folded to ASCII: accents stripped (NFD, combining marks dropped) and the few
/// letters that do not decompose mapped by hand (`ß` → `ss`, `đ` → `d`, `ł` → `l`, ...).
/// With `german`, umlauts become `ae`/`oe`/`ue` as German speakers write them without accents.
pub(crate) fn push_ascii_fold(out: &mut String, s: &str, german: bool) {
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        if german {
            let t = match c {
                'ä' => Some("ae"),
                'ö' => Some("oe"),
                'ü' => Some("ue"),
                'Ä' => Some("Ae"),
                'Ö' => Some("Oe"),
                'Ü' => Some("Ue"),
                _ => None,
            };
            if let Some(t) = t {
                out.push_str(t);
                continue;
            }
        }
        match c {
            'ß' => out.push_str("ss"),
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            'ł' => out.push('l'),
            'Ł' => out.push('L'),
            'ø' => out.push('o'),
            'Ø' => out.push('O'),
            'ı' => out.push('i'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            _ => {
                let mut buf = [0u8; 4];
                for d in c.encode_utf8(&mut buf).nfd() {
                    if d.is_ascii() {
                        out.push(d);
                    }
                }
            }
        }
    }
}

/// Appends the lowercase ASCII letters of `s` (what people put into an email local part).
pub(crate) fn push_email_token(out: &mut String, s: &str) {
    if s.is_ascii() {
        out.extend(
            s.chars()
                .filter(char::is_ascii_alphabetic)
                .map(|c| c.to_ascii_lowercase()),
        );
        return;
    }
    let mut folded = String::with_capacity(s.len());
    push_ascii_fold(&mut folded, s, false);
    for c in folded.chars() {
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        let mut s = String::new();
        for name in [
            "José", "Zoë", "Nguyễn", "Groß", "Đặng", "Łukasz", "O'Brien", "Yılmaz",
        ] {
            push_ascii_fold(&mut s, name, false);
            s.push(' ');
        }
        assert_eq!(s, "Jose Zoe Nguyen Gross Dang Lukasz O'Brien Yilmaz ");
        s.clear();
        push_ascii_fold(&mut s, "Müller", true);
        assert_eq!(s, "Mueller");
        s.clear();
        push_email_token(&mut s, "García-López");
        assert_eq!(s, "garcialopez");
    }

    #[test]
    fn required_names_are_present() {
        let all_first: Vec<&str> = Culture::ALL
            .iter()
            .flat_map(|c| c.first_names().iter().copied())
            .collect();
        let all_last: Vec<&str> = Culture::ALL
            .iter()
            .flat_map(|c| c.last_names().iter().copied())
            .collect();
        for n in ["José", "Zoë"] {
            assert!(all_first.contains(&n), "{n}");
        }
        for n in ["Müller", "Nguyễn", "O'Brien", "García-López"] {
            assert!(all_last.contains(&n), "{n}");
        }
        assert!(all_first.len() >= 250, "{}", all_first.len());
        assert!(all_last.len() >= 250, "{}", all_last.len());
    }
}
